/*
 * test_config.c - the run configuration: key table sanity, every bad-config case
 * (file:line: key: reason), --set overrides, cross-key checks, and the canonical form:
 * stable under reformatting / reordering / spelled-out defaults / number spelling,
 * sensitive to the smallest change of every single key.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/rng.h"
#include "check.h"
#include "exp/config.h"

static char *canon(const struct nsid_config *c)
{
    static char buf[2][16384];
    static int k;
    k ^= 1;
    size_t n = nsid_config_canonical(c, buf[k], sizeof buf[k]);
    CHECK(n < sizeof buf[k], "canonical form fits the test buffer (%zu)", n);
    return buf[k];
}

/* Parse text on top of the defaults; returns the rc. */
static int parse(struct nsid_config *c, const char *text, struct nsid_err *err)
{
    nsid_config_init(c);
    nsid_err_clear(err);
    return nsid_config_parse_string(c, text, strlen(text), "t.yaml", err);
}

static void test_table(void)
{
    size_t n;
    const struct nsid_config_key *k = nsid_config_keys(&n);
    CHECK(n >= 55 && n <= NSID_CONFIG_MAX_KEYS, "key count %zu", n);
    int sorted = 1, charset = 1, docs = 1, sections = 1, defaults = 1;
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(k[i - 1].name, k[i].name) >= 0) sorted = 0;
        for (const char *p = k[i].name; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.')) charset = 0;
        if (!k[i].doc || strlen(k[i].doc) < 10) docs = 0;
        for (size_t j = 0; j < n; j++) {
            size_t l = strlen(k[i].name);
            if (strncmp(k[j].name, k[i].name, l) == 0 && k[j].name[l] == '.') sections = 0;
        }
        /* The default, written out, is accepted by the key's own parser. */
        struct nsid_config c;
        struct nsid_err err = {0};
        char v[NSID_CONFIG_STR_MAX + 64];
        nsid_config_init(&c);
        nsid_config_format_value(&c, &k[i], v, sizeof v);
        const char *text = v;
        bool quoted = false;
        if (v[0] == '"') { v[strlen(v) - 1] = '\0'; text = v + 1; quoted = true; }
        if (nsid_config_set_value(&c, k[i].name, text, quoted, "x", 1, &err) < 0) {
            defaults = 0;
            fprintf(stderr, "default of %s rejected: %s\n", k[i].name, err.msg);
        }
    }
    CHECK(sorted, "table is sorted by name (the canonical form relies on it)");
    CHECK(charset, "key names use [a-z0-9_.] only");
    CHECK(docs, "every key has a doc line");
    CHECK(sections, "no key is also a section");
    CHECK(defaults, "every default is within its own bounds");
    CHECK(nsid_config_find("model.readout.gamma") && !nsid_config_find("model.readout"), "find by full name");

    struct nsid_config c;
    nsid_config_init(&c);
    CHECK(c.train.lr == 0.005 && c.train.batch_size == 64 && c.train.adam_beta1 == 0.9 && c.train.adam_beta2 == 0.999 &&
          c.train.adam_eps == 1e-8 && c.train.max_epochs == 200 && c.train.patience == 5 && c.train.tolerance == 1e-6 &&
          c.train.lr_decay_factor == 0.3 && c.train.min_lr == 1e-4 && c.train.lr_decay_steps == 3 &&
          c.train.scale_loss && c.train.restore_best && !c.train.detach_core && c.train.seed == 1,
          "training defaults are the paper's (§4.1)");
    CHECK(c.model.core.type == NSID_CFG_CORE_SE2D && c.model.core.layers == 4 && c.model.core.hidden_channels == 64 &&
          c.model.core.input_kern == 15 && c.model.core.hidden_kern == 13 && c.model.core.depth_separable &&
          c.model.core.bn_momentum == 0.9 && c.model.core.gamma_input == 1.0 && !c.model.core.pad_input &&
          !c.model.core.random && c.model.core.checkpoint[0] == '\0',
          "core defaults are the paper's (§1.1)");
    CHECK(c.model.readout.type == NSID_CFG_READOUT_GAUSSIAN && c.model.readout.init_mu_range == 0.55 &&
          c.model.readout.init_sigma == 0.4 && c.model.readout.init_noise == 1e-3 &&
          c.model.readout.grid_mean_predictor == NSID_CFG_GRID_CORTEX && c.model.readout.grid_hidden_layers == 0 &&
          !c.model.readout.grid_final_tanh && !c.model.readout.share_features && c.model.readout.gamma == 2.439 &&
          c.model.readout.factorized_init_noise == 4.1232e-5 && c.model.readout.pool_steps == 2 &&
          c.model.readout.pool_kern == 3 && !c.model.shifter && !c.model.modulator,
          "readout defaults are the paper's (§2)");
    CHECK(c.data.image_n == 0 && c.data.image_base_seed == 1 && !c.data.normalize_images && !c.data.drop_nan_trials,
          "data defaults (§5.5)");
    struct nsid_err err = {0};
    CHECK(nsid_config_validate(&c, &err) == 0, "the default configuration is valid: %s", err.msg);
}

static void test_format_double(void)
{
    static const struct { double x; const char *s; } v[] = {
        {0.005, "0.005"}, {1e-6, "1e-6"}, {200, "200"}, {1e16, "1e16"}, {1e15, "1000000000000000"},
        {0.0001, "0.0001"}, {0.00001, "1e-5"}, {-2.5, "-2.5"}, {-0.0, "0"}, {0.0, "0"}, {5e-324, "5e-324"},
        {DBL_MAX, "1.7976931348623157e308"}, {0.1 + 0.2, "0.30000000000000004"}, {4.1232e-5, "4.1232e-5"},
        {123456.789, "123456.789"}, {1.5e-300, "1.5e-300"}, {2.439, "2.439"}, {-1e-8, "-1e-8"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char b[64];
        nsid_config_format_double(v[i].x, b, sizeof b);
        CHECK(strcmp(b, v[i].s) == 0, "format %.17g as '%s', got '%s'", v[i].x, v[i].s, b);
    }
    /* Round trip and shortness on random bit patterns (seed printed for reproduction). */
    struct nsid_rng r;
    nsid_rng_init(&r, 2021, 77);
    printf("format_double round trip: rng seed 2021 stream 77\n");
    int ok = 1, shortest = 1;
    for (int i = 0; i < 20000; i++) {
        uint64_t u = nsid_rng_u64(&r);
        double x;
        memcpy(&x, &u, sizeof x);
        if (!isfinite(x)) continue;
        char b[64], e[64];
        nsid_config_format_double(x, b, sizeof b);
        if (strtod(b, NULL) != (x == 0 ? 0.0 : x)) { ok = 0; fprintf(stderr, "round trip %s\n", b); }
        /* no shorter %.{p}e representation reads back as x */
        for (int p = 1; p < 17; p++) {
            snprintf(e, sizeof e, "%.*e", p - 1, x);
            if (strtod(e, NULL) == x) {
                /* the canonical form must not carry more significant digits than p */
                int sig = 0, started = 0;
                for (const char *q = b; *q && *q != 'e'; q++) {
                    if (*q >= '1' && *q <= '9') started = 1;
                    if (started && *q >= '0' && *q <= '9') sig++;
                }
                /* trailing zeros of positional integers are not significant */
                const char *dot = strchr(b, '.'), *ex = strchr(b, 'e');
                if (!dot && !ex) { size_t L = strlen(b); while (L > 1 && b[L - 1] == '0') { L--; sig--; } }
                if (sig > p) { shortest = 0; fprintf(stderr, "not shortest: %s vs %s\n", b, e); }
                break;
            }
        }
    }
    CHECK(ok, "shortest form reads back bit-identically (20000 random doubles)");
    CHECK(shortest, "the form has the fewest significant digits that round-trip");
}

/* Same values, many spellings: one id. */
static void test_canonical_stability(void)
{
    static const char *spellings[] = {
        "train:\n  lr: 0.0050\n  seed: 3\nmodel:\n  readout:\n    gamma: 1e-3\n    type: factorized\n",
        "# a comment\nmodel.readout.type: factorized   # trailing comment\ntrain.seed: 3\n"
        "model.readout.gamma: 0.001\ntrain.lr: 5e-3\n",
        "{\"model\": {\"readout\": {\"type\": \"factorized\", \"gamma\": 1.0E-3}},\n \"train\": {\"seed\": 3, \"lr\": 5.0e-03}}",
        "model:\n  readout: {type: 'factorized', gamma: .001}\ntrain:\n  lr: +0.005\n  seed: +3\n  max_epochs: 200\n"
        "  tolerance: 0.000001\ndata:\n  image_n: 0\n",
        "---\ntrain:\n    seed: 0003\n    lr: 0.005000000000000000104\nmodel:\n    readout:\n        type: \"factorized\"\n"
        "        gamma: 0.0010\n        init_sigma: 0.4\n...\n",
    };
    struct nsid_config c;
    struct nsid_err err = {0};
    char id0[NSID_SHA256_HEX], id[NSID_SHA256_HEX];
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        int rc = parse(&c, spellings[i], &err);
        CHECK(rc == 0, "spelling %zu parses: %s", i, err.msg);
        nsid_config_id(&c, i ? id : id0, &err);
        if (i) CHECK(strcmp(id, id0) == 0, "spelling %zu has the same id as spelling 0", i);
    }
    CHECK(c.train.lr == 0.005 && c.train.seed == 3 && c.model.readout.gamma == 0.001 &&
          c.model.readout.type == NSID_CFG_READOUT_FACTORIZED, "the spellings mean what they say");

    /* The canonical JSON is itself a valid input that reproduces itself (all defaults spelled out). */
    nsid_config_init(&c);
    char def_id[NSID_SHA256_HEX];
    nsid_config_id(&c, def_id, &err);
    const char *j = canon(&c);
    struct nsid_config d;
    CHECK(parse(&d, j, &err) == 0, "canonical JSON parses back: %s", err.msg);
    CHECK(strcmp(canon(&d), j) == 0, "parse(canonical) reproduces the canonical form");
    CHECK(parse(&d, "", &err) == 0 && nsid_config_id(&d, id, &err) == 0 && strcmp(id, def_id) == 0,
          "an empty file is all defaults");
    CHECK(parse(&d, "# only a comment\n", &err) == 0 && parse(&d, "---\n", &err) == 0 &&
          parse(&d, "~\n", &err) == 0, "comment-only, bare document and null document are all defaults");
    c.train.lr = 0.001;
    snprintf(c.model.core.checkpoint, sizeof c.model.core.checkpoint, "runs/a \"b\"\\c\n\x01.h5");
    c.train.detach_core = true;
    j = canon(&c);
    CHECK(strstr(j, "\"checkpoint\":\"runs/a \\\"b\\\"\\\\c\\n\\u0001.h5\""), "strings are JSON-escaped: %s",
          strstr(j, "checkpoint"));
    CHECK(parse(&d, j, &err) == 0 && strcmp(canon(&d), j) == 0 && strcmp(d.model.core.checkpoint,
          c.model.core.checkpoint) == 0, "escaped strings round-trip through the parser");
    CHECK(strncmp(j, "{\"data\":{\"drop_nan_trials\":false,", 33) == 0 && strstr(j, "},\"model\":{\"core\":{") &&
          strstr(j, "\"readout\":{\"factorized_init_noise\":4.1232e-5,") &&
          strstr(j, "\"train\":{\"adam_beta1\":0.9,") && strstr(j, "\"tolerance\":1e-6}}") &&
          strstr(j, "\"shifter\":{\"enabled\":false}"), "canonical form is nested, sorted and compact");
    printf("default config id %s\n", def_id);
}

/* Changing any single key by the smallest step changes the id; all ids differ. */
static void test_canonical_sensitivity(void)
{
    size_t n;
    const struct nsid_config_key *k = nsid_config_keys(&n);
    static char ids[NSID_CONFIG_MAX_KEYS + 1][NSID_SHA256_HEX];
    struct nsid_config c;
    struct nsid_err err = {0};
    nsid_config_init(&c);
    nsid_config_id(&c, ids[0], &err);
    int changed = 1, distinct = 1;
    for (size_t i = 0; i < n; i++) {
        nsid_config_init(&c);
        void *f = (char *)&c + k[i].offset;
        switch (k[i].type) {
        case NSID_KEY_INT: *(int64_t *)f += *(int64_t *)f < k[i].imax ? 1 : -1; break;
        case NSID_KEY_DOUBLE: {
            double x = *(double *)f, up = nextafter(x, INFINITY);
            *(double *)f = up <= k[i].dmax && !(up == k[i].dmax && (k[i].flags & NSID_KEY_HI_OPEN))
                               ? up : nextafter(x, -INFINITY);
            break;
        }
        case NSID_KEY_BOOL: *(bool *)f = !*(bool *)f; break;
        case NSID_KEY_STRING: snprintf(f, NSID_CONFIG_STR_MAX, "x"); break;
        case NSID_KEY_ENUM: *(int *)f = *(int *)f ? 0 : 1; break;
        }
        nsid_config_id(&c, ids[i + 1], &err);
        if (strcmp(ids[i + 1], ids[0]) == 0) {
            changed = 0;
            fprintf(stderr, "key %s: change not seen by the id\n", k[i].name);
        }
        for (size_t j = 0; j <= i; j++)
            if (strcmp(ids[i + 1], ids[j]) == 0 && j != 0) distinct = 0;
        struct nsid_config d;
        nsid_config_init(&d);
        if (nsid_config_diff(&d, &c, NULL) != 1) {
            changed = 0;
            fprintf(stderr, "key %s: diff does not count exactly one key\n", k[i].name);
        }
    }
    CHECK(changed, "the smallest change of each of the %zu keys changes the id and shows in the diff", n);
    CHECK(distinct, "all single-key changes give distinct ids");
}

struct bad {
    const char *text;   /* file content */
    int line;           /* expected err.line */
    const char *key;    /* expected err.key */
    const char *msg;    /* expected substring of err.msg */
};

static void test_bad_files(void)
{
    static const struct bad cases[] = {
        /* unknown keys */
        {"train:\n  lr: 0.1\n  lrr: 1\n", 3, "train.lrr", "unknown key (did you mean train.lr?)"},
        {"training:\n  lr: 1\n", 1, "training", "unknown key"},
        {"model:\n  readout:\n    gamma_readout: 1\n", 3, "model.readout.gamma_readout", "did you mean"},
        {"train:\n  gamma: 1\n", 2, "train.gamma", "did you mean model.readout.gamma?"},
        {"model.core.lyers: 3\n", 1, "model.core.lyers", "did you mean model.core.layers?"},
        /* wrong types */
        {"train:\n  batch_size: abc\n", 2, "train.batch_size", "expected an integer, got 'abc'"},
        {"train:\n  batch_size: 64.0\n", 2, "train.batch_size", "expected an integer, got '64.0'"},
        {"train:\n  lr: fast\n", 2, "train.lr", "expected a number, got 'fast'"},
        {"train:\n  lr: 0x10\n", 2, "train.lr", "expected a number"},
        {"train:\n  lr: .inf\n", 2, "train.lr", "expected a number"},
        {"train:\n  lr: \"0.005\"\n", 2, "train.lr", "got the string \"0.005\""},
        {"train:\n  scale_loss: yes\n", 2, "train.scale_loss", "expected true or false, got 'yes'"},
        {"train:\n  scale_loss: 'true'\n", 2, "train.scale_loss", "expected true or false, got the string"},
        {"model:\n  readout:\n    type: gauss\n", 3, "model.readout.type",
         "expected one of gaussian, factorized, pointpooled, got 'gauss'"},
        {"train:\n  lr:\n    value: 1\n", 3, "train.lr", "expected a number, got a mapping"},
        {"model:\n  core: se2d\n", 2, "model.core", "is a section: expected a mapping"},
        {"train:\n  lr: [0.1, 0.2]\n", 2, "train.lr", "got a list"},
        {"train:\n  lr:\n", 2, "train.lr", "no value (null)"},
        {"train:\n  lr: ~\n", 2, "train.lr", "no value (null)"},
        {"model:\n  core:\n    checkpoint:\n", 3, "model.core.checkpoint", "no value (null)"},
        {"x: &a 1\ntrain:\n  lr: *a\n", 1, "x", "unknown key"},
        {"train:\n  seed: &a 1\n  batch_size: *a\n", 3, "train.batch_size", "aliases are not supported"},
        {"train:\n  lr: !!float 1\n", 2, "train.lr", "explicit YAML tags"},
        {"model:\n  core:\n    checkpoint: \"a\\0b\"\n", 3, "model.core.checkpoint", "NUL byte"},
        {"train..lr: 1\n", 1, "", "malformed key"},
        {"train:\n  .lr: 1\n", 2, "train", "malformed key"},
        {"? [a, b]\n: 1\n", 1, "", "mapping keys must be plain names"},
        /* out of range */
        {"train:\n  lr: 0\n", 2, "train.lr", "0 not in (0, 10]"},
        {"train:\n  lr: 11\n", 2, "train.lr", "11 not in (0, 10]"},
        {"train:\n  lr: -0.005\n", 2, "train.lr", "not in (0, 10]"},
        {"train:\n  adam_beta1: 1\n", 2, "train.adam_beta1", "1 not in [0, 1)"},
        {"train:\n  tolerance: 1e999\n", 2, "train.tolerance", "is not a finite number"},
        {"train:\n  max_epochs: 0\n", 2, "train.max_epochs", "0 not in [1, 1000000]"},
        {"model:\n  core:\n    layers: 17\n", 3, "model.core.layers", "17 not in [1, 16]"},
        {"train:\n  seed: -1\n", 2, "train.seed", "-1 not in [0, 4294967295]"},
        {"train:\n  seed: 99999999999999999999\n", 2, "train.seed", "not in [0,"},
        {"data:\n  image_n: -5\n", 2, "data.image_n", "-5 not in [0, 1000000000]"},
        /* duplicates */
        {"train:\n  lr: 0.1\n  seed: 2\n  lr: 0.2\n", 4, "train.lr", "duplicate key"},
        {"train.lr: 0.1\ntrain:\n  lr: 0.2\n", 3, "train.lr", "duplicate key"},
        {"train:\n  lr: 0.1\ntrain:\n  seed: 2\n", 3, "train", "duplicate key"},
        {"{\"train\": {\"lr\": 0.1}, \"train\": {\"seed\": 1}}", 1, "train", "duplicate key"},
        /* YAML syntax (line of the problem) */
        {"train:\n  lr: 0.1\n bad: x\n", 3, "", "YAML syntax error"},
        {"train:\n\tlr: 0.1\n", 2, "", "YAML syntax error"},
        {"train:\n  lr: 0.1\nmodel.core.checkpoint: \"unterminated\n", 4, "", "YAML syntax error"},
        {"{\"train\": {\"lr\": 0.1,}\n", 2, "", "YAML syntax error"},
        /* document structure */
        {"train: {lr: 0.1}\n---\ntrain: {lr: 0.2}\n", 2, "", "second YAML document"},
        {"- 1\n- 2\n", 1, "", "top level must be a mapping"},
        {"just a string\n", 1, "", "top level must be a mapping"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nsid_config c;
        struct nsid_err err = {0};
        int rc = parse(&c, cases[i].text, &err);
        char s[2048];
        nsid_err_str(&err, s, sizeof s);
        CHECK(rc < 0 && strcmp(err.file, "t.yaml") == 0 && err.line == cases[i].line &&
                  strcmp(err.key, cases[i].key) == 0 && strstr(err.msg, cases[i].msg),
              "bad config %zu gives 't.yaml:%d: %s: ...%s...', got '%s'", i, cases[i].line, cases[i].key,
              cases[i].msg, s);
    }
    /* A long string. */
    static char longtext[NSID_CONFIG_STR_MAX + 64];
    int k = snprintf(longtext, sizeof longtext, "model:\n  core:\n    checkpoint: ");
    memset(longtext + k, 'a', NSID_CONFIG_STR_MAX);
    longtext[k + NSID_CONFIG_STR_MAX] = '\0';
    struct nsid_config c;
    struct nsid_err err = {0};
    CHECK(parse(&c, longtext, &err) < 0 && err.line == 3 && strstr(err.msg, "at most 1023"),
          "a too-long string is an error: %s", err.msg);
}

static void test_files_and_sets(void)
{
    struct nsid_config c;
    struct nsid_err err = {0};
    char path[4096], s[2048];
    const char *bin = getenv("NSID_BIN");
    snprintf(path, sizeof path, "%s/test_config_tmp.yaml", bin ? bin : ".");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "write temp file %s", path);
    if (!f) return;
    fputs("# a run\ntrain:\n  lr: 0.002\n  detach_core: true\nmodel:\n  core:\n    checkpoint: runs/x/checkpoint.h5\n", f);
    fclose(f);
    nsid_config_init(&c);
    CHECK(nsid_config_parse_file(&c, path, &err) == 0 && c.train.lr == 0.002 && c.train.detach_core &&
          strcmp(c.model.core.checkpoint, "runs/x/checkpoint.h5") == 0, "file parses: %s", err.msg);
    CHECK(nsid_config_validate(&c, &err) == 0, "a transfer config with a checkpoint is valid: %s", err.msg);

    /* --set overrides the file, and an error names --set. */
    CHECK(nsid_config_set(&c, "train.lr=0.003", &err) == 0 && c.train.lr == 0.003, "--set overrides the file");
    CHECK(nsid_config_set(&c, "model.readout.type=pointpooled", &err) == 0 &&
          c.model.readout.type == NSID_CFG_READOUT_POINTPOOLED, "--set an enum");
    CHECK(nsid_config_set(&c, "model.core.checkpoint=", &err) == 0 && c.model.core.checkpoint[0] == '\0',
          "--set an empty string");
    CHECK(nsid_config_validate(&c, &err) < 0 && strcmp(err.file, "--set") != 0 &&
              strcmp(err.file, path) == 0 && err.line == 4 && strcmp(err.key, "train.detach_core") == 0 &&
              strstr(err.msg, "frozen core needs weights"),
          "cross-key error points at the file line of train.detach_core: %s", nsid_err_str(&err, s, sizeof s));
    struct { const char *set, *key, *msg; } bad[] = {
        {"train.lr", "", "expected key=value"},
        {"=1", "", "expected key=value"},
        {"train.lrate=1", "train.lrate", "unknown key (did you mean train.lr?)"},
        {"train=1", "train", "is a section"},
        {"train.lr=abc", "train.lr", "expected a number"},
        {"train.lr=", "train.lr", "expected a number, got ''"},
        {"train.batch_size=0", "train.batch_size", "0 not in [1, 1048576]"},
        {"train.restore_best=1", "train.restore_best", "expected true or false"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nsid_err_clear(&err);
        int rc = nsid_config_set(&c, bad[i].set, &err);
        CHECK(rc < 0 && strcmp(err.file, "--set") == 0 && err.line == 0 && strcmp(err.key, bad[i].key) == 0 &&
                  strstr(err.msg, bad[i].msg),
              "--set %s gives '--set: %s: ...%s...', got '%s'", bad[i].set, bad[i].key, bad[i].msg,
              nsid_err_str(&err, s, sizeof s));
    }
    nsid_err_clear(&err);
    CHECK(nsid_config_set(&c, "model.core.random=true", &err) == 0 && nsid_config_validate(&c, &err) == 0,
          "random frozen core without checkpoint is valid: %s", err.msg);
    CHECK(nsid_config_set(&c, "model.core.checkpoint=a.h5", &err) == 0 && nsid_config_validate(&c, &err) < 0 &&
              strcmp(err.file, "--set") == 0 && strcmp(err.key, "model.core.random") == 0,
          "random core with a checkpoint names the --set: %s", nsid_err_str(&err, s, sizeof s));

    /* The whole sequence of a stage's main. */
    snprintf(path, sizeof path, "%s/test_config_tmp.yaml", bin ? bin : ".");
    const char *sets[] = {"model.core.checkpoint=", "model.core.random=true", "train.seed=4"};
    nsid_err_clear(&err);
    CHECK(nsid_config_load(&c, path, sets, 3, &err) == 0 && c.train.lr == 0.002 && c.train.seed == 4 &&
          c.model.core.random, "load = defaults + file + sets + validate: %s", err.msg);
    nsid_err_clear(&err);
    CHECK(nsid_config_load(&c, path, sets, 1, &err) < 0 && strcmp(err.key, "train.detach_core") == 0,
          "load validates: %s", err.msg);
    nsid_err_clear(&err);
    CHECK(nsid_config_load(&c, NULL, NULL, 0, &err) == 0 && c.train.lr == 0.005, "load without a file");
    remove(path);

    nsid_err_clear(&err);
    snprintf(path, sizeof path, "%s/does_not_exist.yaml", bin ? bin : ".");
    CHECK(nsid_config_parse_file(&c, path, &err) == NSID_EIO && strcmp(err.file, path) == 0 &&
          strstr(err.msg, "cannot open"), "missing file names the path: %s", nsid_err_str(&err, s, sizeof s));
}

static void test_cross_key(void)
{
    struct { const char *text, *key, *msg; int line; } cases[] = {
        {"train:\n  detach_core: true\n", "train.detach_core", "frozen core needs weights", 2},
        {"model:\n  core:\n    random: true\n", "model.core.random", "random cores are frozen", 3},
        {"model:\n  core:\n    type: vgg16\ntrain:\n  detach_core: true\n", "model.core.type",
         "vgg16 needs its weights", 3},
        {"model:\n  core:\n    type: vgg16\n    checkpoint: vgg.h5\n", "model.core.type", "vgg16 core is frozen", 3},
        {"model:\n  readout:\n    grid_hidden_layers: 2\n", "model.readout.grid_hidden_features",
         "hidden layers need a width", 0},
        {"model:\n  readout:\n    type: pointpooled\n    share_features: true\n", "model.readout.share_features",
         "not pointpooled", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nsid_config c;
        struct nsid_err err = {0};
        char s[2048];
        int rc = parse(&c, cases[i].text, &err);
        CHECK(rc == 0, "cross-key case %zu parses", i);
        rc = nsid_config_validate(&c, &err);
        CHECK(rc < 0 && strcmp(err.key, cases[i].key) == 0 && strstr(err.msg, cases[i].msg) &&
                  err.line == cases[i].line && (cases[i].line == 0 || strcmp(err.file, "t.yaml") == 0),
              "cross-key case %zu: %s: ...%s..., got '%s'", i, cases[i].key, cases[i].msg,
              nsid_err_str(&err, s, sizeof s));
    }
    struct nsid_config c;
    struct nsid_err err = {0};
    CHECK(parse(&c, "model:\n  core: {type: vgg16, random: true}\ntrain: {detach_core: true}\n", &err) == 0 &&
          nsid_config_validate(&c, &err) == 0, "random VGG16 baseline is valid");
    CHECK(parse(&c, "model:\n  core: {checkpoint: core.h5}\n", &err) == 0 && nsid_config_validate(&c, &err) == 0,
          "fine-tuning from a checkpoint is valid");
}

static void test_helpers(void)
{
    struct nsid_config c;
    struct nsid_schedule_opts o, d;
    struct nsid_err err = {0};
    nsid_config_init(&c);
    nsid_config_schedule_opts(&c, &o);
    nsid_schedule_opts_default(&d);
    CHECK(memcmp(&o.lr, &d.lr, sizeof o.lr) == 0 && o.max_epochs == d.max_epochs && o.patience == d.patience &&
          o.tolerance == d.tolerance && o.lr_decay_steps == d.lr_decay_steps && o.factor == d.factor &&
          o.min_lr == d.min_lr && o.cooldown == d.cooldown && o.eps == d.eps && o.restore_best == d.restore_best,
          "the config's schedule options are the schedule's defaults");
    struct nsid_config b = c;
    nsid_config_set(&b, "train.lr=0.001", &err);
    nsid_config_set(&b, "data.image_n=500", &err);
    FILE *f = tmpfile();
    int n = nsid_config_diff(&c, &b, f);
    char line[256] = "";
    if (f) {
        rewind(f);
        if (!fgets(line, sizeof line, f)) line[0] = '\0';
        fclose(f);
    }
    CHECK(n == 2 && strcmp(line, "data.image_n: 0 -> 500\n") == 0, "diff lists changed keys (%d, '%s')", n, line);

    /* docs/config.md holds the help table (kept in sync by this test). */
    char path[4096];
    const char *src = getenv("NSID_SRC");
    snprintf(path, sizeof path, "%s/docs/config.md", src ? src : ".");
    FILE *doc = fopen(path, "r");
    CHECK(doc != NULL, "docs/config.md exists");
    FILE *h = tmpfile();
    if (!doc || !h) return;
    static char docs[65536];
    size_t dn = fread(docs, 1, sizeof docs - 1, doc);
    docs[dn] = '\0';
    fclose(doc);
    nsid_config_print_help(h);
    rewind(h);
    char hl[1024];
    int missing = 0, lines = 0;
    while (fgets(hl, sizeof hl, h)) {
        lines++;
        if (!strstr(docs, hl)) {
            missing++;
            fprintf(stderr, "docs/config.md lacks: %s", hl);
        }
    }
    fclose(h);
    size_t nk;
    nsid_config_keys(&nk);
    CHECK(lines == (int)nk && missing == 0, "docs/config.md lists every key as --help prints it (%d missing)",
          missing);
}

/*
 * Defaults per readout type (issue 16 item 8): a type alone gives the authors' model of that
 * type (Lurz_2020_code's se2d_fullSXF and se2d_pointpooled defaults; the paper's Gaussian), a
 * key given explicitly wins whatever the order, and the canonical form reads back unchanged.
 */
static void test_readout_defaults(void)
{
    static const struct { const char *type; double gamma_input, gamma; } want[] = {
        {"gaussian", 1.0, 2.439}, {"factorized", 6.3831, 0.0076}, {"pointpooled", 46.402, 0.0207}};
    struct nsid_config c, d;
    struct nsid_err err = {0};
    char set[64], s[2048];
    /* the key table's default is the gaussian row */
    size_t nk;
    const struct nsid_config_key *keys = nsid_config_keys(&nk);
    for (size_t i = 0; i < nk; i++) {
        double v;
        if (nsid_config_readout_default(keys[i].name, NSID_CFG_READOUT_GAUSSIAN, &v))
            CHECK(keys[i].type == NSID_KEY_DOUBLE && keys[i].ddef == v, "%s: table default = gaussian default",
                  keys[i].name);
    }
    for (int t = 0; t < 3; t++) {
        /* --set model.readout.type=X alone */
        snprintf(set, sizeof set, "model.readout.type=%s", want[t].type);
        const char *sets[] = {set};
        CHECK(nsid_config_load(&c, NULL, sets, 1, &err) == 0 && c.model.readout.type == t &&
                  c.model.core.gamma_input == want[t].gamma_input && c.model.readout.gamma == want[t].gamma,
              "--set %s alone: gamma_input %g gamma %g (got %g %g) %s", set, want[t].gamma_input, want[t].gamma,
              c.model.core.gamma_input, c.model.readout.gamma, err.msg);
        /* the same in a file, and the other keys keep their single default */
        char text[128];
        snprintf(text, sizeof text, "model:\n  readout:\n    type: %s\n", want[t].type);
        CHECK(parse(&c, text, &err) == 0 && c.model.core.gamma_input == want[t].gamma_input &&
                  c.model.readout.gamma == want[t].gamma && c.model.readout.init_range == 0.2 &&
                  c.model.readout.factorized_init_noise == 4.1232e-5 && c.model.readout.pool_steps == 2 &&
                  c.train.lr == 0.005,
              "type %s in a file: the type's defaults", want[t].type);
        /* the canonical form holds the resolved values and reads back to itself */
        char *a = canon(&c);
        char g[64];
        snprintf(g, sizeof g, "\"gamma_input\":%s", t == 0 ? "1" : t == 1 ? "6.3831" : "46.402");
        CHECK(strstr(a, g) != NULL, "canonical form of %s holds %s", want[t].type, g);
        snprintf(s, sizeof s, "%s", a);
        CHECK(parse(&d, s, &err) == 0 && strcmp(canon(&d), s) == 0, "%s: canonical form reads back unchanged",
              want[t].type);
        /* a key given explicitly wins, before or after the type, in a file or with --set */
        const char *before[] = {"model.core.gamma_input=1", set};
        CHECK(nsid_config_load(&c, NULL, before, 2, &err) == 0 && c.model.core.gamma_input == 1.0 &&
                  c.model.readout.gamma == want[t].gamma,
              "%s: gamma_input given before the type wins", want[t].type);
        const char *after[] = {set, "model.readout.gamma=0.5"};
        CHECK(nsid_config_load(&c, NULL, after, 2, &err) == 0 && c.model.readout.gamma == 0.5 &&
                  c.model.core.gamma_input == want[t].gamma_input,
              "%s: gamma given after the type wins", want[t].type);
        CHECK(parse(&c, "model.readout.gamma: 0.25\nmodel.core.gamma_input: 3\n", &err) == 0 &&
                  nsid_config_set(&c, set, &err) == 0 && c.model.readout.gamma == 0.25 &&
                  c.model.core.gamma_input == 3.0,
              "%s: values from a file win over a later --set of the type", want[t].type);
        /* a given value equal to the gaussian default is still given */
        const char *same[] = {"model.readout.gamma=2.439", set};
        CHECK(nsid_config_load(&c, NULL, same, 2, &err) == 0 && c.model.readout.gamma == 2.439,
              "%s: an explicit 2.439 stays 2.439", want[t].type);
    }
    /* switching the type back restores the defaults of the keys not given */
    const char *sw[] = {"model.readout.type=pointpooled", "model.readout.type=gaussian"};
    CHECK(nsid_config_load(&c, NULL, sw, 2, &err) == 0 && c.model.core.gamma_input == 1.0 &&
              c.model.readout.gamma == 2.439,
          "pointpooled then gaussian: gaussian defaults");
    /* the Gaussian default configuration is untouched: the type given or not, one canonical form */
    nsid_config_init(&d);
    snprintf(s, sizeof s, "%s", canon(&d));
    const char *g1[] = {"model.readout.type=gaussian"};
    CHECK(nsid_config_load(&c, NULL, g1, 1, &err) == 0 && strcmp(canon(&c), s) == 0,
          "gaussian given = the defaults (Gaussian run ids unchanged)");
    double v;
    CHECK(!nsid_config_readout_default("train.lr", 0, &v) && !nsid_config_readout_default("model.readout.gamma", 3, &v),
          "only the per-type keys and types have per-type defaults");
}

int main(void)
{
    test_table();
    test_format_double();
    test_canonical_stability();
    test_canonical_sensitivity();
    test_bad_files();
    test_files_and_sets();
    test_cross_key();
    test_helpers();
    test_readout_defaults();
    return check_summary("config");
}
