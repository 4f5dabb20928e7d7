/* evalrun.c - nsid-eval's library half: a checkpoint on its scans, recorded in the run's store (see eval.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "exp/eval.h"
#include "exp/rundata.h"
#include "exp/store.h"
#include "exp/train.h"
#include "nn/checkpoint.h"

#define MAX_SCANS 256

/* The data keys of the checkpoint's readouts, in order, from its architecture JSON (model.scans[].data_key). */
static int checkpoint_keys(const char *ckpt, char (*keys)[NSID_KEY_MAX], int *n, struct nsid_err *err)
{
    char *arch = NULL;
    int rc = nsid_checkpoint_read_arch(ckpt, &arch, err);
    if (rc < 0) return rc;
    json_t *root = NULL;
    rc = nsid_json_parse(arch, strlen(arch), ckpt, &root, err);
    nsid_alloc_free(arch);
    if (rc < 0) return rc;
    json_t *scans = json_object_get(json_object_get(root, "model"), "scans"), *scan;
    size_t i;
    *n = 0;
    json_array_foreach(scans, i, scan) {
        const char *key = json_string_value(json_object_get(scan, "data_key"));
        if (!key || *n >= MAX_SCANS) break;
        snprintf(keys[*n], NSID_KEY_MAX, "%s", key);
        (*n)++;
    }
    json_decref(root);
    if (*n == 0)
        return nsid_err_set(err, NSID_EFORMAT, ckpt, 0, "architecture", "names no scans (not an nsid-train checkpoint?)");
    return 0;
}

/* The run id to record under: given, the only run of the store, or nsid-train's default for this configuration and data. */
static int pick_run_id(const struct nsid_eval_opts *o, struct nsid_store *st, const struct nsid_config *c,
                       const struct nsid_run_data *d, char id[65], struct nsid_err *err)
{
    if (o->run_id) {
        if (!nsid_store_valid_id(o->run_id))
            return nsid_err_set(err, NSID_EINVAL, NULL, 0, "--run-id", "'%s': 1..64 characters of [0-9A-Za-z_.-]",
                                o->run_id);
        snprintf(id, 65, "%s", o->run_id);
        return 0;
    }
    int status;
    struct nsid_err e2 = {0};
    char only[NSID_STORE_ID_MAX];
    if (nsid_store_only_run(st, only, &status, &e2) == 0) {
        snprintf(id, 65, "%s", only);
        return 0;
    }
    /* the scans in the checkpoint's order (the training's), whatever order --data gave */
    const char **ordered = NSID_ALLOC((size_t)(d->n_scans ? d->n_scans : 1) * sizeof *ordered, err);
    if (!ordered) return NSID_ENOMEM;
    for (int s = 0; s < d->n_scans; s++) {
        ordered[s] = NULL;
        for (int j = 0; j < o->n_data && !ordered[s]; j++) {
            char key[NSID_KEY_MAX];
            nsid_scan_data_key(o->data[j], key, sizeof key);
            if (strcmp(key, d->scans[s].data_key) == 0) ordered[s] = o->data[j];
        }
        if (!ordered[s]) ordered[s] = o->data[s];
    }
    int rc = nsid_train_default_id(c, ordered, d->n_scans, id, NULL, err);
    nsid_alloc_free(ordered);
    return rc;
}

/* Append text to f as the body of an SQL string literal (quotes doubled). */
static void sql_quoted(FILE *f, const char *text)
{
    fputc('\'', f);
    for (const char *p = text; *p; p++) {
        if (*p == '\'') fputc('\'', f);
        fputc(*p, f);
    }
    fputc('\'', f);
}

/*
 * The run `id` of --db, when it is there, must be the checkpoint's (issue 17): trained with
 * the configuration the checkpoint records and on its scans (the data keys of its readouts,
 * in order), else A's metrics would be recorded as another run's. canon: the checkpoint's
 * canonical configuration.
 */
static int check_run_is_checkpoints(struct nsid_store *st, const char *id, const char *canon,
                                    char (*keys)[NSID_KEY_MAX], int nk, const struct nsid_eval_opts *o,
                                    struct nsid_err *err)
{
    char *sql = NULL, *outp = NULL, *joined = NULL;
    size_t n_sql = 0, n_out = 0, n_joined = 0;
    FILE *f = open_memstream(&joined, &n_joined);
    if (!f) return nsid_err_set(err, NSID_ENOMEM, o->db, 0, "--db", "out of memory");
    for (int i = 0; i < nk; i++) fprintf(f, "%s%s", i ? " " : "", keys[i]);
    fclose(f);
    f = open_memstream(&sql, &n_sql);
    if (!f) {
        free(joined);
        return nsid_err_set(err, NSID_ENOMEM, o->db, 0, "--db", "out of memory");
    }
    /* one row when the run is there and differs: 'config', or 'data' and its keys */
    fputs("SELECT CASE WHEN r.config <> ", f);
    sql_quoted(f, canon);
    fputs(" THEN 'config' ELSE 'data' END, coalesce(d.k, '') FROM runs r LEFT JOIN (SELECT group_concat(data_key, "
          "' ') AS k FROM (SELECT data_key FROM run_datasets WHERE run_id = ", f);
    sql_quoted(f, id);
    fputs(" ORDER BY position)) d WHERE r.id = ", f);
    sql_quoted(f, id);
    fputs(" AND (r.config <> ", f);
    sql_quoted(f, canon);
    fputs(" OR (d.k IS NOT NULL AND d.k <> ", f);
    sql_quoted(f, joined);
    fputs("))", f);
    fclose(f);
    int64_t rows = 0;
    FILE *out = open_memstream(&outp, &n_out);
    int rc = out ? nsid_store_query(st, sql, out, false, &rows, err) : NSID_ENOMEM;
    if (out) fclose(out);
    if (rc == 0 && rows > 0) {
        /* output: a header line, then "config\t..." or "data\tKEYS" */
        const char *line = outp ? strchr(outp, '\n') : NULL;
        line = line ? line + 1 : "";
        bool config = strncmp(line, "config", 6) == 0;
        char stored[256] = "";
        const char *tab = strchr(line, '\t');
        if (tab) snprintf(stored, sizeof stored, "%.*s", (int)strcspn(tab + 1, "\n"), tab + 1);
        if (config)
            rc = nsid_err_set(err, NSID_EINVAL, o->db, 0, "--db",
                              "holds run %s, trained with another configuration than --checkpoint %s: its "
                              "metrics would be recorded as that run's; evaluate a checkpoint with its own run "
                              "database", id, o->checkpoint);
        else
            rc = nsid_err_set(err, NSID_EINVAL, o->db, 0, "--db",
                              "holds run %s, trained on the scans '%s', --checkpoint %s has readouts for '%s': "
                              "its metrics would be recorded as that run's; evaluate a checkpoint with its own "
                              "run database", id, stored, o->checkpoint, joined);
    } else if (rc == NSID_ENOMEM && !out) {
        rc = nsid_err_set(err, NSID_ENOMEM, o->db, 0, "--db", "out of memory");
    }
    free(sql);
    free(outp);
    free(joined);
    return rc;
}

/* The checkpoint's own configuration in canonical form (--config, if it has none). */
static char *checkpoint_canonical(const struct nsid_eval_opts *o, const struct nsid_config *c, struct nsid_err *err)
{
    struct nsid_config ck;
    struct nsid_err e2 = {0};
    const struct nsid_config *use = nsid_train_read_config(o->checkpoint, &ck, &e2) == 0 ? &ck : c;
    size_t n = nsid_config_canonical(use, NULL, 0) + 1;
    char *canon = NSID_ALLOC(n, err);
    if (canon) nsid_config_canonical(use, canon, n);
    return canon;
}

/* Record the results and finish the run in one transaction. */
static int record(struct nsid_store *st, const char *id, const struct nsid_config *c, const struct nsid_eval_opts *o,
                  struct nsid_model *net, const struct nsid_eval_result *res, const struct nsid_store_clock *clk,
                  struct nsid_eval_outcome *out, struct nsid_err *err)
{
    int status = -1;
    struct nsid_err e2 = {0};
    int rc = nsid_store_run_status(st, id, &status, &e2);
    if (rc == 0 && status == NSID_RUN_DONE) {
        out->already_done = true;
        return 0;
    }
    if (rc == 0 && status == NSID_RUN_FAILED)
        return nsid_err_set(err, NSID_EINVAL, o->db, 0, id,
                            "the run failed or was interrupted in training: rerun nsid-train to finish it first");
    if (rc < 0 || status == NSID_RUN_PLANNED) { /* a run this store has not seen: record it */
        size_t n = nsid_config_canonical(c, NULL, 0) + 1;
        char *canon = NSID_ALLOC(n, err);
        if (!canon) return NSID_ENOMEM;
        nsid_config_canonical(c, canon, n);
        struct nsid_store_run run = {.id = id, .config_json = canon, .fresh = true};
        rc = nsid_store_run_begin(st, &run, err);
        nsid_alloc_free(canon);
        if (rc < 0) return rc;
    }
    if ((rc = nsid_store_begin(st, err)) < 0) return rc;
    rc = nsid_eval_record(st, id, net, res, err);
    if (rc == 0 && o->predictions) rc = nsid_store_artifact(st, id, o->predictions, "predictions", err);
    struct nsid_store_end end = {.status = NSID_RUN_DONE, .exit_code = 0};
    nsid_store_clock_read(clk, &end.wall_s, &end.cpu_s);
    if (rc == 0) rc = nsid_store_run_end(st, id, &end, err);
    if (rc == 0) rc = nsid_store_commit(st, err);
    else nsid_store_rollback(st);
    out->recorded = rc == 0;
    return rc;
}

/* Configuration: --config, else the one stored in the checkpoint. */
static int load_config(const struct nsid_eval_opts *o, struct nsid_config *c, struct nsid_err *err)
{
    if (o->config) return nsid_config_load(c, o->config, NULL, 0, err);
    return nsid_train_read_config(o->checkpoint, c, err);
}

int nsid_eval_checkpoint(const struct nsid_eval_opts *o, struct nsid_eval_outcome *out, struct nsid_err *err)
{
    memset(out, 0, sizeof *out);
    struct nsid_store_clock clk;
    nsid_store_clock_start(&clk);
    struct nsid_config c;
    struct nsid_run_data d = {0};
    struct nsid_model net = {0};
    struct nsid_evaluator ev = {0};
    struct nsid_eval_result res = {0};
    struct nsid_store st = {0};
    char (*keys)[NSID_KEY_MAX] = NSID_ALLOC(sizeof *keys * MAX_SCANS, err);
    const char **kp = NSID_ALLOC(sizeof *kp * MAX_SCANS, err);
    int nk = 0, rc = keys && kp ? 0 : NSID_ENOMEM;
    if (rc == 0 && !o->checkpoint) rc = nsid_err_set(err, NSID_EINVAL, NULL, 0, "--checkpoint", "required");
    if (rc == 0 && !o->db) rc = nsid_err_set(err, NSID_EINVAL, NULL, 0, "--db", "required");
    if (rc == 0) rc = checkpoint_keys(o->checkpoint, keys, &nk, err);
    if (rc == 0) rc = load_config(o, &c, err);
    if (rc == 0) rc = nsid_rundata_load(&d, &c, o->data, o->n_data, err);
    for (int i = 0; i < nk; i++) kp[i] = keys[i];
    if (rc == 0) rc = nsid_rundata_order(&d, kp, nk, err);
    /* the run to record under, and that it is this checkpoint's: before anything is written */
    if (rc == 0) rc = nsid_store_open(&st, o->db, err);
    if (rc == 0) rc = pick_run_id(o, &st, &c, &d, out->run_id, err);
    if (rc == 0) {
        char *canon = checkpoint_canonical(o, &c, err);
        rc = canon ? check_run_is_checkpoints(&st, out->run_id, canon, keys, nk, o, err) : NSID_ENOMEM;
        nsid_alloc_free(canon);
    }
    if (rc == 0) rc = nsid_net_init(&net, &c, d.mscans, d.n_scans, o->isa, err);
    if (rc == 0 && o->threads) rc = nsid_model_set_threads(&net, o->threads, err);
    if (rc == 0) rc = nsid_model_load(&net, o->checkpoint, NULL, err);
    int B = rc == 0 ? (int)nsid_batch_views_max_batch(d.views, d.n_scans, c.train.batch_size) : 1;
    if (rc == 0) rc = nsid_model_alloc_state(&net, B, err);
    if (rc == 0) rc = nsid_evaluator_init(&ev, d.views, d.n_scans, B, err);
    if (rc == NSID_ENOMEM) nsid_alloc_oom(err, NULL, "train.batch_size", "the batch buffers and model state");
    if (rc == 0) rc = nsid_eval_full(&ev, &net, &res, err);
    if (rc == 0) nsid_eval_print_undefined(&res, stderr); /* never silent, even with --quiet */
    if (rc == 0 && o->predictions) rc = nsid_eval_write_predictions(&ev, &res, o->predictions, err);
    if (rc == 0) rc = record(&st, out->run_id, &c, o, &net, &res, &clk, out, err);
    if (rc == 0) {
        out->val_corr = res.mean_val;
        out->test_corr = res.mean_test;
        out->fraction_oracle = res.fraction_oracle;
        if (o->summary) {
            if (c.model.core.random)
                fprintf(o->summary, "core: RANDOM %s (frozen, never trained)\n",
                        c.model.core.type == NSID_CFG_CORE_VGG16 ? "vgg16" : "se2d");
            nsid_eval_print(&res, o->summary);
        }
    }
    nsid_store_close(&st);
    nsid_eval_result_free(&res);
    nsid_evaluator_free(&ev);
    nsid_model_free(&net);
    nsid_rundata_free(&d);
    nsid_alloc_free(keys);
    nsid_alloc_free(kp);
    return rc;
}
