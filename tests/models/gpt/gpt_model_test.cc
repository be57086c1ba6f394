// Tests of the GPT model: loss and logits against a naive double-precision reference written
// here, every parameter gradient against central finite differences of that reference, training
// on a repetitive corpus, determinism, the per-block hook and tracing.
#include "models/gpt/gpt_model.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <map>
#include <vector>

#include "core/rng.h"
#include "core/trace.h"
#include "models/gemm/gemm.h"
#include "models/optim/optimizers.h"

namespace cube::gpt {
namespace {

// --- the naive reference: every op a plain loop, double precision, exact erf and exp --------

struct Batch {
  int B = 0, T = 0;
  std::vector<int> x, y;
};

struct RefOptions {
  bool dropout = false;
  std::uint64_t key = 0;
};

std::vector<double> to_double(std::span<const float> p) { return {p.begin(), p.end()}; }

// Returns the mean loss; fills logits (B*T x V) when non-null.
double reference_loss(const GptModel& model, const std::vector<double>& P, const Batch& batch,
                      RefOptions opt, std::vector<double>* logits_out = nullptr) {
  const GptConfig& cfg = model.config();
  const int C = cfg.n_embd, V = cfg.vocab_size, NH = cfg.n_head, hs = C / NH;
  const int B = batch.B, T = batch.T, BT = B * T;
  const float pdrop = cfg.dropout;
  auto at = [&](const std::string& name) { return P.data() + model.tensor(name).offset; };
  auto has = [&](const std::string& name) {
    for (const auto& t : model.tensors()) {
      if (t.name == name) return true;
    }
    return false;
  };
  auto factor = [&](std::uint64_t site, std::uint64_t index) -> double {
    return opt.dropout ? dropout_factor(opt.key, site, index, pdrop) : 1.0;
  };
  using Mat = std::vector<double>;
  auto layernorm = [&](const Mat& x, const std::string& w, const std::string& b) {
    Mat out(x.size());
    const double* wp = at(w);
    const double* bp = has(b) ? at(b) : nullptr;
    for (int i = 0; i < BT; ++i) {
      double mean = 0, var = 0;
      for (int c = 0; c < C; ++c) mean += x[i * C + c];
      mean /= C;
      for (int c = 0; c < C; ++c) var += (x[i * C + c] - mean) * (x[i * C + c] - mean);
      var /= C;
      for (int c = 0; c < C; ++c) {
        out[i * C + c] = (x[i * C + c] - mean) / std::sqrt(var + 1e-5) * wp[c] + (bp ? bp[c] : 0);
      }
    }
    return out;
  };
  auto linear = [&](const Mat& x, int in, int outn, const std::string& w, const std::string& b) {
    Mat out(static_cast<std::size_t>(BT) * outn);
    const double* wp = at(w);
    const double* bp = has(b) ? at(b) : nullptr;
    for (int i = 0; i < BT; ++i) {
      for (int o = 0; o < outn; ++o) {
        double s = bp ? bp[o] : 0;
        for (int k = 0; k < in; ++k) s += x[i * in + k] * wp[o * in + k];
        out[i * outn + o] = s;
      }
    }
    return out;
  };
  Mat x(static_cast<std::size_t>(BT) * C);
  for (int i = 0; i < BT; ++i) {
    for (int c = 0; c < C; ++c) {
      x[i * C + c] = (at("wte")[batch.x[i] * C + c] + at("wpe")[(i % T) * C + c]) *
                     factor(0, static_cast<std::uint64_t>(i) * C + c);
    }
  }
  for (int l = 0; l < cfg.n_layer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    const Mat ln1 = layernorm(x, p + "ln1_w", p + "ln1_b");
    const Mat qkv = linear(ln1, C, 3 * C, p + "attn_w", p + "attn_b");
    Mat y(static_cast<std::size_t>(BT) * C, 0.0);
    for (int b = 0; b < B; ++b) {
      for (int h = 0; h < NH; ++h) {
        for (int t = 0; t < T; ++t) {
          std::vector<double> s(t + 1);
          double mx = -1e300;
          for (int j = 0; j <= t; ++j) {
            double d = 0;
            for (int e = 0; e < hs; ++e) {
              d +=
                  qkv[(b * T + t) * 3 * C + h * hs + e] * qkv[(b * T + j) * 3 * C + C + h * hs + e];
            }
            s[j] = d / std::sqrt(static_cast<double>(hs));
            mx = std::max(mx, s[j]);
          }
          double sum = 0;
          for (int j = 0; j <= t; ++j) sum += std::exp(s[j] - mx);
          for (int j = 0; j <= t; ++j) {
            const double prob =
                std::exp(s[j] - mx) / sum *
                factor(1 + 3 * l, ((static_cast<std::uint64_t>(b) * NH + h) * T + t) * T + j);
            for (int e = 0; e < hs; ++e) {
              y[(b * T + t) * C + h * hs + e] +=
                  prob * qkv[(b * T + j) * 3 * C + 2 * C + h * hs + e];
            }
          }
        }
      }
    }
    const Mat proj = linear(y, C, C, p + "attn_proj_w", p + "attn_proj_b");
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += proj[i] * factor(2 + 3 * l, i);
    const Mat ln2 = layernorm(x, p + "ln2_w", p + "ln2_b");
    Mat fc = linear(ln2, C, 4 * C, p + "fc_w", p + "fc_b");
    for (double& v : fc) v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    const Mat mlp = linear(fc, 4 * C, C, p + "fc_proj_w", p + "fc_proj_b");
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += mlp[i] * factor(3 + 3 * l, i);
  }
  const Mat lnf = layernorm(x, "lnf_w", "lnf_b");
  const Mat logits = linear(lnf, C, V, "wte", "");
  // Mean over the scored targets; a negative target is unscored (ignore_index).
  double loss = 0;
  int scored = 0;
  for (int i = 0; i < BT; ++i) {
    if (batch.y[i] < 0) continue;
    double mx = -1e300, sum = 0;
    for (int v = 0; v < V; ++v) mx = std::max(mx, logits[i * V + v]);
    for (int v = 0; v < V; ++v) sum += std::exp(logits[i * V + v] - mx);
    loss += std::log(sum) + mx - logits[i * V + batch.y[i]];
    ++scored;
  }
  if (logits_out) *logits_out = logits;
  return loss / scored;
}

GptConfig tiny_config(bool bias, float dropout) {
  GptConfig c;
  c.vocab_size = 11;
  c.block_size = 5;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 8;
  c.bias = bias;
  c.dropout = dropout;
  return c;
}

Batch random_batch(int B, int T, int V, std::uint64_t seed) {
  Rng rng(seed);
  Batch b{B, T, {}, {}};
  for (int i = 0; i < B * T; ++i) {
    b.x.push_back(static_cast<int>(rng.below(V)));
    b.y.push_back(static_cast<int>(rng.below(V)));
  }
  return b;
}

// Negative targets are passed as unscored.
void set(GptModel& m, const Batch& b) { m.set_batch<int>(b.x, b.y, b.B, b.T, -1); }

// Parameters far from the 0.02 init so that every nonlinearity is exercised.
void randomize(GptModel& m, std::uint64_t seed) {
  Rng rng(seed);
  for (const ParamTensor& t : m.tensors()) {
    const bool ln = t.name.find("ln") != std::string::npos;
    for (std::size_t i = 0; i < t.size; ++i) {
      const double z = rng.normal();
      m.params()[t.offset + i] =
          static_cast<float>(ln && t.name.ends_with("_w") ? 1.0 + 0.2 * z : 0.4 * z);
    }
  }
}

TEST(GptModel, LayoutIsContiguousAndNamed) {
  GptModel m(tiny_config(true, 0.0f), 2, 1);
  std::size_t next = 0;
  for (const ParamTensor& t : m.tensors()) {
    EXPECT_EQ(t.offset, next) << t.name;
    next += t.size;
  }
  EXPECT_EQ(next, m.num_parameters());
  // 11*8 + 5*8 + 2 * (8+8 + 24*8+24 + 64+8 + 8+8 + 32*8+32 + 8*32+8) + 8+8
  EXPECT_EQ(m.num_parameters(), 88u + 40u + 2u * 872u + 16u);
  const ParamRange r1 = m.block_range(1);
  EXPECT_EQ(r1.offset, m.tensor("h.1.ln1_w").offset);
  EXPECT_EQ(r1.offset + r1.size, m.tensor("lnf_w").offset);
  EXPECT_TRUE(m.tensor("h.0.fc_w").decay);
  EXPECT_TRUE(m.tensor("wpe").decay);
  EXPECT_FALSE(m.tensor("h.0.fc_b").decay);
  EXPECT_FALSE(m.tensor("lnf_w").decay);
  GptModel nb(tiny_config(false, 0.0f), 2, 1);
  EXPECT_EQ(nb.num_parameters(), 88u + 40u + 2u * (8 + 192 + 64 + 8 + 256 + 256) + 8u);
  EXPECT_THROW(nb.tensor("h.0.fc_b"), Error);
}

TEST(GptModel, InitFollowsNanoGpt) {
  GptConfig c = tiny_config(true, 0.0f);
  c.n_embd = 64;
  c.n_head = 4;
  c.vocab_size = 200;
  c.block_size = 32;
  GptModel m(c, 1, 7);
  auto stddev = [&](const std::string& name) {
    const ParamTensor& t = m.tensor(name);
    double s = 0;
    for (std::size_t i = 0; i < t.size; ++i)
      s += double(m.params()[t.offset + i]) * m.params()[t.offset + i];
    return std::sqrt(s / t.size);
  };
  EXPECT_NEAR(stddev("wte"), 0.02, 0.001);
  EXPECT_NEAR(stddev("h.0.fc_w"), 0.02, 0.001);
  EXPECT_NEAR(stddev("h.1.fc_proj_w"), 0.02 / std::sqrt(4.0), 0.0007);
  EXPECT_NEAR(stddev("h.1.attn_proj_w"), 0.02 / std::sqrt(4.0), 0.0007);
  EXPECT_EQ(stddev("h.0.attn_b"), 0.0);
  for (std::size_t i = 0; i < 64; ++i)
    EXPECT_EQ(m.params()[m.tensor("h.1.ln2_w").offset + i], 1.0f);
  GptModel again(c, 1, 7), other(c, 1, 8);
  EXPECT_TRUE(std::equal(m.params().begin(), m.params().end(), again.params().begin()));
  EXPECT_FALSE(std::equal(m.params().begin(), m.params().end(), other.params().begin()));
}

TEST(GptModel, UntrainedLossAndLogitsMatchReference) {
  for (bool bias : {false, true}) {
    GptModel m(tiny_config(bias, 0.0f), 2, 123);
    const Batch b = random_batch(2, 5, 11, 9);
    set(m, b);
    NullTracer tr;
    const float loss = m.forward(tr);
    std::vector<double> ref_logits;
    const double ref = reference_loss(m, to_double(m.params()), b, {}, &ref_logits);
    // Untrained: logits ~ 0, so the loss is close to log(11) and must agree to float precision.
    EXPECT_NEAR(ref, std::log(11.0), 0.05);
    EXPECT_NEAR(loss, ref, 2e-6 * ref);
    ASSERT_EQ(m.logits().size(), ref_logits.size());
    for (std::size_t i = 0; i < ref_logits.size(); ++i)
      EXPECT_NEAR(m.logits()[i], ref_logits[i], 1e-6);
  }
}

TEST(GptModel, RandomizedLossMatchesReference) {
  GptModel m(tiny_config(true, 0.0f), 3, 5);
  randomize(m, 77);
  const Batch b = random_batch(3, 4, 11, 10);  // T < block_size, B < max_batch
  set(m, b);
  NullTracer tr;
  const float loss = m.forward(tr);
  const double ref = reference_loss(m, to_double(m.params()), b, {});
  EXPECT_NEAR(loss, ref, 1e-5 * ref);
}

// Every tensor's gradient against central differences of the double reference (h = 1e-5: the
// truncation error ~h^2 and the rounding error ~1e-16/h are both below 1e-9). The model is
// float32, so its gradients carry relative errors ~1e-6 of the largest entries; the tolerance
// 1e-4 of the tensor's largest |gradient| (plus 1e-7 absolute) is 100x above that.
// unscored: the targets of (b=0, t>=3) and (b=1, t=1) are unscored (makemore's padding).
// shards: batch_shards (2: each sequence its own shard, its gradients summed after).
void check_gradients(bool bias, float dropout, bool unscored = false, int shards = 1) {
  GptConfig config = tiny_config(bias, dropout);
  config.batch_shards = shards;
  GptModel m(config, 2, 11);
  randomize(m, 3);
  Batch b = random_batch(2, 5, 11, 4);
  if (unscored) b.y[3] = b.y[4] = b.y[6] = -1;
  set(m, b);
  NullTracer tr;
  const std::uint64_t key = 99;
  m.forward(tr, dropout > 0.0f, key);
  m.backward(tr);
  const RefOptions opt{dropout > 0.0f, key};
  std::vector<double> P = to_double(m.params());
  const double base = reference_loss(m, P, b, opt);
  EXPECT_NEAR(m.forward(tr, dropout > 0.0f, key), base, 1e-5 * base);
  for (const ParamTensor& t : m.tensors()) {
    double max_fd = 0, max_err = 0;
    for (std::size_t i = 0; i < t.size; ++i) {
      const std::size_t k = t.offset + i;
      const double h = 1e-5, saved = P[k];
      P[k] = saved + h;
      const double up = reference_loss(m, P, b, opt);
      P[k] = saved - h;
      const double down = reference_loss(m, P, b, opt);
      P[k] = saved;
      const double fd = (up - down) / (2 * h);
      max_fd = std::max(max_fd, std::fabs(fd));
      max_err = std::max(max_err, std::fabs(fd - m.grads()[k]));
    }
    EXPECT_GT(max_fd, 1e-6) << t.name << " has no gradient: the check would be vacuous";
    EXPECT_LE(max_err, 1e-4 * max_fd + 1e-7) << t.name << " max |fd| " << max_fd;
  }
}

TEST(GptModel, GradientsMatchFiniteDifferencesWithBias) { check_gradients(true, 0.0f); }
TEST(GptModel, GradientsMatchFiniteDifferencesWithoutBias) { check_gradients(false, 0.0f); }
TEST(GptModel, GradientsMatchFiniteDifferencesWithDropout) { check_gradients(true, 0.3f); }
TEST(GptModel, GradientsMatchFiniteDifferencesInBatchShards) {
  check_gradients(true, 0.3f, false, 2);
  check_gradients(false, 0.0f, true, 2);
}
TEST(GptModel, GradientsMatchFiniteDifferencesWithUnscoredTargets) {
  check_gradients(false, 0.0f, /*unscored=*/true);
}

// An unscored target contributes nothing: the loss is the mean of the scored tokens' losses
// computed from the model's own logits, and a batch with every target unscored has loss 0 and
// zero gradients.
TEST(GptModel, UnscoredTargetsAreLeftOutOfTheMean) {
  GptModel m(tiny_config(false, 0.0f), 2, 11);
  randomize(m, 5);
  Batch b = random_batch(2, 5, 11, 6);
  NullTracer tr;
  set(m, b);
  m.forward(tr);
  const std::vector<float> logits(m.logits().begin(), m.logits().end());
  std::vector<double> token_loss(10);
  for (int i = 0; i < 10; ++i) {
    double mx = -1e300, sum = 0;
    for (int v = 0; v < 11; ++v) mx = std::max<double>(mx, logits[i * 11 + v]);
    for (int v = 0; v < 11; ++v) sum += std::exp(logits[i * 11 + v] - mx);
    token_loss[i] = std::log(sum) + mx - logits[i * 11 + b.y[i]];
  }
  b.y[0] = b.y[7] = b.y[9] = -1;
  set(m, b);
  const double expect = (token_loss[1] + token_loss[2] + token_loss[3] + token_loss[4] +
                         token_loss[5] + token_loss[6] + token_loss[8]) /
                        7.0;
  EXPECT_NEAR(m.forward(tr), expect, 1e-5 * expect);
  std::fill(b.y.begin(), b.y.end(), -1);
  set(m, b);
  EXPECT_EQ(m.forward(tr), 0.0f);
  m.backward(tr);
  for (float g : m.grads()) ASSERT_EQ(g, 0.0f);
}

TEST(GptModel, DropoutMasksAreSeededAndOffInEval) {
  GptModel m(tiny_config(false, 0.5f), 2, 1);
  randomize(m, 5);
  set(m, random_batch(2, 5, 11, 6));
  NullTracer tr;
  const float eval = m.forward(tr, false, 1);
  const float eval2 = m.forward(tr, false, 2);
  const float train1 = m.forward(tr, true, 1);
  const float train1b = m.forward(tr, true, 1);
  const float train2 = m.forward(tr, true, 2);
  EXPECT_EQ(eval, eval2);
  EXPECT_EQ(train1, train1b);
  EXPECT_NE(train1, eval);
  EXPECT_NE(train1, train2);
  int kept = 0;
  for (int i = 0; i < 10000; ++i) kept += dropout_factor(3, 1, i, 0.5f) > 0 ? 1 : 0;
  EXPECT_NEAR(kept, 5000, 200);
  EXPECT_EQ(dropout_factor(3, 1, 17, 0.5f) == 0.0f || dropout_factor(3, 1, 17, 0.5f) == 2.0f, true);
}

// Runs a forward and backward; returns the loss and copies the gradients.
float loss_and_grads(GptModel& m, std::vector<float>* grads) {
  NullTracer tr;
  const float loss = m.forward(tr, true, 5);
  m.backward(tr);
  grads->assign(m.grads().begin(), m.grads().end());
  return loss;
}

// The batch set in two models and each one's loss and gradients: {loss of a, loss of b}.
std::pair<float, float> losses_and_grads(GptModel& a, GptModel& b, const Batch& batch,
                                         std::vector<float>* grads_a, std::vector<float>* grads_b) {
  set(a, batch);
  set(b, batch);
  return {loss_and_grads(a, grads_a), loss_and_grads(b, grads_b)};
}

GptConfig small_config() {
  GptConfig c;
  c.vocab_size = 13;
  c.block_size = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 32;
  c.dropout = 0.1f;
  return c;
}

// Large enough (B*T*C = 16384, GEMMs of 6M multiply-adds) that the parallel paths run.
GptConfig parallel_config() {
  GptConfig c = small_config();
  c.block_size = 32;
  c.n_embd = 128;
  c.n_head = 4;
  return c;
}

// Two runs at 2 threads, then 1, 3 and 8 threads (8 oversubscribes a 2-core machine, and is where
// oneDNN's own threading would split K on the weight gradients): the same loss and gradients.
// Both precisions (bf16: the bfloat16 products and activations).
TEST(GptModel, DeterministicForSeedAndAcrossThreadCounts) {
  for (const auto& [bf16, shards] : {std::pair{false, 1}, {true, 1}, {false, 2}, {true, 2}}) {
    SCOPED_TRACE(testing::Message() << (bf16 ? "bf16" : "fp32") << ", batch_shards " << shards);
    const Batch b = random_batch(4, 32, 13, 8);
    const int saved = omp_get_max_threads();
    std::vector<float> first_grads;
    float first_loss = 0.0f;
    for (int threads : {2, 2, 1, 3, 8}) {
      omp_set_num_threads(threads);
      GptConfig config = parallel_config();
      config.bf16 = bf16;
      config.batch_shards = shards;
      GptModel m(config, 4, 21);
      set(m, b);
      std::vector<float> grads;
      const float loss = loss_and_grads(m, &grads);
      if (first_grads.empty()) {
        first_grads = grads;
        first_loss = loss;
        continue;
      }
      EXPECT_EQ(std::bit_cast<std::uint32_t>(loss), std::bit_cast<std::uint32_t>(first_loss))
          << threads << " threads";
      EXPECT_EQ(0, std::memcmp(grads.data(), first_grads.data(), grads.size() * 4))
          << threads << " threads";
    }
    omp_set_num_threads(saved);
  }
}

// ||a - b|| / ||b|| over elements [offset, offset + size) (the whole vectors when size is 0).
double relative_error(const std::vector<float>& a, const std::vector<float>& b,
                      std::size_t offset = 0, std::size_t size = 0) {
  if (size == 0) size = b.size();
  double diff = 0, norm = 0;
  for (std::size_t i = offset; i < offset + size; ++i) {
    diff += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    norm += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(diff / norm);
}

// The bf16 process computes the same model: at init (the training regime) its loss is within
// bfloat16 rounding of the double-precision reference and every tensor's gradient within 2 % of
// float32's (measured 0.3-0.6 %; a transposed or misplaced operand gives O(1)); and it is a
// different computation (the numbers are not float32's). Far from init (randomize()) the network
// is chaotic enough that bfloat16 rounding moves early-layer gradients by 10-40 %, so that is not
// where the two are compared.
TEST(GptModel, Bf16MixedPrecisionTracksTheFloat32Model) {
  const Batch b = random_batch(4, 32, 13, 8);
  GptConfig config = parallel_config();
  config.dropout = 0.0f;
  GptModel f32(config, 4, 21);
  config.bf16 = true;
  GptModel b16(config, 4, 21);
  ASSERT_EQ(0, std::memcmp(f32.params().data(), b16.params().data(), f32.num_parameters() * 4));
  set(f32, b);
  set(b16, b);
  std::vector<float> g32, g16;
  const float l32 = loss_and_grads(f32, &g32);
  const float l16 = loss_and_grads(b16, &g16);
  const double ref = reference_loss(f32, to_double(f32.params()), b, {});
  EXPECT_NEAR(l32, ref, 1e-4 * ref);
  EXPECT_NEAR(l16, ref, 1e-3 * ref);
  EXPECT_NE(std::bit_cast<std::uint32_t>(l16), std::bit_cast<std::uint32_t>(l32));
  EXPECT_LT(relative_error(g16, g32), 0.02);
  for (const ParamTensor& t : f32.tensors()) {
    EXPECT_LT(relative_error(g16, g32, t.offset, t.size), 0.02) << t.name;
  }
}

// With batch shards the hooks run after the shards' gradients are summed, in the same order.
TEST(GptModel, HookRunsOncePerBlockInBackwardOrderWithFinalGradients) {
  for (int shards : {1, 2}) {
    SCOPED_TRACE(testing::Message() << "batch_shards " << shards);
    GptConfig c = small_config();
    c.n_layer = 3;
    c.batch_shards = shards;
    GptModel m(c, 2, 4);
    set(m, random_batch(2, 16, 13, 3));
    NullTracer tr;
    m.forward(tr);
    std::vector<int> order;
    std::map<int, std::vector<float>> at_hook;
    m.backward(tr, [&](int l) {
      order.push_back(l);
      const ParamRange r = m.block_range(l);
      at_hook[l].assign(m.grads().begin() + r.offset, m.grads().begin() + r.offset + r.size);
    });
    EXPECT_EQ(order, (std::vector<int>{2, 1, 0}));
    for (int l = 0; l < 3; ++l) {
      const ParamRange r = m.block_range(l);
      EXPECT_EQ(0, std::memcmp(at_hook[l].data(), m.grads().data() + r.offset, r.size * 4)) << l;
    }
  }
}

// forward_backward (one region per shard when the shards run side by side) computes what forward
// then backward compute, bit for bit: the loss, the logits, every gradient and the hook's order
// and gradients, at 1 to 3 threads (side by side only at 2 and 3 with 2 shards), with dropout,
// in both precisions; and it needs targets.
TEST(GptModel, ForwardBackwardIsForwardThenBackward) {
  const int saved = omp_get_max_threads();
  for (const bool bf16 : {false, true}) {
    for (const int shards : {1, 2, 3}) {
      for (const int threads : {1, 2, 3}) {
        SCOPED_TRACE(testing::Message() << (bf16 ? "bf16" : "fp32") << ", batch_shards " << shards
                                        << ", " << threads << " threads");
        omp_set_num_threads(threads);
        const Batch b = random_batch(4, 32, 13, 8);
        GptConfig config = parallel_config();
        config.bf16 = bf16;
        config.dropout = 0.1f;
        config.batch_shards = shards;
        GptModel apart(config, 4, 21), together(config, 4, 21);
        set(apart, b);
        set(together, b);
        std::vector<int> order_a, order_t;
        std::vector<float> hooked_a, hooked_t;
        auto hook = [](GptModel& m, std::vector<int>& order, std::vector<float>& seen) {
          return [&m, &order, &seen](int l) {
            order.push_back(l);
            const ParamRange r = m.block_range(l);
            seen.insert(seen.end(), m.grads().begin() + r.offset,
                        m.grads().begin() + r.offset + r.size);
          };
        };
        NullTracer tr;
        const float la = apart.forward(tr, true, 7);
        apart.backward(tr, hook(apart, order_a, hooked_a));
        const float lt = together.forward_backward(tr, 7, hook(together, order_t, hooked_t));
        EXPECT_EQ(std::bit_cast<std::uint32_t>(la), std::bit_cast<std::uint32_t>(lt));
        EXPECT_EQ(0, std::memcmp(apart.logits().data(), together.logits().data(),
                                 apart.logits().size() * 4));
        EXPECT_EQ(0, std::memcmp(apart.grads().data(), together.grads().data(),
                                 apart.num_parameters() * 4));
        EXPECT_EQ(order_a, order_t);
        EXPECT_EQ(order_t, (std::vector<int>{1, 0}));
        EXPECT_EQ(hooked_a, hooked_t);
      }
    }
  }
  omp_set_num_threads(saved);
  GptModel m(small_config(), 2, 4);
  const Batch b = random_batch(2, 16, 13, 3);
  m.set_batch<int>(b.x, {}, b.B, b.T, -1);
  NullTracer tr;
  EXPECT_THROW(m.forward_backward(tr, 0), Error);
}

// A float32 training forward stores gelu'(fch) in fch's place for the backward, which then only
// multiplies; an evaluation forward keeps fch and the backward recomputes the slope from it.
// Without dropout the two are the same computation: the same loss and gradients, bit for bit, at
// both thread counts and with shards.
TEST(GptModel, GeluSlopeStoredByTheForwardGivesTheRecomputedBits) {
  const int saved = omp_get_max_threads();
  for (const int shards : {1, 2}) {
    for (const int threads : {1, 2}) {
      SCOPED_TRACE(testing::Message()
                   << "batch_shards " << shards << ", " << threads << " threads");
      omp_set_num_threads(threads);
      const Batch b = random_batch(4, 32, 13, 8);
      GptConfig config = parallel_config();
      config.dropout = 0.0f;
      config.batch_shards = shards;
      GptModel stored(config, 4, 21), recomputed(config, 4, 21);
      randomize(stored, 5);
      randomize(recomputed, 5);
      set(stored, b);
      set(recomputed, b);
      NullTracer tr;
      const float ls = stored.forward(tr, /*training=*/true, 3);
      stored.backward(tr);
      const float lr = recomputed.forward(tr, /*training=*/false);
      recomputed.backward(tr);
      EXPECT_EQ(std::bit_cast<std::uint32_t>(ls), std::bit_cast<std::uint32_t>(lr));
      EXPECT_EQ(0, std::memcmp(stored.grads().data(), recomputed.grads().data(),
                               stored.num_parameters() * 4));
    }
  }
  omp_set_num_threads(saved);
}

// perlayer_adamw: updating each block inside the hook gives the same bits as one AdamW update
// after backward, because backward never reads a block's parameters after its hook.
TEST(GptModel, PerBlockUpdateInHookEqualsUpdateAfterBackward) {
  const Batch b = random_batch(2, 16, 13, 12);
  GptModel a(small_config(), 2, 9), p(small_config(), 2, 9);
  AdamW opt_a({}, a.tensors(), a.num_parameters()), opt_p({}, p.tensors(), p.num_parameters());
  NullTracer tr;
  for (int step = 0; step < 3; ++step) {
    set(a, b);
    set(p, b);
    a.forward(tr, true, step);
    a.backward(tr);
    opt_a.begin_step();
    opt_a.update({0, a.num_parameters()}, a.params(), a.grads(), 1e-2f);
    p.forward(tr, true, step);
    opt_p.begin_step();
    p.backward(tr, [&](int l) { opt_p.update(p.block_range(l), p.params(), p.grads(), 1e-2f); });
    opt_p.update(p.embedding_range(), p.params(), p.grads(), 1e-2f);
    opt_p.update(p.final_range(), p.params(), p.grads(), 1e-2f);
  }
  EXPECT_EQ(0, std::memcmp(a.params().data(), p.params().data(), a.num_parameters() * 4));
}

TEST(GptModel, AdamWDrivesLossDownOnRepetitiveCorpus) {
  GptConfig c = small_config();
  c.dropout = 0.0f;
  GptModel m(c, 8, 1);
  AdamW opt({0.9f, 0.99f, 1e-8f, 0.1f}, m.tensors(), m.num_parameters());
  const std::string corpus = "abcdefghijkl";  // period 12: the next character is determined
  Rng rng(2);
  NullTracer tr;
  float first = 0, last = 0;
  for (int it = 0; it < 300; ++it) {
    std::vector<int> x, y;
    for (int b = 0; b < 8; ++b) {
      const auto start = rng.below(corpus.size());
      for (int t = 0; t < 16; ++t) {
        x.push_back(corpus[(start + t) % corpus.size()] - 'a');
        y.push_back(corpus[(start + t + 1) % corpus.size()] - 'a');
      }
    }
    m.set_batch<int>(x, y, 8, 16);
    const float loss = m.forward(tr, true, it);
    m.backward(tr);
    clip_grad_norm(m.grads(), 1.0);
    opt.begin_step();
    opt.update({0, m.num_parameters()}, m.params(), m.grads(),
               static_cast<float>(nanogpt_lr(it, 3e-3, 3e-4, 20, 300)));
    if (it == 0) first = loss;
    last = loss;
  }
  EXPECT_NEAR(first, std::log(13.0), 0.1);
  EXPECT_LT(last, 0.05f);
}

// Checks every event of the trace against its buffer's size.
class BoundsSink : public TraceSink {
 public:
  void begin(const BufferTable& buffers) override { buffers_ = &buffers; }
  void consume(std::span<const TraceEvent> events) override {
    for (const TraceEvent& e : events) {
      if (e.kind == EventKind::kOpEnd) {
        ++ops;
        continue;
      }
      ++accesses;
      if (e.offset + static_cast<std::uint64_t>(e.count) > (*buffers_)[e.buffer].elements)
        ++out_of_bounds;
      if (e.count == 0) ++empty;
    }
  }
  const BufferTable* buffers_ = nullptr;
  std::uint64_t ops = 0, accesses = 0, out_of_bounds = 0, empty = 0;
};

// The bfloat16 weight copy follows the float32 weights: a write through params() makes the next
// forward round again, and round_weights() after an update gives that same copy.
TEST(GptModel, Bf16WeightCopyFollowsTheParameters) {
  const Batch b = random_batch(4, 32, 13, 8);
  GptConfig config = parallel_config();
  config.bf16 = true;
  GptModel changed(config, 4, 21), rounded(config, 4, 21);
  for (GptModel* m : {&changed, &rounded}) set(*m, b);
  NullTracer tr;
  const float before = changed.forward(tr, false);
  for (GptModel* m : {&changed, &rounded}) randomize(*m, 9);
  rounded.round_weights(tr);
  const float after = changed.forward(tr, false);
  EXPECT_NE(std::bit_cast<std::uint32_t>(before), std::bit_cast<std::uint32_t>(after));
  EXPECT_EQ(std::bit_cast<std::uint32_t>(after),
            std::bit_cast<std::uint32_t>(rounded.forward(tr, false)));
}

// Fusion and attention recomputation change where values live, not the forward's numbers. With
// and without dropout (which keeps the residual adds unfused), each mode's bf16 loss equals the
// plain bf16 model's bit for bit (GELU and the residual adds give the same bits; the attention's
// probabilities are the same float32 values, only not stored). bf16 fuse alone keeps the
// gradients' bits too; recomputed attention moves them by bfloat16 rounding (the backward reads
// the recomputed float32 probabilities, not bfloat16 copies). In float32, recomputed attention
// keeps every bit and fuse agrees to rounding. Each mode stores less.
TEST(GptModel, FusionAndRecomputationKeepTheForwardBitsAndStoreLess) {
  struct Case {
    bool bf16;
    float dropout;
    bool fuse, recompute;
  };
  for (const Case c : {Case{true, 0.0f, true, true}, Case{true, 0.1f, true, true},
                       Case{true, 0.0f, true, false}, Case{true, 0.0f, false, true},
                       Case{false, 0.0f, true, true}, Case{false, 0.0f, false, true}}) {
    SCOPED_TRACE(testing::Message() << "bf16 " << c.bf16 << " dropout " << c.dropout << " fuse "
                                    << c.fuse << " recompute " << c.recompute);
    const Batch b = random_batch(4, 32, 13, 8);
    GptConfig config = parallel_config();
    config.dropout = c.dropout;
    config.bf16 = c.bf16;
    GptModel plain(config, 4, 21);
    config.fuse = c.fuse;
    config.recompute_attention = c.recompute;
    GptModel changed(config, 4, 21);
    std::vector<float> gp, gc;
    const auto [lp, lc] = losses_and_grads(plain, changed, b, &gp, &gc);
    const bool same_bits = c.bf16 ? !c.recompute : !c.fuse;
    if (c.bf16 || same_bits) {
      EXPECT_EQ(std::bit_cast<std::uint32_t>(lp), std::bit_cast<std::uint32_t>(lc));
    } else {
      // In float32 with fuse: the same model, the residual adds summed in another order.
      EXPECT_NEAR(lc, lp, 1e-6 * lp);
    }
    if (same_bits) {
      EXPECT_EQ(0, std::memcmp(gp.data(), gc.data(), gp.size() * sizeof(float)));
    } else if (c.bf16) {
      for (const ParamTensor& t : plain.tensors())
        EXPECT_LT(relative_error(gc, gp, t.offset, t.size), 0.02) << t.name;
    } else {
      EXPECT_LT(relative_error(gc, gp), 1e-5);
    }
    EXPECT_LT(changed.act_bytes(), plain.act_bytes());
  }
}

// True when the parallel float32 products give each row of C the same bits in one call over the
// batch's rows as in one call per shard, at every linear-layer shape (N, K) of `c`. cube's kernels
// do by construction (each element sums over p in one order whatever the call); so did oneDNN's
// AVX-512 sgemm on these shapes, while its AVX2 sgemm blocks by the call's shape and does not.
bool shard_rows_keep_their_bits(const GptConfig& c, int batch, int shards) {
  const int C = c.n_embd, T = c.block_size, M = batch * T, S = std::min(batch, shards);
  Rng rng(3);
  for (const auto& [n, k] :
       {std::pair{3 * C, C}, {C, C}, {4 * C, C}, {C, 4 * C}, {c.vocab_size, C}}) {
    std::vector<float> a(static_cast<std::size_t>(M) * k), w(static_cast<std::size_t>(n) * k);
    for (float& x : a) x = static_cast<float>(rng.normal());
    for (float& x : w) x = static_cast<float>(rng.normal());
    std::vector<float> whole(static_cast<std::size_t>(M) * n), parts(whole.size());
    gemm_nt(M, n, k, a.data(), w.data(), whole.data(), false);
    for (int s = 0; s < S; ++s) {
      const int r0 = batch * s / S * T, r1 = batch * (s + 1) / S * T;
      gemm_nt(r1 - r0, n, k, a.data() + static_cast<std::ptrdiff_t>(r0) * k, w.data(),
              parts.data() + static_cast<std::ptrdiff_t>(r0) * n, false);
    }
    if (std::memcmp(whole.data(), parts.data(), whole.size() * sizeof(float)) != 0) return false;
  }
  return true;
}

// batch_shards: the forward is the same computation row by row (dropout masks included), so the
// loss and logits are bitwise those of one shard wherever the products give a row the same bits
// whatever the call's row count (cube's kernels, and oneDNN's AVX-512 sgemm: see
// shard_rows_keep_their_bits), within float32 rounding elsewhere. The gradients are the same sums
// over the batch in another order (per shard, then shard 0 + shard 1 + ...): within float32
// rounding of one shard's, in every tensor. More shards than sequences leaves the extra ones
// empty. The float32 modes run on both backends (the default and cube's kernels). (Thread-count
// invariance at a fixed shard count: DeterministicForSeedAndAcrossThreadCounts.)
TEST(GptModel, BatchShardsKeepTheForwardBitsAndSumTheGradients) {
  struct Mode {
    bool bf16, fuse, recompute;
    float dropout;
    GemmBackend backend;
  };
  const GemmBackend fast = default_gemm_backend(), cube = GemmBackend::kCube;
  for (const Mode mode :
       {Mode{false, false, false, 0.0f, fast}, Mode{false, false, false, 0.1f, fast},
        Mode{false, false, false, 0.1f, cube}, Mode{true, false, false, 0.1f, fast},
        Mode{true, true, true, 0.0f, fast}}) {
    set_gemm_backend(mode.backend);
    for (int shards : {2, 3, 5}) {
      SCOPED_TRACE(testing::Message()
                   << "bf16 " << mode.bf16 << " fuse " << mode.fuse << " recompute "
                   << mode.recompute << " dropout " << mode.dropout << " batch_shards " << shards
                   << " backend " << to_string(mode.backend));
      Batch b = random_batch(4, 32, 13, 8);
      b.y[5] = b.y[40] = b.y[100] = -1;  // unscored targets in two shards
      GptConfig config = parallel_config();
      config.bf16 = mode.bf16;
      config.fuse = mode.fuse;
      config.recompute_attention = mode.recompute;
      config.dropout = mode.dropout;
      // bf16's products are cube's own kernels whatever the backend.
      const bool same_bits = mode.bf16 || shard_rows_keep_their_bits(config, 4, shards);
      GptModel whole(config, 4, 21);
      config.batch_shards = shards;
      GptModel sharded(config, 4, 21);
      std::vector<float> gw, gs;
      const auto [lw, ls] = losses_and_grads(whole, sharded, b, &gw, &gs);
      ASSERT_EQ(whole.logits().size(), sharded.logits().size());
      if (same_bits) {
        EXPECT_EQ(std::bit_cast<std::uint32_t>(lw), std::bit_cast<std::uint32_t>(ls));
        EXPECT_EQ(0, std::memcmp(whole.logits().data(), sharded.logits().data(),
                                 whole.logits().size() * sizeof(float)));
      } else {
        EXPECT_NEAR(lw, ls, 1e-6 * std::fabs(lw));
        const std::vector<float> lgw(whole.logits().begin(), whole.logits().end());
        const std::vector<float> lgs(sharded.logits().begin(), sharded.logits().end());
        EXPECT_LT(relative_error(lgs, lgw), 1e-6);
      }
      EXPECT_NE(0, std::memcmp(gw.data(), gs.data(), gw.size() * sizeof(float)))
          << "the shards' sums should round differently somewhere";
      for (const ParamTensor& t : whole.tensors()) {
        EXPECT_LT(relative_error(gs, gw, t.offset, t.size), 1e-5) << t.name;
      }
      // A smaller batch later (fewer sequences than shards: one shard) computes the same forward.
      const Batch one = random_batch(1, 32, 13, 9);
      set(whole, one);
      set(sharded, one);
      NullTracer tr;
      EXPECT_EQ(std::bit_cast<std::uint32_t>(whole.forward(tr)),
                std::bit_cast<std::uint32_t>(sharded.forward(tr)));
    }
  }
  set_gemm_backend(default_gemm_backend());
}

TEST(GptModel, TracingDoesNotChangeResultsAndStaysInBounds) {
  struct Mode {
    bool bf16, fuse, recompute;
    float dropout;  // small_config's, or 0 (fuse adds into the residual stream only without it)
    int shards = 1;
  };
  const float d = small_config().dropout;
  for (const Mode m :
       {Mode{false, false, false, d}, Mode{true, false, false, d}, Mode{true, true, true, d},
        Mode{false, true, true, 0.0f}, Mode{true, true, false, 0.0f}, Mode{false, false, true, d},
        Mode{false, false, false, d, 2}, Mode{true, true, true, d, 3}}) {
    const bool bf16 = m.bf16;
    SCOPED_TRACE(testing::Message()
                 << "bf16 " << m.bf16 << " fuse " << m.fuse << " recompute " << m.recompute
                 << " dropout " << m.dropout << " batch_shards " << m.shards);
    const Batch b = random_batch(4, 16, 13, 8);
    GptConfig config = small_config();
    config.bf16 = bf16;
    config.fuse = m.fuse;
    config.recompute_attention = m.recompute;
    config.dropout = m.dropout;
    config.batch_shards = m.shards;
    GptModel plain(config, 4, 3), traced(config, 4, 3);
    AdamW opt_p({}, plain.tensors(), plain.num_parameters());
    AdamW opt_t({}, traced.tensors(), traced.num_parameters());
    set(plain, b);
    set(traced, b);
    NullTracer null;
    RecordingTracer rec;
    BoundsSink sink;
    rec.add_sink(&sink);
    const float lp = plain.forward(null, true, 1);
    plain.backward(null);
    opt_p.begin_step();
    opt_p.update({0, plain.num_parameters()}, plain.params(), plain.grads(), 1e-3f, 1.0f, null);
    const float lt = traced.forward(rec, true, 1);
    traced.backward(rec);
    opt_t.begin_step();
    opt_t.update({0, traced.num_parameters()}, traced.params(), traced.grads(), 1e-3f, 1.0f, rec);
    rec.finish();
    EXPECT_EQ(std::bit_cast<std::uint32_t>(lp), std::bit_cast<std::uint32_t>(lt));
    EXPECT_EQ(0,
              std::memcmp(plain.grads().data(), traced.grads().data(), plain.num_parameters() * 4));
    EXPECT_EQ(
        0, std::memcmp(plain.params().data(), traced.params().data(), plain.num_parameters() * 4));
    EXPECT_GT(sink.ops, 50u);
    EXPECT_GT(sink.accesses, sink.ops);
    EXPECT_EQ(sink.out_of_bounds, 0u);
    EXPECT_EQ(sink.empty, 0u);
    for (const char* name : {"gpt.params", "gpt.grads", "gpt.acts", "gpt.dacts", "gpt.tokens",
                             "gpt.targets", "opt.m", "opt.v"}) {
      EXPECT_NE(rec.buffers().find(name), nullptr) << name;
    }
    EXPECT_EQ(rec.buffers().find("gpt.shard_grads") != nullptr, m.shards > 1);
    for (const char* name : {"gpt.params16", "gpt.acts16", "gpt.pack16", "gpt.apack16"}) {
      const BufferInfo* info = rec.buffers().find(name);
      EXPECT_EQ(info != nullptr, bf16) << name;
      if (info != nullptr) {
        EXPECT_EQ(info->element_bytes, 2u) << name;
      }
    }
  }
}

TEST(GptModel, ProfileTimesEveryKernelKindWithoutChangingResults) {
  const Batch b = random_batch(4, 32, 13, 8);
  GptModel plain(parallel_config(), 4, 3), timed(parallel_config(), 4, 3);
  KernelProfile profile;
  timed.set_profile(&profile);
  set(plain, b);
  set(timed, b);
  NullTracer tr;
  const float lp = plain.forward(tr, true, 2);
  plain.backward(tr);
  const float lt = timed.forward(tr, true, 2);
  timed.backward(tr);
  EXPECT_EQ(std::bit_cast<std::uint32_t>(lp), std::bit_cast<std::uint32_t>(lt));
  EXPECT_EQ(0, std::memcmp(plain.grads().data(), timed.grads().data(), plain.num_parameters() * 4));
  for (int k = 0; k < KernelProfile::kKinds; ++k) {
    EXPECT_GT(profile.forward[k], 0.0) << KernelProfile::name(k);
    EXPECT_GT(profile.backward[k], 0.0) << KernelProfile::name(k);
  }
}

// The AVX-512 softmax (masked 16-lane steps over each row's ragged end) against the portable
// loops, bit for bit: row lengths 1..T around every multiple of 8 and 16, scores spread wide
// enough for exp_approx's clamp at -87 and for ties of the maximum.
// The intrinsics paths of attention's softmax against the portable loops, bit for bit.
void expect_softmax_gives_the_portable_bits(GemmPath path) {
  for (int T : {1, 5, 8, 15, 16, 17, 24, 33, 64, 100}) {
    Rng rng(static_cast<std::uint64_t>(T));
    std::vector<float> scores(static_cast<std::size_t>(T) * T);
    for (float& v : scores) v = static_cast<float>(rng.normal() * 300.0);
    scores[0] = scores[static_cast<std::size_t>(T) * T - 1] = 4.0f;  // a tie in the last row
    if (T > 1) scores[static_cast<std::size_t>(T) * T - 2] = 4.0f;
    if (T > 2) {  // above the diagonal, where the model's buffer may hold anything
      scores[1] = std::numeric_limits<float>::quiet_NaN();
      scores[static_cast<std::size_t>(T) + 2] = std::numeric_limits<float>::infinity();
    }
    std::vector<float> portable = scores, wide = scores;
    ASSERT_TRUE(detail::causal_softmax(portable.data(), T, 0.17f, GemmPath::kPortable));
    ASSERT_TRUE(detail::causal_softmax(wide.data(), T, 0.17f, path));
    EXPECT_EQ(0, std::memcmp(portable.data(), wide.data(), portable.size() * sizeof(float)))
        << "T " << T;
    for (int t = 0; t < T; ++t) {  // and it is a causal softmax
      double sum = 0;
      for (int j = 0; j < T; ++j) {
        const float v = wide[static_cast<std::size_t>(t) * T + j];
        if (j > t) {
          EXPECT_EQ(v, 0.0f);
        }
        sum += v;
      }
      EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << t;
    }
  }
}

TEST(GptModel, AttentionSoftmaxAvx512GivesThePortableBits) {
  float probe = 0.0f;
  if (!detail::causal_softmax(&probe, 1, 1.0f, GemmPath::kAvx512)) {
    GTEST_SKIP() << "no AVX-512 on this CPU";
  }
  expect_softmax_gives_the_portable_bits(GemmPath::kAvx512);
}

TEST(GptModel, AttentionSoftmaxAvx2GivesThePortableBits) {
  float probe = 0.0f;
  if (!detail::causal_softmax(&probe, 1, 1.0f, GemmPath::kAvx2)) {
    GTEST_SKIP() << "no AVX2 on this CPU";
  }
  expect_softmax_gives_the_portable_bits(GemmPath::kAvx2);
}

TEST(GptModel, RejectsBadConfigAndBatch) {
  GptConfig c = tiny_config(false, 0.0f);
  c.n_head = 3;
  EXPECT_THROW(GptModel(c, 1, 1), ConfigError);
  GptModel m(tiny_config(false, 0.0f), 2, 1);
  std::vector<int> x(15, 0), y(15, 0);
  EXPECT_THROW(m.set_batch<int>(x, y, 3, 5), ConfigError);
  std::vector<int> bad(10, 11);
  EXPECT_THROW(m.set_batch<int>(bad, {}, 2, 5), ConfigError);
  GptConfig half_with_bias = tiny_config(true, 0.0f);
  half_with_bias.bf16 = true;
  EXPECT_THROW(GptModel(half_with_bias, 1, 1), ConfigError);
  GptConfig no_shards = tiny_config(false, 0.0f);
  no_shards.batch_shards = 0;
  EXPECT_THROW(GptModel(no_shards, 1, 1), ConfigError);
}

}  // namespace
}  // namespace cube::gpt
