/*
 * fuzz_config.c - libFuzzer harness of the run-configuration loader (src/exp/config.h): any
 * text is read as a YAML/JSON config and validated. When it is valid, its canonical JSON
 * must read back (YAML is a JSON superset) to the same canonical JSON, i.e. the same run id.
 */
#include "exp/config.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nsid_config c;
    struct nsid_err err = {0};
    nsid_config_init(&c);
    int rc = nsid_config_parse_string(&c, (const char *)data, size, "fuzz.yaml", &err);
    if (rc == 0) rc = nsid_config_validate(&c, &err);
    fuzz_check_failure(rc, &err);
    if (rc < 0) return 0;
    size_t n = nsid_config_canonical(&c, NULL, 0) + 1;
    char *a = malloc(n), *b = NULL;
    fuzz_require(a != NULL, "out of memory");
    nsid_config_canonical(&c, a, n);
    struct nsid_config d;
    nsid_config_init(&d);
    struct nsid_err err2 = {0};
    int rc2 = nsid_config_parse_string(&d, a, n - 1, "canonical.json", &err2);
    fuzz_require(rc2 == 0, "the canonical JSON does not read back: %s: %s", err2.key, err2.msg);
    size_t m = nsid_config_canonical(&d, NULL, 0) + 1;
    b = malloc(m);
    fuzz_require(b != NULL, "out of memory");
    nsid_config_canonical(&d, b, m);
    fuzz_require(m == n && memcmp(a, b, n) == 0, "canonical JSON changes on a round trip:\n%s\n%s", a, b);
    free(a);
    free(b);
    return 0;
}
