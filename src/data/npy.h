/*
 * npy.h - numpy .npy files: our own reader and writer.
 *
 * Reads format versions 1.0, 2.0 and 3.0; little- and big-endian; C and
 * Fortran order; dtypes float32/64, int8/16/32/64, uint8/16/32/64, bool
 * ('|b1'), numpy unicode ('<Un'/'>Un', UCS-4, held as UTF-8) and byte strings
 * ('|Sn'). Refused with a message naming the file and the dtype: object arrays
 * ('|O', pickled Python objects), structured dtypes, float16, complex,
 * datetime, rank > 4. A file shorter than its header promises is "truncated".
 *
 *     struct nsid_array a = {0};
 *     if (nsid_npy_read("meta/trials/tiers.npy", &a, &err) < 0) ...   // a.dtype == NSID_DT_STR
 *     nsid_scan_array_free(&a);
 *
 * The per-trial files of a file tree are read through one reusable buffer
 * into float32 (nsid_npy_scratch + nsid_npy_load + nsid_npy_to_f32), so
 * reading 18,000 files does not allocate per file.
 *
 * The writer emits version 1.0 (2.0 if the header needs it), little-endian,
 * C order, the header padded to 64 bytes, exactly like numpy.save.
 */
#ifndef NSID_NPY_H
#define NSID_NPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data/scan.h"

struct nsid_npy_header {
    int major, minor;        /* format version */
    char descr[32];          /* as written, e.g. "<f4", "|S10", ">U5" */
    int dtype;               /* enum nsid_dtype */
    size_t file_itemsize;    /* bytes per element in the file ('<Un': 4n) */
    bool swap;               /* stored in the non-native byte order */
    bool unicode;            /* numpy 'U' (UCS-4 code points) */
    bool fortran;            /* fortran_order: True */
    int ndim;                /* 0..4 */
    int64_t shape[NSID_ARRAY_MAXDIM];
    size_t data_offset;      /* bytes before the data */
};

/* A growable byte buffer reused across files; zero-initialise, free once. */
struct nsid_npy_scratch {
    unsigned char *p;        /* (cap) */
    size_t cap;
    size_t len;              /* bytes of the last file read */
};
void nsid_npy_scratch_free(struct nsid_npy_scratch *sc);

/*
 * Parse the header in buf[0..n) (the start of a file). path names the file in
 * messages. Checks the magic, version, dict syntax, dtype and rank.
 */
int nsid_npy_parse_header(const void *buf, size_t n, struct nsid_npy_header *h, const char *path,
                          struct nsid_err *err);

/* Number of elements the header describes. */
size_t nsid_npy_numel(const struct nsid_npy_header *h);

/*
 * Read the whole file into sc and parse its header into h; the data starts at
 * sc->p + h->data_offset. A file shorter than header + data is an error.
 */
int nsid_npy_load(const char *path, struct nsid_npy_scratch *sc, struct nsid_npy_header *h,
                  struct nsid_err *err);

/*
 * Convert the numeric data of a loaded file (h, data) into float32, C order:
 * dst holds nsid_npy_numel(h) floats. Strings and bools are refused.
 */
int nsid_npy_to_f32(const struct nsid_npy_header *h, const void *data, float *dst, const char *path,
                    struct nsid_err *err);

/*
 * Decode the data of a loaded file into dst in native byte order, C order,
 * itemsize bytes per element (the stored dtype's size; for strings the
 * in-memory width: 4n for '<Un', n for '|Sn').
 */
int nsid_npy_decode(const struct nsid_npy_header *h, const void *data, void *dst, size_t itemsize,
                    const char *path, struct nsid_err *err);

/*
 * Read a file into a (native order, C order, the stored dtype; strings as
 * fixed-width UTF-8 / bytes). a->name is left as the caller set it.
 * On error a holds nothing (a->data NULL).
 */
int nsid_npy_read(const char *path, struct nsid_array *a, struct nsid_err *err);

/*
 * Write a as a .npy file. Byte strings (str_unicode false) are written as
 * numpy str '<Un' when bytes_as_unicode is set (what the authors' converter
 * does; they must be valid UTF-8), else as '|Sn'. Unicode strings are written
 * as '<Un' with n = max(itemsize / 4, longest string in code points).
 */
int nsid_npy_write(const char *path, const struct nsid_array *a, bool bytes_as_unicode, struct nsid_err *err);

/*
 * Write float32 values v (shape, C order) as dtype (converting; integer
 * dtypes need integral in-range values). sc is scratch for the conversion.
 */
int nsid_npy_write_f32(const char *path, const float *v, int ndim, const int64_t *shape, int dtype,
                       struct nsid_npy_scratch *sc, struct nsid_err *err);

#endif
