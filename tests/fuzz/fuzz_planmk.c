/*
 * fuzz_planmk.c - libFuzzer harness of the planner's make fragment (issue 17): any text is read
 * as a spec file in a folder holding one scan (scan.h5, a copy of the test fixture, so that
 * `data: {files: [scan.h5]}` plans); when it plans, nsid_plan_write_make writes plan.mk, and
 * every line of it must be one of the forms the writer emits (planmk_check below): a comment
 * without control bytes or backslashes, a variable of the plan, a continuation holding one word,
 * a rule of words, or one of the three recipes. A word holds only letters, digits, UTF-8 and
 * . _ / + , @ -, so no spec value can start a line, reach a recipe or expand as make syntax.
 * The fixture's path: env NSID_SRC (the regression test sets it) or the source folder built in.
 */
#include <dirent.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "exp/plan.h"
#include "exp/spec.h"
#include "fuzz_common.h"

#ifndef NSID_FUZZ_SRC_DIR
#define NSID_FUZZ_SRC_DIR ".."
#endif

static bool pm_word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("._/+,@-", c) != NULL;
}

/* Length of the word at s (0: none). */
static size_t pm_word(const char *s)
{
    size_t n = 0;
    while (s[n] && pm_word_byte((unsigned char)s[n])) n++;
    return n;
}

/* s is words separated by single blanks, optionally ending in " \" (returned in *cont). */
static bool pm_words(const char *s, bool *cont)
{
    *cont = false;
    while (*s) {
        if (*s == ' ' && s[1] == '\\' && !s[2]) {
            *cont = true;
            return true;
        }
        if (*s == ' ') s++;
        size_t n = pm_word(s);
        if (!n) return false;
        s += n;
        if (*s && *s != ' ') return false;
    }
    return true;
}

static bool pm_prefix(const char **s, const char *p)
{
    size_t n = strlen(p);
    if (strncmp(*s, p, n)) return false;
    *s += n;
    return true;
}

/* 0 if every line is a form the writer emits; else the 1-based bad line. */
static int planmk_check(char *text)
{
    bool cont = false;
    int ln = 0;
    for (char *line = text, *next; line && *line; line = next) {
        ln++;
        next = strchr(line, '\n');
        fuzz_require(next, "plan.mk line %d does not end with a newline", ln);
        *next++ = '\0';
        const char *s = line;
        bool ok, c2 = false;
        if (cont) {
            ok = pm_prefix(&s, "  ") && pm_word(s) && pm_words(s, &c2);
        } else if (!*s) {
            ok = true;
        } else if (*s == '#') {
            ok = true;
            for (const unsigned char *c = (const unsigned char *)s; *c; c++) ok = ok && *c >= 0x20 && *c != 0x7f && *c != '\\';
        } else if (pm_prefix(&s, "NSID_PLAN_PROFILE := ") || pm_prefix(&s, "NSID_PLAN_RESULTS := ")) {
            ok = pm_word(s) == strlen(s);
        } else if (pm_prefix(&s, "NSID_PLAN_RUNS :=") || pm_prefix(&s, "NSID_PLAN_DATA :=")) {
            ok = !*s || strcmp(s, " \\") == 0;
            c2 = *s != '\0';
        } else if (pm_prefix(&s, "NSID_PLAN_STAMPS := $(foreach r,$(NSID_PLAN_RUNS),") ||
                   pm_prefix(&s, "NSID_PLAN_DBS := $(foreach r,$(NSID_PLAN_RUNS),")) {
            const char *tail = strstr(s, "/runs/$(r)/");
            size_t n = tail ? (size_t)(tail - s) : 0;
            ok = n && pm_word(s) >= n && (strcmp(tail, "/runs/$(r)/done)") == 0 || strcmp(tail, "/runs/$(r)/run.db)") == 0);
        } else if (pm_prefix(&s, "\t$(NSID_RUN) ") || pm_prefix(&s, "\t$(NSID_DB) select --out $@ ")) {
            ok = pm_words(s, &c2) && !c2;
        } else if (*s == '\t') {
            ok = strcmp(s, "\t@mkdir -p $(@D)") == 0;
        } else { /* a rule: WORD: WORDS [| $(NSID_RUN_DEPS) WORDS] */
            size_t n = pm_word(s);
            ok = n && s[n] == ':';
            if (ok) {
                char *bar = strstr(line, " | $(NSID_RUN_DEPS)");
                if (bar) {
                    *bar = '\0';
                    ok = pm_words(s + n + 1, &c2) && !c2 && pm_words(bar + 19, &c2) && !c2;
                } else {
                    ok = pm_words(s + n + 1, &c2) && !c2;
                }
            }
        }
        if (!ok) return ln;
        cont = c2;
    }
    return cont ? ln + 1 : 0;
}

static char pm_dir[256];

static void pm_cleanup(void)
{
    char f[300];
    snprintf(f, sizeof f, "%s/scan.h5", pm_dir);
    remove(f);
    snprintf(f, sizeof f, "%s/plan.mk", pm_dir);
    remove(f);
    rmdir(pm_dir);
}

static void pm_setup(void)
{
    if (pm_dir[0]) return;
    atexit(pm_cleanup);
    const char *src = getenv("NSID_SRC");
    char from[4200], to[400];
    snprintf(from, sizeof from, "%s/tests/fixtures/data/static11111-1-1-preproc0.h5", src ? src : NSID_FUZZ_SRC_DIR);
    snprintf(pm_dir, sizeof pm_dir, "%s/nsid_fuzz_planmk_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    fuzz_require(mkdtemp(pm_dir), "mkdtemp %s", pm_dir);
    snprintf(to, sizeof to, "%s/scan.h5", pm_dir);
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    fuzz_require(in && out, "copy the fixture scan %s", from);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fuzz_require(fwrite(buf, 1, n, out) == n, "copy");
    fclose(in);
    fclose(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pm_setup();
    char spec[400], results[400], mk[420];
    snprintf(spec, sizeof spec, "%s/fuzz.yaml", pm_dir);
    snprintf(results, sizeof results, "%s/results", pm_dir);
    snprintf(mk, sizeof mk, "%s/plan.mk", pm_dir);
    struct nsid_spec_set s;
    struct nsid_err err = {0};
    nsid_spec_set_init(&s);
    int rc = nsid_spec_load_string(&s, (const char *)data, size, spec, &err);
    if (rc == 0) rc = nsid_spec_check(&s, &err);
    fuzz_check_failure(rc, &err);
    struct nsid_plan p;
    memset(&p, 0, sizeof p);
    /* a small run limit keeps every input fast; the profile comes from the input's length */
    static const char *const profiles[] = {"smoke", "quick", "paper"};
    struct nsid_plan_opts o = {.profile = profiles[size % 3], .results = results, .max_runs = 2000};
    if (rc == 0) {
        rc = nsid_plan_build(&p, &s, &o, &err);
        fuzz_check_failure(rc, &err);
    }
    if (rc == 0) {
        const char *specs[] = {spec};
        rc = nsid_plan_write_make(&p, mk, specs, 1, &err);
        fuzz_check_failure(rc, &err);
        if (rc == 0) {
            FILE *f = fopen(mk, "rb");
            fuzz_require(f, "plan.mk was not written");
            fseek(f, 0, SEEK_END);
            long n = ftell(f);
            fseek(f, 0, SEEK_SET);
            char *text = malloc((size_t)n + 1);
            fuzz_require(text && fread(text, 1, (size_t)n, f) == (size_t)n, "read plan.mk");
            text[n] = '\0';
            fclose(f);
            fuzz_require(!memchr(text, '\0', (size_t)n), "a NUL byte in plan.mk");
            int bad = planmk_check(text);
            fuzz_require(bad == 0, "plan.mk line %d is not a form the writer emits", bad);
            free(text);
            remove(mk);
        }
        nsid_plan_free(&p);
    }
    nsid_spec_set_free(&s);
    return 0;
}
