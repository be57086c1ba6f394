// cube/problems/problem.cc: the shared scoring of problems.

#include "problems/problem.h"

#include "core/spec.h"

namespace cube {

double Problem::accuracy(std::span<const std::int8_t> test_predictions) const {
  const BinaryDataset* data = binary_dataset();
  // Problems offering other capabilities (oracle, corpus) override this.
  CUBE_CHECK(data != nullptr, "problem '" << name() << "' has no default accuracy");
  CUBE_CHECK(static_cast<std::int64_t>(test_predictions.size()) == data->n_test,
             "expected " << data->n_test << " predictions, got " << test_predictions.size());
  if (data->n_test == 0) return 0.0;
  std::int64_t right = 0;
  for (std::int64_t i = 0; i < data->n_test; ++i)
    right += test_predictions[i] == data->y_test[i] &&
             (data->label_kind != LabelKind::kSign || test_predictions[i] != 0);
  return static_cast<double>(right) / static_cast<double>(data->n_test);
}

std::unique_ptr<Problem> make_problem(const std::string& spec, std::uint64_t seed) {
  auto problem = instantiate<Problem>(parse_spec(spec), "problem");
  problem->generate(seed);
  return problem;
}

}  // namespace cube
