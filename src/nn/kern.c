/* kern.c - choosing a kernel set at run time (see kern.h). */
#include "nn/kern.h"

#include <string.h>

/* True if this CPU runs the named set (and the build compiled it). */
static int cpu_has(const struct nsid_kern *k)
{
    if (!k->name) return 0;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (k == &nsid__kern_avx512) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
                                        __builtin_cpu_supports("fma");
    if (k == &nsid__kern_avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    if (k == &nsid__kern_avx512 || k == &nsid__kern_avx2) return 0;
#endif
    return 1;
}

/* Every set, best first. */
static const struct nsid_kern *const all_sets[] = {&nsid__kern_avx512, &nsid__kern_avx2, &nsid__kern_generic,
                                                   &nsid__kern_generic16};

int nsid_kern_available(const char *name)
{
    for (size_t i = 0; i < sizeof all_sets / sizeof all_sets[0]; i++)
        if (all_sets[i]->name && strcmp(all_sets[i]->name, name) == 0) return cpu_has(all_sets[i]);
    return 0;
}

const struct nsid_kern *nsid_kern_select(const char *want, struct nsid_err *err)
{
    if (!want || !*want || strcmp(want, "auto") == 0) {
        if (cpu_has(&nsid__kern_avx512)) return &nsid__kern_avx512;
        if (cpu_has(&nsid__kern_avx2)) return &nsid__kern_avx2;
        return &nsid__kern_generic;
    }
    for (size_t i = 0; i < sizeof all_sets / sizeof all_sets[0]; i++) {
        const struct nsid_kern *k = all_sets[i];
        if (!k->name || strcmp(k->name, want) != 0) continue;
        if (cpu_has(k)) return k;
        nsid_err_set(err, NSID_EINVAL, NULL, 0, "NSID_ISA", "kernel set '%s' is not supported by this CPU/build",
                     want);
        return NULL;
    }
    nsid_err_set(err, NSID_EINVAL, NULL, 0, "NSID_ISA",
                 "unknown kernel set '%s' (expected auto, avx512, avx2, generic or generic16)", want);
    return NULL;
}
