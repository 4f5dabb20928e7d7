# fake_stages.sh - stand-ins for nsid-simulate, nsid-train and nsid-eval, sourced by the make tests
# (test_makefile.sh, test_slurm.sh). They write synthetic records through the sqlite3 shell so the
# make machinery (DAG, selections, merge, reruns, launching) is tested in seconds; nothing they
# write is a result.
#   make_fake_stages DIR BIN   DIR gets the stand-ins, links to BIN/nsid-plan and BIN/nsid-db, and a
#                              build stamp newer than every source (so no real build runs)
# The stand-in nsid-train appends "ID SLURM_JOB_ID" to $FAKE_LOG and fails for run $FAKE_TRAIN_FAIL.
make_fake_stages() {
    local dir=$1 bin=$2
    mkdir -p "$dir"
    ln -sf "$bin/nsid-plan" "$dir/nsid-plan"
    ln -sf "$bin/nsid-db" "$dir/nsid-db"
    cat >"$dir/nsid-simulate" <<'EOF'
#!/usr/bin/env bash
# stand-in: --profile P [--seed N] --out DIR -> DIR/{a,b,e}.h5 (their bytes name the seed: one
# world's scans differ from another's) and DIR/groups.json; appends "PROFILE SEED DIR" to
# $FAKE_SIM_LOG when that is set
set -e
seed=1 profile=
while [ $# -gt 0 ]; do case $1 in --out) out=$2; shift;; --seed) seed=$2; shift;; --profile) profile=$2; shift;; esac; shift; done
mkdir -p "$out"
[ -z "${FAKE_SIM_LOG:-}" ] || echo "$profile $seed $out" >> "$FAKE_SIM_LOG"
for f in a b e; do printf '\211HDF\r\n\032\nsynthetic scan %s seed %s\n' $f "$seed" > "$out/$f.h5"; done # an HDF5 signature: a scan to nsid-plan
echo '{"generator": "nsid-simulate", "groups": {"two": ["a.h5", "b.h5"], "evaluation": {"label": "Evaluation", "files": ["e.h5"]}},
 "scans": [{"file": "e.h5", "data_key": "9-9-9-0", "animal": 9, "image_set": 0}]}' > "$out/groups.json"
EOF
    cat >"$dir/nsid-train" <<'EOF'
#!/usr/bin/env bash
# stand-in: records a running run in OUT/run.db and a checkpoint naming the core it was given
set -e
core=none
while [ $# -gt 0 ]; do
  case $1 in --config) cfg=$2; shift;; --out) out=$2; shift;; --run-id) id=$2; shift;;
             --set) case $2 in model.core.checkpoint=*) core=${2#*=};; esac; shift;;
             --data|--threads) shift;; esac
  shift
done
if [ -n "${FAKE_TRAIN_FAIL:-}" ] && [ "$id" = "$FAKE_TRAIN_FAIL" ]; then echo "synthetic failure" >&2; exit 3; fi
echo "$id ${SLURM_JOB_ID:-}" >> "$FAKE_LOG"
mkdir -p "$out"
"$(dirname "$0")/nsid-db" init "$out/run.db"
sqlite3 "$out/run.db" "INSERT OR REPLACE INTO runs (id, config, status) VALUES ('$id', CAST(readfile('$cfg') AS TEXT), 'running')"
echo "checkpoint of $id with core $core" > "$out/checkpoint.h5"
EOF
    cat >"$dir/nsid-eval" <<'EOF'
#!/usr/bin/env bash
# stand-in: a synthetic validation score from the run id, then 'done'
set -e
while [ $# -gt 0 ]; do case $1 in --db) db=$2; shift;; --data|--checkpoint|--run-id) shift;; esac; shift; done
id=$(sqlite3 "$db" "SELECT id FROM runs")
v=$(( 0x${id:0:4} ))
sqlite3 "$db" "INSERT INTO metrics VALUES ('$id','all','validation','corr',$v/65536.0),
  ('$id','all','test','fraction_oracle',$v/65536.0); UPDATE runs SET status='done', ended='now' WHERE id='$id'"
EOF
    chmod +x "$dir/nsid-simulate" "$dir/nsid-train" "$dir/nsid-eval"
    touch "$dir/.nsid-built"
}
