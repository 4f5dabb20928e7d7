/* keys.c - configuration key tables: the one setter (see keys.h). */
#include "base/keys.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct nsid_key *nsid_keys_find(const struct nsid_key *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0) return &t[i];
    return NULL;
}

size_t nsid_keys_format_double(double x, char *buf, size_t n)
{
    if (!isfinite(x)) return (size_t)snprintf(buf, n, "null");
    if (x == 0) return (size_t)snprintf(buf, n, "0");
    char e[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, x);
        if (strtod(e, NULL) == x) break;
    }
    /* e = [-]d[.ddd]e(+|-)XX: collect the significant digits and the exponent. */
    char d[24];
    int nd = 0;
    const char *s = e + (e[0] == '-');
    for (; *s && *s != 'e'; s++)
        if (isdigit((unsigned char)*s)) d[nd++] = *s;
    int ex = atoi(s + 1);
    while (nd > 1 && d[nd - 1] == '0') nd--;
    char t[64];
    int k = 0;
    if (ex < -4 || ex >= 16) {
        t[k++] = d[0];
        if (nd > 1) {
            t[k++] = '.';
            for (int i = 1; i < nd; i++) t[k++] = d[i];
        }
        k += snprintf(t + k, sizeof t - (size_t)k, "e%d", ex);
    } else if (ex >= 0) {
        for (int i = 0; i <= ex; i++) t[k++] = i < nd ? d[i] : '0';
        if (nd > ex + 1) {
            t[k++] = '.';
            for (int i = ex + 1; i < nd; i++) t[k++] = d[i];
        }
        t[k] = '\0';
    } else {
        t[k++] = '0';
        t[k++] = '.';
        for (int i = 0; i < -ex - 1; i++) t[k++] = '0';
        for (int i = 0; i < nd; i++) t[k++] = d[i];
        t[k] = '\0';
    }
    return (size_t)snprintf(buf, n, "%s%s", x < 0 ? "-" : "", t);
}

static bool is_int_text(const char *s)
{
    if (*s == '+' || *s == '-') s++;
    if (!isdigit((unsigned char)*s)) return false;
    while (isdigit((unsigned char)*s)) s++;
    return *s == '\0';
}

/* [+-](digits[.digits]|.digits)[(e|E)[+-]digits] */
static bool is_num_text(const char *s)
{
    int digits = 0;
    if (*s == '+' || *s == '-') s++;
    while (isdigit((unsigned char)*s)) { s++; digits++; }
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s)) { s++; digits++; }
    }
    if (!digits) return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!isdigit((unsigned char)*s)) return false;
        while (isdigit((unsigned char)*s)) s++;
    }
    return *s == '\0';
}

/* "[lo, hi]" with open ends as parentheses. */
void nsid_keys_format_bounds(const struct nsid_key *k, char *buf, size_t n)
{
    if (k->type == NSID_KEY_INT) {
        snprintf(buf, n, "[%lld, %lld]", (long long)k->imin, (long long)k->imax);
        return;
    }
    char lo[40], hi[40];
    nsid_keys_format_double(k->dmin, lo, sizeof lo);
    nsid_keys_format_double(k->dmax, hi, sizeof hi);
    snprintf(buf, n, "%c%s, %s%c", k->flags & NSID_KEY_LO_OPEN ? '(' : '[', lo, hi,
             k->flags & NSID_KEY_HI_OPEN ? ')' : ']');
}

static bool double_in_bounds(const struct nsid_key *k, double v)
{
    bool lo = k->flags & NSID_KEY_LO_OPEN ? v > k->dmin : v >= k->dmin;
    bool hi = k->flags & NSID_KEY_HI_OPEN ? v < k->dmax : v <= k->dmax;
    return lo && hi;
}

static int n_names(const struct nsid_key *k)
{
    int n = 0;
    while (k->names[n]) n++;
    return n;
}

bool nsid_keys_in_bounds(const struct nsid_key *k, const void *base)
{
    const char *f = (const char *)base + k->offset;
    switch (k->type) {
    case NSID_KEY_INT: {
        int64_t v = k->size == sizeof(int) ? *(const int *)(const void *)f : *(const int64_t *)(const void *)f;
        return v >= k->imin && v <= k->imax;
    }
    case NSID_KEY_DOUBLE: return double_in_bounds(k, *(const double *)(const void *)f);
    case NSID_KEY_ENUM: {
        int v = *(const int *)(const void *)f;
        return v >= 0 && v < n_names(k);
    }
    default: return true;
    }
}

/* ---- setting values ------------------------------------------------------------------ */

static int set_int(void *f, const struct nsid_key *k, const char *v, const char *file, int line, struct nsid_err *err)
{
    if (!is_int_text(v))
        return nsid_err_set(err, NSID_EINVAL, file, line, k->name, "expected an integer, got '%.64s'", v);
    errno = 0;
    long long x = strtoll(v, NULL, 10);
    char b[80];
    nsid_keys_format_bounds(k, b, sizeof b);
    if (errno == ERANGE || x < k->imin || x > k->imax)
        return nsid_err_set(err, NSID_EINVAL, file, line, k->name, "%.64s not in %s", v, b);
    if (k->size == sizeof(int)) *(int *)f = (int)x;
    else *(int64_t *)f = x;
    return 0;
}

static int set_uint(uint64_t *f, const struct nsid_key *k, const char *v, const char *file, int line,
                    struct nsid_err *err)
{
    const char *s = v;
    while (isdigit((unsigned char)*s)) s++;
    errno = 0;
    unsigned long long x = strtoull(v, NULL, 10);
    if (!v[0] || *s || errno == ERANGE)
        return nsid_err_set(err, NSID_EINVAL, file, line, k->name, "'%.64s' is not an unsigned integer", v);
    *f = (uint64_t)x;
    return 0;
}

static int set_double(double *f, const struct nsid_key *k, const char *v, const char *file, int line,
                      struct nsid_err *err)
{
    if (!is_num_text(v))
        return nsid_err_set(err, NSID_EINVAL, file, line, k->name, "expected a number, got '%.64s'", v);
    double x = strtod(v, NULL);
    if (!isfinite(x)) return nsid_err_set(err, NSID_EINVAL, file, line, k->name, "%.64s is not a finite number", v);
    if (!double_in_bounds(k, x)) {
        char b[100];
        nsid_keys_format_bounds(k, b, sizeof b);
        return nsid_err_set(err, NSID_EINVAL, file, line, k->name, "%.64s not in %s", v, b);
    }
    *f = x == 0 ? 0.0 : x; /* -0 is 0 */
    return 0;
}

static int set_bool(bool *f, const struct nsid_key *k, const char *v, const char *file, int line, struct nsid_err *err)
{
    if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE")) *f = true;
    else if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE")) *f = false;
    else return nsid_err_set(err, NSID_EINVAL, file, line, k->name, "expected true or false, got '%.64s'", v);
    return 0;
}

static int set_enum(int *f, const struct nsid_key *k, const char *v, const char *file, int line, struct nsid_err *err)
{
    char list[256] = "";
    for (int j = 0; k->names[j]; j++) {
        if (strcmp(k->names[j], v) == 0) {
            *f = j;
            return 0;
        }
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", j ? ", " : "", k->names[j]);
    }
    return nsid_err_set(err, NSID_EINVAL, file, line, k->name, "expected one of %s, got '%.64s'", list, v);
}

int nsid_keys_set(const struct nsid_key *k, void *base, const char *value, const char *file, int line,
                  struct nsid_err *err)
{
    void *f = (char *)base + k->offset;
    if (line < 0) line = 0;
    switch (k->type) {
    case NSID_KEY_INT: return set_int(f, k, value, file, line, err);
    case NSID_KEY_UINT: return set_uint(f, k, value, file, line, err);
    case NSID_KEY_DOUBLE: return set_double(f, k, value, file, line, err);
    case NSID_KEY_BOOL: return set_bool(f, k, value, file, line, err);
    case NSID_KEY_ENUM: return set_enum(f, k, value, file, line, err);
    case NSID_KEY_STRING:
        if (strlen(value) >= k->size)
            return nsid_err_set(err, NSID_EINVAL, file, line, k->name, "string of %zu bytes, at most %zu allowed",
                                strlen(value), k->size - 1);
        snprintf(f, k->size, "%s", value);
        return 0;
    default: return nsid_err_set(err, NSID_EINTERNAL, file, line, k->name, "bad key type %d", k->type);
    }
}

void nsid_keys_set_default(const struct nsid_key *k, void *base)
{
    void *f = (char *)base + k->offset;
    switch (k->type) {
    case NSID_KEY_INT:
        if (k->size == sizeof(int)) *(int *)f = (int)k->idef;
        else *(int64_t *)f = k->idef;
        break;
    case NSID_KEY_UINT: *(uint64_t *)f = (uint64_t)k->idef; break;
    case NSID_KEY_DOUBLE: *(double *)f = k->ddef; break;
    case NSID_KEY_BOOL: *(bool *)f = k->idef != 0; break;
    case NSID_KEY_STRING: snprintf(f, k->size, "%s", k->sdef ? k->sdef : ""); break;
    case NSID_KEY_ENUM:
        for (int j = 0; k->names[j]; j++)
            if (k->sdef && strcmp(k->names[j], k->sdef) == 0) *(int *)f = j;
        break;
    }
}
