/*
 * plan_int.h - internals shared by plan.c (expansion), plan_groups.c (the data
 * description) and plan_write.c (plan.mk, run.json, the store, explain/diff).
 */
#ifndef NSID_PLAN_INT_H
#define NSID_PLAN_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* A growing string (NSID_ALLOC); after an allocation failure every add is a no-op and oom is set. */
struct nsid__sb {
    char *s;       /* NUL-terminated text, NULL before the first add */
    size_t n;      /* length */
    size_t cap;    /* bytes allocated */
    bool oom;      /* an allocation failed */
};

void nsid__plan_sb_add(struct nsid__sb *b, const char *s);
void nsid__plan_sb_addf(struct nsid__sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal (quotes and escapes). */
void nsid__plan_sb_json(struct nsid__sb *b, const char *s);
/* s as a JSON value: a number stays a number, true/false stay booleans, anything else a string. */
void nsid__plan_sb_json_scalar(struct nsid__sb *b, const char *s);
void nsid__plan_sb_free(struct nsid__sb *b);

/* Write text to path through path.tmp and rename, unless path already holds exactly text. */
int nsid__plan_write_if_changed(const char *path, const char *text, size_t n, bool *written, struct nsid_err *err);

#endif
