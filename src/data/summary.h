/*
 * summary.h - a human-readable summary of a scan (nsid-convert --info).
 */
#ifndef NSID_SUMMARY_H
#define NSID_SUMMARY_H

#include <stdio.h>

#include "data/scan.h"

/*
 * Print what s holds to f: layout, data key, trials per tier, repeats in the
 * test tier (images and repeats per image), neurons, image shape and stored
 * dtypes with value ranges, which optional fields exist, every metadata field
 * with its dtype and shape, statistics, ground truth, config.json.
 */
int nsid_summary_scan(const struct nsid_scan *s, FILE *f, struct nsid_err *err);

#endif
