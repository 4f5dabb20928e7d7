/*
 * plausible.h - warnings for scan data that is legal but suspicious (docs/reliability.md,
 * "Undefined metrics"). Not errors: a lab's responses may be negative (a baseline subtracted)
 * or heavy-tailed on purpose, but a reader should know before trusting a score.
 *
 *     nsid_plausible_scan(&scan, &opts);   // after nsid_scan_load; at most one line per check
 *
 * Checks, over every finite stored response (all tiers, before normalisation):
 *   negative   responses < 0: their count, fraction, and the first (trial, neuron) in file order.
 *   outliers   a response farther than NSID_OUTLIER_ROBUST_SD robust standard deviations from its
 *              neuron's median, the robust sd being 1.4826 x the median absolute deviation (the sd
 *              of a normal distribution), or, for a neuron whose MAD is 0 (mostly one value, e.g.
 *              silent), 1.2533 x the mean absolute deviation from the median; a neuron whose
 *              values are all equal has none. The medians are the lower medians (element
 *              floor((n-1)/2) of the sorted values). The count, the neurons, and the most extreme.
 * Each warning is one line through nsid_scan_warn (opts' callback or "warning: ..." on stderr).
 * Returns the number of warnings issued (0, 1 or 2).
 */
#ifndef NSID_PLAUSIBLE_H
#define NSID_PLAUSIBLE_H

#include "data/scan.h"

#define NSID_OUTLIER_ROBUST_SD 1000.0

int nsid_plausible_scan(const struct nsid_scan *s, const struct nsid_scan_opts *opt);

#endif
