-- src/exp/sql/views.sql - the store's views: one per paper figure (points and summary), the
-- best-by-validation selection, the headline ratios and the simulated-data checks.
--
-- Every view reads only finished runs ('done') of the current plan (plan_runs, rewritten by each
-- nsid-plan), so results of runs whose configuration has since changed stay in the tables but
-- leave the figures. results/README.md documents every column. The figure scripts' own views
-- (plot_*, finding_*) are in plots/views.sql and plots/findings.sql, on top of these.
--
-- Built into libnsid (cmake/embed_sql.cmake): every store is created with these views, in this
-- order (a view may only use views above it). Rules of the file: one statement per view, ending
-- with ';' at the end of a line; '--' comments on lines of their own or after ' -- ' at the end
-- of a line (neither is stored); no string literal spans lines. Changing a view changes the
-- schema: bump NSID_STORE_SCHEMA_VERSION (store.h) so existing stores get it.

-- Every finished run of the current plan with its plot coordinates and scores.
CREATE VIEW run_scores AS SELECT p.experiment, p.id AS run_id, p.variant, p.sel_group, p.data_group,
    p.n_scans, p.figure, p.panel, p.curve, p.style, p.x, p.x * p.n_scans AS x_total,
    (SELECT SUM(d.n_train) FROM run_datasets d WHERE d.run_id = p.id) AS images_total,
    r.seed, p.vars, json_extract(r.config, '$.model.readout.type') AS readout,
    json_extract(r.config, '$.model.readout.gamma') AS gamma,
    (SELECT m.value FROM metrics m WHERE m.run_id = p.id AND m.scan = 'all'
        AND m.split = 'validation' AND m.name = 'corr') AS val_corr,
    (SELECT m.value FROM metrics m WHERE m.run_id = p.id AND m.scan = 'all'
        AND m.split = 'test' AND m.name = 'corr') AS test_corr,
    (SELECT m.value FROM metrics m WHERE m.run_id = p.id AND m.scan = 'all'
        AND m.split = 'test' AND m.name = 'oracle') AS oracle,
    (SELECT m.value FROM metrics m WHERE m.run_id = p.id AND m.scan = 'all'
        AND m.split = 'test' AND m.name = 'fraction_oracle') AS fraction_oracle,
    (SELECT m.value FROM metrics m WHERE m.run_id = p.id AND m.scan = 'all'
        AND m.split = 'test' AND m.name = 'feve') AS feve,
    (SELECT m.value FROM metrics m WHERE m.run_id = p.id AND m.scan = 'all'
        AND m.split = 'test' AND m.name = 'gt_corr') AS gt_corr,
    r.wall_s, r.cpu_s
    FROM plan_runs p JOIN runs r ON r.id = p.id WHERE r.status = 'done';

-- docs/paper.md §6.5: per selection group the run with the best validation score. A run whose score
-- was recorded as undefined (NULL) never competes: a group with no defined score has no best run
-- (undefined_selections names it and its runs).
CREATE VIEW best_runs AS SELECT * FROM (SELECT s.*,
    ROW_NUMBER() OVER (PARTITION BY s.experiment, s.sel_group ORDER BY s.val_corr DESC, s.run_id)
    AS sel_rank, COUNT(*) OVER (PARTITION BY s.experiment, s.sel_group) AS sel_candidates
    FROM run_scores s WHERE NOT EXISTS (SELECT 1 FROM metrics v WHERE v.run_id = s.run_id AND v.scan = 'all'
        AND v.split = 'validation' AND v.name = 'corr' AND v.value IS NULL)) WHERE sel_rank = 1;

-- Selection groups of finished runs none of which has a defined validation score.
CREATE VIEW undefined_selections AS SELECT s.experiment, s.sel_group, COUNT(*) AS n_runs,
    group_concat(s.run_id, ' ') AS runs FROM run_scores s GROUP BY s.experiment, s.sel_group
    HAVING SUM(EXISTS (SELECT 1 FROM metrics v WHERE v.run_id = s.run_id AND v.scan = 'all'
        AND v.split = 'validation' AND v.name = 'corr' AND v.value IS NULL)) = COUNT(*);

-- docs/reliability.md "Undefined metrics": every undefined summary metric of a finished run with
-- its reason (nsid-eval's "<name>_undefined" rows). @NSID_UNDEF_REASONS@ stands for the rows
-- (code, reason) of eval.h's NSID_UNDEF_REASONS, put in when the store creates the view (store_sql.c).
CREATE VIEW undefined_metrics AS SELECT u.run_id, r.experiment, u.scan, u.split,
    substr(u.name, 1, length(u.name) - length('_undefined')) AS name, CAST(u.value AS INTEGER) AS code,
    COALESCE(w.reason, 'undefined') AS reason FROM metrics u JOIN runs r ON r.id = u.run_id
    LEFT JOIN (@NSID_UNDEF_REASONS@) w ON w.code = CAST(u.value AS INTEGER)
    WHERE r.status = 'done' AND u.name LIKE '%\_undefined' ESCAPE '\'
    AND u.name NOT LIKE '%\_n\_undefined' ESCAPE '\';

-- The two-sided 95% quantiles of Student's t, t(0.975, df), for df = 1..30.
CREATE VIEW student_t975 (df, t) AS VALUES
    (1, 12.706205), (2, 4.302653), (3, 3.182446), (4, 2.776445), (5, 2.570582), (6, 2.446912),
    (7, 2.364624), (8, 2.306004), (9, 2.262157), (10, 2.228139), (11, 2.200985), (12, 2.178813),
    (13, 2.160369), (14, 2.144787), (15, 2.131450), (16, 2.119905), (17, 2.109816), (18, 2.100922),
    (19, 2.093024), (20, 2.085963), (21, 2.079614), (22, 2.073873), (23, 2.068658), (24, 2.063899),
    (25, 2.059539), (26, 2.055529), (27, 2.051831), (28, 2.048407), (29, 2.045230), (30, 2.042272);

-- Per figure of the plan: the metric it draws (plot.y, default fraction_oracle), its x axis (the
-- distinct $KEYs of plot.x) and where it is declared.
CREATE VIEW figure_metrics AS SELECT f.figure,
    COALESCE(MAX(NULLIF(f.metric, '')), 'fraction_oracle') AS metric,
    (SELECT group_concat(k, ' / ') FROM (SELECT DISTINCT x_key AS k FROM plan_figures g
    WHERE g.figure = f.figure AND g.x_key <> '' ORDER BY g.x_key)) AS x_key,
    (SELECT group_concat(e, ', ') FROM (SELECT DISTINCT experiment AS e FROM plan_figures g
    WHERE g.figure = f.figure ORDER BY g.experiment)) AS experiments,
    MIN(f.spec) AS spec FROM plan_figures f GROUP BY f.figure;

-- The points of every figure: one per selected run; value is the figure's metric.
CREATE VIEW figure_points AS SELECT b.figure, b.panel, b.curve, b.style, b.x, b.x_total, b.images_total,
    b.fraction_oracle, b.test_corr, b.val_corr, b.oracle, b.feve, b.readout, b.gamma, b.seed, b.sel_candidates,
    b.experiment, b.run_id, b.vars, COALESCE(m.metric, 'fraction_oracle') AS metric,
    CASE COALESCE(m.metric, 'fraction_oracle') WHEN 'test_corr' THEN b.test_corr WHEN 'val_corr' THEN b.val_corr
    WHEN 'oracle' THEN b.oracle WHEN 'feve' THEN b.feve WHEN 'gt_corr' THEN b.gt_corr
    ELSE b.fraction_oracle END AS value
    FROM best_runs b LEFT JOIN figure_metrics m ON m.figure = b.figure
    WHERE b.figure IS NOT NULL AND b.figure <> '';

-- Mean and spread of the figure's metric across the remaining runs (neuron/image seeds): a 95%
-- interval of the mean, mean -+ t(0.975, n-1) sd / sqrt(n) (none for n = 1), with the paper's value.
CREATE VIEW figure_summary AS SELECT s.figure, s.panel, s.curve, s.style, s.x, s.x_total, s.n, s.mean, s.sd,
    s.min, s.max, s.test_corr, s.val_corr, s.images_total,
    CASE WHEN s.n > 1 THEN s.mean - COALESCE((SELECT q.t FROM student_t975 q WHERE q.df = s.n - 1),
        1.959963984540 + 2.372271230299 / (s.n - 1) + 2.822498615740 / ((s.n - 1) * (s.n - 1))
        + 2.555849679508 / ((s.n - 1) * (s.n - 1) * (s.n - 1))) * s.sd / sqrt(s.n) END AS ci_lo,
    CASE WHEN s.n > 1 THEN s.mean + COALESCE((SELECT q.t FROM student_t975 q WHERE q.df = s.n - 1),
        1.959963984540 + 2.372271230299 / (s.n - 1) + 2.822498615740 / ((s.n - 1) * (s.n - 1))
        + 2.555849679508 / ((s.n - 1) * (s.n - 1) * (s.n - 1))) * s.sd / sqrt(s.n) END AS ci_hi,
    (SELECT v.value FROM paper_values v WHERE v.figure = s.figure AND v.panel = s.panel
    AND v.curve = s.curve AND v.style = s.style AND v.x = s.x_total) AS paper, s.metric
    FROM (SELECT figure, panel, curve, style, x, x_total, COUNT(value) AS n, AVG(value) AS mean,
        CASE WHEN COUNT(value) > 1 THEN sqrt(max(0.0, (SUM(value * value) - SUM(value) * SUM(value) / COUNT(value))
        / (COUNT(value) - 1))) END AS sd, MIN(value) AS min, MAX(value) AS max,
        AVG(test_corr) AS test_corr, AVG(val_corr) AS val_corr, AVG(images_total) AS images_total, MAX(metric) AS metric
    FROM figure_points GROUP BY figure, panel, curve, style, x, x_total) s;

CREATE VIEW fig3_points AS SELECT * FROM figure_points WHERE figure = 'fig3';

CREATE VIEW fig3 AS SELECT * FROM figure_summary WHERE figure = 'fig3'
    ORDER BY curve, CAST(style AS REAL), x;

CREATE VIEW fig3_ablation_points AS SELECT * FROM figure_points WHERE figure = 'fig3_ablation';

CREATE VIEW fig3_ablation AS SELECT * FROM figure_summary WHERE figure = 'fig3_ablation'
    ORDER BY panel, curve, x;

CREATE VIEW fig4_points AS SELECT * FROM figure_points WHERE figure = 'fig4';

CREATE VIEW fig4 AS SELECT * FROM figure_summary WHERE figure = 'fig4' ORDER BY panel, curve, x;

CREATE VIEW fig5_points AS SELECT * FROM figure_points WHERE figure = 'fig5';

CREATE VIEW fig5 AS SELECT * FROM figure_summary WHERE figure = 'fig5' ORDER BY curve, x;

-- Fig. 1: the datasets, one row per (group, scan).
CREATE VIEW fig1_datasets AS SELECT g.grp AS grp, g.label AS label, g.position AS position,
    d.data_key, d.animal, d.image_set,
    CASE WHEN EXISTS (SELECT 1 FROM dataset_groups g2 WHERE g2.dataset = d.sha256
    AND g2.grp = '4s_matched') THEN 'animal ' || d.animal ELSE d.data_key END AS neuron_set,
    d.n_neurons, d.n_trials, d.n_train, d.n_validation, d.n_test, d.path, d.sha256
    FROM dataset_groups g JOIN datasets d ON d.sha256 = g.dataset ORDER BY g.grp, g.position;

-- Training curves of every finished run of the plan.
CREATE VIEW training_curves AS SELECT p.experiment, p.figure, p.panel, p.curve, p.style, p.x,
    e.run_id, e.epoch, e.round, e.lr, e.train_loss, e.val_corr, e.seconds
    FROM epochs e JOIN runs r ON r.id = e.run_id AND r.status = 'done'
    JOIN plan_runs p ON p.id = e.run_id ORDER BY p.experiment, e.run_id, e.epoch;

-- Simulated data: learned vs true receptive-field centres of every selected run.
CREATE VIEW sim_rf_centres AS SELECT b.experiment, b.figure, b.panel, b.curve, b.style, b.x,
    b.run_id, n.scan, d.animal, n.neuron, n.unit_id, n.true_x, n.true_y, n.rf_x, n.rf_y, n.rf_dist
    FROM best_runs b JOIN neuron_metrics n ON n.run_id = b.run_id
    LEFT JOIN run_datasets rd ON rd.run_id = b.run_id AND rd.data_key = n.scan
    LEFT JOIN datasets d ON d.sha256 = rd.dataset
    WHERE n.true_x IS NOT NULL AND n.rf_x IS NOT NULL;

-- ... and their summary per run and scan (correlation per coordinate after the affine fit).
CREATE VIEW sim_rf_recovery AS SELECT b.experiment, b.figure, b.curve, b.x, b.run_id, m.scan,
    MAX(CASE WHEN m.name = 'rf_corr_x' THEN m.value END) AS rf_corr_x,
    MAX(CASE WHEN m.name = 'rf_corr_y' THEN m.value END) AS rf_corr_y,
    MAX(CASE WHEN m.name = 'rf_dist' THEN m.value END) AS rf_dist,
    MAX(CASE WHEN m.name = 'rf_px_corr_x' THEN m.value END) AS rf_px_corr_x,
    MAX(CASE WHEN m.name = 'rf_px_corr_y' THEN m.value END) AS rf_px_corr_y,
    MAX(CASE WHEN m.name = 'rf_px_dist' THEN m.value END) AS rf_px_dist,
    MAX(CASE WHEN m.name = 'rf_ceiling_corr_x' THEN m.value END) AS rf_ceiling_corr_x,
    MAX(CASE WHEN m.name = 'rf_ceiling_corr_y' THEN m.value END) AS rf_ceiling_corr_y
    FROM best_runs b JOIN metrics m ON m.run_id = b.run_id AND m.split = 'model'
    AND m.name IN ('rf_corr_x', 'rf_corr_y', 'rf_dist', 'rf_px_corr_x', 'rf_px_corr_y', 'rf_px_dist',
    'rf_ceiling_corr_x', 'rf_ceiling_corr_y')
    GROUP BY b.experiment, b.figure, b.curve, b.x, b.run_id, m.scan;

-- Simulated data: model vs ground-truth correlation, next to the single-trial and oracle.
CREATE VIEW sim_gt_correlation AS SELECT b.experiment, b.figure, b.curve, b.x, b.run_id, m.scan,
    MAX(CASE WHEN m.name = 'gt_corr' THEN m.value END) AS gt_corr,
    MAX(CASE WHEN m.name = 'corr' THEN m.value END) AS test_corr,
    MAX(CASE WHEN m.name = 'oracle' THEN m.value END) AS oracle,
    MAX(CASE WHEN m.name = 'fraction_oracle' THEN m.value END) AS fraction_oracle
    FROM best_runs b JOIN metrics m ON m.run_id = b.run_id AND m.split = 'test'
    AND m.name IN ('gt_corr', 'corr', 'oracle', 'fraction_oracle')
    GROUP BY b.experiment, b.figure, b.curve, b.x, b.run_id, m.scan HAVING gt_corr IS NOT NULL;

CREATE VIEW sim_gt_neurons AS SELECT b.experiment, b.figure, b.curve, b.x, b.run_id, n.scan,
    n.neuron, n.gt_corr, n.test_corr, n.oracle FROM best_runs b JOIN neuron_metrics n
    ON n.run_id = b.run_id WHERE n.gt_corr IS NOT NULL;

-- Readout parameters per neuron, by readout type and feature sharing.
CREATE VIEW readout_params AS SELECT json_extract(r.config, '$.model.readout.type') AS readout,
    json_extract(r.config, '$.model.readout.share_features') AS share_features,
    AVG(m.value) AS params_per_neuron, COUNT(*) AS runs
    FROM metrics m JOIN runs r ON r.id = m.run_id AND r.status = 'done'
    WHERE m.scan = 'all' AND m.split = 'model' AND m.name = 'readout_params_per_neuron'
    AND r.id IN (SELECT id FROM plan_runs WHERE figure = 'fig3') GROUP BY 1, 2;

-- docs/paper.md §0 and issue 7 item 2: the headline ratios next to the paper's.
CREATE VIEW headline AS WITH
    f3 AS (SELECT * FROM figure_summary WHERE figure = 'fig3'),
    f3x AS (SELECT MAX(x_total) AS xt FROM f3),
    f3s AS (SELECT MAX(CAST(style AS REAL)) AS st FROM f3 WHERE x_total = (SELECT xt FROM f3x)),
    f3full AS (SELECT curve, mean FROM f3 WHERE x_total = (SELECT xt FROM f3x)
    AND CAST(style AS REAL) = (SELECT st FROM f3s)),
    f5 AS (SELECT * FROM figure_summary WHERE figure = 'fig5'),
    f5full AS (SELECT curve, mean FROM f5 WHERE x = (SELECT MAX(x) FROM f5)),
    target AS (SELECT mean AS t FROM f5full WHERE curve = 'direct'),
    s11 AS (SELECT x, mean, LAG(x) OVER (ORDER BY x) AS px, LAG(mean) OVER (ORDER BY x) AS pm
    FROM f5 WHERE curve = '11-S'),
    reach AS (SELECT MIN(CASE WHEN s11.pm IS NULL OR s11.pm >= target.t OR s11.mean = s11.pm THEN s11.x
    ELSE s11.px + (s11.x - s11.px) * (target.t - s11.pm) / (s11.mean - s11.pm) END) AS xr
    FROM s11, target WHERE s11.mean >= target.t),
    pp AS (SELECT readout, share_features, params_per_neuron FROM readout_params)
    SELECT 'gaussian_vs_factorized' AS name,
    (SELECT mean FROM f3full WHERE curve = 'Gaussian w/ f-s')
    / (SELECT mean FROM f3full WHERE curve = 'Factorized w/o f-s') AS ours,
    (SELECT value FROM paper_headline WHERE name = 'gaussian_vs_factorized') AS paper,
    'Fig. 3, most data and neurons: fraction oracle of Gaussian w/ f-s over factorized w/o f-s'
    AS description
    UNION ALL SELECT 'transfer_11s_vs_direct',
    (SELECT mean FROM f5full WHERE curve = '11-S') / (SELECT mean FROM f5full WHERE curve = 'direct'),
    (SELECT value FROM paper_headline WHERE name = 'transfer_11s_vs_direct'),
    'Fig. 5, most images: 11-S core transferred over direct training'
    UNION ALL SELECT 'transfer_11s_vs_vgg16',
    (SELECT mean FROM f5full WHERE curve = '11-S') / (SELECT mean FROM f5full WHERE curve = 'VGG16'),
    (SELECT value FROM paper_headline WHERE name = 'transfer_11s_vs_vgg16'),
    'Fig. 5, most images: 11-S core over the ImageNet VGG16 core'
    UNION ALL SELECT 'transfer_11s_vs_random_vgg16',
    (SELECT mean FROM f5full WHERE curve = '11-S')
    / (SELECT mean FROM f5full WHERE curve = 'random VGG16'),
    (SELECT value FROM paper_headline WHERE name = 'transfer_11s_vs_random_vgg16'),
    'Fig. 5, most images: 11-S core over a random VGG16 core'
    UNION ALL SELECT 'images_fraction_11s_reaches_direct',
    (SELECT xr FROM reach) / (SELECT MAX(x) FROM f5),
    (SELECT value FROM paper_headline WHERE name = 'images_fraction_11s_reaches_direct'),
    'Fig. 5: fraction of the images at which the 11-S curve (linear interpolation) reaches direct training''s full-data score'
    UNION ALL SELECT 'params_per_neuron_gaussian',
    (SELECT AVG(params_per_neuron) FROM pp WHERE readout = 'gaussian' AND NOT share_features),
    (SELECT value FROM paper_headline WHERE name = 'params_per_neuron_gaussian'),
    'readout parameters per neuron, Gaussian readout (docs/paper.md §2.6)'
    UNION ALL SELECT 'params_per_neuron_gaussian_shared',
    (SELECT AVG(params_per_neuron) FROM pp WHERE readout = 'gaussian' AND share_features),
    (SELECT value FROM paper_headline WHERE name = 'params_per_neuron_gaussian_shared'),
    'readout parameters per neuron not shared across scans, Gaussian readout with feature sharing'
    UNION ALL SELECT 'params_per_neuron_factorized',
    (SELECT AVG(params_per_neuron) FROM pp WHERE readout = 'factorized' AND NOT share_features),
    (SELECT value FROM paper_headline WHERE name = 'params_per_neuron_factorized'),
    'readout parameters per neuron, factorized readout (docs/paper.md §2.6)';
