-- plots/views.sql - the views the figures and the report read (issue 7), on top of the
-- store's figure views (src/exp/sql/views.sql: figure_summary, fig1_datasets, best_runs,
-- training_curves, sim_*, headline, ...).
--
-- plots/figures.sh applies this file to results.db (sqlite3 DB < plots/views.sql) before it
-- exports the views with `nsid-db export VIEW --csv`; every view is dropped and recreated,
-- so editing this file and redrawing is enough. All views are named plot_*. Users can query
-- them like any other view, e.g.
--     nsid-db query "SELECT * FROM plot_series WHERE figure = 'fig5'"
--
-- Conventions: point views (what gnuplot plots) hold numbers only, with the series, panel,
-- curve and style of every point as small integers; the text (curve names, titles) lives in
-- the *_series and label views. Series are numbered 1.. per figure in the paper's legend
-- order (plot_curves); styles (numbers of neurons) 1.. from the largest, so the full neuron
-- set is always drawn solid.

BEGIN IMMEDIATE;

DROP VIEW IF EXISTS plot_spec_info;
DROP VIEW IF EXISTS plot_spec_series;
DROP VIEW IF EXISTS plot_spec_points;
DROP VIEW IF EXISTS plot_spec_figures;
DROP VIEW IF EXISTS plot_metrics;
DROP VIEW IF EXISTS plot_report_headline;
DROP VIEW IF EXISTS plot_report_figures;
DROP VIEW IF EXISTS plot_report_info;
DROP VIEW IF EXISTS timing_experiments;
DROP VIEW IF EXISTS plot_run_totals;
DROP VIEW IF EXISTS plot_gt_curves;
DROP VIEW IF EXISTS plot_gt_series;
DROP VIEW IF EXISTS plot_gt_neurons;
DROP VIEW IF EXISTS plot_rf_animals;
DROP VIEW IF EXISTS plot_rf_centres;
DROP VIEW IF EXISTS plot_rf_run;
DROP VIEW IF EXISTS plot_training_curve;
DROP VIEW IF EXISTS plot_chosen_run;
DROP VIEW IF EXISTS plot_fig1_groups;
DROP VIEW IF EXISTS plot_fig1_cols;
DROP VIEW IF EXISTS plot_fig1_rows;
DROP VIEW IF EXISTS plot_fig1_cells;
DROP VIEW IF EXISTS plot_groups;
DROP VIEW IF EXISTS plot_fig5_series;
DROP VIEW IF EXISTS plot_fig5;
DROP VIEW IF EXISTS plot_fig4_series;
DROP VIEW IF EXISTS plot_fig4;
DROP VIEW IF EXISTS plot_fig3_ablation_series;
DROP VIEW IF EXISTS plot_fig3_ablation;
DROP VIEW IF EXISTS plot_fig3_series;
DROP VIEW IF EXISTS plot_fig3;
DROP VIEW IF EXISTS plot_series;
DROP VIEW IF EXISTS plot_points;
DROP VIEW IF EXISTS plot_panels;
DROP VIEW IF EXISTS plot_curves;

-- ---- the paper's legend order of every figure's curves, and panels ------------------------------
CREATE VIEW plot_curves (figure, curve, ord) AS VALUES
    ('fig3', 'Gaussian w/ f-s', 1), ('fig3', 'Gaussian w/o f-s', 2),
    ('fig3', 'Factorized w/o f-s', 3), ('fig3', 'Factorized w/ f-s', 4),
    ('fig3_ablation', 'cortex + f-s', 1), ('fig3_ablation', 'no-cortex + f-s', 2),
    ('fig3_ablation', 'cortex, no f-s', 3), ('fig3_ablation', 'neither', 4),
    ('fig4', 'direct', 1), ('fig4', 'diff-core/best-readout', 2), ('fig4', 'best-core/diff-readout', 3),
    ('fig5', 'direct', 1), ('fig5', '11-S', 2), ('fig5', '11-S: no cortex', 3), ('fig5', '4-S: matched', 4),
    ('fig5', '4-S: diff animals', 5), ('fig5', '1-S', 6), ('fig5', 'VGG16', 7), ('fig5', 'random VGG16', 8),
    ('fig5', 'random core 128', 9), ('fig5', 'random core 64', 10);

-- Panels: Fig. 4 A = factorized, B = Gaussian (docs/paper.md §7.4); every other figure has one.
CREATE VIEW plot_panels (figure, panel, ord, title) AS VALUES
    ('fig4', 'factorized', 1, 'A: factorized readout'), ('fig4', 'gaussian', 2, 'B: Gaussian readout');

-- ---- Fig. 3, the ablation, Fig. 4, Fig. 5: points and series ------------------------------------
-- One row per plotted point: the mean over the selected runs (best model seed per neuron/image
-- seed, docs/paper.md §6.5) with its 95% interval, from the store's figure_summary.
CREATE VIEW plot_points AS
SELECT s.figure, s.panel, s.curve, s.style,
       COALESCE(p.ord, 1) AS panel_index,
       DENSE_RANK() OVER (PARTITION BY s.figure ORDER BY COALESCE(c.ord, 99), s.curve) AS curve_index,
       DENSE_RANK() OVER (PARTITION BY s.figure ORDER BY CAST(s.style AS REAL) DESC, s.style) AS style_index,
       DENSE_RANK() OVER (PARTITION BY s.figure
                          ORDER BY COALESCE(p.ord, 1), COALESCE(c.ord, 99), s.curve,
                                   CAST(s.style AS REAL) DESC, s.style) AS series,
       s.x, s.x_total, s.n, s.mean, s.sd, s.ci_lo, s.ci_hi, s.paper
FROM figure_summary s
LEFT JOIN plot_curves c ON c.figure = s.figure AND c.curve = s.curve
LEFT JOIN plot_panels p ON p.figure = s.figure AND p.panel = s.panel
WHERE s.mean IS NOT NULL;

-- One row per series (a line of a figure): its name, legend title and number of points.
-- first_of_curve / first_of_style mark the series that carry the legend entry of a colour
-- (curve) or a dash pattern (style).
CREATE VIEW plot_series AS
SELECT g.*,
       ROW_NUMBER() OVER (PARTITION BY g.figure, g.curve_index ORDER BY g.series) = 1 AS first_of_curve,
       ROW_NUMBER() OVER (PARTITION BY g.figure, g.style_index ORDER BY g.series) = 1 AS first_of_style,
       (SELECT COUNT(DISTINCT style_index) FROM plot_points q WHERE q.figure = g.figure) AS n_styles
FROM (SELECT figure, panel, panel_index, series, curve, curve_index, style, style_index,
             COUNT(*) AS n_points, SUM(ci_lo IS NOT NULL) AS n_band, MAX(n) AS max_runs,
             MIN(x_total) AS x_min, MAX(x_total) AS x_max,
             CASE WHEN style <> '' THEN style || ' neurons' ELSE '' END AS style_title
      FROM plot_points GROUP BY figure, panel, panel_index, series, curve, curve_index, style, style_index) g;

CREATE VIEW plot_fig3 AS
SELECT series, panel_index, curve_index, style_index, x, x_total, n, mean, ci_lo, ci_hi
FROM plot_points WHERE figure = 'fig3' ORDER BY series, x;
CREATE VIEW plot_fig3_series AS SELECT * FROM plot_series WHERE figure = 'fig3' ORDER BY series;

CREATE VIEW plot_fig3_ablation AS
SELECT series, panel_index, curve_index, style_index, x, x_total, n, mean, ci_lo, ci_hi
FROM plot_points WHERE figure = 'fig3_ablation' ORDER BY series, x;
CREATE VIEW plot_fig3_ablation_series AS
SELECT * FROM plot_series WHERE figure = 'fig3_ablation' ORDER BY series;

CREATE VIEW plot_fig4 AS
SELECT series, panel_index, curve_index, style_index, x, x_total, n, mean, ci_lo, ci_hi
FROM plot_points WHERE figure = 'fig4' ORDER BY series, x;
CREATE VIEW plot_fig4_series AS SELECT * FROM plot_series WHERE figure = 'fig4' ORDER BY series;

CREATE VIEW plot_fig5 AS
SELECT series, panel_index, curve_index, style_index, x, x_total, n, mean, ci_lo, ci_hi
FROM plot_points WHERE figure = 'fig5' ORDER BY series, x;
CREATE VIEW plot_fig5_series AS SELECT * FROM plot_series WHERE figure = 'fig5' ORDER BY series;

-- ---- Fig. 1: the datasets as a matrix of neuron sets (rows) x image sets (columns) --------------
-- Group order and colours follow docs/paper.md §7.1 (colours: plots/gp/style.gp).
CREATE VIEW plot_groups (grp, ord) AS VALUES
    ('4s_matched', 1), ('11s', 2), ('4s_diff_animals', 3), ('1s', 4), ('evaluation', 5);

-- One row per (scan, group it belongs to): a scan in k groups is drawn as k stripes.
CREATE VIEW plot_fig1_cells AS
WITH g AS (SELECT f.*, COALESCE(o.ord, 6) AS grp_index, COALESCE(f.image_set, f.data_key) AS image_key
           FROM fig1_datasets f LEFT JOIN plot_groups o ON o.grp = f.grp),
     ns AS (SELECT neuron_set, MIN(grp_index) AS first_grp, MIN(data_key) AS first_key FROM g GROUP BY neuron_set),
     nsr AS (SELECT neuron_set, ROW_NUMBER() OVER (ORDER BY first_grp, first_key) AS row_index FROM ns),
     im AS (SELECT image_key, MIN(grp_index) AS first_grp FROM g GROUP BY image_key),
     imr AS (SELECT image_key, ROW_NUMBER() OVER (ORDER BY first_grp, CAST(image_key AS INTEGER), image_key)
                               AS col_index FROM im)
SELECT nsr.row_index, imr.col_index, g.grp_index,
       ROW_NUMBER() OVER (PARTITION BY g.sha256 ORDER BY g.grp_index) AS stripe,
       COUNT(*) OVER (PARTITION BY g.sha256) AS stripes,
       g.n_neurons, g.grp, g.data_key
FROM g JOIN nsr ON nsr.neuron_set = g.neuron_set JOIN imr ON imr.image_key = g.image_key
ORDER BY nsr.row_index, imr.col_index, stripe;

-- Row labels (neuron sets: an animal's matched neurons, or a scan) and column labels.
CREATE VIEW plot_fig1_rows AS
SELECT DISTINCT c.row_index,
       CASE WHEN f.neuron_set LIKE 'animal %' THEN f.neuron_set || ' (matched)' ELSE f.neuron_set END AS label
FROM plot_fig1_cells c JOIN fig1_datasets f ON f.data_key = c.data_key AND f.grp = c.grp
ORDER BY c.row_index;
CREATE VIEW plot_fig1_cols AS
SELECT DISTINCT c.col_index, COALESCE(f.image_set, f.data_key) AS label
FROM plot_fig1_cells c JOIN fig1_datasets f ON f.data_key = c.data_key AND f.grp = c.grp
ORDER BY c.col_index;
-- The groups present, for the legend.
CREATE VIEW plot_fig1_groups AS
SELECT c.grp_index, c.grp, MAX(f.label) AS label, COUNT(*) AS n_scans, SUM(c.n_neurons) AS n_neurons
FROM plot_fig1_cells c JOIN fig1_datasets f ON f.data_key = c.data_key AND f.grp = c.grp
GROUP BY c.grp_index, c.grp ORDER BY c.grp_index;

-- ---- the run whose training curve and ground-truth scatter are drawn ----------------------------
-- Direct training on the evaluation scan with the most images (Fig. 5 'direct', best by
-- validation), else the finished, selected run with the most training images.
CREATE VIEW plot_chosen_run AS
SELECT b.run_id, b.experiment, b.figure, b.curve, b.x, b.images_total, b.val_corr, b.fraction_oracle,
       CASE WHEN b.figure = 'fig5' AND b.curve = 'direct' THEN 'direct training on the evaluation scan'
            ELSE 'the selected run with the most training images' END AS reason
FROM best_runs b
WHERE EXISTS (SELECT 1 FROM epochs e WHERE e.run_id = b.run_id)
ORDER BY (b.figure = 'fig5' AND b.curve = 'direct') DESC, b.images_total DESC, b.val_corr DESC, b.run_id
LIMIT 1;

-- Its training curve: validation correlation and learning rate per epoch (round = early-stopping round).
CREATE VIEW plot_training_curve AS
SELECT e.epoch, e.round, e.lr, e.train_loss, e.val_corr, e.seconds
FROM epochs e JOIN plot_chosen_run c ON c.run_id = e.run_id ORDER BY e.epoch;

-- ---- simulated data: learned vs true receptive-field centres ------------------------------------
-- The evaluation maps learned positions onto the true centres with an affine fit. With the
-- cortex predictor every position is an affine function of the neuron's cortical position and
-- the simulator's centres are an affine function of it plus scatter, so the fit reproduces the
-- truth up to that scatter whatever the training did. Free positions (grid_mean_predictor
-- none) are learned per neuron, so a run with free positions is preferred; then the run with
-- learned centres of the most animals, then the most training images.
CREATE VIEW plot_rf_run AS
SELECT r.run_id, r.experiment, r.curve, r.x, r.n_animals, r.n_neurons, b.images_total,
       COALESCE(json_extract(ru.config, '$.model.readout.grid_mean_predictor'), 'cortex') AS predictor
FROM (SELECT run_id, MAX(experiment) AS experiment, MAX(curve) AS curve, MAX(x) AS x,
             COUNT(DISTINCT COALESCE(animal, scan)) AS n_animals, COUNT(*) AS n_neurons
      FROM sim_rf_centres GROUP BY run_id) r
JOIN best_runs b ON b.run_id = r.run_id
JOIN runs ru ON ru.id = r.run_id
ORDER BY (COALESCE(json_extract(ru.config, '$.model.readout.grid_mean_predictor'), 'cortex') = 'none') DESC,
         r.n_animals DESC, b.images_total DESC, b.val_corr DESC, r.run_id LIMIT 1;

CREATE VIEW plot_rf_centres AS
SELECT DENSE_RANK() OVER (ORDER BY COALESCE(s.animal, s.scan)) AS animal_index,
       s.true_x, s.true_y, s.rf_x, s.rf_y, s.rf_dist
FROM sim_rf_centres s JOIN plot_rf_run r ON r.run_id = s.run_id
ORDER BY animal_index, s.scan, s.neuron;

-- Per animal: Pearson correlation of learned and true centre per coordinate, mean distance.
CREATE VIEW plot_rf_animals AS
WITH a AS (SELECT COALESCE(s.animal, s.scan) AS animal, COUNT(*) AS n, COUNT(DISTINCT s.scan) AS n_scans,
                  SUM(s.true_x) AS sx, SUM(s.rf_x) AS slx, SUM(s.true_x * s.true_x) AS sxx,
                  SUM(s.rf_x * s.rf_x) AS slxx, SUM(s.true_x * s.rf_x) AS sxlx,
                  SUM(s.true_y) AS sy, SUM(s.rf_y) AS sly, SUM(s.true_y * s.true_y) AS syy,
                  SUM(s.rf_y * s.rf_y) AS slyy, SUM(s.true_y * s.rf_y) AS syly, AVG(s.rf_dist) AS dist
           FROM sim_rf_centres s JOIN plot_rf_run r ON r.run_id = s.run_id
           GROUP BY COALESCE(s.animal, s.scan))
SELECT DENSE_RANK() OVER (ORDER BY animal) AS animal_index, animal, n, n_scans,
       (n * sxlx - sx * slx) / sqrt(max(1e-300, (n * sxx - sx * sx) * (n * slxx - slx * slx))) AS r_x,
       (n * syly - sy * sly) / sqrt(max(1e-300, (n * syy - sy * sy) * (n * slyy - sly * sly))) AS r_y,
       dist
FROM a ORDER BY animal_index;

-- ---- simulated data: model vs ground truth ------------------------------------------------------
-- Per neuron of the chosen run: correlation with the true rates, with single trials, oracle.
CREATE VIEW plot_gt_neurons AS
SELECT g.gt_corr, g.test_corr, g.oracle
FROM sim_gt_neurons g JOIN plot_chosen_run c ON c.run_id = g.run_id ORDER BY g.scan, g.neuron;

-- Mean correlation with the true rates over the Fig. 5 curves (pooled over scans), as Fig. 5's series.
CREATE VIEW plot_gt_curves AS
SELECT DENSE_RANK() OVER (ORDER BY COALESCE(c.ord, 99), g.curve) AS series, g.x,
       AVG(g.gt_corr) AS gt_corr, AVG(g.test_corr) AS test_corr, AVG(g.oracle) AS oracle, COUNT(*) AS n
FROM sim_gt_correlation g LEFT JOIN plot_curves c ON c.figure = g.figure AND c.curve = g.curve
WHERE g.figure = 'fig5' AND g.scan = 'all'
GROUP BY g.curve, g.x ORDER BY series, g.x;
CREATE VIEW plot_gt_series AS
SELECT DENSE_RANK() OVER (ORDER BY COALESCE(c.ord, 99), g.curve) AS series, g.curve,
       COUNT(DISTINCT g.x) AS n_points
FROM sim_gt_correlation g LEFT JOIN plot_curves c ON c.figure = g.figure AND c.curve = g.curve
WHERE g.figure = 'fig5' AND g.scan = 'all'
GROUP BY g.curve ORDER BY series;

-- ---- figures of any spec: every plot: declaration without a paper script -------------------------
-- plots/spec-figures.sh draws them (plots/gp/spec.gp) and writes their report fragment. A figure
-- is the mean of its metric (plot.y, figure_metrics) over the runs of a point that remain after
-- best-by-validation selection, against plot.x, one curve per plot.curve (a dash pattern per
-- plot.style, a panel per plot.panel), with the 95% interval of the mean from Student's t for
-- n - 1 degrees of freedom (figure_summary: ci_lo, ci_hi; none for n = 1).

-- The metrics plot.y may name, with their axis labels and what they are.
CREATE VIEW plot_metrics (metric, label, what) AS VALUES
    ('fraction_oracle', 'fraction oracle', 'the slope through the origin of the neurons'' test correlation against their oracle correlation'),
    ('test_corr', 'test correlation', 'the mean correlation of prediction and single test trials'),
    ('val_corr', 'validation correlation', 'the mean correlation of prediction and validation trials'),
    ('oracle', 'oracle correlation', 'the mean leave-one-out oracle correlation of the test repeats'),
    ('feve', 'FEVE', 'the fraction of explainable variance explained, test set'),
    ('gt_corr', 'correlation with the true rates', 'the mean correlation of prediction and the simulator''s true rates, test set');

-- The declared figures that have no paper script of their own (those are drawn by figures.sh).
CREATE VIEW plot_spec_figures AS
SELECT f.figure, f.metric, COALESCE(m.label, f.metric) AS metric_label, COALESCE(m.what, f.metric) AS metric_what,
       f.x_key, COALESCE(f.x_key, 'x') AS x_label, f.experiments, f.spec
FROM figure_metrics f LEFT JOIN plot_metrics m ON m.metric = f.metric
WHERE f.figure NOT IN ('fig3', 'fig3_ablation', 'fig4', 'fig5')
ORDER BY f.figure;

-- One row per point: panel, curve and style as indices (panels, curves and styles in name order;
-- styles numerically where they are numbers), the mean, sd, n, t and the interval.
CREATE VIEW plot_spec_points AS
SELECT s.figure, s.panel, s.curve, s.style,
       DENSE_RANK() OVER (PARTITION BY s.figure ORDER BY s.panel) AS panel_index,
       DENSE_RANK() OVER (PARTITION BY s.figure ORDER BY s.curve) AS curve_index,
       DENSE_RANK() OVER (PARTITION BY s.figure ORDER BY CAST(s.style AS REAL) DESC, s.style) AS style_index,
       DENSE_RANK() OVER (PARTITION BY s.figure ORDER BY s.panel, s.curve, CAST(s.style AS REAL) DESC, s.style)
           AS series,
       s.x, s.n, s.mean, s.sd, s.ci_lo, s.ci_hi,
       CASE WHEN s.n > 1 THEN (s.ci_hi - s.ci_lo) / 2 END AS half,
       CASE WHEN s.n > 1 THEN (s.ci_hi - s.ci_lo) / 2 / s.sd * sqrt(s.n) END AS t,
       s.ci_lo IS NOT NULL AS has_ci, COALESCE(s.ci_lo, s.mean) AS y_lo, COALESCE(s.ci_hi, s.mean) AS y_hi
FROM figure_summary s JOIN plot_spec_figures f ON f.figure = s.figure
WHERE s.mean IS NOT NULL AND s.x IS NOT NULL
ORDER BY s.figure, series, s.x;

-- One row per series (a line): legend names and flags, as plot_series does for the paper's figures.
CREATE VIEW plot_spec_series AS
SELECT g.*,
       ROW_NUMBER() OVER (PARTITION BY g.figure, g.panel_index, g.curve_index ORDER BY g.series) = 1 AS first_of_curve,
       ROW_NUMBER() OVER (PARTITION BY g.figure, g.style_index ORDER BY g.series) = 1 AS first_of_style,
       (SELECT COUNT(DISTINCT style_index) FROM plot_spec_points q WHERE q.figure = g.figure) AS n_styles,
       (SELECT COUNT(DISTINCT panel_index) FROM plot_spec_points q WHERE q.figure = g.figure) AS n_panels
FROM (SELECT figure, panel, panel_index, series, curve, curve_index, style, style_index,
             COUNT(*) AS n_points, SUM(ci_lo IS NOT NULL) AS n_band, MIN(n) AS min_runs, MAX(n) AS max_runs
      FROM plot_spec_points GROUP BY figure, panel, panel_index, series, curve, curve_index, style, style_index) g
ORDER BY g.figure, g.series;

-- Per figure: what is drawn (for the figure's axes and the report's sentence).
CREATE VIEW plot_spec_info AS
SELECT f.figure, f.metric, f.metric_label, f.metric_what, f.x_label, f.experiments, f.spec,
       COUNT(p.x) AS n_points, COUNT(DISTINCT p.curve) AS n_curves, COUNT(DISTINCT p.panel) AS n_panels,
       COUNT(DISTINCT p.style) AS n_styles, MIN(p.n) AS n_min, MAX(p.n) AS n_max,
       SUM(p.n > 1) AS n_intervals, MIN(p.x) AS x_min, MAX(p.x) AS x_max,
       CASE WHEN MIN(p.x) > 0 AND MAX(p.x) >= 20 * MIN(p.x) THEN 1 ELSE 0 END AS log_x,
       (SELECT group_concat(c, ', ') FROM (SELECT DISTINCT q.curve AS c FROM plot_spec_points q
                                           WHERE q.figure = f.figure ORDER BY q.curve)) AS curves,
       -- why a figure without points has none: its selected runs, those with an x, with a value
       (SELECT COUNT(*) FROM figure_points r WHERE r.figure = f.figure) AS n_runs,
       (SELECT COUNT(*) FROM figure_points r WHERE r.figure = f.figure AND r.x IS NOT NULL) AS n_runs_x,
       (SELECT COUNT(*) FROM figure_points r WHERE r.figure = f.figure AND r.value IS NOT NULL) AS n_runs_value
FROM plot_spec_figures f LEFT JOIN plot_spec_points p ON p.figure = f.figure
GROUP BY f.figure ORDER BY f.figure;

-- ---- timing -----------------------------------------------------------------------------------------
-- Per experiment of the plan: done runs, their epochs, the mean seconds per epoch (training and
-- the epoch's validation pass, from the epochs table), mean wall and total CPU per run. A run that
-- two experiments plan (the same configuration, one id: run once) counts in both; shared_runs says
-- how many of an experiment's runs are such, so the column sums exceed the plan's totals by them
-- (plot_run_totals counts every run once).
CREATE VIEW timing_experiments AS
WITH ep AS (SELECT p.experiment, COUNT(*) AS epochs, AVG(e.seconds) AS epoch_s
            FROM (SELECT DISTINCT experiment, id FROM plan_runs) p
            JOIN epochs e ON e.run_id = p.id AND e.epoch > 0 GROUP BY p.experiment),
     multi AS (SELECT id FROM plan_runs GROUP BY id HAVING COUNT(DISTINCT experiment) > 1)
SELECT p.experiment, COUNT(DISTINCT r.id) AS runs, ep.epochs, ep.epoch_s,
       AVG(r.wall_s) AS wall_s, SUM(r.cpu_s) AS cpu_s,
       COUNT(DISTINCT CASE WHEN r.id IN (SELECT id FROM multi) THEN r.id END) AS shared_runs
FROM plan_runs p JOIN runs r ON r.id = p.id AND r.status = 'done'
LEFT JOIN ep ON ep.experiment = p.experiment
GROUP BY p.experiment ORDER BY p.experiment;

-- The plan's runs in numbers: planned, done and not done, the wall time from the first start to
-- the last end, and the CPU time of the done ones, in minutes. Only planned runs count: a store
-- keeps the runs of earlier plans (another spec, another profile). Read by
-- tests/test_repro_quick.sh and scripts/nsid-worlds.sh.
CREATE VIEW plot_run_totals AS
WITH pr AS (SELECT * FROM runs WHERE id IN (SELECT id FROM plan_runs))
SELECT (SELECT COUNT(DISTINCT id) FROM plan_runs) AS runs_planned,
       (SELECT COUNT(*) FROM pr WHERE status = 'done') AS runs_done,
       (SELECT COUNT(*) FROM pr WHERE status <> 'done') AS runs_not_done,
       (SELECT (julianday(MAX(ended)) - julianday(MIN(started))) * 1440 FROM pr) AS wall_min,
       (SELECT SUM(cpu_s) / 60 FROM pr WHERE status = 'done') AS cpu_min;

-- ---- the report -----------------------------------------------------------------------------------
-- What was run: one (key, value) row per fact, in display order.
CREATE VIEW plot_report_info (ord, key, value) AS
WITH pr AS (SELECT r.* FROM runs r WHERE r.id IN (SELECT id FROM plan_runs)),
     done AS (SELECT * FROM pr WHERE status = 'done')
SELECT 1, 'profile', COALESCE((SELECT value FROM plan_info WHERE key = 'profile'), '(no plan recorded)')
UNION ALL SELECT 2, 'planned at', (SELECT value FROM plan_info WHERE key = 'planned_at')
UNION ALL SELECT 3, 'data description', (SELECT value FROM plan_info WHERE key = 'groups')
UNION ALL SELECT 4, 'datasets',
    (SELECT printf('%d scans of %d animals, %d neurons, %d training images',
                   COUNT(*), COUNT(DISTINCT animal), COALESCE(SUM(n_neurons), 0), COALESCE(SUM(n_train), 0))
     FROM datasets WHERE sha256 IN (SELECT dataset FROM dataset_groups))
UNION ALL SELECT 5, 'experiments',
    (SELECT group_concat(experiment, ', ') FROM (SELECT DISTINCT experiment FROM plan_runs ORDER BY experiment))
UNION ALL SELECT 6, 'runs',
    (SELECT printf('%d planned: %d done, %d failed, %d running, %d not started',
                   COUNT(*), SUM(status = 'done'), SUM(status = 'failed'), SUM(status = 'running'),
                   SUM(status = 'planned')) FROM pr)
UNION ALL SELECT 7, 'compute',
    (SELECT printf('%.2f h of wall time and %.2f h of CPU, summed over the done runs (%.1f min per run on average)',
                   COALESCE(SUM(wall_s), 0) / 3600.0, COALESCE(SUM(cpu_s), 0) / 3600.0,
                   COALESCE(AVG(wall_s), 0) / 60.0) FROM done)
UNION ALL SELECT 8, 'code version',
    (SELECT group_concat(v, ', ') FROM
        (SELECT DISTINCT COALESCE(substr(git_commit, 1, 12), 'unknown')
                         || CASE WHEN git_dirty THEN ' (dirty)' ELSE '' END AS v FROM done ORDER BY v))
UNION ALL SELECT 9, 'build', (SELECT group_concat(v, '; ') FROM
        (SELECT DISTINCT COALESCE(compiler, '?') || ', BLAS ' || COALESCE(blas, '?') AS v FROM done ORDER BY v))
UNION ALL SELECT 10, 'hosts', (SELECT group_concat(v, ', ') FROM
        (SELECT DISTINCT COALESCE(host, '?') || ' (' || COALESCE(threads, '?') || ' threads)' AS v
         FROM done ORDER BY v))
UNION ALL SELECT 11, 'period', (SELECT MIN(started) || ' to ' || MAX(ended) FROM done)
UNION ALL SELECT 12, 'wall time of the runs',
    (SELECT printf('%.1f min from the first start to the last end (%d runs; build, simulation and figures not included)',
                   (julianday(MAX(ended)) - julianday(MIN(started))) * 1440.0, COUNT(*)) FROM done HAVING COUNT(*) > 0)
UNION ALL SELECT 13, 'seconds per epoch',
    (SELECT group_concat(printf('%s %.1f', experiment, epoch_s), ', ') FROM
        (SELECT experiment, epoch_s FROM timing_experiments ORDER BY experiment))
ORDER BY 1;

-- One sentence per figure saying what the data show (the report's second sentence).
CREATE VIEW plot_report_figures (figure, sentence) AS
WITH f3 AS (SELECT * FROM plot_points WHERE figure = 'fig3'),
     f3top AS (SELECT * FROM f3 WHERE x_total = (SELECT MAX(x_total) FROM f3)
                                  AND style_index = (SELECT MIN(style_index) FROM f3)),
     ab AS (SELECT * FROM plot_points WHERE figure = 'fig3_ablation'),
     f4 AS (SELECT * FROM plot_points WHERE figure = 'fig4'),
     f5 AS (SELECT * FROM plot_points WHERE figure = 'fig5'),
     f5top AS (SELECT * FROM f5 WHERE x = (SELECT MAX(x) FROM f5)),
     f5low AS (SELECT * FROM f5 WHERE x = (SELECT MIN(x) FROM f5))
SELECT 'fig1', (SELECT printf('This run used %d scans in %d groups (%s).', COUNT(DISTINCT data_key),
                              COUNT(DISTINCT grp), group_concat(DISTINCT grp))
                FROM plot_fig1_cells HAVING COUNT(*) > 0)
UNION ALL SELECT 'fig3', (SELECT printf('With the most data here (%g images, %s neurons) the curves reach %s.',
                                        MAX(x_total), MAX(style),
                                        group_concat(curve || ' ' || CASE WHEN mean IS NULL THEN 'undefined' ELSE printf('%.3f', mean) END, ', '))
                          FROM (SELECT * FROM f3top ORDER BY curve_index) HAVING COUNT(*) > 0)
UNION ALL SELECT 'fig3_ablation', (SELECT printf('At %g images: %s; at %g images: %s.',
        (SELECT MIN(x_total) FROM ab),
        (SELECT group_concat(curve || ' ' || CASE WHEN mean IS NULL THEN 'undefined' ELSE printf('%.3f', mean) END, ', ') FROM
            (SELECT * FROM ab WHERE x_total = (SELECT MIN(x_total) FROM ab) ORDER BY curve_index)),
        (SELECT MAX(x_total) FROM ab),
        (SELECT group_concat(curve || ' ' || CASE WHEN mean IS NULL THEN 'undefined' ELSE printf('%.3f', mean) END, ', ') FROM
            (SELECT * FROM ab WHERE x_total = (SELECT MAX(x_total) FROM ab) ORDER BY curve_index)))
                                   WHERE EXISTS (SELECT 1 FROM ab))
UNION ALL SELECT 'fig4', (SELECT printf('At the fewest images (%g) the conditions reach %s; at the most (%g) %s.',
        (SELECT MIN(x_total) FROM f4),
        (SELECT group_concat(panel || ' ' || curve || ' ' || CASE WHEN mean IS NULL THEN 'undefined' ELSE printf('%.3f', mean) END, ', ') FROM
            (SELECT * FROM f4 WHERE x_total = (SELECT MIN(x_total) FROM f4) ORDER BY panel_index, curve_index)),
        (SELECT MAX(x_total) FROM f4),
        (SELECT group_concat(panel || ' ' || curve || ' ' || CASE WHEN mean IS NULL THEN 'undefined' ELSE printf('%.3f', mean) END, ', ') FROM
            (SELECT * FROM f4 WHERE x_total = (SELECT MAX(x_total) FROM f4) ORDER BY panel_index, curve_index)))
                          WHERE EXISTS (SELECT 1 FROM f4))
UNION ALL SELECT 'fig5', (SELECT printf('At %g images: %s; at %g images: %s.',
        (SELECT MIN(x) FROM f5),
        (SELECT group_concat(curve || ' ' || CASE WHEN mean IS NULL THEN 'undefined' ELSE printf('%.3f', mean) END, ', ') FROM (SELECT * FROM f5low ORDER BY curve_index)),
        (SELECT MAX(x) FROM f5),
        (SELECT group_concat(curve || ' ' || CASE WHEN mean IS NULL THEN 'undefined' ELSE printf('%.3f', mean) END, ', ') FROM (SELECT * FROM f5top ORDER BY curve_index)))
                          WHERE EXISTS (SELECT 1 FROM f5))
UNION ALL SELECT 'sim_rf', (SELECT printf('Run %s (%s%s, %d neurons of %d animal%s, %s): %s.',
        substr(r.run_id, 1, 12), r.experiment, CASE WHEN r.curve <> '' THEN ' ' || r.curve ELSE '' END,
        r.n_neurons, r.n_animals, CASE WHEN r.n_animals = 1 THEN '' ELSE 's' END,
        CASE WHEN r.predictor = 'none' THEN 'positions learned per neuron'
             ELSE 'positions predicted from cortical coordinates, which the affine fit aligns with the truth'
                  || ' up to the simulated scatter whatever was learned: no run with free positions finished' END,
        (SELECT group_concat(printf('animal %s r_x %.3f, r_y %.3f, mean distance %.2f px', animal, r_x, r_y, dist),
                             '; ') FROM plot_rf_animals))
                            FROM plot_rf_run r)
UNION ALL SELECT 'sim_gt', (SELECT printf('For run %s (%s at %g images) the mean correlation of the prediction with the true rates is %.3f, with single trials %.3f, and the oracle %.3f.',
        substr(c.run_id, 1, 12), COALESCE(NULLIF(c.curve, ''), c.experiment), c.x,
        AVG(n.gt_corr), AVG(n.test_corr), AVG(n.oracle))
                            FROM plot_chosen_run c, plot_gt_neurons n HAVING COUNT(*) > 0)
UNION ALL SELECT 'training', (SELECT printf('Run %s (%s at %g images) trained %d epochs in %d learning-rate rounds, reaching a best validation correlation of %.3f.',
        substr(c.run_id, 1, 12), COALESCE(NULLIF(c.curve, ''), c.experiment), c.x,
        MAX(t.epoch), COUNT(DISTINCT t.round), MAX(t.val_corr))
                              FROM plot_chosen_run c, plot_training_curve t HAVING COUNT(*) > 0);

-- The headline ratios as the report prints them (3 decimals; ours / paper).
CREATE VIEW plot_report_headline AS
SELECT name, description,
       CASE WHEN ours IS NULL THEN 'no data'
            WHEN name LIKE 'params%' AND ours = CAST(ours AS INTEGER) THEN printf('%d', CAST(ours AS INTEGER))
            WHEN name LIKE 'params%' THEN printf('%.1f', ours)
            ELSE printf('%.3f', ours) END AS ours_text,
       CASE WHEN paper IS NULL THEN '' WHEN name LIKE 'params%' THEN printf('%.0f', paper)
            ELSE printf('%.3f', paper) END AS paper_text,
       ours, paper
FROM headline;

COMMIT;
