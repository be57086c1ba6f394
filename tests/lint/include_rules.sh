#!/usr/bin/env bash
# Lint: the three axes never include each other's code; only experiments/plan.cc parses YAML;
# every OpenMP parallel region states its thread count. Usage: include_rules.sh SOURCE_DIR
set -u
root="${1:?source dir}"
status=0
check() {  # check DIR REGEX WHY
  local hits
  hits=$(grep -rnE "^#include [<\"]($2)" "$root/$1" --include='*.h' --include='*.cc' || true)
  if [ -n "$hits" ]; then echo "$3:"; echo "$hits"; status=1; fi
}
check core "problems/|solvers/|metrics/|experiments/" "core/ is vocabulary only"
check problems "solvers/|metrics/|experiments/" "problems/ may include only core/"
check solvers "metrics/|experiments/" "solvers/ may include only core/ and problems/"
check metrics "problems/|solvers/|experiments/" "metrics/ may include only core/"
yaml=$(grep -rlE '^#include [<"]yaml-cpp' "$root"/{core,problems,solvers,metrics,experiments} \
  --include='*.h' --include='*.cc' | grep -v 'experiments/plan.cc$' || true)
if [ -n "$yaml" ]; then echo "only experiments/plan.cc may include yaml-cpp:"; echo "$yaml"; status=1; fi
omp=$(grep -rnE '#pragma omp parallel' "$root"/{core,problems,solvers,metrics,experiments} \
  --include='*.h' --include='*.cc' | grep -v 'num_threads' || true)
if [ -n "$omp" ]; then echo "OpenMP parallel regions must set num_threads(...):"; echo "$omp"; status=1; fi
[ $status -eq 0 ] && echo "include rules: ok"
exit $status
