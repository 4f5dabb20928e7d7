-- src/exp/sql/tables.sql - the tables of the results store (one schema for a run's own run.db and
-- for the merged results/results.db; src/exp/store.h), created with IF NOT EXISTS in this order.
--
-- Built into libnsid (cmake/embed_sql.cmake; the rules of the file are in views.sql's head). Every
-- table is STRICT (schema 5). A new table, or a new column, changes the schema: bump
-- NSID_STORE_SCHEMA_VERSION (store.h); an existing store then gets the new tables when it is opened
-- read-write (a new column of an existing table needs a migration in store.c, as migrate_strict).
-- results/README.md documents every column.

CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY NOT NULL,  -- sha256 of the run's identity (nsid-plan)
    experiment TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL DEFAULT '{}',  -- resolved configuration, canonical JSON
    seed INTEGER,  -- train.seed
    seeds TEXT,  -- JSON: train, image, neuron, multi_match seeds
    parent TEXT,  -- run whose core was transferred
    status TEXT NOT NULL DEFAULT 'planned' CHECK (status IN ('planned','running','done','failed')),
    started TEXT, ended TEXT,  -- ISO 8601 UTC
    wall_s REAL, cpu_s REAL,  -- summed over the run's stages
    exit_code INTEGER, error TEXT,
    git_commit TEXT, git_dirty INTEGER,
    compiler TEXT, flags TEXT, blas TEXT, threads INTEGER, host TEXT) STRICT;

CREATE TABLE IF NOT EXISTS datasets (
    sha256 TEXT PRIMARY KEY NOT NULL,  -- content hash: the identity of a scan file
    path TEXT NOT NULL, data_key TEXT, animal TEXT, image_set TEXT, bytes INTEGER,
    n_neurons INTEGER, n_trials INTEGER, n_train INTEGER, n_validation INTEGER, n_test INTEGER) STRICT;

CREATE TABLE IF NOT EXISTS run_datasets (
    run_id TEXT NOT NULL, position INTEGER NOT NULL, dataset TEXT NOT NULL, path TEXT, data_key TEXT,
    n_train INTEGER, n_neurons INTEGER,  -- used by the run, after subsetting
    PRIMARY KEY (run_id, position)) STRICT;

CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL, epoch INTEGER NOT NULL, round INTEGER, lr REAL, train_loss REAL,
    val_corr REAL, seconds REAL, PRIMARY KEY (run_id, epoch)) STRICT;

CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL, scan TEXT NOT NULL, split TEXT NOT NULL, name TEXT NOT NULL, value REAL,
    PRIMARY KEY (run_id, scan, split, name)) STRICT;

CREATE TABLE IF NOT EXISTS neuron_metrics (
    run_id TEXT NOT NULL, scan TEXT NOT NULL, neuron INTEGER NOT NULL, unit_id INTEGER,
    val_corr REAL, test_corr REAL, test_corr_avg REAL, oracle REAL, fev REAL, feve REAL, gt_corr REAL,
    true_x REAL, true_y REAL, rf_x REAL, rf_y REAL, rf_dist REAL,
    PRIMARY KEY (run_id, scan, neuron)) STRICT;

CREATE TABLE IF NOT EXISTS artifacts (
    run_id TEXT NOT NULL, path TEXT NOT NULL, role TEXT NOT NULL, sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL, PRIMARY KEY (run_id, path)) STRICT;

CREATE TABLE IF NOT EXISTS plan_runs (
    experiment TEXT NOT NULL, id TEXT NOT NULL, variant TEXT NOT NULL DEFAULT '',
    sel_group TEXT NOT NULL,  -- runs that compete in best-by-validation selection
    data_group TEXT, n_scans INTEGER,
    figure TEXT, panel TEXT NOT NULL DEFAULT '', curve TEXT NOT NULL DEFAULT '',
    style TEXT NOT NULL DEFAULT '', x REAL,
    vars TEXT NOT NULL DEFAULT '{}',  -- the spec's var.* values, JSON
    identity TEXT NOT NULL,  -- the JSON whose sha256 is id
    data_paths TEXT NOT NULL DEFAULT '[]', core_selection TEXT, spec TEXT,
    PRIMARY KEY (experiment, id)) STRICT;

CREATE INDEX IF NOT EXISTS plan_runs_id ON plan_runs (id);

CREATE TABLE IF NOT EXISTS plan_selections (
    id TEXT NOT NULL, rule TEXT NOT NULL, candidate TEXT NOT NULL, PRIMARY KEY (id, candidate)) STRICT;

CREATE TABLE IF NOT EXISTS plan_info (key TEXT PRIMARY KEY NOT NULL, value TEXT) STRICT;

-- The plot declarations of the plan: one row per distinct (figure, experiment, y, x key, spec line).
CREATE TABLE IF NOT EXISTS plan_figures (
    figure TEXT NOT NULL, experiment TEXT NOT NULL,
    metric TEXT NOT NULL DEFAULT '',  -- plot.y, '' if not given
    x_key TEXT NOT NULL DEFAULT '',  -- plot.x's $KEY, '' if a literal
    spec TEXT NOT NULL,  -- file:line of plot.figure
    PRIMARY KEY (figure, experiment, metric, x_key, spec)) STRICT;

CREATE TABLE IF NOT EXISTS dataset_groups (
    grp TEXT NOT NULL, label TEXT, position INTEGER NOT NULL, dataset TEXT NOT NULL, path TEXT,
    PRIMARY KEY (grp, position)) STRICT;

CREATE TABLE IF NOT EXISTS paper_values (
    figure TEXT NOT NULL, panel TEXT NOT NULL, curve TEXT NOT NULL, style TEXT NOT NULL,
    x REAL NOT NULL, value REAL NOT NULL, PRIMARY KEY (figure, panel, curve, style, x)) STRICT;

CREATE TABLE IF NOT EXISTS paper_headline (name TEXT PRIMARY KEY NOT NULL, value REAL, source TEXT) STRICT;

-- Where the merged copy of each run came from: the run database it was merged from, and when (a
-- refused merge names it). Empty in a run's own run.db.
CREATE TABLE IF NOT EXISTS run_sources (
    run_id TEXT PRIMARY KEY NOT NULL, path TEXT NOT NULL, merged TEXT NOT NULL) STRICT;

-- Schema 6 (docs/results.md): a user's tags (key = value) and notes on runs, set by nsid-db tag and
-- note; a merge carries a run database's over and never drops the store's.
CREATE TABLE IF NOT EXISTS run_tags (
    run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, set_at TEXT NOT NULL,
    PRIMARY KEY (run_id, key)) STRICT;

CREATE TABLE IF NOT EXISTS run_notes (
    run_id TEXT NOT NULL, created TEXT NOT NULL, text TEXT NOT NULL,
    PRIMARY KEY (run_id, created, text)) STRICT;
