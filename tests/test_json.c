/*
 * test_json.c - one JSON: names with quotes, backslashes, control bytes and UTF-8 round-trip
 * through every writer and reader: base/json's escaper read back by jansson, the canonical
 * configuration (run.json), groups.json (nsid-simulate's writer, jansson and the manifest reader),
 * and a file tree's config.json links; bad JSON is refused naming the file and line.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/json.h"
#include "check.h"
#include "data/simulate.h"
#include "data/tree.h"
#include "data_testutil.h"
#include "exp/config.h"
#include "exp/plan.h"
#include "exp/spec.h"

/* Awkward names: JSON's specials, every control byte class, DEL, and multi-byte UTF-8. */
static const char *const NAMES[] = {
    "plain",
    "a \"quoted\" name",
    "back\\slash\\",
    "tab\tnew\nline\rcr\bbs\fff",
    "\x01\x02\x1f\x7f end",
    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xad",
    "/slash/ and \\u0041 literally",
    "\t\"\\\x01\xc3\xa9\xe6\x97\xa5", /* short enough for a simulation profile name */
};
#define N_NAMES (int)(sizeof NAMES / sizeof NAMES[0])

static char tmp[4096];

/* Parse a whole file with nsid_json_parse; NULL (and a failed check) when it is not valid JSON. */
static json_t *parse_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    static char text[1 << 16];
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = '\0';
    json_t *root = NULL;
    struct nsid_err err = {0};
    CHECK(nsid_json_parse(text, n, path, &root, &err) == 0, "%s is valid JSON: %s", path, err.msg);
    return root;
}

static void test_quote(void)
{
    for (int i = 0; i < N_NAMES; i++) {
        char q[512];
        size_t k = nsid_json_quote(NAMES[i], q, sizeof q);
        CHECK(k == strlen(q), "quote length %zu", k);
        json_t *v = NULL;
        struct nsid_err err = {0};
        int rc = nsid_json_parse(q, k, "quoted", &v, &err);
        CHECK(rc == 0 && json_is_string(v) && strcmp(json_string_value(v), NAMES[i]) == 0,
              "name %d round-trips through the escaper and jansson: %s -> %s", i, q, err.msg);
        json_decref(v);
    }
    /* the canonical bytes: short escapes, lower-case \u00xx for the rest, everything else as it is */
    char q[64];
    nsid_json_quote("\"\\\b\f\n\r\t\x01\x1f\x7f/\xc3\xa9", q, sizeof q);
    CHECK(strcmp(q, "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\xc3\xa9\"") == 0, "escaper bytes: %s", q);
    /* snprintf-like: truncated output is terminated, the full length is returned */
    char small[5];
    size_t k = nsid_json_quote("abcdef", small, sizeof small);
    CHECK(k == 8 && strcmp(small, "\"abc") == 0, "truncation: %zu '%s'", k, small);
    CHECK(nsid_json_quote("a\"", NULL, 0) == 5, "measuring with n = 0");
}

/* run.json is the canonical configuration: a string key holding each name reads back equal. */
static void test_run_json(void)
{
    for (int i = 0; i < N_NAMES; i++) {
        struct nsid_config c;
        nsid_config_init(&c);
        snprintf(c.model.core.checkpoint, sizeof c.model.core.checkpoint, "%s", NAMES[i]);
        size_t n = nsid_config_canonical(&c, NULL, 0);
        struct nsid_err err = {0};
        char *text = NSID_ALLOC(n + 1, &err);
        if (!text) return;
        nsid_config_canonical(&c, text, n + 1);
        json_t *root = NULL;
        int rc = nsid_json_parse(text, n, "run.json", &root, &err);
        json_t *core = json_object_get(json_object_get(root, "model"), "core");
        const char *got = json_string_value(json_object_get(core, "checkpoint"));
        CHECK(rc == 0 && got && strcmp(got, NAMES[i]) == 0, "run.json: name %d reads back (%s)", i, err.msg);
        json_decref(root);
        nsid_alloc_free(text);
    }
}

/* groups.json: the simulator's writer quotes its strings; jansson and the manifest reader read them back. */
static void test_groups_json(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/groups.json", tmp);
    for (int i = 0; i < N_NAMES; i++) {
        struct nsid_sim_config cfg;
        struct nsid_err err = {0};
        if (nsid_sim_config_init(&cfg, "smoke", &err) < 0) {
            CHECK(0, "smoke profile: %s", err.msg);
            return;
        }
        if (strlen(NAMES[i]) >= sizeof cfg.profile) continue;
        snprintf(cfg.profile, sizeof cfg.profile, "%s", NAMES[i]); /* the one free-text string it writes */
        CHECK(nsid_simulate_write_groups(&cfg, path, &err) == 0, "groups.json written: %s", err.msg);
        json_t *root = parse_file(path);
        const char *got = json_string_value(json_object_get(root, "profile"));
        CHECK(got && strcmp(got, NAMES[i]) == 0, "groups.json: profile %d reads back", i);
        json_t *g = json_object_get(json_object_get(root, "groups"), "evaluation");
        CHECK(json_is_array(json_object_get(g, "files")) && json_string_value(json_object_get(g, "label")),
              "groups.json: the evaluation group with its label and files");
        json_decref(root);
    }
    /* a manifest whose group name, label and file are the awkward names, read by nsid-plan's reader
       (libyaml: it refuses a raw DEL byte, which JSON allows unescaped) */
    for (int i = 1; i < N_NAMES; i++) {
        if (strchr(NAMES[i], 0x7f)) continue;
        char qn[512], qf[512];
        nsid_json_quote(NAMES[i], qn, sizeof qn);
        char file[300];
        snprintf(file, sizeof file, "scans/%s.h5", NAMES[i]);
        nsid_json_quote(file, qf, sizeof qf);
        FILE *f = fopen(path, "w");
        if (!f) return;
        fprintf(f, "{\"groups\": {%s: {\"label\": %s, \"files\": [%s]}}}\n", qn, qn, qf);
        fclose(f);
        struct nsid_spec_arena pool = {0};
        struct nsid_plan_groups g;
        struct nsid_err err = {0};
        int rc = nsid_plan_groups_load(&g, path, &pool, &err);
        CHECK(rc == 0 && g.n_groups == 1 && !strcmp(g.groups[0].name, NAMES[i]) &&
                  !strcmp(g.groups[0].label, NAMES[i]) && g.groups[0].n == 1 && !strcmp(g.groups[0].names[0], file),
              "manifest: name %d reads back through the manifest reader: %s", i, err.msg);
        nsid_spec_arena_free(&pool);
    }
}

/* A file tree's config.json: a link to a folder named with each awkward name (no '/'). */
static void test_tree_links(void)
{
    struct nsid_scan a, b;
    struct nsid_err err = {0};
    if (nsid_scan_load(&a, check_fixture("data/static11111-1-1-preproc0.h5"), NULL, &err)) {
        CHECK(0, "fixture: %s", err.msg);
        return;
    }
    char tree[4200], from[4400], to[4400], cfgpath[4400];
    snprintf(tree, sizeof tree, "%s/tree", tmp);
    int rc = nsid_scan_save(&a, tree, NULL, &err);
    CHECK(rc == 0, "tree written: %s", err.msg);
    snprintf(from, sizeof from, "%s/data/responses", tree);
    snprintf(cfgpath, sizeof cfgpath, "%s/config.json", tree);
    for (int i = 0; rc == 0 && i < N_NAMES; i++) {
        if (strchr(NAMES[i], '/')) continue; /* a link target is a folder name */
        snprintf(to, sizeof to, "%s/data/%s", tree, NAMES[i]);
        CHECK(rename(from, to) == 0, "folder %d renamed", i);
        char q[512], text[700];
        nsid_json_quote(NAMES[i], q, sizeof q);
        snprintf(text, sizeof text, "{\"links\": {\"responses\": %s}, \"note\": [1, 2.5e3, true, null]}\n", q);
        dt_write_text(cfgpath, text);
        nsid_err_clear(&err);
        rc = nsid_scan_load(&b, tree, NULL, &err);
        CHECK(rc == 0 && memcmp(b.responses, a.responses, (size_t)(a.n_trials * a.n_neurons) * 4) == 0,
              "tree: a link to folder %d is followed: %s", i, err.msg);
        if (rc == 0) nsid_scan_free(&b);
        CHECK(rename(to, from) == 0, "folder %d renamed back", i);
    }
    /* bad JSON: one message naming the file and the line */
    dt_write_text(cfgpath, "{\"links\": {},\n \"x\": [1, 2,]\n}\n");
    nsid_err_clear(&err);
    rc = nsid_scan_load(&b, tree, NULL, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.file, "config.json") && err.line == 2 && strstr(err.msg, "invalid JSON"),
          "a syntax error names config.json line 2: %s:%d: %s", err.file, err.line, err.msg);
    dt_write_text(cfgpath, "{\"links\": {\"responses\": \"caf\xc3\"}}");
    nsid_err_clear(&err);
    rc = nsid_scan_load(&b, tree, NULL, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.msg, "invalid JSON"), "text that is not UTF-8 is refused: %s", err.msg);
    dt_write_text(cfgpath, "[1]");
    nsid_err_clear(&err);
    rc = nsid_scan_load(&b, tree, NULL, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.msg, "expected an object"), "a top level that is no object: %s", err.msg);
    char deep[200] = "";
    for (int i = 0; i < 70; i++) strcat(deep, "[");
    for (int i = 0; i < 70; i++) strcat(deep, "]");
    char text[300];
    snprintf(text, sizeof text, "{\"x\": %s}", deep);
    dt_write_text(cfgpath, text);
    nsid_err_clear(&err);
    rc = nsid_scan_load(&b, tree, NULL, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.msg, "nested"), "nesting deeper than 64 is refused: %s", err.msg);
    nsid_scan_free(&a);
}

int main(void)
{
    dt_tmpdir(tmp, sizeof tmp, "json");
    test_quote();
    test_run_json();
    test_groups_json();
    test_tree_links();
    dt_rmtree(tmp);
    return check_summary("json");
}
