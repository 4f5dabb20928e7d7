/*
 * store_plan.c - the plan's tables of the store: recording a plan (nsid-plan) and reading
 * it back for --explain and --diff (store_plan.h).
 */
#include "exp/store_plan.h"
#include "exp/store_runs.h"

#include <string.h>

#include "base/alloc.h"
#include "store_int.h"

#define T NSID__SV_T

/* ---- recording ------------------------------------------------------------------------- */

int nsid_store_plan_begin(struct nsid_store *st, struct nsid_err *err)
{
    int rc = nsid_store_begin(st, err);
    if (rc < 0) return rc;
    rc = nsid__store_exec(st,
                          "DELETE FROM plan_runs; DELETE FROM plan_selections; DELETE FROM plan_info;"
                          " DELETE FROM dataset_groups; DELETE FROM plan_figures;",
                          "plan", err);
    if (rc < 0) nsid_store_rollback(st);
    return rc;
}

static const char PLAN_RUN_SQL[] =
    "INSERT INTO plan_runs (experiment, id, variant, sel_group, data_group, n_scans, figure, panel, curve, style,"
    " x, vars, identity, data_paths, core_selection, spec)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

static const char PLANNED_SQL[] =
    "INSERT INTO runs (id, experiment, config, status) VALUES (?1, ?2, ?3, 'planned')"
    " ON CONFLICT (id) DO UPDATE SET config = excluded.config,"
    " experiment = excluded.experiment WHERE runs.status = 'planned'";

int nsid_store_plan_run(struct nsid_store *st, const struct nsid_store_plan_run *r, struct nsid_err *err)
{
    int rc = NSID__STORE_WRITE(st, "plan_runs", PLAN_RUN_SQL, err, T(r->experiment), T(r->id), T(r->variant),
                               T(r->sel_group), T(r->data_group), NSID__SV_I(r->n_scans), T(r->figure), T(r->panel),
                               T(r->curve), T(r->style), NSID__SV_R(r->x), T(r->vars_json), T(r->identity),
                               T(r->data_paths_json), T(r->core_selection), T(r->spec));
    if (rc < 0 || !r->config_json) return rc;
    return NSID__STORE_WRITE(st, "runs", PLANNED_SQL, err, T(r->id), T(r->experiment), T(r->config_json));
}

int nsid_store_plan_selection(struct nsid_store *st, const char *id, const char *rule, const char *candidate,
                              struct nsid_err *err)
{
    return NSID__STORE_WRITE(st, "plan_selections",
                             "INSERT INTO plan_selections (id, rule, candidate) VALUES (?1, ?2, ?3)", err, T(id),
                             T(rule), T(candidate));
}

int nsid_store_plan_figure(struct nsid_store *st, const char *figure, const char *experiment, const char *metric,
                           const char *x_key, const char *spec, struct nsid_err *err)
{
    return NSID__STORE_WRITE(st, "plan_figures",
                             "INSERT OR IGNORE INTO plan_figures (figure, experiment, metric, x_key, spec)"
                             " VALUES (?1, ?2, ?3, ?4, ?5)",
                             err, T(figure), T(experiment), T(metric), T(x_key), T(spec));
}

int nsid_store_plan_group(struct nsid_store *st, const char *grp, const char *label, int position, const char *dataset,
                          const char *path, struct nsid_err *err)
{
    return NSID__STORE_WRITE(st, "dataset_groups",
                             "INSERT INTO dataset_groups (grp, label, position, dataset, path)"
                             " VALUES (?1, ?2, ?3, ?4, ?5)",
                             err, T(grp), T(label), NSID__SV_I(position), T(dataset), T(path));
}

int nsid_store_plan_info(struct nsid_store *st, const char *key, const char *value, struct nsid_err *err)
{
    return NSID__STORE_WRITE(st, "plan_info", "INSERT INTO plan_info (key, value) VALUES (?1, ?2)", err, T(key),
                             T(value));
}

int nsid_store_plan_commit(struct nsid_store *st, struct nsid_err *err)
{
    int rc = nsid__store_exec(st, "DELETE FROM runs WHERE status = 'planned' AND id NOT IN (SELECT id FROM plan_runs)",
                              "plan", err);
    if (rc < 0) {
        nsid_store_rollback(st);
        return rc;
    }
    return nsid_store_commit(st, err);
}

/* ---- reading ----------------------------------------------------------------------------- */

int nsid_store_plan_find(struct nsid_store *st, const char *prefix, char id[NSID_STORE_ID_MAX], struct nsid_err *err)
{
    return nsid_store_resolve_id(st, prefix, NSID_STORE_IDS_PLANNED, id, err); /* the one resolver: store_runs.h */
}

int nsid_store_plan_config(struct nsid_store *st, const char *id, char **json, struct nsid_err *err)
{
    int rc = nsid__store_text(st, "plan_runs", "SELECT json_extract(identity, '$.config') FROM plan_runs WHERE id = ?1",
                              NSID__STORE_VALS(T(id)), 1, json, err);
    if (rc == 0 && !*json)
        rc = nsid_err_set(err, NSID_EFORMAT, st->path, 0, id, "no identity recorded for this run");
    return rc;
}

/* The queries of --explain, each printed with ?1 = the run id. */
static const char *const EXPLAIN_SQL[] = {
    "SELECT 'experiment ' || experiment, 'variant ' || quote(variant), 'at ' || spec,"
    " 'grid point {' || sel_group || '}' FROM plan_runs WHERE id = ?1 ORDER BY experiment",
    "SELECT 'status ' || status FROM runs WHERE id = ?1",
    "SELECT 'data ' || p.value, 'sha256 ' || json_extract(r.identity, '$.data[' || p.key || ']')"
    " FROM plan_runs r, json_each(r.data_paths) p WHERE r.id = ?1 AND r.rowid ="
    " (SELECT min(rowid) FROM plan_runs WHERE id = ?1)",
    "SELECT DISTINCT 'core: ' || s.rule || ' of run ' || s.candidate || coalesce(' (' || r.status || ')',"
    " '') FROM plan_runs p JOIN plan_selections s ON s.id = p.core_selection LEFT JOIN runs r"
    " ON r.id = s.candidate WHERE p.id = ?1",
};

int nsid_store_plan_explain(struct nsid_store *st, const char *id, FILE *out, struct nsid_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof EXPLAIN_SQL / sizeof EXPLAIN_SQL[0]; i++)
        rc = nsid__store_print(st, "plan_runs", EXPLAIN_SQL[i], NSID__STORE_VALS(T(id)), 1, "  ", out, NULL, err);
    return rc;
}

int nsid_store_plan_diff_head(struct nsid_store *st, const char *a, const char *b, FILE *out, struct nsid_err *err)
{
    int rc = nsid__store_print(st, "plan_runs",
                               "SELECT '--- ' || experiment || '/' || variant || ' {' || sel_group || '}'"
                               " FROM plan_runs WHERE id = ?1",
                               NSID__STORE_VALS(T(a)), 1, "", out, NULL, err);
    if (rc < 0) return rc;
    return nsid__store_print(st, "plan_runs",
                             "SELECT '+++ ' || experiment || '/' || variant || ' {' || sel_group || '}'"
                             " FROM plan_runs WHERE id = ?1",
                             NSID__STORE_VALS(T(b)), 1, "", out, NULL, err);
}

int nsid_store_plan_diff_data(struct nsid_store *st, const char *a, const char *b, FILE *out, int *n_data,
                              struct nsid_err *err)
{
    static const char sql[] =
        "WITH da AS (SELECT key, value FROM json_each((SELECT json_extract(identity, '$.data') FROM plan_runs"
        " WHERE id = ?1 LIMIT 1))), db AS (SELECT key, value FROM json_each((SELECT json_extract(identity,"
        " '$.data') FROM plan_runs WHERE id = ?2 LIMIT 1)))"
        " SELECT 'data[' || coalesce(da.key, db.key) || ']: ' || coalesce(da.value, '(none)') || ' -> '"
        " || coalesce(db.value, '(none)') FROM da FULL JOIN db ON da.key = db.key"
        " WHERE da.value IS NOT db.value ORDER BY coalesce(da.key, db.key)";
    int64_t rows = 0;
    int rc = nsid__store_print(st, "plan_runs", sql, NSID__STORE_VALS(T(a), T(b)), 2, "", out, &rows, err);
    *n_data = (int)rows;
    return rc;
}
