/*
 * opt.h - command lines from one option table: parsing, validation and the --help option list.
 *
 * Each stage binary (pipeline/nsid-*.c) describes its options once, one row per option, in the
 * spirit of redis' config.c; the same rows parse argv and write the option list of --help, so a
 * new option cannot be parsed without being documented or documented without being parsed.
 *
 *     const char *out = NULL;
 *     long long threads = 0;
 *     bool help = false;
 *     struct nsid_opt_list data = {0};
 *     const struct nsid_opt opts[] = {
 *         {"data", 0, NSID_OPT_LIST, &data, "PATH", .help = "a scan (repeatable)"},
 *         {"out", 0, NSID_OPT_STRING, &out, "DIR", .help = "output folder", .flags = NSID_OPT_REQUIRED},
 *         {"threads", 0, NSID_OPT_INT, &threads, "N", .help = "compute threads", .min = 1, .max = 1024,
 *          .env = "NSID_THREADS"},
 *         {"help", 'h', NSID_OPT_STOP, &help, NULL, .help = "this text"},
 *         {0}};
 *
 * (Rows name .help and what follows it: -Wmissing-field-initializers accepts a row with a
 * designator and leaves the rest zero.)
 *     struct nsid_opt_cmd cmd = {"nsid-x", opts, .getenv = getenv};
 *     int rc = nsid_opt_parse(&cmd, argc, argv, &err);   // <0: usage error, exit 2
 *     ...
 *     nsid_opt_list_free(&data);
 *
 * Command-line rules (every stage): `--name VALUE` and `--name=VALUE`; a short alias `-h`;
 * `--` ends the options; an argument that starts with '-' (and is not "-" alone) is an option.
 * A value option may be followed by any value, even one starting with '-'. Errors are one line
 * naming the option, in err->msg (no file or key): "unknown option --x" (a command that takes
 * positional arguments) or "unknown argument --x" (one that takes none), "option needs a value:
 * --x", "--x: 'v' is not an integer in 1..9", "--x DIR is required", "too many arguments".
 *
 * The library never reads the environment: a row's env variable is looked up through the
 * command's getenv (the stage passes getenv; tests pass their own), once, before argv, as that
 * option's default, checked like a command-line value (an error names the variable). An empty
 * variable counts as unset.
 */
#ifndef NSID_OPT_H
#define NSID_OPT_H

#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"

enum nsid_opt_kind {
    NSID_OPT_FLAG,   /* bool *: set to true; takes no value */
    NSID_OPT_STRING, /* const char **: the value (into argv); the last one wins unless NSID_OPT_ONCE */
    NSID_OPT_INT,    /* long long *: a decimal integer in [min, max] */
    NSID_OPT_LIST,   /* struct nsid_opt_list *: every value in order, copied, with prefix prepended */
    NSID_OPT_PAIR,   /* const char *[2]: two values (`--diff A B`) */
    NSID_OPT_STOP,   /* bool *: set to true, and parsing stops at once (--help: print and exit 0) */
};

/* Row flags. */
enum {
    NSID_OPT_REQUIRED = 1, /* missing after parsing: "--name VALUE is required" */
    NSID_OPT_ONCE = 2,     /* STRING: a second value (under this or an alias writing dst) is refused */
    NSID_OPT_HIDDEN = 4,   /* parsed but not listed by nsid_opt_help (an alias the prose names) */
};

struct nsid_opt {
    const char *name;       /* long name without "--"; NULL ends the table */
    char short_name;        /* one-letter alias (-h), 0 if none */
    enum nsid_opt_kind kind;
    void *dst;              /* where the value goes (type by kind, above) */
    const char *value;      /* the value's name in the help ("DIR"), NULL for FLAG and STOP */
    const char *help;       /* help text; each '\n' starts a continuation line */
    long long min, max;     /* INT: the accepted range */
    const char *prefix;     /* LIST: prepended to each value ("seed=" turns --seed 3 into seed=3) */
    const char *env;        /* environment variable giving the default (STRING, INT), or NULL */
    unsigned flags;         /* NSID_OPT_REQUIRED | NSID_OPT_ONCE | NSID_OPT_HIDDEN */
};

/* The values of a LIST option (or the positional arguments): owned, freed by nsid_opt_list_free. */
struct nsid_opt_list {
    char **v;
    int n, cap;
};

struct nsid_opt_cmd {
    const char *prog;            /* who speaks, for nsid_opt_usage_error: "nsid-train", "nsid-db merge" */
    const struct nsid_opt *opts; /* the table, ended by a row whose name is NULL */
    struct nsid_opt_list *pos;   /* positional arguments, or NULL when the command takes none */
    int max_pos;                 /* at most this many positional arguments; 0: no limit */
    const char *(*getenv)(const char *name); /* environment defaults; NULL: none are read */
};

/*
 * Parse argv[0..argc) (argv[0] is NOT skipped: pass argc - 1, argv + 1 for a program's own).
 * Returns 0 when parsed and every REQUIRED option was given; 1 when a STOP option was met (its
 * flag is set; nothing after it was read, nothing is checked); <0 with a one-line message in
 * err on a usage error. Lists hold what was read so far either way: free them.
 */
int nsid_opt_parse(const struct nsid_opt_cmd *cmd, int argc, char *const *argv, struct nsid_err *err);

/*
 * Write the option list of a --help text: one entry per row not HIDDEN, "  -h, --name VALUE"
 * then the help text, its lines aligned in one column.
 */
void nsid_opt_help(const struct nsid_opt *opts, FILE *f);

/*
 * Write " [--name VALUE]" (" --name VALUE" when REQUIRED; "..." after a LIST) for each row not
 * HIDDEN and not STOP, each with its leading space: a command's synopsis.
 */
void nsid_opt_synopsis(const struct nsid_opt *opts, FILE *f);

/* "PROG: MESSAGE (see --help)" on stderr, one line; returns 2, the usage exit status. */
int nsid_opt_usage_error(const struct nsid_opt_cmd *cmd, const struct nsid_err *err);

/* The values as the library's functions take string arrays (const char *const *, n entries). */
static inline const char *const *nsid_opt_list_strs(const struct nsid_opt_list *l)
{
    return (const char *const *)l->v;
}

/* Free the values and reset to empty. */
void nsid_opt_list_free(struct nsid_opt_list *l);

#endif
