/*
 * fuzz_npy.c - libFuzzer harness of the .npy reader (src/data/npy.h): the bytes are parsed
 * as a file in memory (header, then decoding and float conversion when the data is all
 * there) and read through nsid_npy_read from a scratch file, the path the file-tree loader
 * takes. Whatever the header claims (shape, dtype, order, version, lengths), nothing may
 * read past the data or crash, a failure has a one-line message, and an array that loads is
 * no larger than the file could hold (regress/npy/zero-width-string-40gb: '<U0' with 4e10
 * elements allocated 40 GB).
 */
#include "base/alloc.h"
#include "data/npy.h"
#include "fuzz_common.h"

/* Bytes per element in memory: the stored size; strings keep their file width ('<Un': 4n). */
static size_t npy_fuzz_item(const struct nsid_npy_header *h)
{
    return h->dtype == NSID_DT_STR ? h->file_itemsize : nsid_scan_dtype_size(h->dtype);
}

static void npy_fuzz_memory(const uint8_t *data, size_t size)
{
    struct nsid_npy_header h;
    struct nsid_err err = {0};
    int rc = nsid_npy_parse_header(data, size, &h, "fuzz.npy", &err);
    fuzz_check_failure(rc, &err);
    if (rc < 0) return;
    fuzz_require(h.data_offset <= size, "data offset %zu past the %zu bytes", h.data_offset, size);
    size_t numel = nsid_npy_numel(&h);
    size_t have = size - h.data_offset;
    if (h.file_itemsize && numel > have / h.file_itemsize) return; /* truncated: the loader refuses it */
    size_t item = npy_fuzz_item(&h);
    if (item == 0 || numel > ((size_t)1 << 24) / item) return; /* all there, so small: size bounds it */
    void *dst = malloc(numel * item + 1);
    float *f = malloc(numel * sizeof(float) + 1);
    fuzz_require(dst && f, "out of memory");
    struct nsid_err e2 = {0}, e3 = {0};
    fuzz_check_failure(nsid_npy_decode(&h, data + h.data_offset, dst, item, "fuzz.npy", &e2), &e2);
    if (h.dtype != NSID_DT_STR && h.dtype != NSID_DT_BOOL)
        fuzz_check_failure(nsid_npy_to_f32(&h, data + h.data_offset, f, "fuzz.npy", &e3), &e3);
    free(dst);
    free(f);
}

static void npy_fuzz_file(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_file(data, size, ".npy");
    if (!path) return;
    struct nsid_array a;
    memset(&a, 0, sizeof a);
    struct nsid_err err = {0};
    int rc = nsid_npy_read(path, &a, &err);
    fuzz_check_failure(rc, &err);
    fuzz_require(rc == 0 || a.data == NULL, "a failed read left data behind");
    if (rc == 0) {
        size_t numel = nsid_scan_array_numel(&a), prod = 1;
        bool wrapped = false;
        for (int d = 0; d < a.ndim; d++) {
            if (a.shape[d] == 0) { prod = 0; wrapped = false; break; }
            wrapped |= (uint64_t)a.shape[d] > SIZE_MAX / prod;
            prod *= (size_t)a.shape[d];
        }
        fuzz_require(!wrapped && prod == numel, "the shape's element count wrapped around (%zu)", numel);
        /* the elements were in the file, so memory is bounded by its size */
        fuzz_require(numel * a.itemsize <= size,
                     "%zu elements of %zu bytes read from a %zu-byte file", numel, a.itemsize, size);
        if (a.dtype != NSID_DT_STR && numel) { /* every element is readable */
            double sum = 0;
            for (size_t i = 0; i < numel; i++) sum += nsid_scan_array_get_f64(&a, i);
            (void)sum;
        }
    }
    nsid_scan_array_free(&a);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    npy_fuzz_memory(data, size);
    npy_fuzz_file(data, size);
    return 0;
}
