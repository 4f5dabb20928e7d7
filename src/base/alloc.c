/* alloc.c - checked allocation and arenas (see alloc.h). */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64

void *nsid__alloc(size_t n, int zero, struct nsid_err *err, const char *file, int line)
{
    NSID_ASSERT(err);
    if (n == 0) n = 1;
    size_t rounded = (n + ALIGN - 1) / ALIGN * ALIGN;
    if (rounded < n) {
        nsid_err_set(err, NSID_ENOMEM, NULL, 0, NULL, "allocation of %zu bytes overflows", n);
        return NULL;
    }
    (void)file; /* the call site is no help to a user: nsid_err_oom names what asked for it */
    (void)line;
    void *p = aligned_alloc(ALIGN, rounded);
    if (!p) {
        nsid_err_set(err, NSID_ENOMEM, NULL, 0, NULL, "out of memory: cannot allocate %zu bytes (%.1f GiB)", n,
                     (double)n / (1024.0 * 1024.0 * 1024.0));
        return NULL;
    }
    if (zero) memset(p, 0, rounded);
    return p;
}

int nsid_err_oom(struct nsid_err *err, const char *file, const char *key, const char *what)
{
    if (err->code != NSID_ENOMEM || err->file[0] || err->key[0]) return err->code;
    return nsid_err_context(err, file, 0, key, what);
}

void nsid_free(void *p)
{
    free(p);
}

size_t nsid_mul_size(size_t n, size_t size, struct nsid_err *err)
{
    if (size && n > SIZE_MAX / size) {
        nsid_err_set(err, NSID_ENOMEM, NULL, 0, NULL, "size %zu x %zu overflows", n, size);
        return 0;
    }
    return n * size;
}

void nsid_arena_measure(struct nsid_arena *a)
{
    memset(a, 0, sizeof *a);
}

int nsid_arena_init(struct nsid_arena *a, size_t cap, struct nsid_err *err)
{
    memset(a, 0, sizeof *a);
    a->base = NSID_CALLOC(cap, err);
    if (!a->base) return NSID_ENOMEM;
    a->cap = cap;
    return 0;
}

void *nsid_arena_bytes(struct nsid_arena *a, size_t n, struct nsid_err *err)
{
    size_t off = (a->used + ALIGN - 1) / ALIGN * ALIGN;
    size_t need = (n + ALIGN - 1) / ALIGN * ALIGN;
    if (!a->base) {               /* measuring */
        a->used = off + need;
        if (a->used > a->peak) a->peak = a->used;
        return (void *)(uintptr_t)ALIGN;
    }
    if (off + need > a->cap) {
        nsid_err_set(err, NSID_ENOMEM, NULL, 0, "arena",
                     "arena of %zu bytes is full (%zu used, %zu requested)", a->cap, a->used, n);
        return NULL;
    }
    a->used = off + need;
    if (a->used > a->peak) a->peak = a->used;
    return a->base + off;
}

float *nsid_arena_floats(struct nsid_arena *a, size_t n, struct nsid_err *err)
{
    return nsid_arena_bytes(a, n * sizeof(float), err);
}

void nsid_arena_reset(struct nsid_arena *a)
{
    a->used = 0;
}

void nsid_arena_free(struct nsid_arena *a)
{
    if (!a) return;
    nsid_free(a->base);
    memset(a, 0, sizeof *a);
}
