/* alloc.c - checked allocation and arenas (see alloc.h). */
#include "alloc.h"

#include <limits.h>
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
    (void)file; /* the call site is no help to a user: nsid_alloc_oom names what asked for it */
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

int nsid__alloc_grow(void *arrp, int n, int *cap, int first, size_t size, struct nsid_err *err, const char *file,
                     int line)
{
    if (n < *cap) return 0;
    if (*cap > INT_MAX / 2) return nsid_err_set(err, NSID_ENOMEM, NULL, 0, NULL, "array of %d items overflows", n);
    int ncap = *cap ? 2 * *cap : first;
    size_t bytes = nsid_alloc_mul_size((size_t)ncap, size, err);
    if (!bytes) return NSID_ENOMEM;
    void *old, *grown = nsid__alloc(bytes, 0, err, file, line);
    if (!grown) return NSID_ENOMEM;
    memcpy(&old, arrp, sizeof old); /* arrp points to a T *: read and write it as bytes, no aliasing */
    if (n) memcpy(grown, old, (size_t)n * size);
    memset((char *)grown + (size_t)n * size, 0, bytes - (size_t)n * size);
    nsid_alloc_free(old);
    memcpy(arrp, &grown, sizeof grown);
    *cap = ncap;
    return 0;
}

int nsid_alloc_oom(struct nsid_err *err, const char *file, const char *key, const char *what)
{
    if (err->code != NSID_ENOMEM || err->file[0] || err->key[0]) return err->code;
    return nsid_err_context(err, file, 0, key, what);
}

void nsid_alloc_free(void *p)
{
    free(p);
}

size_t nsid_alloc_mul_size(size_t n, size_t size, struct nsid_err *err)
{
    if (size && n > SIZE_MAX / size) {
        nsid_err_set(err, NSID_ENOMEM, NULL, 0, NULL, "size %zu x %zu overflows", n, size);
        return 0;
    }
    return n * size;
}

void nsid_alloc_arena_measure(struct nsid_arena *a)
{
    memset(a, 0, sizeof *a);
}

int nsid_alloc_arena_init(struct nsid_arena *a, size_t cap, struct nsid_err *err)
{
    memset(a, 0, sizeof *a);
    a->base = NSID_CALLOC(cap, err);
    if (!a->base) return NSID_ENOMEM;
    a->cap = cap;
    return 0;
}

void *nsid_alloc_arena_bytes(struct nsid_arena *a, size_t n, struct nsid_err *err)
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

float *nsid_alloc_arena_floats(struct nsid_arena *a, size_t n, struct nsid_err *err)
{
    return nsid_alloc_arena_bytes(a, n * sizeof(float), err);
}

void nsid_alloc_arena_reset(struct nsid_arena *a)
{
    a->used = 0;
}

void nsid_alloc_arena_free(struct nsid_arena *a)
{
    if (!a) return;
    nsid_alloc_free(a->base);
    memset(a, 0, sizeof *a);
}
