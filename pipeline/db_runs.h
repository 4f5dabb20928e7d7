/*
 * db_runs.h - nsid-db's verbs on runs: runs, compare, tag, note, gc (pipeline/db_runs.c,
 * docs/results.md).
 */
#ifndef NSID_DB_RUNS_H
#define NSID_DB_RUNS_H

/*
 * Run verb argv[1] with its arguments argv[2..argc): the exit status (0 ok, 1 failure, 2 usage),
 * or -1 when argv[1] is none of these verbs.
 */
int nsid_db_runs_command(int argc, char **argv);

/* The usage lines of these verbs, for nsid-db --help. */
extern const char NSID_DB_RUNS_USAGE[];

#endif
