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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/opt.h"
#include "base/path.h"
#include "data/scan.h"
#include "data/summary.h"
#include "stage.h"

static const char ABOUT[] =
    "usage: nsid-convert [options] SRC DST   convert a scan (file tree <-> HDF5, losslessly)\n"
    "       nsid-convert [options] --info PATH summarise a scan\n"
    "\n"
    "SRC and PATH may be an HDF5 StaticImageSet file or a FileTreeDataset folder (docs/paper.md §5.3);\n"
    "DST is written as HDF5 if its name ends in .h5/.hdf5/.hdf, else as a file tree; its folder\n"
    "must exist. Writing is atomic: DST appears only when complete. DST may not be SRC (by any\n"
    "spelling or link), lie inside SRC, or contain it.\n"
    "\n"
    "options:\n";

struct args {
    const char *src, *dst;
    bool info, help, version;
    long long gzip;
    struct nsid_opt_list pos;
    struct nsid_scan_opts load;
    struct nsid_save_opts save;
};

/* 0 ok, 1 help printed, 2 usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
    const struct nsid_opt opts[] = {
        {"force", 0, NSID_OPT_FLAG, &a->save.overwrite, NULL, .help = "replace an existing DST"},
        {"gzip", 0, NSID_OPT_INT, &a->gzip, "N", .min = 1, .max = 9,
         .help = "HDF5 output: deflate level 1..9 (default: uncompressed)"},
        {"keep-bytes", 0, NSID_OPT_FLAG, &a->save.keep_bytes, NULL,
         .help = "tree output: keep byte strings as '|S' (default: numpy str '<U',\n"
                 "as neuralpredictors' convert_static_h5_dataset_to_folder writes them)"},
        {"drop-nonfinite", 0, NSID_OPT_FLAG, &a->load.drop_nonfinite, NULL,
         .help = "drop trials whose images or responses hold NaN/Inf (default: error)"},
        {"allow-empty-tier", 0, NSID_OPT_FLAG, &a->load.allow_empty_tier, NULL,
         .help = "accept a scan whose train, validation or test tier is empty"},
        {"info", 0, NSID_OPT_FLAG, &a->info, NULL,
         .help = "print trials per tier, neurons, image shape, test repeats, fields"},
        NSID_STAGE_OPTS_END(&a->version, &a->help)};
    struct nsid_opt_cmd cmd = {"nsid-convert", opts, &a->pos, 2, nsid_stage_env};
    int rc = nsid_stage_parse(&cmd, ABOUT, &a->help, argc, argv);
    if (rc) return rc;
    a->save.gzip = (int)a->gzip;
    a->src = a->pos.n > 0 ? a->pos.v[0] : NULL;
    a->dst = a->pos.n > 1 ? a->pos.v[1] : NULL;
    if (a->info ? a->pos.n != 1 : a->pos.n != 2) {
        fprintf(stderr, a->info ? "nsid-convert: --info takes one PATH (see --help)\n"
                                : "nsid-convert: expected SRC and DST (see --help)\n");
        return 2;
    }
    if (a->info) a->load.allow_empty_tier = true; /* --info reports empty tiers instead of failing */
    return 0;
}

/* Convert or summarise as the parsed command line says; the exit status. */
static int convert(const struct args *ap)
{
    const struct args a = *ap;
    int rc;
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
    if (a.info) rc = nsid_summary_scan(&s, stdout, &err);
    else rc = nsid_scan_save(&s, a.dst, &a.save, &err);
    nsid_scan_free(&s);
    if (rc < 0) {
        nsid_err_print(&err, stderr);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (nsid_stage_begin("nsid-convert", argc, argv)) return 0;
    struct args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc == 0) rc = convert(&a);
    else if (rc == 1) rc = 0;
    nsid_opt_list_free(&a.pos);
    return rc;
}
