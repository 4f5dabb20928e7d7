/* version.c - the release and the compiled-in git commit (see version.h). */
#include <stdbool.h>
#include <string.h>

#include "base/version.h"
#include "nsid_git.h" /* generated in the build folder: NSID_GIT_COMMIT, NSID_GIT_DIRTY */

#ifndef NSID_RELEASE
#error "NSID_RELEASE is defined by CMakeLists.txt (project VERSION)"
#endif

const char *nsid_version_release(void)
{
    return NSID_RELEASE;
}

const char *nsid_version_commit(void)
{
    return NSID_GIT_COMMIT;
}

int nsid_version_dirty(void)
{
    return NSID_GIT_DIRTY;
}

void nsid_version_print(FILE *f, const char *prog)
{
    int d = nsid_version_dirty();
    fprintf(f, "%s %s (commit %s%s)\n", prog, nsid_version_release(), nsid_version_commit(),
            d == 1 ? ", dirty" : d == 0 ? ", clean" : "");
}

bool nsid_version_option(int argc, char *const *argv, const char *prog)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--version") == 0) {
            nsid_version_print(stdout, prog);
            return true;
        }
    return false;
}
