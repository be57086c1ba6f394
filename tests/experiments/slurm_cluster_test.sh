#!/usr/bin/env bash
# cube run --launcher slurm on a real single-node Slurm (scripts/slurm-local.sh): the sweep's
# table equals the local run's for every deterministic metric, rows name their Slurm job, a rerun
# submits nothing, --no-wait + cube collect gathers a batch later, and a cancelled task is reported
# with its log.
# Usage: slurm_cluster_test.sh CUBE_BINARY SOURCE_DIR. Exits 77 (skipped) unless run as root
# with Debian's munge, slurmctld, slurmd and slurm-client installed (scripts/cube-setup.sh test
# installs them).
set -euo pipefail
cube="$1"
source_dir="$2"
[ "$(id -u)" -eq 0 ] || { echo "not root: skipped"; exit 77; }
for p in munge slurmctld slurmd slurm-client; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] \
    || { echo "$p is not installed: skipped"; exit 77; }
done

started=0
states="$(sinfo -h -o %T 2>/dev/null || true)"
if ! [[ "$states" =~ idle|mixed|allocated ]]; then
  bash "$source_dir/scripts/slurm-local.sh" up
  started=1
fi
work="$(mktemp -d)"
cleanup() {
  cd /
  rm -rf "$work"
  if [ "$started" -eq 1 ]; then bash "$source_dir/scripts/slurm-local.sh" down; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cd "$work"
git init -q
git -c user.name=t -c user.email=t@t commit -q --allow-empty -m scratch
cat > sweep.yaml <<'EOF'
problem: {name: sparse_parity, n: 20, k: 3, n_train: 500, n_test: 100}
solver: {name: sgd, hidden: 64, max_epochs: 20}
metrics: [accuracy, epochs, ard]
seeds: [1, 2, 3]
sweep:
  solver.name: [gf2, sgd]
EOF

echo "== local"
"$cube" run sweep.yaml --store local.db -q --format csv > local.csv
echo "== slurm, 2 jobs per array task"
"$cube" run sweep.yaml --launcher slurm --chunk 2 --store slurm.db --format csv > slurm.csv \
  2> slurm.err || { cat slurm.err; fail "slurm run"; }
cat slurm.err slurm.csv
diff local.csv slurm.csv || fail "the Slurm table differs from the local one"
grep -q "6 jobs in 3 array tasks" slurm.err || fail "not 3 array tasks"
"$cube" results --all --store slurm.db > rows.txt
grep -Eq "Release slurm [0-9]+_2" rows.txt || fail "rows do not name their Slurm job and array task"
[ -z "$(ls slurm 2>/dev/null)" ] || fail "the collected batch folder was left behind"

echo "== rerun submits nothing"
rows="$("$cube" results --all --store slurm.db --format csv | wc -l)"
"$cube" run sweep.yaml --launcher slurm --store slurm.db > /dev/null 2> rerun.err
grep -q "nothing to submit" rerun.err || { cat rerun.err; fail "a rerun submitted jobs"; }
[ "$("$cube" results --all --store slurm.db --format csv | wc -l)" = "$rows" ] \
  || fail "a rerun changed the rows"

echo "== --no-wait, then cube collect"
"$cube" run sweep.yaml --set seeds=7,8 --launcher slurm --no-wait --store slurm.db 2> nowait.err
grep -q "cube collect" nowait.err || { cat nowait.err; fail "no hint to collect"; }
expected=$((rows + 12))  # 2 cells x 2 seeds x 3 values
for _ in $(seq 60); do
  "$cube" collect slurm.db 2>> collect.err || true
  [ "$("$cube" results --all --store slurm.db --format csv | wc -l)" = "$expected" ] && break
  sleep 1
done
cat collect.err
[ "$("$cube" results --all --store slurm.db --format csv | wc -l)" = "$expected" ] \
  || fail "cube collect did not gather the batch"
"$cube" collect slurm.db 2> again.err
grep -q "nothing to collect" again.err || { cat again.err; fail "a second collect did something"; }
echo "== a cancelled task is reported with its log"
cat > slow.yaml <<'EOF'
problem: {name: sparse_parity, n: 64, k: 8, n_train: 2000, n_test: 200}
solver: {name: sgd, max_epochs: 1000000}
metrics: [accuracy]
EOF
"$cube" run slow.yaml --launcher slurm --no-wait --store slurm.db 2> slow.err
job="$(sed -n 's/^submitted Slurm job \([0-9]*\):.*/\1/p' slow.err)"
[ -n "$job" ] || { cat slow.err; fail "no job id"; }
for _ in $(seq 30); do
  [ "$(squeue -h -j "$job" -o %T 2>/dev/null || true)" = RUNNING ] && break
  sleep 1
done
scancel "$job"
for _ in $(seq 30); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null || true)" ] && break
  sleep 1
done
status=0
"$cube" collect slurm.db 2> cancelled.err || status=$?
cat cancelled.err
[ "$status" -eq 1 ] || fail "a cancelled task: collect exited $status, not 1"
log="$(sed -n 's/.*: exit 255; log \(.*task_0.log\)$/\1/p' cancelled.err)"
[ -n "$log" ] || fail "the cancelled task was not reported with its log"
grep -q "left the Slurm queue" "$log" || fail "the log does not say what happened"
echo "PASS"
