/*
 * store_sql.c - the schema of the results store, its views (one per paper figure, the
 * headline ratios, the simulated-data checks) and the paper's digitised reference values.
 *
 * Every view reads only finished runs ('done') of the current plan (plan_runs, rewritten
 * by each nsid-plan), so results of runs whose configuration has since changed stay in
 * the tables but leave the figures. results/README.md documents every column.
 */
#include "store_int.h"

#include "exp/eval.h"

/* ---- tables ----------------------------------------------------------------------------- */

static const struct nsid__store_sql TABLES[] = {
    {"runs",
     "CREATE TABLE IF NOT EXISTS runs ("
     " id TEXT PRIMARY KEY NOT NULL,"          /* sha256 of the run's identity (nsid-plan) */
     " experiment TEXT NOT NULL DEFAULT '',"
     " config TEXT NOT NULL DEFAULT '{}',"     /* resolved configuration, canonical JSON */
     " seed INTEGER,"                          /* train.seed */
     " seeds TEXT,"                            /* JSON: train, image, neuron, multi_match seeds */
     " parent TEXT,"                           /* run whose core was transferred */
     " status TEXT NOT NULL DEFAULT 'planned' CHECK (status IN ('planned','running','done','failed')),"
     " started TEXT, ended TEXT,"              /* ISO 8601 UTC */
     " wall_s REAL, cpu_s REAL,"               /* summed over the run's stages */
     " exit_code INTEGER, error TEXT,"
     " git_commit TEXT, git_dirty INTEGER,"
     " compiler TEXT, flags TEXT, blas TEXT, threads INTEGER, host TEXT) STRICT"},
    {"datasets",
     "CREATE TABLE IF NOT EXISTS datasets ("
     " sha256 TEXT PRIMARY KEY NOT NULL,"      /* content hash: the identity of a scan file */
     " path TEXT NOT NULL, data_key TEXT, animal TEXT, image_set TEXT, bytes INTEGER,"
     " n_neurons INTEGER, n_trials INTEGER, n_train INTEGER, n_validation INTEGER, n_test INTEGER) STRICT"},
    {"run_datasets",
     "CREATE TABLE IF NOT EXISTS run_datasets ("
     " run_id TEXT NOT NULL, position INTEGER NOT NULL, dataset TEXT NOT NULL, path TEXT, data_key TEXT,"
     " n_train INTEGER, n_neurons INTEGER,"    /* used by the run, after subsetting */
     " PRIMARY KEY (run_id, position)) STRICT"},
    {"epochs",
     "CREATE TABLE IF NOT EXISTS epochs ("
     " run_id TEXT NOT NULL, epoch INTEGER NOT NULL, round INTEGER, lr REAL, train_loss REAL,"
     " val_corr REAL, seconds REAL, PRIMARY KEY (run_id, epoch)) STRICT"},
    {"metrics",
     "CREATE TABLE IF NOT EXISTS metrics ("
     " run_id TEXT NOT NULL, scan TEXT NOT NULL, split TEXT NOT NULL, name TEXT NOT NULL, value REAL,"
     " PRIMARY KEY (run_id, scan, split, name)) STRICT"},
    {"neuron_metrics",
     "CREATE TABLE IF NOT EXISTS neuron_metrics ("
     " run_id TEXT NOT NULL, scan TEXT NOT NULL, neuron INTEGER NOT NULL, unit_id INTEGER,"
     " val_corr REAL, test_corr REAL, test_corr_avg REAL, oracle REAL, fev REAL, feve REAL, gt_corr REAL,"
     " true_x REAL, true_y REAL, rf_x REAL, rf_y REAL, rf_dist REAL,"
     " PRIMARY KEY (run_id, scan, neuron)) STRICT"},
    {"artifacts",
     "CREATE TABLE IF NOT EXISTS artifacts ("
     " run_id TEXT NOT NULL, path TEXT NOT NULL, role TEXT NOT NULL, sha256 TEXT NOT NULL,"
     " bytes INTEGER NOT NULL, PRIMARY KEY (run_id, path)) STRICT"},
    {"plan_runs",
     "CREATE TABLE IF NOT EXISTS plan_runs ("
     " experiment TEXT NOT NULL, id TEXT NOT NULL, variant TEXT NOT NULL DEFAULT '',"
     " sel_group TEXT NOT NULL,"               /* runs that compete in best-by-validation selection */
     " data_group TEXT, n_scans INTEGER,"
     " figure TEXT, panel TEXT NOT NULL DEFAULT '', curve TEXT NOT NULL DEFAULT '',"
     " style TEXT NOT NULL DEFAULT '', x REAL,"
     " vars TEXT NOT NULL DEFAULT '{}',"       /* the spec's var.* values, JSON */
     " identity TEXT NOT NULL,"                /* the JSON whose sha256 is id */
     " data_paths TEXT NOT NULL DEFAULT '[]', core_selection TEXT, spec TEXT,"
     " PRIMARY KEY (experiment, id)) STRICT"},
    {"plan_runs_id", "CREATE INDEX IF NOT EXISTS plan_runs_id ON plan_runs (id)"},
    {"plan_selections",
     "CREATE TABLE IF NOT EXISTS plan_selections ("
     " id TEXT NOT NULL, rule TEXT NOT NULL, candidate TEXT NOT NULL, PRIMARY KEY (id, candidate)) STRICT"},
    {"plan_info", "CREATE TABLE IF NOT EXISTS plan_info (key TEXT PRIMARY KEY NOT NULL, value TEXT) STRICT"},
    /* The plot declarations of the plan: one row per distinct (figure, experiment, y, x key, spec line). */
    {"plan_figures",
     "CREATE TABLE IF NOT EXISTS plan_figures ("
     " figure TEXT NOT NULL, experiment TEXT NOT NULL,"
     " metric TEXT NOT NULL DEFAULT '',"       /* plot.y, '' if not given */
     " x_key TEXT NOT NULL DEFAULT '',"        /* plot.x's $KEY, '' if a literal */
     " spec TEXT NOT NULL,"                    /* file:line of plot.figure */
     " PRIMARY KEY (figure, experiment, metric, x_key, spec)) STRICT"},
    {"dataset_groups",
     "CREATE TABLE IF NOT EXISTS dataset_groups ("
     " grp TEXT NOT NULL, label TEXT, position INTEGER NOT NULL, dataset TEXT NOT NULL, path TEXT,"
     " PRIMARY KEY (grp, position)) STRICT"},
    {"paper_values",
     "CREATE TABLE IF NOT EXISTS paper_values ("
     " figure TEXT NOT NULL, panel TEXT NOT NULL, curve TEXT NOT NULL, style TEXT NOT NULL,"
     " x REAL NOT NULL, value REAL NOT NULL, PRIMARY KEY (figure, panel, curve, style, x)) STRICT"},
    {"paper_headline",
     "CREATE TABLE IF NOT EXISTS paper_headline (name TEXT PRIMARY KEY NOT NULL, value REAL, source TEXT) STRICT"},
    /* Where the merged copy of each run came from: the run database it was merged from, and when
     * (a refused merge names it). Empty in a run's own run.db. */
    {"run_sources",
     "CREATE TABLE IF NOT EXISTS run_sources ("
     " run_id TEXT PRIMARY KEY NOT NULL, path TEXT NOT NULL, merged TEXT NOT NULL) STRICT"},
    /* Schema 6 (docs/results.md): a user's tags (key = value) and notes on runs, set by nsid-db
     * tag / note; a merge carries a run database's over and never drops the store's. */
    {"run_tags",
     "CREATE TABLE IF NOT EXISTS run_tags ("
     " run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, set_at TEXT NOT NULL,"
     " PRIMARY KEY (run_id, key)) STRICT"},
    {"run_notes",
     "CREATE TABLE IF NOT EXISTS run_notes ("
     " run_id TEXT NOT NULL, created TEXT NOT NULL, text TEXT NOT NULL,"
     " PRIMARY KEY (run_id, created, text)) STRICT"},
};

/* ---- views ------------------------------------------------------------------------------ */

/* A summary metric of run r (scan 'all') as a scalar subquery. */
#define METRIC(split, name)                                                                      \
    "(SELECT m.value FROM metrics m WHERE m.run_id = p.id AND m.scan = 'all' AND m.split = '" split \
    "' AND m.name = '" name "')"

/* Mean, sd, min, max of a figure's metric (value) over a group (inside a SELECT of figure_points). */
#define SUMMARY_COLS                                                                               \
    " COUNT(value) AS n, AVG(value) AS mean,"                                                      \
    " CASE WHEN COUNT(value) > 1 THEN sqrt(max(0.0, (SUM(value * value)"                           \
    " - SUM(value) * SUM(value) / COUNT(value))"                                                   \
    " / (COUNT(value) - 1))) END AS sd,"                                                           \
    " MIN(value) AS min, MAX(value) AS max,"                                                       \
    " AVG(test_corr) AS test_corr, AVG(val_corr) AS val_corr, AVG(images_total) AS images_total"

/* The 0.975 quantile of Student's t for df = n - 1 of a summary row s: the table up to 30 degrees
 * of freedom, the Cornish-Fisher expansion around the normal quantile beyond (error < 2e-6). */
#define T975                                                                                       \
    "COALESCE((SELECT q.t FROM student_t975 q WHERE q.df = s.n - 1), 1.959963984540 + 2.372271230299 / (s.n - 1)" \
    " + 2.822498615740 / ((s.n - 1) * (s.n - 1)) + 2.555849679508 / ((s.n - 1) * (s.n - 1) * (s.n - 1)))"

/* Run r's validation score was recorded as undefined (a NULL row: nsid-eval, docs/reliability.md). */
#define VAL_UNDEFINED(r)                                                                         \
    "EXISTS (SELECT 1 FROM metrics v WHERE v.run_id = " r " AND v.scan = 'all' AND v.split = 'validation'" \
    " AND v.name = 'corr' AND v.value IS NULL)"

/* The reasons of eval.h's NSID_UNDEF_REASONS as rows (code, reason). */
#define UNDEF_REASON_ROW(code, text) "SELECT " #code " AS code, '" text "' AS reason UNION ALL "
#define UNDEF_REASON_ROWS NSID_UNDEF_REASONS(UNDEF_REASON_ROW) "SELECT 0, 'defined'"

static const struct nsid__store_sql VIEWS[] = {
    /* Every finished run of the current plan with its plot coordinates and scores. */
    {"run_scores",
     "CREATE VIEW run_scores AS SELECT p.experiment, p.id AS run_id, p.variant, p.sel_group, p.data_group,"
     " p.n_scans, p.figure, p.panel, p.curve, p.style, p.x, p.x * p.n_scans AS x_total,"
     " (SELECT SUM(d.n_train) FROM run_datasets d WHERE d.run_id = p.id) AS images_total,"
     " r.seed, p.vars, json_extract(r.config, '$.model.readout.type') AS readout,"
     " json_extract(r.config, '$.model.readout.gamma') AS gamma,"
     " " METRIC("validation", "corr") " AS val_corr,"
     " " METRIC("test", "corr") " AS test_corr,"
     " " METRIC("test", "oracle") " AS oracle,"
     " " METRIC("test", "fraction_oracle") " AS fraction_oracle,"
     " " METRIC("test", "feve") " AS feve,"
     " " METRIC("test", "gt_corr") " AS gt_corr,"
     " r.wall_s, r.cpu_s"
     " FROM plan_runs p JOIN runs r ON r.id = p.id WHERE r.status = 'done'"},
    /* docs/paper.md §6.5: per selection group the run with the best validation score. A run whose
     * score was recorded as undefined (NULL) never competes: a group with no defined score has no
     * best run (undefined_selections names it and its runs). */
    {"best_runs",
     "CREATE VIEW best_runs AS SELECT * FROM (SELECT s.*,"
     " ROW_NUMBER() OVER (PARTITION BY s.experiment, s.sel_group ORDER BY s.val_corr DESC, s.run_id)"
     " AS sel_rank, COUNT(*) OVER (PARTITION BY s.experiment, s.sel_group) AS sel_candidates"
     " FROM run_scores s WHERE NOT " VAL_UNDEFINED("s.run_id") ") WHERE sel_rank = 1"},
    /* Selection groups of finished runs none of which has a defined validation score. */
    {"undefined_selections",
     "CREATE VIEW undefined_selections AS SELECT s.experiment, s.sel_group, COUNT(*) AS n_runs,"
     " group_concat(s.run_id, ' ') AS runs FROM run_scores s GROUP BY s.experiment, s.sel_group"
     " HAVING SUM(" VAL_UNDEFINED("s.run_id") ") = COUNT(*)"},
    /* docs/reliability.md "Undefined metrics": every undefined summary metric of a finished run with
     * its reason (nsid-eval's "<name>_undefined" rows; the codes are eval.h's NSID_UNDEF_REASONS). */
    {"undefined_metrics",
     "CREATE VIEW undefined_metrics AS SELECT u.run_id, r.experiment, u.scan, u.split,"
     " substr(u.name, 1, length(u.name) - length('_undefined')) AS name, CAST(u.value AS INTEGER) AS code,"
     " COALESCE(w.reason, 'undefined') AS reason FROM metrics u JOIN runs r ON r.id = u.run_id"
     " LEFT JOIN (" UNDEF_REASON_ROWS ") w ON w.code = CAST(u.value AS INTEGER)"
     " WHERE r.status = 'done' AND u.name LIKE '%\\_undefined' ESCAPE '\\'"
     " AND u.name NOT LIKE '%\\_n\\_undefined' ESCAPE '\\'"},
    /* The two-sided 95% quantiles of Student's t, t(0.975, df), for df = 1..30. */
    {"student_t975",
     "CREATE VIEW student_t975 (df, t) AS VALUES"
     " (1, 12.706205), (2, 4.302653), (3, 3.182446), (4, 2.776445), (5, 2.570582), (6, 2.446912),"
     " (7, 2.364624), (8, 2.306004), (9, 2.262157), (10, 2.228139), (11, 2.200985), (12, 2.178813),"
     " (13, 2.160369), (14, 2.144787), (15, 2.131450), (16, 2.119905), (17, 2.109816), (18, 2.100922),"
     " (19, 2.093024), (20, 2.085963), (21, 2.079614), (22, 2.073873), (23, 2.068658), (24, 2.063899),"
     " (25, 2.059539), (26, 2.055529), (27, 2.051831), (28, 2.048407), (29, 2.045230), (30, 2.042272)"},
    /* Per figure of the plan: the metric it draws (plot.y, default fraction_oracle), its x axis
     * (the distinct $KEYs of plot.x) and where it is declared. */
    {"figure_metrics",
     "CREATE VIEW figure_metrics AS SELECT f.figure,"
     " COALESCE(MAX(NULLIF(f.metric, '')), 'fraction_oracle') AS metric,"
     " (SELECT group_concat(k, ' / ') FROM (SELECT DISTINCT x_key AS k FROM plan_figures g"
     " WHERE g.figure = f.figure AND g.x_key <> '' ORDER BY g.x_key)) AS x_key,"
     " (SELECT group_concat(e, ', ') FROM (SELECT DISTINCT experiment AS e FROM plan_figures g"
     " WHERE g.figure = f.figure ORDER BY g.experiment)) AS experiments,"
     " MIN(f.spec) AS spec FROM plan_figures f GROUP BY f.figure"},
    /* The points of every figure: one per selected run; value is the figure's metric. */
    {"figure_points",
     "CREATE VIEW figure_points AS SELECT b.figure, b.panel, b.curve, b.style, b.x, b.x_total, b.images_total,"
     " b.fraction_oracle, b.test_corr, b.val_corr, b.oracle, b.feve, b.readout, b.gamma, b.seed, b.sel_candidates,"
     " b.experiment, b.run_id, b.vars, COALESCE(m.metric, 'fraction_oracle') AS metric,"
     " CASE COALESCE(m.metric, 'fraction_oracle') WHEN 'test_corr' THEN b.test_corr WHEN 'val_corr' THEN b.val_corr"
     " WHEN 'oracle' THEN b.oracle WHEN 'feve' THEN b.feve WHEN 'gt_corr' THEN b.gt_corr"
     " ELSE b.fraction_oracle END AS value"
     " FROM best_runs b LEFT JOIN figure_metrics m ON m.figure = b.figure"
     " WHERE b.figure IS NOT NULL AND b.figure <> ''"},
    /* Mean and spread of the figure's metric across the remaining runs (neuron/image seeds): a 95%
     * interval of the mean, mean -+ t(0.975, n-1) sd / sqrt(n) (none for n = 1), with the paper's value. */
    {"figure_summary",
     "CREATE VIEW figure_summary AS SELECT s.figure, s.panel, s.curve, s.style, s.x, s.x_total, s.n, s.mean, s.sd,"
     " s.min, s.max, s.test_corr, s.val_corr, s.images_total,"
     " CASE WHEN s.n > 1 THEN s.mean - " T975 " * s.sd / sqrt(s.n) END AS ci_lo,"
     " CASE WHEN s.n > 1 THEN s.mean + " T975 " * s.sd / sqrt(s.n) END AS ci_hi,"
     " (SELECT v.value FROM paper_values v WHERE v.figure = s.figure AND v.panel = s.panel"
     " AND v.curve = s.curve AND v.style = s.style AND v.x = s.x_total) AS paper, s.metric"
     " FROM (SELECT figure, panel, curve, style, x, x_total," SUMMARY_COLS ", MAX(metric) AS metric"
     " FROM figure_points GROUP BY figure, panel, curve, style, x, x_total) s"},
    {"fig3_points", "CREATE VIEW fig3_points AS SELECT * FROM figure_points WHERE figure = 'fig3'"},
    {"fig3",
     "CREATE VIEW fig3 AS SELECT * FROM figure_summary WHERE figure = 'fig3'"
     " ORDER BY curve, CAST(style AS REAL), x"},
    {"fig3_ablation_points",
     "CREATE VIEW fig3_ablation_points AS SELECT * FROM figure_points WHERE figure = 'fig3_ablation'"},
    {"fig3_ablation",
     "CREATE VIEW fig3_ablation AS SELECT * FROM figure_summary WHERE figure = 'fig3_ablation'"
     " ORDER BY panel, curve, x"},
    {"fig4_points", "CREATE VIEW fig4_points AS SELECT * FROM figure_points WHERE figure = 'fig4'"},
    {"fig4",
     "CREATE VIEW fig4 AS SELECT * FROM figure_summary WHERE figure = 'fig4' ORDER BY panel, curve, x"},
    {"fig5_points", "CREATE VIEW fig5_points AS SELECT * FROM figure_points WHERE figure = 'fig5'"},
    {"fig5", "CREATE VIEW fig5 AS SELECT * FROM figure_summary WHERE figure = 'fig5' ORDER BY curve, x"},
    /* Fig. 1: the datasets, one row per (group, scan). */
    {"fig1_datasets",
     "CREATE VIEW fig1_datasets AS SELECT g.grp AS grp, g.label AS label, g.position AS position,"
     " d.data_key, d.animal, d.image_set,"
     " CASE WHEN EXISTS (SELECT 1 FROM dataset_groups g2 WHERE g2.dataset = d.sha256"
     " AND g2.grp = '4s_matched') THEN 'animal ' || d.animal ELSE d.data_key END AS neuron_set,"
     " d.n_neurons, d.n_trials, d.n_train, d.n_validation, d.n_test, d.path, d.sha256"
     " FROM dataset_groups g JOIN datasets d ON d.sha256 = g.dataset ORDER BY g.grp, g.position"},
    /* Training curves of every finished run of the plan. */
    {"training_curves",
     "CREATE VIEW training_curves AS SELECT p.experiment, p.figure, p.panel, p.curve, p.style, p.x,"
     " e.run_id, e.epoch, e.round, e.lr, e.train_loss, e.val_corr, e.seconds"
     " FROM epochs e JOIN runs r ON r.id = e.run_id AND r.status = 'done'"
     " JOIN plan_runs p ON p.id = e.run_id ORDER BY p.experiment, e.run_id, e.epoch"},
    /* Simulated data: learned vs true receptive-field centres of every selected run. */
    {"sim_rf_centres",
     "CREATE VIEW sim_rf_centres AS SELECT b.experiment, b.figure, b.panel, b.curve, b.style, b.x,"
     " b.run_id, n.scan, d.animal, n.neuron, n.unit_id, n.true_x, n.true_y, n.rf_x, n.rf_y, n.rf_dist"
     " FROM best_runs b JOIN neuron_metrics n ON n.run_id = b.run_id"
     " LEFT JOIN run_datasets rd ON rd.run_id = b.run_id AND rd.data_key = n.scan"
     " LEFT JOIN datasets d ON d.sha256 = rd.dataset"
     " WHERE n.true_x IS NOT NULL AND n.rf_x IS NOT NULL"},
    /* ... and their summary per run and scan (correlation per coordinate after the affine fit). */
    {"sim_rf_recovery",
     "CREATE VIEW sim_rf_recovery AS SELECT b.experiment, b.figure, b.curve, b.x, b.run_id, m.scan,"
     " MAX(CASE WHEN m.name = 'rf_corr_x' THEN m.value END) AS rf_corr_x,"
     " MAX(CASE WHEN m.name = 'rf_corr_y' THEN m.value END) AS rf_corr_y,"
     " MAX(CASE WHEN m.name = 'rf_dist' THEN m.value END) AS rf_dist,"
     " MAX(CASE WHEN m.name = 'rf_px_corr_x' THEN m.value END) AS rf_px_corr_x,"
     " MAX(CASE WHEN m.name = 'rf_px_corr_y' THEN m.value END) AS rf_px_corr_y,"
     " MAX(CASE WHEN m.name = 'rf_px_dist' THEN m.value END) AS rf_px_dist,"
     " MAX(CASE WHEN m.name = 'rf_ceiling_corr_x' THEN m.value END) AS rf_ceiling_corr_x,"
     " MAX(CASE WHEN m.name = 'rf_ceiling_corr_y' THEN m.value END) AS rf_ceiling_corr_y"
     " FROM best_runs b JOIN metrics m ON m.run_id = b.run_id AND m.split = 'model'"
     " AND m.name IN ('rf_corr_x', 'rf_corr_y', 'rf_dist', 'rf_px_corr_x', 'rf_px_corr_y', 'rf_px_dist',"
     " 'rf_ceiling_corr_x', 'rf_ceiling_corr_y')"
     " GROUP BY b.experiment, b.figure, b.curve, b.x, b.run_id, m.scan"},
    /* Simulated data: model vs ground-truth correlation, next to the single-trial and oracle. */
    {"sim_gt_correlation",
     "CREATE VIEW sim_gt_correlation AS SELECT b.experiment, b.figure, b.curve, b.x, b.run_id, m.scan,"
     " MAX(CASE WHEN m.name = 'gt_corr' THEN m.value END) AS gt_corr,"
     " MAX(CASE WHEN m.name = 'corr' THEN m.value END) AS test_corr,"
     " MAX(CASE WHEN m.name = 'oracle' THEN m.value END) AS oracle,"
     " MAX(CASE WHEN m.name = 'fraction_oracle' THEN m.value END) AS fraction_oracle"
     " FROM best_runs b JOIN metrics m ON m.run_id = b.run_id AND m.split = 'test'"
     " AND m.name IN ('gt_corr', 'corr', 'oracle', 'fraction_oracle')"
     " GROUP BY b.experiment, b.figure, b.curve, b.x, b.run_id, m.scan HAVING gt_corr IS NOT NULL"},
    {"sim_gt_neurons",
     "CREATE VIEW sim_gt_neurons AS SELECT b.experiment, b.figure, b.curve, b.x, b.run_id, n.scan,"
     " n.neuron, n.gt_corr, n.test_corr, n.oracle FROM best_runs b JOIN neuron_metrics n"
     " ON n.run_id = b.run_id WHERE n.gt_corr IS NOT NULL"},
    /* Readout parameters per neuron, by readout type and feature sharing. */
    {"readout_params",
     "CREATE VIEW readout_params AS SELECT json_extract(r.config, '$.model.readout.type') AS readout,"
     " json_extract(r.config, '$.model.readout.share_features') AS share_features,"
     " AVG(m.value) AS params_per_neuron, COUNT(*) AS runs"
     " FROM metrics m JOIN runs r ON r.id = m.run_id AND r.status = 'done'"
     " WHERE m.scan = 'all' AND m.split = 'model' AND m.name = 'readout_params_per_neuron'"
     " AND r.id IN (SELECT id FROM plan_runs WHERE figure = 'fig3') GROUP BY 1, 2"},
    /* docs/paper.md §0 and issue 7 item 2: the headline ratios next to the paper's. */
    {"headline",
     "CREATE VIEW headline AS WITH"
     " f3 AS (SELECT * FROM figure_summary WHERE figure = 'fig3'),"
     " f3x AS (SELECT MAX(x_total) AS xt FROM f3),"
     " f3s AS (SELECT MAX(CAST(style AS REAL)) AS st FROM f3 WHERE x_total = (SELECT xt FROM f3x)),"
     " f3full AS (SELECT curve, mean FROM f3 WHERE x_total = (SELECT xt FROM f3x)"
     "  AND CAST(style AS REAL) = (SELECT st FROM f3s)),"
     " f5 AS (SELECT * FROM figure_summary WHERE figure = 'fig5'),"
     " f5full AS (SELECT curve, mean FROM f5 WHERE x = (SELECT MAX(x) FROM f5)),"
     " target AS (SELECT mean AS t FROM f5full WHERE curve = 'direct'),"
     " s11 AS (SELECT x, mean, LAG(x) OVER (ORDER BY x) AS px, LAG(mean) OVER (ORDER BY x) AS pm"
     "  FROM f5 WHERE curve = '11-S'),"
     " reach AS (SELECT MIN(CASE WHEN s11.pm IS NULL OR s11.pm >= target.t OR s11.mean = s11.pm THEN s11.x"
     "  ELSE s11.px + (s11.x - s11.px) * (target.t - s11.pm) / (s11.mean - s11.pm) END) AS xr"
     "  FROM s11, target WHERE s11.mean >= target.t),"
     " pp AS (SELECT readout, share_features, params_per_neuron FROM readout_params)"
     " SELECT 'gaussian_vs_factorized' AS name,"
     "  (SELECT mean FROM f3full WHERE curve = 'Gaussian w/ f-s')"
     "  / (SELECT mean FROM f3full WHERE curve = 'Factorized w/o f-s') AS ours,"
     "  (SELECT value FROM paper_headline WHERE name = 'gaussian_vs_factorized') AS paper,"
     "  'Fig. 3, most data and neurons: fraction oracle of Gaussian w/ f-s over factorized w/o f-s'"
     "  AS description"
     " UNION ALL SELECT 'transfer_11s_vs_direct',"
     "  (SELECT mean FROM f5full WHERE curve = '11-S') / (SELECT mean FROM f5full WHERE curve = 'direct'),"
     "  (SELECT value FROM paper_headline WHERE name = 'transfer_11s_vs_direct'),"
     "  'Fig. 5, most images: 11-S core transferred over direct training'"
     " UNION ALL SELECT 'transfer_11s_vs_vgg16',"
     "  (SELECT mean FROM f5full WHERE curve = '11-S') / (SELECT mean FROM f5full WHERE curve = 'VGG16'),"
     "  (SELECT value FROM paper_headline WHERE name = 'transfer_11s_vs_vgg16'),"
     "  'Fig. 5, most images: 11-S core over the ImageNet VGG16 core'"
     " UNION ALL SELECT 'transfer_11s_vs_random_vgg16',"
     "  (SELECT mean FROM f5full WHERE curve = '11-S')"
     "  / (SELECT mean FROM f5full WHERE curve = 'random VGG16'),"
     "  (SELECT value FROM paper_headline WHERE name = 'transfer_11s_vs_random_vgg16'),"
     "  'Fig. 5, most images: 11-S core over a random VGG16 core'"
     " UNION ALL SELECT 'images_fraction_11s_reaches_direct',"
     "  (SELECT xr FROM reach) / (SELECT MAX(x) FROM f5),"
     "  (SELECT value FROM paper_headline WHERE name = 'images_fraction_11s_reaches_direct'),"
     "  'Fig. 5: fraction of the images at which the 11-S curve (linear interpolation) reaches"
     " direct training''s full-data score'"
     " UNION ALL SELECT 'params_per_neuron_gaussian',"
     "  (SELECT AVG(params_per_neuron) FROM pp WHERE readout = 'gaussian' AND NOT share_features),"
     "  (SELECT value FROM paper_headline WHERE name = 'params_per_neuron_gaussian'),"
     "  'readout parameters per neuron, Gaussian readout (docs/paper.md §2.6)'"
     " UNION ALL SELECT 'params_per_neuron_gaussian_shared',"
     "  (SELECT AVG(params_per_neuron) FROM pp WHERE readout = 'gaussian' AND share_features),"
     "  (SELECT value FROM paper_headline WHERE name = 'params_per_neuron_gaussian_shared'),"
     "  'readout parameters per neuron not shared across scans, Gaussian readout with feature sharing'"
     " UNION ALL SELECT 'params_per_neuron_factorized',"
     "  (SELECT AVG(params_per_neuron) FROM pp WHERE readout = 'factorized' AND NOT share_features),"
     "  (SELECT value FROM paper_headline WHERE name = 'params_per_neuron_factorized'),"
     "  'readout parameters per neuron, factorized readout (docs/paper.md §2.6)'"},
};

/* ---- the paper's digitised values (docs/paper.md §0, §7; approximate, ranges as midpoints) ---- */

static const struct nsid__store_sql REFERENCE[] = {
    {"paper_values_clear", "DELETE FROM paper_values"},
    {"paper_values_fig3",
     "INSERT INTO paper_values (figure, panel, curve, style, x, value) VALUES"
     " ('fig3','','Gaussian w/ f-s','3597',200,0.195), ('fig3','','Gaussian w/ f-s','3597',800,0.45),"
     " ('fig3','','Gaussian w/ f-s','3597',2000,0.62), ('fig3','','Gaussian w/ f-s','3597',4000,0.72),"
     " ('fig3','','Gaussian w/ f-s','3597',10000,0.83), ('fig3','','Gaussian w/ f-s','3597',17596,0.88),"
     " ('fig3','','Factorized w/o f-s','3597',200,0.1), ('fig3','','Factorized w/o f-s','3597',800,0.245),"
     " ('fig3','','Factorized w/o f-s','3597',2000,0.43), ('fig3','','Factorized w/o f-s','3597',4000,0.56),"
     " ('fig3','','Factorized w/o f-s','3597',10000,0.73), ('fig3','','Factorized w/o f-s','3597',17596,0.825),"
     " ('fig3','','Factorized w/o f-s','50',2000,0.40), ('fig3','','Factorized w/o f-s','50',4000,0.50),"
     " ('fig3','','Factorized w/o f-s','50',10000,0.69), ('fig3','','Factorized w/o f-s','50',17596,0.77),"
     " ('fig3','','Factorized w/ f-s','500',800,0.24), ('fig3','','Factorized w/ f-s','500',2000,0.35),"
     " ('fig3','','Factorized w/ f-s','500',4000,0.46), ('fig3','','Factorized w/ f-s','500',10000,0.60),"
     " ('fig3','','Factorized w/ f-s','500',17596,0.69)"},
    {"paper_values_fig3_ablation",
     "INSERT INTO paper_values (figure, panel, curve, style, x, value) VALUES"
     " ('fig3_ablation','','cortex + f-s','3597',800,0.465), ('fig3_ablation','','cortex + f-s','3597',2000,0.635),"
     " ('fig3_ablation','','cortex + f-s','3597',4000,0.74), ('fig3_ablation','','cortex + f-s','3597',17596,0.885),"
     " ('fig3_ablation','','no-cortex + f-s','3597',800,0.27),"
     " ('fig3_ablation','','no-cortex + f-s','3597',2000,0.57),"
     " ('fig3_ablation','','no-cortex + f-s','3597',4000,0.695),"
     " ('fig3_ablation','','no-cortex + f-s','3597',17596,0.88),"
     " ('fig3_ablation','','cortex, no f-s','3597',800,0.26), ('fig3_ablation','','cortex, no f-s','3597',2000,0.42),"
     " ('fig3_ablation','','cortex, no f-s','3597',4000,0.61), ('fig3_ablation','','cortex, no f-s','3597',17596,0.85),"
     " ('fig3_ablation','','neither','3597',800,0.265), ('fig3_ablation','','neither','3597',2000,0.365),"
     " ('fig3_ablation','','neither','3597',4000,0.56), ('fig3_ablation','','neither','3597',17596,0.85)"},
    {"paper_values_fig4",
     "INSERT INTO paper_values (figure, panel, curve, style, x, value) VALUES"
     " ('fig4','factorized','direct','',200,0.10), ('fig4','factorized','direct','',800,0.22),"
     " ('fig4','factorized','direct','',2000,0.43), ('fig4','factorized','direct','',4000,0.51),"
     " ('fig4','factorized','direct','',10000,0.665), ('fig4','factorized','direct','',17596,0.72),"
     " ('fig4','factorized','diff-core/best-readout','',200,0.30),"
     " ('fig4','factorized','diff-core/best-readout','',800,0.49),"
     " ('fig4','factorized','diff-core/best-readout','',2000,0.60),"
     " ('fig4','factorized','diff-core/best-readout','',4000,0.685),"
     " ('fig4','factorized','diff-core/best-readout','',10000,0.78),"
     " ('fig4','factorized','diff-core/best-readout','',17596,0.83),"
     " ('fig4','factorized','best-core/diff-readout','',200,0.27),"
     " ('fig4','factorized','best-core/diff-readout','',800,0.47),"
     " ('fig4','factorized','best-core/diff-readout','',2000,0.62),"
     " ('fig4','factorized','best-core/diff-readout','',4000,0.715),"
     " ('fig4','factorized','best-core/diff-readout','',10000,0.79),"
     " ('fig4','factorized','best-core/diff-readout','',17596,0.83),"
     " ('fig4','gaussian','direct','',200,0.15), ('fig4','gaussian','direct','',800,0.46),"
     " ('fig4','gaussian','direct','',2000,0.63), ('fig4','gaussian','direct','',4000,0.73),"
     " ('fig4','gaussian','direct','',10000,0.83), ('fig4','gaussian','direct','',17596,0.88),"
     " ('fig4','gaussian','diff-core/best-readout','',200,0.36),"
     " ('fig4','gaussian','diff-core/best-readout','',800,0.61),"
     " ('fig4','gaussian','diff-core/best-readout','',2000,0.71),"
     " ('fig4','gaussian','diff-core/best-readout','',4000,0.78),"
     " ('fig4','gaussian','diff-core/best-readout','',10000,0.85),"
     " ('fig4','gaussian','diff-core/best-readout','',17596,0.885),"
     " ('fig4','gaussian','best-core/diff-readout','',200,0.29),"
     " ('fig4','gaussian','best-core/diff-readout','',800,0.66),"
     " ('fig4','gaussian','best-core/diff-readout','',2000,0.79),"
     " ('fig4','gaussian','best-core/diff-readout','',4000,0.835),"
     " ('fig4','gaussian','best-core/diff-readout','',10000,0.87),"
     " ('fig4','gaussian','best-core/diff-readout','',17596,0.887)"},
    {"paper_values_fig5a",
     "INSERT INTO paper_values (figure, panel, curve, style, x, value) VALUES"
     " ('fig5','','direct','',50,0.07), ('fig5','','direct','',200,0.14), ('fig5','','direct','',500,0.29),"
     " ('fig5','','direct','',1000,0.48), ('fig5','','direct','',2500,0.67), ('fig5','','direct','',4472,0.75),"
     " ('fig5','','11-S','',50,0.24), ('fig5','','11-S','',200,0.40), ('fig5','','11-S','',500,0.59),"
     " ('fig5','','11-S','',1000,0.68), ('fig5','','11-S','',2500,0.785), ('fig5','','11-S','',4472,0.835),"
     " ('fig5','','11-S: no cortex','',50,0.146), ('fig5','','11-S: no cortex','',200,0.26),"
     " ('fig5','','11-S: no cortex','',500,0.45), ('fig5','','11-S: no cortex','',1000,0.60),"
     " ('fig5','','11-S: no cortex','',2500,0.75), ('fig5','','11-S: no cortex','',4472,0.83),"
     " ('fig5','','4-S: matched','',50,0.22), ('fig5','','4-S: matched','',200,0.39),"
     " ('fig5','','4-S: matched','',500,0.58), ('fig5','','4-S: matched','',1000,0.675),"
     " ('fig5','','4-S: matched','',2500,0.77), ('fig5','','4-S: matched','',4472,0.82),"
     " ('fig5','','4-S: diff animals','',50,0.24), ('fig5','','4-S: diff animals','',200,0.41),"
     " ('fig5','','4-S: diff animals','',500,0.58), ('fig5','','4-S: diff animals','',1000,0.67),"
     " ('fig5','','4-S: diff animals','',2500,0.76), ('fig5','','4-S: diff animals','',4472,0.81)"},
    {"paper_values_fig5b",
     "INSERT INTO paper_values (figure, panel, curve, style, x, value) VALUES"
     " ('fig5','','1-S','',50,0.20), ('fig5','','1-S','',200,0.36), ('fig5','','1-S','',500,0.49),"
     " ('fig5','','1-S','',1000,0.57), ('fig5','','1-S','',2500,0.65), ('fig5','','1-S','',4472,0.70),"
     " ('fig5','','VGG16','',50,0.10), ('fig5','','VGG16','',200,0.29), ('fig5','','VGG16','',500,0.39),"
     " ('fig5','','VGG16','',1000,0.50), ('fig5','','VGG16','',2500,0.59), ('fig5','','VGG16','',4472,0.63),"
     " ('fig5','','random VGG16','',50,0.06), ('fig5','','random VGG16','',200,0.275),"
     " ('fig5','','random VGG16','',500,0.355), ('fig5','','random VGG16','',1000,0.45),"
     " ('fig5','','random VGG16','',2500,0.54), ('fig5','','random VGG16','',4472,0.58),"
     " ('fig5','','random core 128','',50,0.05), ('fig5','','random core 128','',200,0.11),"
     " ('fig5','','random core 128','',500,0.26), ('fig5','','random core 128','',1000,0.32),"
     " ('fig5','','random core 128','',2500,0.39), ('fig5','','random core 128','',4472,0.44),"
     " ('fig5','','random core 64','',50,0.03), ('fig5','','random core 64','',200,0.10),"
     " ('fig5','','random core 64','',500,0.22), ('fig5','','random core 64','',1000,0.28),"
     " ('fig5','','random core 64','',2500,0.35), ('fig5','','random core 64','',4472,0.38)"},
    {"paper_headline",
     "INSERT OR REPLACE INTO paper_headline (name, value, source) VALUES"
     " ('gaussian_vs_factorized', 1.07, 'abstract: +7% over the previous state of the art (Fig. 3: 0.88 / 0.82)'),"
     " ('transfer_11s_vs_direct', 1.12, 'abstract: +12% (Fig. 5 at 4,472 images: 0.838 / 0.75)'),"
     " ('transfer_11s_vs_vgg16', 1.33, 'abstract: +33% (Fig. 5 at 4,472 images: 0.838 / 0.632)'),"
     " ('transfer_11s_vs_random_vgg16', 1.44, 'Fig. 5 at 4,472 images: 0.835 / 0.58 (digitised)'),"
     " ('images_fraction_11s_reaches_direct', 0.40, 'abstract: 40% of the data (Fig. 5: 1,800-2,000 of 4,472)'),"
     " ('params_per_neuron_gaussian', 69, 'docs/paper.md §2.6: 64 features + 4 covariance + 1 bias'),"
     " ('params_per_neuron_gaussian_shared', 6, 'docs/paper.md §2.6: 1 scale + 4 + 1 non-shared'),"
     " ('params_per_neuron_factorized', 1165, 'docs/paper.md §2.6: 22x50 mask + 64 features + 1 bias')"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

size_t nsid__store_n_tables(void)
{
    return COUNT(TABLES);
}

const struct nsid__store_sql *nsid__store_table(size_t i)
{
    return i < COUNT(TABLES) ? &TABLES[i] : NULL;
}

size_t nsid__store_n_views(void)
{
    return COUNT(VIEWS);
}

const struct nsid__store_sql *nsid__store_view(size_t i)
{
    return i < COUNT(VIEWS) ? &VIEWS[i] : NULL;
}

size_t nsid__store_n_reference(void)
{
    return COUNT(REFERENCE);
}

const struct nsid__store_sql *nsid__store_reference(size_t i)
{
    return i < COUNT(REFERENCE) ? &REFERENCE[i] : NULL;
}
