#!/usr/bin/env bash
# cube diff REV_A REV_B SWEEP end to end, in a scratch git repository holding this source tree:
#   base     the tree as it is
#   readme   base + a README line                  -> flags nothing
#   slow     readme + add_compile_options(-O0)      -> sgd's wall_time "slower", p < 0.05
#   changed  readme + He init std sqrt(2/n)->sqrt(1/n) -> accuracy "changed", both values shown
#   broken   readme + an #error                     -> exit 3, the build log named, nothing stored
# and a second diff of the same commits builds and runs nothing.
# Usage: diff_builds_test.sh CUBE_BINARY SOURCE_DIR. Exits 77 (skipped) without git or a checkout.
set -euo pipefail
cube="$1"
source_dir="$2"
command -v git >/dev/null || { echo "git not found: skipped"; exit 77; }
git -C "$source_dir" rev-parse --git-dir >/dev/null 2>&1 || { echo "not a checkout: skipped"; exit 77; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CCACHE_DIR="$work/ccache"  # hermetic: this test neither reads nor fills the user's cache
repo="$work/repo"
mkdir "$repo"
(cd "$source_dir" && git ls-files -z --cached | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | xargs -0 cp --parents -t "$repo")

fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$repo"
git init -q
git config user.email test@cube.invalid
git config user.name "cube test"
cat > sweep.yaml <<'EOF'
problem: {name: sparse_parity, n: 20, k: 3, n_train: 1000, n_test: 200}
solver:  {name: sgd, hidden: 200, lr: 0.1, wd: 0.01, batch: 32, max_epochs: 40}
metrics: [accuracy, wall_time]
seeds: [42, 43]
EOF
git add -A && git commit -qm base && git tag base
echo "A line that changes no code." >> README.md
git commit -qam "readme only" && git tag readme
sed -i 's/^project(cube .*)$/&\nadd_compile_options(-O0)/' CMakeLists.txt
grep -q '^add_compile_options(-O0)$' CMakeLists.txt || fail "could not insert -O0"
git commit -qam "built -O0" && git tag slow && git checkout -q readme
grep -q 'std::sqrt(2.0 / static_cast<double>(na))' models/mlp/mlp_net.cc || fail "He init moved"
sed -i 's|std::sqrt(2.0 / static_cast<double>(na))|std::sqrt(1.0 / static_cast<double>(na))|' \
  models/mlp/mlp_net.cc
git commit -qam "smaller init" && git tag changed && git checkout -q readme
echo '#error deliberately broken' >> models/mlp/mlp_net.cc
git commit -qam "broken" && git tag broken && git checkout -q readme

rows() { "$cube" results --all --format csv | wc -l; }
# Fields of the diff rows whose metric is $2 in CSV output $1, one row per line:
# old value, new value, p, verdict.
fields() {
  python3 -c 'import csv, sys
for r in list(csv.reader(open(sys.argv[1])))[1:]:
    if r[2] == sys.argv[2]: print(r[3], r[4], r[7] or "-", r[8])' "$1" "$2"
}
# The distinct verdicts of metric $2 in $1.
verdicts() { fields "$1" "$2" | awk '{ print $4 }' | sort -u | tr '\n' ' '; }

# Nothing changed between base and readme, so any wall-time verdict is a false positive: at the
# default alpha 0.05 one run in twenty may show one. This test must not flake, so it asks for
# p < 0.01 (the -O0 build below is flagged at p ~ 0.0002 either way).
echo "== base -> readme (builds both)"
"$cube" diff base readme sweep.yaml --alpha 0.01 --format csv > readme.csv 2> readme.err \
  || { cat readme.err; fail "diff base readme"; }
cat readme.err readme.csv
grep -q "building base" readme.err || fail "base was not built"
grep -q "building readme" readme.err || fail "readme was not built"
[ -f .cube/builds/"$(git rev-parse base)"/build/cube ] || fail "no cached build of base"
[ "$(verdicts readme.csv accuracy)" = "same " ] || fail "accuracy flagged on a README change"
case "$(verdicts readme.csv wall_time)" in
  "~ ") ;;
  *) fail "wall_time flagged on a README change: $(verdicts readme.csv wall_time)" ;;
esac
stored="$(rows)"

echo "== base -> readme again (builds and runs nothing)"
"$cube" diff base readme sweep.yaml --alpha 0.01 --format csv > again.csv 2> again.err
if grep -Eq "building|running" again.err; then cat again.err; fail "second diff did work"; fi
[ "$(rows)" = "$stored" ] || fail "second diff stored rows"
diff readme.csv again.csv || fail "second diff printed another table"

echo "== readme -> slow (-O0)"
"$cube" diff readme slow sweep.yaml --format csv > slow.csv 2> slow.err \
  || { cat slow.err; fail "diff readme slow"; }
cat slow.csv
fields slow.csv wall_time | awk '{ found = 1; if (!($4 == "slower" && $3 < 0.05)) bad = 1 }
  END { exit !(found && !bad) }' || fail "-O0 not flagged slower with p < 0.05"
[ "$(verdicts slow.csv accuracy)" = "same " ] || fail "-O0 changed accuracy"

echo "== readme -> changed (deterministic metric)"
"$cube" diff readme changed sweep.yaml --format csv > changed.csv 2> changed.err \
  || { cat changed.err; fail "diff readme changed"; }
cat changed.csv
fields changed.csv accuracy | awk '$4 == "changed" && $1 != $2 { found = 1 } END { exit !found }' \
  || fail "changed accuracy not shown as changed"

echo "== readme -> broken (does not build)"
stored="$(rows)"
status=0
"$cube" diff readme broken sweep.yaml > broken.out 2> broken.err || status=$?
cat broken.err
[ "$status" = 3 ] || fail "a failed build exited $status, not 3"
log=".cube/builds/$(git rev-parse broken)/build.log"
grep -q "failed to build" broken.err || fail "no build error"
grep -qF "$log" broken.err || fail "the error does not name $log"
grep -q "deliberately broken" "$log" || fail "the log lacks the compiler's error"
[ "$(rows)" = "$stored" ] || fail "a failed build stored rows"
echo "PASS"
