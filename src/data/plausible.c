/* plausible.c - warnings for legal but suspicious scan data (see plausible.h). */
#include "plausible.h"

#include <math.h>
#include <stdlib.h>

#include "base/alloc.h"

/* The k-th smallest of x (n), reordering x (Hoare's selection; deterministic pivots). */
static double select_k(double *x, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = x[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot) i++;
            while (x[j] > pivot) j--;
            if (i <= j) {
                double t = x[i];
                x[i++] = x[j];
                x[j--] = t;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else break;
    }
    return x[k];
}

static const char *file_of(const struct nsid_scan *s)
{
    return s->path[0] ? s->path : "(scan in memory)";
}

int nsid_plausible_scan(const struct nsid_scan *s, const struct nsid_scan_opts *opt)
{
    const int64_t T = s->n_trials, N = s->n_neurons;
    if (!s->responses || T < 1 || N < 1) return 0;
    int warned = 0;
    /* negative responses */
    int64_t neg = 0, fin = 0, nt = -1, nn = -1;
    for (int64_t t = 0; t < T; t++)
        for (int64_t n = 0; n < N; n++) {
            float y = s->responses[t * N + n];
            if (!isfinite(y)) continue;
            fin++;
            if (y < 0 && neg++ == 0) {
                nt = t;
                nn = n;
            }
        }
    if (neg) {
        nsid_scan_warn(opt, "%s: responses: %lld negative values (%.3g%% of %lld), the first at trial %lld, "
                            "neuron %lld%s%lld (%g): responses are usually non-negative (spike counts, deconvolved "
                            "activity); check the preprocessing", file_of(s), (long long)neg,
                       100.0 * (double)neg / (double)fin, (long long)fin, (long long)nt, (long long)nn,
                       s->unit_ids ? ", unit id " : "", s->unit_ids ? (long long)s->unit_ids[nn] : 0LL,
                       (double)s->responses[nt * N + nn]);
        warned++;
    }
    /* extreme outliers, per neuron against its median and robust sd */
    struct nsid_err ignored = {0}; /* a warning check: skipped without memory */
    double *col = NSID_ALLOC((size_t)T * sizeof *col, &ignored), *dev = NSID_ALLOC((size_t)T * sizeof *dev, &ignored);
    if (!col || !dev) { /* warnings only: without memory, skip the check */
        nsid_alloc_free(col);
        nsid_alloc_free(dev);
        return warned;
    }
    int64_t n_out = 0, n_neur = 0, wt = -1, wn = -1;
    double worst = 0;
    for (int64_t n = 0; n < N; n++) {
        int64_t m = 0;
        for (int64_t t = 0; t < T; t++) {
            float y = s->responses[t * N + n];
            if (isfinite(y)) col[m++] = (double)y;
        }
        if (m < 3) continue;
        double med = select_k(col, m, (m - 1) / 2), sum = 0;
        for (int64_t i = 0; i < m; i++) sum += dev[i] = fabs(col[i] - med);
        double rsd = 1.4826 * select_k(dev, m, (m - 1) / 2);
        if (!(rsd > 0)) rsd = 1.2533 * sum / (double)m;
        if (!(rsd > 0)) continue; /* constant neuron */
        int64_t here = 0;
        for (int64_t t = 0; t < T; t++) {
            float y = s->responses[t * N + n];
            if (!isfinite(y)) continue;
            double z = fabs((double)y - med) / rsd;
            if (z > NSID_OUTLIER_ROBUST_SD) {
                here++;
                if (z > worst) {
                    worst = z;
                    wt = t;
                    wn = n;
                }
            }
        }
        n_out += here;
        n_neur += here > 0;
    }
    nsid_alloc_free(col);
    nsid_alloc_free(dev);
    if (n_out) {
        nsid_scan_warn(opt, "%s: responses: %lld extreme outliers in %lld neurons (more than %g robust sd from "
                            "the neuron's median; docs/reliability.md), the largest at trial %lld, neuron %lld (%g, "
                            "%.3g robust sd): a unit or scaling error?", file_of(s), (long long)n_out,
                       (long long)n_neur, NSID_OUTLIER_ROBUST_SD, (long long)wt, (long long)wn,
                       (double)s->responses[wt * N + wn], worst);
        warned++;
    }
    return warned;
}
