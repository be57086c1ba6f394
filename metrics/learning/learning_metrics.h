// cube/metrics/learning/learning_metrics.h: metrics of a training run read off
// RunOutcome::measures, the scalars the solver measured itself. They need no trace.
//
// The measure names below are the contract with the solvers that fill them (char_lm trainers):
//   train_loss           mean cross-entropy on the train split at the final evaluation, in nats
//                        per char (natural log), averaged over eval_iters batches
//   val_loss             the same on the val split at the final evaluation, nats per char
//   best_val_loss        the lowest val_loss over all evaluations of the run, nats per char
//   tokens_per_second    training tokens processed per second of wall time (noisy)
//   flops_per_iteration  floating-point operations of one training iteration (forward,
//                        backward, update) as the solver's header states its formula (e.g.
//                        nanoGPT's 6 N + 6 L T d per token times tokens per iteration), a count
//   gflops_per_second    achieved 1e9 FLOP per second over the training iterations (noisy)
//   mfu                  model FLOP utilisation: gflops_per_second / the machine's measured float32
//                        FMA ceiling (the solver says how it measures it; anchors.md §5), a
//                        fraction (noisy)
// A measure absent from the map, or not finite (a diverged loss), is reported as std::nullopt
// ("n/a"), never 0.
//
//   metric      values                          deterministic
//   loss        train_loss, val_loss, best_val_loss   yes (same cell and seed, same numbers)
//   throughput  tokens_per_second               no
//   flops       flops_per_iteration             yes
//   mfu         gflops_per_second, mfu          no
// No parameters (cube::NoParams). Granularity: none (they ignore the trace). Cost: O(values).
#pragma once

#include <string>
#include <vector>

#include "metrics/metric.h"

namespace cube {

// Reports measures[name] for each of its value names, std::nullopt when absent.
class MeasureMetric : public Metric {
 public:
  MeasureMetric(std::vector<std::string> names, bool deterministic)
      : names_(std::move(names)), deterministic_(deterministic) {}
  bool deterministic() const override { return deterministic_; }
  std::vector<std::string> value_names() const override { return names_; }
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;

 private:
  std::vector<std::string> names_;
  bool deterministic_;
};

class LossMetric : public MeasureMetric {
 public:
  explicit LossMetric(NoParams)
      : MeasureMetric({"train_loss", "val_loss", "best_val_loss"}, true) {}
};

class ThroughputMetric : public MeasureMetric {
 public:
  explicit ThroughputMetric(NoParams) : MeasureMetric({"tokens_per_second"}, false) {}
};

class FlopsMetric : public MeasureMetric {
 public:
  explicit FlopsMetric(NoParams) : MeasureMetric({"flops_per_iteration"}, true) {}
};

class MfuMetric : public MeasureMetric {
 public:
  explicit MfuMetric(NoParams) : MeasureMetric({"gflops_per_second", "mfu"}, false) {}
};

}  // namespace cube
