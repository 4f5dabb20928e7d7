/*
 * fuzz_spec.c - libFuzzer harness of the experiment-spec loader (src/exp/spec.h): any text
 * is read as one spec file and, if it loads, checked across documents. A failure must carry
 * a code and a one-line message; nothing may crash, leak or read out of bounds.
 */
#include "exp/spec.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nsid_spec_set s;
    struct nsid_err err = {0};
    nsid_spec_set_init(&s);
    int rc = nsid_spec_load_string(&s, (const char *)data, size, "fuzz.yaml", &err);
    fuzz_check_failure(rc, &err);
    if (rc == 0) {
        struct nsid_err err2 = {0};
        fuzz_check_failure(nsid_spec_check(&s, &err2), &err2);
    }
    nsid_spec_set_free(&s);
    return 0;
}
