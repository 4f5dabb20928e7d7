/*
 * alloc.h - checked allocation and arenas.
 *
 * Every heap allocation in nsid goes through NSID_ALLOC / NSID_CALLOC, which
 * return 64-byte aligned memory (for SIMD) or NULL with err naming the size
 * and the call site. Free with nsid_alloc_free (free(NULL) semantics).
 *
 * An arena hands out activation and gradient buffers sized once at setup:
 *
 *     struct nsid_arena a;
 *     nsid_alloc_arena_measure(&a);                     // counting pass: no memory
 *     model_bind_state(m, &a, B);                 // records sizes only
 *     size_t need = a.used;
 *     nsid_alloc_arena_init(&a, need, err);             // one block
 *     model_bind_state(m, &a, B);                 // real pointers
 *     ...  nsid_alloc_arena_free(&a);
 */
#ifndef NSID_ALLOC_H
#define NSID_ALLOC_H

#include <stddef.h>
#include "err.h"

void *nsid__alloc(size_t n, int zero, struct nsid_err *err, const char *file, int line);
void nsid_alloc_free(void *p);

#define NSID_ALLOC(n, err) nsid__alloc((n), 0, (err), __FILE__, __LINE__)
#define NSID_CALLOC(n, err) nsid__alloc((n), 1, (err), __FILE__, __LINE__)

/*
 * Room for one more item in a growing heap array (arr: NSID_ALLOC'd or NULL, n items in use,
 * cap allocated, both int): when n == cap, a block of 2 * cap items (first when cap is 0) replaces
 * arr, with the n items copied, the rest zeroed, and the old block freed. 0, or NSID_ENOMEM with
 * err set and arr, n and cap as they were.
 *
 *     if (NSID_GROW(l->v, l->n, l->cap, 64, err) < 0) return NSID_ENOMEM;
 *     l->v[l->n++] = item;
 */
#define NSID_GROW(arr, n, cap, first, err) \
    nsid__alloc_grow(&(arr), (n), &(cap), (first), sizeof *(arr), (err), __FILE__, __LINE__)
int nsid__alloc_grow(void *arrp, int n, int *cap, int first, size_t size, struct nsid_err *err, const char *file,
                     int line);

/*
 * Out-of-memory messages name the input that asked for the memory, not a C source line: an
 * NSID_ENOMEM error from NSID_ALLOC carries only the size; the caller that knows which file,
 * dataset or key the size came from names it (unless a deeper caller already did):
 *
 *     if (!buf) return nsid_alloc_oom(err, path, "responses", "5000 x 7000 floats");
 *     // "scan.h5: responses: 5000 x 7000 floats: out of memory: cannot allocate ... bytes"
 *
 * Returns err->code (any other error is left as it is).
 */
int nsid_alloc_oom(struct nsid_err *err, const char *file, const char *key, const char *what);

/* Overflow-checked n*size; returns 0 and sets err on overflow. */
size_t nsid_alloc_mul_size(size_t n, size_t size, struct nsid_err *err);

struct nsid_arena {
    char *base;    /* block, NULL in measuring mode */
    size_t cap;    /* bytes in base */
    size_t used;   /* bytes handed out since the last reset */
    size_t peak;   /* high-water mark of used */
};

/* Measuring mode: allocations only count bytes and return a non-NULL dummy. */
void nsid_alloc_arena_measure(struct nsid_arena *a);
/* One zeroed block of cap bytes. */
int nsid_alloc_arena_init(struct nsid_arena *a, size_t cap, struct nsid_err *err);
/*
 * n floats (64-byte aligned). Returns NULL with err set when the arena is
 * full; in measuring mode returns a non-dereferenceable sentinel.
 */
float *nsid_alloc_arena_floats(struct nsid_arena *a, size_t n, struct nsid_err *err);
void *nsid_alloc_arena_bytes(struct nsid_arena *a, size_t n, struct nsid_err *err);
void nsid_alloc_arena_reset(struct nsid_arena *a);
void nsid_alloc_arena_free(struct nsid_arena *a);

#endif
