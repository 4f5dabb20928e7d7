/*
 * test_opt.c - the option table (base/opt.h): each row kind, --x v and --x=v, a missing value,
 * an unknown option or argument, repeated options (last wins, lists keep order, ONCE refuses),
 * integer ranges, required options, positional limits, "--", the environment default (through
 * the command's getenv, never the process environment), and the generated help and synopsis.
 */
#include <limits.h>
#include <string.h>

#include "base/opt.h"
#include "check.h"

/* Everything one table writes, reset before each parse. */
struct vals {
    bool quiet, help;
    const char *out, *config, *diff[2];
    long long threads, level;
    struct nsid_opt_list sets, pos;
};

/* The test table: one row of each kind. */
static void table(struct vals *v, struct nsid_opt t[10])
{
    const struct nsid_opt rows[] = {
        {"config", 0, NSID_OPT_STRING, &v->config, "FILE", .help = "run configuration", .flags = NSID_OPT_ONCE},
        {"manifest", 0, NSID_OPT_STRING, &v->config, "FILE", .help = "an alias", .flags = NSID_OPT_ONCE | NSID_OPT_HIDDEN},
        {"out", 0, NSID_OPT_STRING, &v->out, "DIR", .help = "output folder\n(created)", .flags = NSID_OPT_REQUIRED},
        {"set", 0, NSID_OPT_LIST, &v->sets, "key=value", .help = "override one key (repeatable)"},
        {"seed", 0, NSID_OPT_LIST, &v->sets, "N", .help = "the same as --set seed=N", .prefix = "seed="},
        {"threads", 0, NSID_OPT_INT, &v->threads, "N", .help = "threads", .min = 1, .max = 1024, .env = "T_THREADS"},
        {"level", 0, NSID_OPT_INT, &v->level, "N", .help = "a level", .min = 1, .max = LLONG_MAX},
        {"diff", 0, NSID_OPT_PAIR, v->diff, "A B", .help = "two ids"},
        {"quiet", 'q', NSID_OPT_FLAG, &v->quiet, NULL, .help = "no progress"},
        {"help", 'h', NSID_OPT_STOP, &v->help, NULL, .help = "this text"},
    };
    memcpy(t, rows, sizeof rows);
}

/* The fake environment of the env-default checks. */
static const char *env_value;
static const char *fake_env(const char *name)
{
    return strcmp(name, "T_THREADS") == 0 ? env_value : NULL;
}

/* Parse the NULL-terminated argv into a fresh *v; the result and err.msg. */
static int parse(struct vals *v, struct nsid_err *err, bool positional, int max_pos, const char *const *args)
{
    static struct nsid_opt t[11];
    nsid_opt_list_free(&v->sets);
    nsid_opt_list_free(&v->pos);
    memset(v, 0, sizeof *v);
    memset(err, 0, sizeof *err);
    table(v, t);
    t[10] = (struct nsid_opt){0};
    int argc = 0;
    while (args[argc]) argc++;
    char *av[16]; /* argv's type; the strings are only read */
    memcpy(av, args, (size_t)argc * sizeof *av);
    struct nsid_opt_cmd cmd = {"t", t, positional ? &v->pos : NULL, max_pos, fake_env};
    return nsid_opt_parse(&cmd, argc, av, err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_kinds(struct vals *v)
{
    struct nsid_err e;
    int rc = parse(v, &e, true, 0,
                   ARGS("--out", "d", "--set", "a=1", "--seed=3", "--set=b=2", "--threads", "4", "-q", "--diff", "x",
                        "y", "spec.yaml", "--config=c.yaml", "--level", "99999999999"));
    CHECK(rc == 0, "a full command line parses: %d %s", rc, e.msg);
    CHECK(v->out && strcmp(v->out, "d") == 0, "string --x v");
    CHECK(v->config && strcmp(v->config, "c.yaml") == 0, "string --x=v");
    CHECK(v->sets.n == 3 && strcmp(v->sets.v[0], "a=1") == 0 && strcmp(v->sets.v[1], "seed=3") == 0 &&
              strcmp(v->sets.v[2], "b=2") == 0,
          "a list keeps the order of two rows, with the prefix, and a value holding '='");
    CHECK(v->threads == 4 && v->level == 99999999999LL, "integers: %lld %lld", v->threads, v->level);
    CHECK(v->quiet, "short flag -q");
    CHECK(v->diff[0] && strcmp(v->diff[0], "x") == 0 && v->diff[1] && strcmp(v->diff[1], "y") == 0, "pair");
    CHECK(v->pos.n == 1 && strcmp(v->pos.v[0], "spec.yaml") == 0, "a positional argument between options");
    CHECK(!v->help, "no stop option");

    rc = parse(v, &e, false, 0, ARGS("--out", "a", "--out", "b"));
    CHECK(rc == 0 && strcmp(v->out, "b") == 0, "a repeated string: the last one wins");
    rc = parse(v, &e, false, 0, ARGS("--out", "--set"));
    CHECK(rc == 0 && strcmp(v->out, "--set") == 0, "a value may start with '-'");
    rc = parse(v, &e, true, 0, ARGS("--out", "d", "--", "--quiet", "-"));
    CHECK(rc == 0 && !v->quiet && v->pos.n == 2 && strcmp(v->pos.v[0], "--quiet") == 0 && strcmp(v->pos.v[1], "-") == 0,
          "'--' ends the options; '-' alone is an argument");
}

static void test_stop(struct vals *v)
{
    struct nsid_err e;
    int rc = parse(v, &e, false, 0, ARGS("--quiet", "--help", "--no-such", "--threads", "0"));
    CHECK(rc == 1 && v->help && v->quiet, "--help stops parsing (what follows is not read): %d %s", rc, e.msg);
    rc = parse(v, &e, false, 0, ARGS("-h"));
    CHECK(rc == 1 && v->help, "-h stops, even without a required option");
    rc = parse(v, &e, false, 0, ARGS("--no-such", "--help"));
    CHECK(rc < 0, "an error before --help is reported");
}

static void test_errors(struct vals *v)
{
    static const struct {
        bool positional;
        int max_pos;
        const char *args[6];
        const char *msg;
    } cases[] = {
        {true, 0, {"--frobnicate", "x"}, "unknown option --frobnicate"},
        {false, 0, {"--frobnicate"}, "unknown argument --frobnicate"},
        {false, 0, {"--out", "d", "stray"}, "unknown argument stray"},
        {true, 0, {"-x"}, "unknown option -x"},
        {true, 0, {"--frobnicate=3"}, "unknown option --frobnicate"},
        {false, 0, {"--out"}, "option needs a value: --out"},
        {false, 0, {"--out", "d", "--set"}, "option needs a value: --set"},
        {false, 0, {"--out", "d", "--diff", "a"}, "option needs 2 values: --diff"},
        {false, 0, {"--out", "d", "--quiet=1"}, "option takes no value: --quiet"},
        {false, 0, {"--out", "d", "--threads", "0"}, "--threads: '0' is not an integer in 1..1024"},
        {false, 0, {"--out", "d", "--threads", "1025"}, "--threads: '1025' is not an integer in 1..1024"},
        {false, 0, {"--out", "d", "--threads=4x"}, "--threads: '4x' is not an integer in 1..1024"},
        {false, 0, {"--out", "d", "--threads="}, "--threads: '' is not an integer in 1..1024"},
        {false, 0, {"--out", "d", "--level", "0"}, "--level: '0' is not an integer >= 1"},
        {false, 0, {"--out", "d", "--level", "99999999999999999999"}, "--level: '99999999999999999999' is not"},
        {false, 0, {"--config", "a", "--manifest", "b"}, "option given more than once: --manifest"},
        {false, 0, {"--config", "a", "--config=b"}, "option given more than once: --config"},
        {false, 0, {"--quiet"}, "--out DIR is required"},
        {true, 2, {"--out", "d", "a", "b", "c"}, "too many arguments"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nsid_err e;
        int rc = parse(v, &e, cases[i].positional, cases[i].max_pos, cases[i].args);
        CHECK(rc < 0 && e.code == NSID_EINVAL && strstr(e.msg, cases[i].msg) == e.msg && !e.file[0] && !e.key[0],
              "case %zu: want '%s', got %d '%s'", i, cases[i].msg, rc, e.msg);
        CHECK(!strchr(e.msg, '\n'), "case %zu: one line", i);
    }
}

static void test_env(struct vals *v)
{
    struct nsid_err e;
    env_value = "3";
    int rc = parse(v, &e, false, 0, ARGS("--out", "d"));
    CHECK(rc == 0 && v->threads == 3, "the environment gives the default: %lld", v->threads);
    rc = parse(v, &e, false, 0, ARGS("--out", "d", "--threads", "5"));
    CHECK(rc == 0 && v->threads == 5, "the command line overrides the environment");
    env_value = "";
    rc = parse(v, &e, false, 0, ARGS("--out", "d"));
    CHECK(rc == 0 && v->threads == 0, "an empty variable is unset");
    env_value = "lots";
    rc = parse(v, &e, false, 0, ARGS("--out", "d", "--threads", "2"));
    CHECK(rc < 0 && strcmp(e.msg, "T_THREADS: 'lots' is not an integer in 1..1024") == 0,
          "a bad environment value names the variable: %s", e.msg);
    env_value = NULL;
}

/* The text f wrote (an open_memstream). */
static void help_text(char *buf, size_t n, bool synopsis)
{
    struct vals v = {0};
    struct nsid_opt t[11];
    table(&v, t);
    t[10] = (struct nsid_opt){0};
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (synopsis) nsid_opt_synopsis(t, f);
    else nsid_opt_help(t, f);
    fclose(f);
    snprintf(buf, n, "%s", s ? s : "");
    free(s);
}

static void test_help(void)
{
    char h[4096];
    help_text(h, sizeof h, false);
    CHECK(strstr(h, "  --config FILE    run configuration\n") != NULL, "a string row, its help two spaces after the widest label (--set key=value):\n%s", h);
    CHECK(strstr(h, "  --out DIR        output folder\n                   (created)\n") != NULL,
          "a continuation line is indented to the help column:\n%s", h);
    CHECK(strstr(h, "  --diff A B       two ids\n") != NULL, "a pair row");
    CHECK(strstr(h, "  --threads N      threads\n") != NULL, "an int row");
    CHECK(strstr(h, "  -q, --quiet      no progress\n") != NULL, "a short name");
    CHECK(strstr(h, "  -h, --help       this text\n") != NULL, "the stop row");
    CHECK(strstr(h, "manifest") == NULL, "a hidden row is not listed");
    int lines = 0;
    for (const char *s = h; *s; s++) lines += *s == '\n';
    CHECK(lines == 10, "one line per listed row plus continuations: %d", lines);
    help_text(h, sizeof h, true);
    CHECK(strcmp(h, " [--config FILE] --out DIR [--set key=value]... [--seed N]... [--threads N] [--level N]"
                    " [--diff A B] [--quiet]") == 0,
          "synopsis: required rows bare, lists with '...', no hidden or stop rows: '%s'", h);
}

int main(void)
{
    struct vals v = {0};
    test_kinds(&v);
    test_stop(&v);
    test_errors(&v);
    test_env(&v);
    test_help();
    nsid_opt_list_free(&v.sets);
    nsid_opt_list_free(&v.pos);
    return check_summary("opt");
}
