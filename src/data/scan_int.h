/*
 * scan_int.h - internals shared by the scan writers (HDF5 and file tree).
 */
#ifndef NSID_SCAN_INT_H
#define NSID_SCAN_INT_H

#include "data/scan.h"

/*
 * The metadata a writer stores besides the lists: entries synthesised from
 * typed fields that have no list entry (tiers as byte strings, frame_image_id,
 * unit_ids, animal_ids, multi_match_id as int64, cell_motor_coordinates as
 * float64 (N, 3)). Fails if a typed field disagrees with its list entry.
 * trials/neurons receive only the synthesised arrays (free them after use).
 */
int nsid__scan_meta_extra(const struct nsid_scan *s, struct nsid_arrays *trials,
                          struct nsid_arrays *neurons, struct nsid_err *err);

/*
 * Check that every value of v[0..n) is stored exactly by dtype (integers:
 * integral and in range); float types always pass. name is for the message.
 */
int nsid__scan_check_storable(const float *v, size_t n, int dtype, const char *file, const char *name,
                         struct nsid_err *err);

/* The scan's file name for messages ("(scan in memory)" if it has none). */
const char *nsid__scan_file(const struct nsid_scan *s);

/* Make a temporary path "<dir>/.<base>.tmp.XXXXXX" next to path (created,
 * empty, by mkstemp); 0 or error. */
int nsid__scan_tmp_path(const char *path, char *tmp, size_t n, bool dir, struct nsid_err *err);

#endif
