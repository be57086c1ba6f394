// cube/solvers/gf2/predict_parity.h: predictions of a recovered parity, shared by the GF(2)
// solvers. For each test row t: prediction = prod_{i in S} x_t[i] (the sign flips once per -1).
// Trace per row: read secret (already written as buffer `secret_id`), read x_test[t][i] for
// each i in S, write predictions[t]; op_end. Cost: O(n_test |S|).
#pragma once

#include <cstdint>
#include <vector>

#include "core/trace.h"
#include "problems/problem.h"

namespace cube {

template <class Tracer>
std::vector<std::int8_t> predict_parity(const BinaryDataset& data, const std::vector<int>& secret,
                                        BufferId secret_id, Tracer& tracer) {
  const std::int64_t n = data.n_bits, n_test = data.n_test;
  const BufferId x_test_id = tracer.buffer("x_test", 1, static_cast<std::uint64_t>(n_test * n));
  const BufferId predictions_id =
      tracer.buffer("predictions", 1, static_cast<std::uint64_t>(n_test));
  std::vector<std::int8_t> predictions(static_cast<std::size_t>(n_test));
  for (std::int64_t t = 0; t < n_test; ++t) {
    const std::int8_t* x = data.test_row(t);
    int negatives = 0;
    for (int i : secret) negatives += x[i] < 0;
    predictions[static_cast<std::size_t>(t)] = (negatives & 1) ? -1 : 1;
    if constexpr (Tracer::kEnabled) {
      if (!secret.empty()) tracer.read(secret_id, 0, secret.size());
      for (int i : secret) tracer.read(x_test_id, static_cast<std::uint64_t>(t * n + i), 1);
      tracer.write(predictions_id, static_cast<std::uint64_t>(t), 1);
      tracer.op_end();
    }
  }
  return predictions;
}

}  // namespace cube
