// cube/problems/sparse_parity/sparse_parity_oracle.cc: sparse parity behind a counting membership
// oracle (no training samples); see sparse_parity_oracle.h.

#include "problems/sparse_parity/sparse_parity_oracle.h"

#include <string>

#include "problems/sparse_parity/sparse_parity.h"

namespace cube {

SparseParityOracle::SparseParityOracle(SparseParityOracleConfig config) : config_(config) {
  check_sparse_shape(config_.n, config_.k, static_cast<std::uint64_t>(config_.n_test), "n_test");
}

void SparseParityOracle::generate(std::uint64_t seed) {
  BinaryDataset rows;
  draw_sparse_inputs(seed, config_.n, config_.k, 0, config_.n_test, secret_, rows);
  oracle_ = QueryOracle(LabelKind::kSign, config_.n, [secret = secret_](const std::int8_t* x) {
    return parity_label(x, secret);
  });
  oracle_.n_test = config_.n_test;
  oracle_.x_test = std::move(rows.x_test);
  oracle_.y_test.resize(static_cast<std::size_t>(config_.n_test));
  for (std::int64_t r = 0; r < config_.n_test; ++r)
    oracle_.y_test[static_cast<std::size_t>(r)] = parity_label(oracle_.test_row(r), secret_);
  generated_ = true;
}

std::optional<std::vector<int>> SparseParityOracle::secret() const {
  if (!generated_) return std::nullopt;
  return secret_;
}

double SparseParityOracle::accuracy(std::span<const std::int8_t> test_predictions) const {
  CUBE_CHECK(generated_, "sparse_parity_oracle: accuracy() before generate()");
  CUBE_CHECK(static_cast<std::int64_t>(test_predictions.size()) == oracle_.n_test,
             "expected " << oracle_.n_test << " predictions, got " << test_predictions.size());
  std::int64_t right = 0;
  for (std::int64_t i = 0; i < oracle_.n_test; ++i)
    right += test_predictions[static_cast<std::size_t>(i)] != 0 &&
             test_predictions[static_cast<std::size_t>(i)] ==
                 oracle_.y_test[static_cast<std::size_t>(i)];
  return static_cast<double>(right) / static_cast<double>(oracle_.n_test);
}

CUBE_REGISTER(Problem, SparseParityOracle, SparseParityOracleConfig, "sparse_parity_oracle",
              "sparse parity behind a counting membership-query oracle (KM); no i.i.d. samples");

}  // namespace cube
