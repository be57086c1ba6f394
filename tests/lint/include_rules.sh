#!/usr/bin/env bash
# Lint: the dependency rule of the cube (docs/architecture.md). The three axes never include
# each other's code; models/ know no problem, solver or metric; experiments/ names no solver
# family (only solvers/solver.h); only experiments/plan.cc parses
# YAML; every OpenMP parallel region states its thread count. Run by CMake at configure time and
# by CTest. Usage: include_rules.sh SOURCE_DIR
set -u
root="${1:?source dir}"
status=0
check() {  # check DIR REGEX WHY
  local hits
  hits=$(grep -rnE "^#include [<\"]($2)" "$root/$1" --include='*.h' --include='*.cc' \
    --include='*.inc' || true)
  if [ -n "$hits" ]; then echo "$3:"; echo "$hits"; status=1; fi
}
check core "problems/|models/|solvers/|metrics/|experiments/|yaml-cpp" "core/ is vocabulary only"
check models "problems/|solvers/|metrics/|experiments/|yaml-cpp" "models/ may include only core/ and models/"
check problems "models/|solvers/|metrics/|experiments/|yaml-cpp" "problems/ may include only core/ and problems/"
check solvers "metrics/|experiments/|yaml-cpp" "solvers/ may include only core/, models/, problems/ and solvers/"
check metrics "problems/|models/|solvers/|experiments/|yaml-cpp" "metrics/ may include only core/ and metrics/"
check experiments "solvers/[a-z0-9_]+/" "experiments/ may include solvers/solver.h but no solver family"
yaml=$(grep -rlE '^#include [<"]yaml-cpp' "$root"/experiments --include='*.h' --include='*.cc' |
  grep -v 'experiments/plan.cc$' || true)
if [ -n "$yaml" ]; then echo "only experiments/plan.cc may include yaml-cpp:"; echo "$yaml"; status=1; fi
omp=$(grep -rnE '#pragma omp parallel' "$root"/{core,models,problems,solvers,metrics,experiments} \
  --include='*.h' --include='*.cc' --include='*.inc' | grep -v 'num_threads' || true)
if [ -n "$omp" ]; then echo "OpenMP parallel regions must set num_threads(...):"; echo "$omp"; status=1; fi
[ $status -eq 0 ] && echo "include rules: ok"
exit $status
