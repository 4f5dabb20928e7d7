-- plots/worlds.sql - the paper's findings across simulated worlds (issue 20): the schema of
-- worlds.db, which scripts/nsid-worlds.sh fills from the results folders of several worlds
-- (make -f Makefile.experiments worlds SIM_SEEDS="1 2 3"). A world is the simulator's seed:
-- the same profile, specs and model on other simulated animals. Each world's rows are its
-- store's report_findings (plots/findings.sql), copied as they are; nothing is recomputed here.
--
--   world               one row per world: its seed, results folder, profile, runs, times
--   world_finding       one row per (world, finding): holds (1, 0, NULL = no data), margin
--                       (the measured quantity minus the threshold; holds = margin >= 0, or
--                       > 0 for a strict finding), what the margin measures, and the detail
--   findings_by_world   one row per finding: in how many worlds it was checked and held, and
--                       the spread of its margin over the worlds (smallest, mean, sd, largest)
--   report_worlds       findings_by_world as the report's table, with each world's margin

CREATE TABLE world (
  sim_seed INTEGER PRIMARY KEY NOT NULL,
  results TEXT NOT NULL,          -- the results folder, as given
  profile TEXT NOT NULL,
  runs_planned INTEGER NOT NULL,
  runs_done INTEGER NOT NULL,
  wall_min REAL,                  -- plot_run_totals (plots/views.sql): the planned runs'
  cpu_min REAL,                   -- first start to last end, and the done ones' CPU time
  code_version TEXT
) STRICT;

CREATE TABLE world_finding (
  sim_seed INTEGER NOT NULL REFERENCES world (sim_seed),
  ord INTEGER NOT NULL,           -- the finding's place in report_findings
  finding TEXT NOT NULL,
  holds INTEGER,
  margin REAL,
  margin_of TEXT,
  detail TEXT,
  PRIMARY KEY (sim_seed, ord)
) STRICT;

CREATE VIEW findings_by_world AS
SELECT MIN(ord) AS ord, finding, COUNT(*) AS worlds, SUM(holds IS NOT NULL) AS checked,
       SUM(COALESCE(holds, 0)) AS holding, SUM(holds = 0) AS failing,
       MIN(margin) AS min_margin, AVG(margin) AS mean_margin,
       CASE WHEN COUNT(margin) > 1
            THEN sqrt(MAX(SUM(margin * margin) - SUM(margin) * SUM(margin) / COUNT(margin), 0) / (COUNT(margin) - 1))
       END AS sd_margin,
       MAX(margin) AS max_margin, MAX(margin_of) AS margin_of
FROM world_finding
GROUP BY finding
ORDER BY MIN(ord);

CREATE VIEW report_worlds AS
SELECT f.ord, f.finding,
       printf('%d of %d', f.holding, f.worlds) AS holds_in,
       (SELECT GROUP_CONCAT(x, ' | ') FROM
          (SELECT CASE WHEN w.holds IS NULL THEN 'no data'
                       ELSE printf('%+.3f%s', w.margin, CASE WHEN w.holds THEN '' ELSE ' NO' END) END AS x
           FROM world_finding w WHERE w.finding = f.finding ORDER BY w.sim_seed)) AS margins,
       CASE WHEN f.checked = 0 THEN ''
            ELSE printf('%+.3f .. %+.3f', f.min_margin, f.max_margin)
                 || CASE WHEN f.sd_margin IS NULL THEN '' ELSE printf(' (mean %+.3f, sd %.3f)', f.mean_margin, f.sd_margin) END
       END AS spread,
       f.margin_of
FROM findings_by_world f
ORDER BY f.ord;
