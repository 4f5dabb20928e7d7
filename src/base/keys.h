/*
 * keys.h - configuration key tables: one row per key (name, type, bounds, default, where the
 * value lives in the configuration struct, documentation) and the one setter that parses a
 * value's text, checks it and stores it. The run configuration (exp/config.c) and the
 * simulator's configuration (data/sim_config.c) are both such tables; each keeps what is its
 * own (provenance, unknown-key hints, profiles, the printed and hashed forms).
 *
 *     static const struct nsid_key K = {.name = "train.lr", .type = NSID_KEY_DOUBLE,
 *         .flags = NSID_KEY_LO_OPEN, .dmin = 0, .dmax = 1, .offset = offsetof(struct cfg, lr),
 *         .size = sizeof(double)};
 *     nsid_keys_set(&K, &cfg, "0.5", "run.yaml", 12, &err);   // "run.yaml:12: train.lr: ..."
 *
 * The rules of a value's text (one for every table):
 *   INT     [+-]digits, no spaces, within [imin, imax]         "expected an integer, got 'x'"
 *   UINT    digits (the full uint64_t range)                   "'x' is not an unsigned integer"
 *   DOUBLE  [+-](digits[.digits]|.digits)[e[+-]digits], finite, within the bounds (open ends
 *           by flag); -0 is stored as 0                        "expected a number, got 'x'"
 *   BOOL    true, True, TRUE, false, False, FALSE              "expected true or false, got 'x'"
 *   ENUM    one of names                                       "expected one of a, b, c, got 'x'"
 *   STRING  shorter than size bytes
 * and "VALUE not in [lo, hi]" for a value out of its bounds. Errors carry file, line (when > 0)
 * and the key's name.
 */
#ifndef NSID_KEYS_H
#define NSID_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum nsid_key_type {
    NSID_KEY_INT = 0,    /* int64_t (size 8) or int (size 4) */
    NSID_KEY_DOUBLE = 1, /* double, finite */
    NSID_KEY_BOOL = 2,   /* bool */
    NSID_KEY_STRING = 3, /* char[size] */
    NSID_KEY_ENUM = 4,   /* int, index into names */
    NSID_KEY_UINT = 5,   /* uint64_t, no bounds */
};

enum nsid_key_flags {
    NSID_KEY_LO_OPEN = 1, /* lower bound excluded (DOUBLE) */
    NSID_KEY_HI_OPEN = 2, /* upper bound excluded (DOUBLE) */
};

/* One row of a key table. */
struct nsid_key {
    const char *name;          /* dotted path */
    int type;                  /* enum nsid_key_type */
    unsigned flags;            /* enum nsid_key_flags */
    int64_t imin, imax, idef;  /* int: bounds and default; bool: idef 0/1 */
    double dmin, dmax, ddef;   /* double: bounds and default */
    const char *sdef;          /* string and enum: default */
    const char *const *names;  /* enum: value names, NULL-terminated */
    size_t offset;             /* of the field in the configuration struct */
    size_t size;               /* bytes of the field (INT: 4 or 8; STRING: the array) */
    const char *doc;           /* one line: meaning, and where the default comes from */
};

/* The row called name among the n rows of t, or NULL. */
const struct nsid_key *nsid_keys_find(const struct nsid_key *t, size_t n, const char *name);

/*
 * Parse value by k's rules and store it into the field of the struct at base; on an error
 * (naming file:line and k->name, see above) the field is unchanged.
 */
int nsid_keys_set(const struct nsid_key *k, void *base, const char *value, const char *file, int line,
                  struct nsid_err *err);

/* Store k's default (idef/ddef/sdef) into the field of the struct at base. */
void nsid_keys_set_default(const struct nsid_key *k, void *base);

/* True if the field's current value (INT, DOUBLE, ENUM) lies within k's bounds; others: true. */
bool nsid_keys_in_bounds(const struct nsid_key *k, const void *base);

/* "[lo, hi]" of an INT or DOUBLE key, open ends as parentheses, numbers as nsid_keys_format_double. */
void nsid_keys_format_bounds(const struct nsid_key *k, char *buf, size_t n);

/*
 * x in the shortest form that reads back to the same double, as JSON and YAML write numbers
 * ("0.0001", "1e-07", "2.439", "null" for a non-finite x); returns snprintf's length.
 */
size_t nsid_keys_format_double(double x, char *buf, size_t n);

#endif
