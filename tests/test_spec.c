/*
 * test_spec.c - experiment specs: what a good spec reads as, and every bad-spec case of
 * tests/bad/spec/ (each file's first line says `# expect: :LINE: KEY: message`), which must
 * fail with that file:line: key: reason, through the same load -> check -> plan steps
 * nsid-plan takes. Also the shipped experiments/ specs plan cleanly in every profile.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "exp/plan.h"
#include "exp/spec.h"

static const char *src_dir(void)
{
    const char *s = getenv("NSID_SRC");
    return s ? s : ".";
}

/* Load, check and plan (quick profile) one spec; returns the first error code. */
static int run_spec(const char *path, const char *groups, const char *profile, struct nsid_err *err,
                    int *n_runs)
{
    struct nsid_spec_set s;
    nsid_spec_set_init(&s);
    int rc = nsid_spec_load(&s, path, err);
    if (rc == 0) rc = nsid_spec_check(&s, err);
    struct nsid_plan p;
    struct nsid_plan_opts o = {.profile = profile, .groups = groups};
    if (rc == 0) rc = nsid_plan_build(&p, &s, &o, err);
    if (rc == 0) {
        if (n_runs) *n_runs = p.n_runs;
        nsid_plan_free(&p);
    }
    nsid_spec_set_free(&s);
    return rc;
}

/* The expectation of a fixture: the text after "# expect: " on its first line. */
static bool expectation(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char line[512] = "";
    bool ok = fgets(line, sizeof line, f) && strncmp(line, "# expect: ", 10) == 0;
    fclose(f);
    if (ok) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(buf, n, "%s", line + 10);
    }
    return ok;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_bad_specs(void)
{
    char dir[1024], groups[1100];
    snprintf(dir, sizeof dir, "%s/tests/bad/spec", src_dir());
    snprintf(groups, sizeof groups, "%s/groups.json", dir);
    DIR *d = opendir(dir);
    CHECK(d != NULL, "fixture folder %s", dir);
    if (!d) return;
    char *names[256];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 256;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".yaml") == 0) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    int cases = 0;
    for (int i = 0; i < n; i++) {
        char path[1400], want[512], got[2048];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!expectation(path, want, sizeof want)) {
            if (strcmp(names[i], "empty.yaml") == 0) snprintf(want, sizeof want, "experiment: no experiment in this file");
            else if (strcmp(names[i], "binary.yaml") == 0) snprintf(want, sizeof want, "NUL byte");
            else {
                CHECK(0, "%s has no '# expect:' line", names[i]);
                continue;
            }
        }
        struct nsid_err err = {0};
        int rc = run_spec(path, groups, "quick", &err, NULL);
        nsid_err_str(&err, got, sizeof got);
        CHECK(rc < 0, "%s: must fail", names[i]);
        CHECK(strncmp(got, path, strlen(path)) == 0, "%s: the error names the file: %s", names[i], got);
        CHECK(strstr(got, want) != NULL, "%s: want '%s' in '%s'", names[i], want, got);
        cases++;
        free(names[i]);
    }
    printf("bad specs: %d cases\n", cases);
    CHECK(cases >= 40, "every bad-spec case ran (%d)", cases);
}

static void test_missing_file(void)
{
    struct nsid_err err = {0};
    struct nsid_spec_set s;
    nsid_spec_set_init(&s);
    CHECK(nsid_spec_load(&s, "/no/such/spec.yaml", &err) == NSID_ENOTFOUND && strstr(err.file, "spec.yaml"),
          "a missing spec names its path");
    nsid_spec_set_free(&s);
}

static const char GOOD[] =
    "experiment: e\n"
    "description: a test\n"
    "data: {files: [scan.h5]}\n"
    "defaults:\n"
    "  train: {max_epochs: 7}\n"
    "  var.label: hello\n"
    "grid:\n"
    "  data:\n"
    "    image_n: [10, 20]\n"
    "  train.seed: [1, 2, 3]\n"
    "variants:\n"
    "  - name: a\n"
    "    model.readout.type: factorized\n"
    "    search: {model.readout.gamma: {log: [0.01, 1], n: 3}}\n"
    "  - name: b\n"
    "    train.seed: 9\n"
    "search:\n"
    "  model.readout.gamma: {random_log: [1, 100], n: 2, seed: 5}\n"
    "select: [train.seed]\n"
    "plot: {figure: f, curve: $variant, x: $data.image_n}\n"
    "profiles:\n"
    "  smoke:\n"
    "    grid: {data.image_n: [5]}\n"
    "    search: {model.readout.gamma: {n: 1}}\n";

static void test_good_spec(void)
{
    struct nsid_err err = {0};
    struct nsid_spec_set s;
    nsid_spec_set_init(&s);
    CHECK(nsid_spec_load_string(&s, GOOD, sizeof GOOD - 1, "good.yaml", &err) == 0, "good spec: %s", err.msg);
    CHECK(nsid_spec_check(&s, &err) == 0, "good spec checks");
    const struct nsid_spec_experiment *e = nsid_spec_find(&s, "e");
    CHECK(e && e->n_grid == 2 && strcmp(e->grid[0].key, "data.image_n") == 0 && e->grid[1].n == 3,
          "nested grid keys are joined");
    CHECK(e && e->n_variants == 2 && e->variants[0].n_search == 1 && e->variants[0].search[0].n == 3,
          "variant search");
    CHECK(e && e->variants[0].search[0].values && strcmp(e->variants[0].search[0].values[1].text, "0.1") == 0,
          "log grid midpoint 0.1 (%s)", e && e->variants[0].search[0].values ? e->variants[0].search[0].values[1].text : "");
    CHECK(e && e->n_search == 1 && e->search[0].kind == NSID_SEARCH_RANDOM_LOG && e->search[0].n == 2,
          "random log search");
    CHECK(e && e->n_plot == 3 && e->plot[1].ref && strcmp(e->plot[1].text, "variant") == 0, "plot references");
    CHECK(e && e->n_defaults == 2 && strcmp(e->defaults[1].key, "var.label") == 0, "labels in defaults");
    CHECK(e && e->n_profiles == 1 && e->profiles[0].search[0].kind == NSID_SEARCH_COUNT, "profile resizes a search");
    nsid_spec_set_free(&s);
}

static void test_shipped_specs(void)
{
    const char *files[] = {"profiles", "cores", "fig3", "fig4", "fig5"};
    char paths[5][1200];
    for (int i = 0; i < 5; i++) snprintf(paths[i], sizeof paths[i], "%s/experiments/%s.yaml", src_dir(), files[i]);
    struct nsid_spec_set s;
    nsid_spec_set_init(&s);
    struct nsid_err err = {0};
    int rc = 0;
    for (int i = 0; rc == 0 && i < 5; i++) rc = nsid_spec_load(&s, paths[i], &err);
    if (rc == 0) rc = nsid_spec_check(&s, &err);
    char msg[2048];
    CHECK(rc == 0, "the shipped specs read and check: %s", nsid_err_str(&err, msg, sizeof msg));
    const char *names[] = {"cores", "fig3", "fig3_ablation", "fig4_cores", "fig4_direct", "fig4_diff_core",
                           "fig4_best_core", "fig5"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK(nsid_spec_find(&s, names[i]) != NULL, "experiment %s is specified", names[i]);
    const struct nsid_spec_experiment *f5 = nsid_spec_find(&s, "fig5");
    CHECK(f5 && f5->n_variants == 10, "Fig. 5 has the paper's 10 curves");
    nsid_spec_set_free(&s);
}

int main(void)
{
    test_good_spec();
    test_missing_file();
    test_bad_specs();
    test_shipped_specs();
    return check_summary("spec");
}
