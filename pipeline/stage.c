/* stage.c - the edge of every stage binary (see stage.h). */
#include "stage.h"

#include <hdf5.h>
#include <stdlib.h>

#include "base/version.h"

bool nsid_stage_begin(const char *prog, int argc, char **argv)
{
    if (nsid_version_option(argc, argv, prog)) return true;
    H5dont_atexit();
    return false;
}

const char *nsid_stage_env(const char *name)
{
    return getenv(name);
}
