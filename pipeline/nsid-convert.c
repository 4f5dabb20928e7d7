/*
 * nsid-convert - convert a scan between the file-tree and HDF5 layouts, or
 * summarise one.
 *
 *     nsid-convert static20457-5-9-preproc0 static20457-5-9-preproc0.h5
 *     nsid-convert scan.h5 scan_tree/
 *     nsid-convert --info static20457-5-9-preproc0
 *
 * Exit status: 0 ok, 1 the scan could not be read or written, 2 bad usage.
 */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/path.h"
#include "base/version.h"
#include "data/scan.h"
#include "data/summary.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: nsid-convert [options] SRC DST   convert a scan (file tree <-> HDF5, losslessly)\n"
            "       nsid-convert [options] --info PATH summarise a scan\n"
            "\n"
            "SRC and PATH may be an HDF5 StaticImageSet file or a FileTreeDataset folder (docs/paper.md §5.3);\n"
            "DST is written as HDF5 if its name ends in .h5/.hdf5/.hdf, else as a file tree; its folder\n"
            "must exist. Writing is atomic: DST appears only when complete. DST may not be SRC (by any\n"
            "spelling or link), lie inside SRC, or contain it.\n"
            "\n"
            "options:\n"
            "  --force             replace an existing DST\n"
            "  --gzip N            HDF5 output: deflate level 1..9 (default: uncompressed)\n"
            "  --keep-bytes        tree output: keep byte strings as '|S' (default: numpy str '<U',\n"
            "                      as neuralpredictors' convert_static_h5_dataset_to_folder writes them)\n"
            "  --drop-nonfinite    drop trials whose images or responses hold NaN/Inf (default: error)\n"
            "  --allow-empty-tier  accept a scan whose train, validation or test tier is empty\n"
            "  --info              print trials per tier, neurons, image shape, test repeats, fields\n"
            "  --version           the release and the git commit this build was made from\n"
            "  -h, --help          this text\n");
}

struct args {
    const char *src, *dst;
    bool info;
    struct nsid_scan_opts load;
    struct nsid_save_opts save;
};

/* 0 ok, 1 help printed, 2 usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) { usage(stdout); return 1; }
        else if (!strcmp(s, "--info")) a->info = true;
        else if (!strcmp(s, "--force")) a->save.overwrite = true;
        else if (!strcmp(s, "--keep-bytes")) a->save.keep_bytes = true;
        else if (!strcmp(s, "--drop-nonfinite")) a->load.drop_nonfinite = true;
        else if (!strcmp(s, "--allow-empty-tier")) a->load.allow_empty_tier = true;
        else if (!strcmp(s, "--gzip")) {
            char *end;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
            if (i + 1 >= argc || *end || v < 1 || v > 9) {
                fprintf(stderr, "nsid-convert: --gzip: expected a level 1..9\n");
                return 2;
            }
            a->save.gzip = (int)v;
            i++;
        } else if (s[0] == '-' && s[1]) {
            fprintf(stderr, "nsid-convert: unknown option '%s' (see --help)\n", s);
            return 2;
        } else if (npos < 2) {
            pos[npos++] = s;
        } else {
            fprintf(stderr, "nsid-convert: too many arguments (see --help)\n");
            return 2;
        }
    }
    a->src = pos[0];
    a->dst = pos[1];
    if (a->info ? npos != 1 : npos != 2) {
        fprintf(stderr, a->info ? "nsid-convert: --info takes one PATH (see --help)\n"
                                : "nsid-convert: expected SRC and DST (see --help)\n");
        return 2;
    }
    if (a->info) a->load.allow_empty_tier = true; /* --info reports empty tiers instead of failing */
    return 0;
}

int main(int argc, char **argv)
{
    if (nsid_version_option(argc, argv, "nsid-convert")) return 0;
    /* HDF5 1.10 leaves a file whose close failed (a full disk) half-open and crashes on it
     * in its atexit cleanup: skip that cleanup; every file is closed explicitly. */
    H5dont_atexit();
    struct args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : 2;
    struct nsid_scan s;
    struct nsid_err err = {0};
    /* DST's folder must exist: checked before the (possibly long) load */
    struct nsid_path_use in = {a.src, "SRC", false}, out = {a.dst, "DST", false};
    if ((!a.info && (nsid_path_check_parent(a.dst, "DST", NULL, &err) < 0 ||
                     nsid_path_check_io(&in, 1, &out, 1, &err) < 0)) ||
        nsid_scan_load(&s, a.src, &a.load, &err) < 0) {
        nsid_err_print(&err, stderr);
        return 1;
    }
    if (a.info) rc = nsid_scan_summary(&s, stdout, &err);
    else rc = nsid_scan_save(&s, a.dst, &a.save, &err);
    nsid_scan_free(&s);
    if (rc < 0) {
        nsid_err_print(&err, stderr);
        return 1;
    }
    return 0;
}
