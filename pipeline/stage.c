/* stage.c - the edge of every stage binary (see stage.h). */
#include "stage.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/version.h"

bool nsid_stage_begin(const char *prog, int argc, char **argv)
{
    if (nsid_version_option(argc, argv, prog)) return true;
    H5dont_atexit();
    return false;
}

int nsid_stage_parse(const struct nsid_opt_cmd *cmd, const char *about, const bool *help, int argc, char **argv)
{
    struct nsid_err err = {0};
    int rc = nsid_opt_parse(cmd, argc - 1, argv + 1, &err);
    if (rc < 0) return nsid_opt_usage_error(cmd, &err);
    if (*help) {
        fputs(about, stdout);
        nsid_opt_help(cmd->opts, stdout);
    }
    return rc;
}

const char *nsid_stage_env(const char *name)
{
    return getenv(name);
}
