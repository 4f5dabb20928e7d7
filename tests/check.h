/*
 * check.h - the test harness: named checks, a summary, a failing exit code.
 *
 *     CHECK(x == 3, "parser reads three fields");
 *     CHECK_CLOSE(got, want, 1e-5, 1e-4, "conv output");   // abs + rel*|want|
 *     return check_summary("conv");
 *
 * Every check prints on failure; check_summary prints "N passed, M failed"
 * and returns the exit status (non-zero when anything failed).
 */
#ifndef NSID_CHECK_H
#define NSID_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_passed_, check_failed_;

#define CHECK(cond, ...) do {                                                   \
    if (cond) { check_passed_++; }                                              \
    else { check_failed_++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
           fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); }               \
} while (0)

/* |got - want| <= abs + rel*|want| (NaN fails). */
#define CHECK_CLOSE(got, want, abs_, rel_, ...) do {                             \
    double g_ = (double)(got), w_ = (double)(want);                              \
    if (fabs(g_ - w_) <= (abs_) + (rel_) * fabs(w_)) { check_passed_++; }         \
    else { check_failed_++; fprintf(stderr, "FAIL %s:%d: got %.9g want %.9g: ",   \
           __FILE__, __LINE__, g_, w_); fprintf(stderr, __VA_ARGS__);             \
           fprintf(stderr, "\n"); }                                               \
} while (0)

/* Compare n values; counts one check, prints the worst element on failure. */
static inline int check_arrays_(const float *got, const float *want, size_t n,
                                double abs_tol, double rel_tol, const char *what,
                                const char *file, int line)
{
    size_t worst = 0; double worst_excess = -1.0; int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double excess = fabs(g - w) - (abs_tol + rel_tol * fabs(w));
        if (!(excess <= 0.0)) { bad++; if (!(excess <= worst_excess)) { worst_excess = excess; worst = i; } }
    }
    if (bad) {
        check_failed_++;
        fprintf(stderr, "FAIL %s:%d: %s: %d of %zu differ; worst [%zu] got %.9g want %.9g\n",
                file, line, what, bad, n, worst, (double)got[worst], (double)want[worst]);
        return 0;
    }
    check_passed_++;
    return 1;
}
#define CHECK_ARRAYS(got, want, n, abs_, rel_, what) \
    check_arrays_((got), (want), (n), (abs_), (rel_), (what), __FILE__, __LINE__)

static inline int check_summary(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, check_passed_, check_failed_);
    return check_failed_ ? 1 : (check_passed_ ? 0 : 1);
}

/* Path of a fixture file (NSID_FIXTURES or tests/fixtures). Static buffer: tests only. */
static inline const char *check_fixture(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("NSID_FIXTURES");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests/fixtures", name);
    return buf;
}

#endif
