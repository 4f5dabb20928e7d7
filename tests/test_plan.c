/*
 * test_plan.c - run ids and the plan: ids are stable under reformatting, key order, nested
 * vs dotted keys, spelled-out defaults and moved data; every configuration value, every
 * data byte and every input file byte changes them; core selections follow their
 * candidates; plan.mk has the right targets and edges; run.json files round-trip; the
 * store records the plan; --explain and --diff say what differs.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "exp/config.h"
#include "exp/plan.h"
#include "exp/spec.h"
#include "exp/store.h"

static char tmp[512];

static const char *tpath(const char *name)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* A stand-in scan: an HDF5 signature (what the planner checks) and text. */
static void write_scan(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs("\211HDF\r\n\032\n", f);
    fputs(text, f);
    fclose(f);
}

/* A plan and the spec set it points into (the plan must not outlive the specs). */
struct planned {
    struct nsid_spec_set s;
    struct nsid_plan p;
};

/* Plan spec text (profile quick, data description groups) into t; returns rc. */
static int plan_text(struct planned *t, const char *text, const char *groups, struct nsid_err *err)
{
    nsid_spec_set_init(&t->s);
    memset(&t->p, 0, sizeof t->p);
    int rc = nsid_spec_load_string(&t->s, text, strlen(text), "test.yaml", err);
    if (rc == 0) rc = nsid_spec_check(&t->s, err);
    struct nsid_plan_opts o = {.profile = "quick", .groups = groups, .results = tpath("results")};
    if (rc == 0) rc = nsid_plan_build(&t->p, &t->s, &o, err);
    return rc;
}

static void planned_free(struct planned *t)
{
    nsid_plan_free(&t->p);
    nsid_spec_set_free(&t->s);
}

/* The ids of a plan joined by spaces (first occurrences, in plan order). */
static char *ids_of(const struct nsid_plan *p)
{
    size_t n = (size_t)p->n_runs * 66 + 1;
    char *s = calloc(n, 1);
    for (int i = 0; s && i < p->n_runs; i++) {
        strcat(s, p->runs[i].id);
        strcat(s, " ");
    }
    return s;
}

static const char BASE[] =
    "experiment: e\n"
    "data: g\n"
    "defaults: {train.max_epochs: 7, model.readout.gamma: 1.5}\n"
    "grid: {data.image_n: [10, 20], train.seed: [1, 2]}\n"
    "select: [train.seed]\n";

/* The same experiment: block style, nested keys, other order, comments, spelled-out defaults. */
static const char REFORMATTED[] =
    "# the same experiment, written differently\n"
    "select:\n"
    "  - train.seed\n"
    "grid:\n"
    "  data:\n"
    "    image_n:\n"
    "      - 10\n"
    "      - 20\n"
    "  train:\n"
    "    seed: [1, 2]\n"
    "experiment: e\n"
    "defaults:\n"
    "  model:\n"
    "    readout: {gamma: 1.50, type: gaussian}\n"
    "  train:\n"
    "    lr: 5e-3          # the default, spelled out\n"
    "    max_epochs: 7\n"
    "data: {group: g}\n";

static void make_data(const char *dir, const char *content)
{
    char path[1100];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/a.h5", dir);
    write_scan(path, content);
    snprintf(path, sizeof path, "%s/b.h5", dir);
    write_scan(path, "second scan");
    snprintf(path, sizeof path, "%s/groups.json", dir);
    write_file(path, "{\"groups\": {\"g\": [\"a.h5\", \"b.h5\"], \"one\": {\"label\": \"One\", \"files\": [\"b.h5\"]}},"
                     " \"scans\": [{\"file\": \"b.h5\", \"data_key\": \"1-1-1-0\", \"animal\": 1, \"image_set\": 3}]}");
}

static void test_stability(void)
{
    struct nsid_err err = {0};
    struct planned ta, tb, tc;
    struct nsid_plan *pa = &ta.p, *pb = &tb.p, *pc_ = &tc.p;
    make_data(tpath("d1"), "first scan");
    make_data(tpath("d2"), "first scan"); /* the same bytes elsewhere */
    CHECK(plan_text(&ta, BASE, tpath("d1/groups.json"), &err) == 0, "base plan: %s", err.msg);
    CHECK(plan_text(&tb, REFORMATTED, tpath("d1/groups.json"), &err) == 0, "reformatted plan: %s", err.msg);
    CHECK(plan_text(&tc, BASE, tpath("d2/groups.json"), &err) == 0, "moved data plan: %s", err.msg);
    char *ia = ids_of(pa), *ib = ids_of(pb), *ic = ids_of(pc_);
    CHECK(pa->n_runs == 4 && pa->n_unique == 4, "2 x 2 grid: 4 runs");
    CHECK(ia && ib && strcmp(ia, ib) == 0, "reformatting, key order, nesting and explicit defaults change no id");
    CHECK(ia && ic && strcmp(ia, ic) == 0, "moving the data changes no id");
    CHECK(strcmp(pa->runs[0].sel_group, pa->runs[1].sel_group) == 0 && strcmp(pa->runs[0].sel_group, pa->runs[2].sel_group) != 0,
          "seeds of one image count share a selection group");
    free(ia);
    free(ib);
    free(ic);
    planned_free(&ta);
    planned_free(&tb);
    planned_free(&tc);
}

/* A valid value of key k other than its default, as text. */
static void other_value(const struct nsid_key *k, char *buf, size_t n)
{
    switch (k->type) {
    case NSID_KEY_INT: snprintf(buf, n, "%lld", (long long)(k->idef < k->imax ? k->idef + 1 : k->idef - 1)); break;
    case NSID_KEY_BOOL: snprintf(buf, n, "%s", k->idef ? "false" : "true"); break;
    case NSID_KEY_ENUM: snprintf(buf, n, "%s", strcmp(k->names[0], k->sdef) ? k->names[0] : k->names[1]); break;
    case NSID_KEY_STRING: snprintf(buf, n, "other"); break;
    default: {
        double hi = fmin(k->dmax, k->ddef + 1.0);
        double x = hi > k->ddef ? k->ddef + 0.5 * (hi - k->ddef) : 0.5 * (k->dmin + k->ddef);
        snprintf(buf, n, "%.17g", x);
    }
    }
}

static void test_sensitivity(void)
{
    const char *sha[] = {"aa", "bb"};
    struct nsid_config base;
    nsid_config_init(&base);
    char id0[NSID_SHA256_HEX], id[NSID_SHA256_HEX];
    nsid_identity_plan(&base, "", sha, 2, NULL, 0, NULL);
    char buf[8192];
    nsid_identity_plan(&base, "", sha, 2, buf, sizeof buf, id0);
    size_t nk = 0;
    const struct nsid_key *keys = nsid_config_keys(&nk);
    int changed = 0;
    for (size_t i = 0; i < nk; i++) {
        struct nsid_config c = base;
        char v[64];
        struct nsid_err err = {0};
        other_value(&keys[i], v, sizeof v);
        bool quoted = keys[i].type == NSID_KEY_STRING;
        if (nsid_config_set_value(&c, keys[i].name, v, quoted, "t", 1, &err) < 0) {
            CHECK(0, "alternative value %s for %s: %s", v, keys[i].name, err.msg);
            continue;
        }
        if (strcmp(keys[i].name, "model.core.checkpoint") == 0) {
            /* paths never enter the identity: the core's identity does */
            nsid_identity_plan(&c, "", sha, 2, buf, sizeof buf, id);
            CHECK(strcmp(id, id0) == 0, "a checkpoint path alone does not change the id");
            nsid_identity_plan(&c, "sha256:cc", sha, 2, buf, sizeof buf, id);
        } else {
            nsid_identity_plan(&c, "", sha, 2, buf, sizeof buf, id);
        }
        CHECK(strcmp(id, id0) != 0, "changing %s to %s changes the id", keys[i].name, v);
        changed += strcmp(id, id0) != 0;
    }
    printf("sensitivity: %d of %zu keys change the id\n", changed, nk);
    const char *sha2[] = {"aa", "bc"}, *sha3[] = {"bb", "aa"}, *sha1[] = {"aa"};
    nsid_identity_plan(&base, "", sha2, 2, buf, sizeof buf, id);
    CHECK(strcmp(id, id0) != 0, "a data file's content changes the id");
    nsid_identity_plan(&base, "", sha3, 2, buf, sizeof buf, id);
    CHECK(strcmp(id, id0) != 0, "the order of the scans changes the id");
    nsid_identity_plan(&base, "", sha1, 1, buf, sizeof buf, id);
    CHECK(strcmp(id, id0) != 0, "the number of scans changes the id");
    CHECK(strstr(buf, "\"nsid_identity\":1") && strstr(buf, "\"config\":{") && strstr(buf, "\"data\":[\"aa\"]"),
          "identity document layout: %.80s", buf);

    /* through a spec: a changed data byte and a changed value */
    struct nsid_err err = {0};
    struct planned ta, tb, tc;
    struct nsid_plan *pa = &ta.p, *pb = &tb.p, *pc_ = &tc.p;
    make_data(tpath("d3"), "first scan");
    plan_text(&ta, BASE, tpath("d3/groups.json"), &err);
    make_data(tpath("d3"), "first scan!");
    CHECK(plan_text(&tb, BASE, tpath("d3/groups.json"), &err) == 0, "replan");
    char *ia = ids_of(pa), *ib = ids_of(pb);
    bool all_differ = pa->n_runs == pb->n_runs;
    for (int i = 0; all_differ && i < pa->n_runs; i++) all_differ = strcmp(pa->runs[i].id, pb->runs[i].id) != 0;
    CHECK(all_differ, "one changed byte in a data file changes every id that uses it");
    char text[sizeof BASE + 16];
    snprintf(text, sizeof text, "%s", BASE);
    char *at = strstr(text, "1.5");
    at[2] = '6';
    CHECK(plan_text(&tc, text, tpath("d3/groups.json"), &err) == 0, "plan with gamma 1.6");
    all_differ = true;
    for (int i = 0; i < pc_->n_runs; i++) all_differ = all_differ && strcmp(pb->runs[i].id, pc_->runs[i].id) != 0;
    CHECK(all_differ, "changing model.readout.gamma in a spec changes every id");
    free(ia);
    free(ib);
    planned_free(&ta);
    planned_free(&tb);
    planned_free(&tc);
}

static const char XFER[] =
    "experiment: cores\n"
    "data: g\n"
    "defaults: {train.max_epochs: 7}\n"
    "grid: {train.seed: [1, 2], data.image_n: [10, 20]}\n"
    "select: [train.seed]\n"
    "---\n"
    "experiment: xfer\n"
    "data: one\n"
    "defaults: {train.detach_core: true}\n"
    "grid: {data.image_n: [10, 20]}\n"
    "core: {experiment: cores, where: {data.image_n: $data.image_n}}\n"
    "plot: {figure: fig5, curve: '11-S', x: $data.image_n}\n"
    "---\n"
    "experiment: copy\n"
    "data: g\n"
    "defaults: {train.max_epochs: 7, data.image_n: 10, train.seed: 2}\n"
    "---\n"
    "experiment: weights\n"
    "data: one\n"
    "variants:\n"
    "  - {name: w, model.core.checkpoint: WEIGHTS, model.core.type: vgg16, train.detach_core: true}\n"
    "  - {name: gone, optional: true, model.core.checkpoint: /no/such.h5, model.core.type: vgg16,\n"
    "     train.detach_core: true}\n";

/* XFER with WEIGHTS replaced by path. */
static void xfer_text(char *buf, size_t n, const char *path, const char *epochs)
{
    char *t = malloc(sizeof XFER + 1024);
    snprintf(t, sizeof XFER + 1024, "%s", XFER);
    char *w = strstr(t, "WEIGHTS");
    snprintf(buf, n, "%.*s%s%s", (int)(w - t), t, path, w + 7);
    free(t);
    char *e = strstr(buf, "max_epochs: 7}\ngrid");
    if (e && epochs) e[12] = epochs[0];
}

static const struct nsid_plan_run *find_run(const struct nsid_plan *p, const char *exp, int k)
{
    for (int i = 0; i < p->n_runs; i++)
        if (strcmp(p->runs[i].exp->name, exp) == 0 && k-- == 0) return &p->runs[i];
    return NULL;
}

static void test_selection(void)
{
    struct nsid_err err = {0};
    struct planned ta, tb, tc;
    struct nsid_plan *pa = &ta.p, *pb = &tb.p, *pc_ = &tc.p;
    make_data(tpath("d4"), "first scan");
    write_file(tpath("w1.h5"), "weights");
    write_file(tpath("w2.h5"), "weights");
    char text[4096];
    xfer_text(text, sizeof text, tpath("w1.h5"), NULL);
    CHECK(plan_text(&ta, text, tpath("d4/groups.json"), &err) == 0, "transfer plan: %s", err.msg);
    CHECK(pa->n_selections == 2, "one selection per referenced image count (%d)", pa->n_selections);
    const struct nsid_plan_run *x0 = find_run(pa, "xfer", 0), *cp = find_run(pa, "copy", 0);
    CHECK(x0 && x0->selection >= 0 && pa->selections[x0->selection].n == 2, "a selection over 2 seeds");
    if (x0 && x0->selection >= 0) {
        const struct nsid_plan_selection *s = &pa->selections[x0->selection];
        CHECK(strcmp(pa->runs[s->candidates[0]].id, pa->runs[s->candidates[1]].id) < 0, "candidates sorted by id");
        CHECK(strcmp(pa->runs[s->candidates[0]].exp->name, "cores") == 0 &&
                  pa->runs[s->candidates[0]].config->data.image_n == 10,
              "candidates match the where filter ($data.image_n = 10)");
        char want[160];
        snprintf(want, sizeof want, "\"checkpoint\":\"select:%s\"", s->id);
        CHECK(strstr(x0->identity, want) != NULL, "the identity names the selection");
        CHECK(x0->config->model.core.checkpoint[0] == '\0', "run.json leaves the checkpoint to make time");
    }
    CHECK(cp && cp->first >= 0 && pa->n_unique == pa->n_runs - 1, "a run in two experiments is planned once (%d/%d)",
          pa->n_unique, pa->n_runs);
    const struct nsid_plan_run *w = find_run(pa, "weights", 0);
    CHECK(w && strstr(w->identity, "sha256:") && !strstr(w->identity, "w1.h5"), "an input file enters by its hash");
    CHECK(find_run(pa, "weights", 1) == NULL, "an optional variant with a missing input is skipped");

    xfer_text(text, sizeof text, tpath("w2.h5"), NULL);
    CHECK(plan_text(&tb, text, tpath("d4/groups.json"), &err) == 0, "plan with the weights moved");
    const struct nsid_plan_run *w2 = find_run(pb, "weights", 0);
    CHECK(w && w2 && strcmp(w->id, w2->id) == 0, "the same weights under another path: the same id");
    write_file(tpath("w2.h5"), "weights, retrained");
    planned_free(&tb);
    CHECK(plan_text(&tb, text, tpath("d4/groups.json"), &err) == 0, "plan with other weights");
    w2 = find_run(pb, "weights", 0);
    CHECK(w && w2 && strcmp(w->id, w2->id) != 0, "other weights: another id");

    xfer_text(text, sizeof text, tpath("w1.h5"), "8");
    CHECK(plan_text(&tc, text, tpath("d4/groups.json"), &err) == 0, "plan with changed cores: %s", err.msg);
    const struct nsid_plan_run *cx = find_run(pc_, "xfer", 0), *cw = find_run(pc_, "weights", 0);
    CHECK(x0 && cx && strcmp(x0->id, cx->id) != 0, "changing the cores changes the transfer runs' ids");
    CHECK(w && cw && strcmp(w->id, cw->id) == 0, "and not the ids of runs that do not depend on them");
    planned_free(&ta);
    planned_free(&tb);
    planned_free(&tc);
}

/* Count lines of a file starting with prefix and containing (if not NULL) needle. */
static int count_lines(const char *path, const char *prefix, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    static char line[1 << 16];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, prefix, strlen(prefix)) == 0 && (!needle || strstr(line, needle))) n++;
    fclose(f);
    return n;
}

static void test_outputs(void)
{
    struct nsid_err err = {0};
    struct planned ta;
    struct nsid_plan *pa = &ta.p;
    char text[4096];
    xfer_text(text, sizeof text, tpath("w1.h5"), NULL);
    CHECK(plan_text(&ta, text, tpath("d4/groups.json"), &err) == 0, "plan");
    const char *specs[] = {"test.yaml"};
    CHECK(nsid_plan_write_configs(pa, &err) == pa->n_unique, "one run.json per distinct run");
    CHECK(nsid_plan_write_configs(pa, &err) == 0, "unchanged run.json files are not rewritten");
    const struct nsid_plan_run *x0 = find_run(pa, "xfer", 0);
    char path[1400];
    snprintf(path, sizeof path, "%s/runs/%s/run.json", tpath("results"), x0->id);
    struct nsid_config back;
    nsid_config_init(&back);
    CHECK(nsid_config_parse_file(&back, path, &err) == 0, "run.json parses as a run configuration: %s", err.msg);
    char canon[8192];
    nsid_config_canonical(&back, canon, sizeof canon);
    CHECK(strcmp(canon, x0->canonical) == 0, "run.json round-trips to the same canonical configuration");

    const char *mk = tpath("plan.mk");
    CHECK(nsid_plan_write_make(pa, mk, specs, 1, &err) == 0, "plan.mk written: %s", err.msg);
    char prefix[1100];
    snprintf(prefix, sizeof prefix, "%s/runs/", tpath("results"));
    CHECK(count_lines(mk, prefix, "/done: ") == pa->n_unique, "one target per distinct run (%d)", pa->n_unique);
    snprintf(prefix, sizeof prefix, "%s/select/", tpath("results"));
    CHECK(count_lines(mk, prefix, ".ckpt:") == pa->n_selections, "one target per selection");
    const struct nsid_plan_selection *s = &pa->selections[x0->selection];
    char need[300];
    snprintf(need, sizeof need, "%s/done", pa->runs[s->candidates[1]].id);
    CHECK(count_lines(mk, prefix, need) == 1, "a selection depends on its candidates' done stamps");
    snprintf(need, sizeof need, "select/%s.ckpt | $(NSID_RUN_DEPS) %s", s->id, tpath("d4/b.h5"));
    CHECK(count_lines(mk, tpath("results"), need) == 1,
          "transfer runs depend on their selection; data and binaries are order-only");
    snprintf(need, sizeof need, "$(NSID_RUN) %s %s/select/%s.ckpt %s", x0->id, tpath("results"), s->id, tpath("d4/b.h5"));
    CHECK(count_lines(mk, "\t", need) == 1, "the recipe passes the selection file and the data");
    CHECK(count_lines(mk, "\t$(NSID_DB) select --out $@", NULL) == pa->n_selections, "selection recipes");

    struct nsid_store st;
    CHECK(nsid_store_open(&st, tpath("plan.db"), &err) == 0, "open store");
    CHECK(nsid_plan_record(pa, &st, specs, 1, &err) == 0, "record the plan: %s", err.msg);
    int64_t counts[NSID_RUN_N_STATUS];
    nsid_store_status(&st, NULL, counts, &err);
    CHECK(counts[NSID_RUN_PLANNED] == pa->n_unique, "every distinct run is planned (%lld)", (long long)counts[0]);
    FILE *out = fopen(tpath("explain.txt"), "w");
    CHECK(nsid_plan_explain(&st, x0->id, out, &err) == 0, "explain: %s", err.msg);
    char shortid[9];
    snprintf(shortid, sizeof shortid, "%.8s", find_run(pa, "cores", 0)->id);
    CHECK(nsid_plan_diff(&st, shortid, find_run(pa, "cores", 1)->id, out, &err) == 0, "diff by prefix");
    fprintf(stderr, "DEBUG dirty: %d %s %s\n", err.code, err.key, err.msg);
    nsid_err_clear(&err);
    CHECK(nsid_plan_explain(&st, "bad id!", out, &err) == NSID_EINVAL, "a malformed id is refused");
    nsid_err_clear(&err);
    CHECK(nsid_plan_explain(&st, "ffffffffffff", out, &err) == NSID_ENOTFOUND, "unknown id");
    fclose(out);
    CHECK(count_lines(tpath("explain.txt"), "  * train.detach_core: true", NULL) == 1, "explain marks changed keys");
    CHECK(count_lines(tpath("explain.txt"), "  core: best_validation of run", NULL) == 2, "explain lists the candidates");
    CHECK(count_lines(tpath("explain.txt"), "data.image_n: 10 -> 20", NULL) == 1, "diff names the changed key");
    sqlite3_stmt *q = NULL;
    sqlite3_prepare_v2(st.db, "SELECT count(*) FROM dataset_groups WHERE grp = 'one' AND dataset IN"
                              " (SELECT sha256 FROM datasets WHERE animal = '1' AND image_set = '3')", -1, &q, NULL);
    CHECK(q && sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 1, "datasets and groups recorded");
    sqlite3_finalize(q);
    planned_free(&ta);
    /* replanning with fewer runs drops their 'planned' rows */
    CHECK(plan_text(&ta, BASE, tpath("d4/groups.json"), &err) == 0, "smaller plan");
    CHECK(nsid_plan_record(pa, &st, specs, 1, &err) == 0, "record it");
    nsid_store_status(&st, NULL, counts, &err);
    CHECK(counts[NSID_RUN_PLANNED] == 4, "stale planned runs removed (%lld)", (long long)counts[0]);
    nsid_store_close(&st);
    planned_free(&ta);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "%s/nsid_plan_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp)) return 1;
    test_stability();
    test_sensitivity();
    test_selection();
    test_outputs();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (check_failed_ == 0 && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return check_summary("plan");
}
