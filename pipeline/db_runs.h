/*
 * db_runs.h - nsid-db's verbs on runs: runs, compare, tag, note, gc (pipeline/db_runs.c,
 * docs/results.md).
 */
#ifndef NSID_DB_RUNS_H
#define NSID_DB_RUNS_H

#include <stdio.h>

/*
 * Run verb with its arguments argv[0..argc) (those after the verb): the exit status (0 ok,
 * 1 failure, 2 usage), or -1 when verb is none of these.
 */
int nsid_db_runs_command(const char *verb, int argc, char **argv);

/* The synopsis and prose of each of these verbs, for nsid-db --help. */
void nsid_db_runs_usage(FILE *f);

#endif
