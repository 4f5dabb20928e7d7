/*
 * fuzz_h5scan.c - libFuzzer harness of the HDF5 scan loader (src/data/h5scan.h): the bytes
 * are written to a scratch file and loaded as a StaticImageSet scan, through the same
 * nsid_scan_load a stage uses (so the HDF5 signature check and the whole validation run).
 * A failure must leave the scan zeroed and carry a one-line message.
 */
#include <hdf5.h>

#include "data/scan.h"
#include "fuzz_common.h"

#ifndef NSID_FUZZ_REGRESS
/* Whole allocation stacks, so tests/fuzz/lsan.supp can name the libhdf5 function of a leak
 * (libhdf5 has no frame pointers). The regression test sets its own. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}
#endif

static void h5scan_fuzz_warn(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        quiet = 1;
    }
    const char *path = fuzz_scratch_file(data, size, ".h5");
    if (!path) return 0;
    struct nsid_scan s;
    struct nsid_err err = {0};
    struct nsid_scan_opts o = {0};
    o.warn = h5scan_fuzz_warn;
    o.allow_empty_tier = (size & 1) != 0; /* both policies */
    memset(&s, 0xAB, sizeof s);
    int rc = nsid_scan_load(&s, path, &o, &err);
    fuzz_check_failure(rc, &err);
    if (rc < 0)
        fuzz_require(s.images == NULL && s.responses == NULL && s.n_trials == 0, "a failed load left data behind");
    else
        nsid_scan_free(&s);
    unlink(path);
    return 0;
}
