// Tests of the value-program builder and the address allocator (models/dally_ir/value_program.h):
// random SSA programs rendered and run by the interpreter agree with a slow direct evaluation of
// the values; the allocator's cost equals a slow recount and the parsed program's cost; no two
// overlapping lifetimes share a cell (else the outputs would differ); on tiny programs the
// allocator is compared with an exhaustive optimum; dead code goes; errors are named.

#include "models/dally_ir/value_program.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "models/dally_ir/interpreter.h"

namespace cube {
namespace {

std::uint64_t slow_distance(std::uint64_t addr) {
  std::uint64_t d = 0;
  while (d * d < addr) ++d;
  return d;
}

// Direct evaluation over values (the slow reference) for the ops used below; v0 results that
// leave int64 set `overflow` (the interpreter reports those as faults).
std::vector<std::int64_t> evaluate(const DallyValueProgram& p, const std::vector<std::int64_t>& in,
                                   bool* overflow = nullptr) {
  std::vector<std::int64_t> value(p.value_count(), 0);
  for (std::size_t i = 0; i < in.size(); ++i) value[i] = in[i];
  const bool v3 = p.version() == DallyVersion::kV3;
  const auto wrap = [&](std::int64_t x) {
    return v3 ? static_cast<std::int64_t>(static_cast<std::int8_t>(x)) : x;
  };
  bool over = false;
  // Exact in v0 (an overflow is flagged), wrapped in v3 (the low byte is exact either way).
  const auto arith = [&](bool o, std::int64_t r) {
    over |= o && !v3;
    return wrap(r);
  };
  for (const DallyValueInstruction& op : p.instructions()) {
    const std::int64_t a = value[op.sources[0]], b = value[op.sources[1]];
    std::int64_t r = 0;
    switch (op.op) {
      case DallyOp::kAdd: {
        const bool o = __builtin_add_overflow(a, b, &r);
        r = arith(o, r);
        break;
      }
      case DallyOp::kSub: {
        const bool o = __builtin_sub_overflow(a, b, &r);
        r = arith(o, r);
        break;
      }
      case DallyOp::kMul: {
        const bool o = __builtin_mul_overflow(a, b, &r);
        r = arith(o, r);
        break;
      }
      case DallyOp::kXor:
        r = wrap(a ^ b);
        break;
      case DallyOp::kAnd:
        r = wrap(a & b);
        break;
      case DallyOp::kCopy:
        r = wrap(a);
        break;
      case DallyOp::kSet:
        r = wrap(op.literal);
        break;
      case DallyOp::kCmp:
        r = a == b;
        break;
      case DallyOp::kSelect:
        r = a != 0 ? b : value[op.sources[2]];
        break;
      default:
        ADD_FAILURE() << "op outside the test's set";
        break;
    }
    value[op.dest] = r;
  }
  if (overflow != nullptr) *overflow = over;
  std::vector<std::int64_t> out;
  for (DallyValue v : p.outputs()) out.push_back(value[v]);
  return out;
}

// Slow recount of Σ reads · csqrt(address).
std::uint64_t slow_cost(const DallyValueProgram& p, const DallyAllocation& a) {
  std::uint64_t cost = 0;
  for (const DallyValueInstruction& op : p.instructions()) {
    for (int k = 0; k < op.n_sources; ++k) cost += slow_distance(a.addresses[op.sources[k]]);
  }
  for (DallyValue v : p.outputs()) cost += slow_distance(a.addresses[v]);
  return cost;
}

DallyValueProgram random_program(std::mt19937_64& rng, DallyVersion version, int inputs, int ops,
                                 int outputs) {
  DallyValueProgram p(version);
  for (int i = 0; i < inputs; ++i) p.input();
  const DallyOp v0_ops[] = {DallyOp::kAdd, DallyOp::kSub, DallyOp::kMul, DallyOp::kCopy};
  const DallyOp v3_ops[] = {DallyOp::kAdd, DallyOp::kXor, DallyOp::kAnd,   DallyOp::kCopy,
                            DallyOp::kSet, DallyOp::kCmp, DallyOp::kSelect};
  for (int i = 0; i < ops; ++i) {
    // Mostly recent values, as real schedules read: keeps lifetimes of mixed lengths.
    const auto pick = [&] {
      const auto n = static_cast<std::int64_t>(p.value_count());
      const std::int64_t back = static_cast<std::int64_t>(rng() % 6);
      return static_cast<DallyValue>(rng() % 3 == 0 ? rng() % n
                                                    : std::max<std::int64_t>(0, n - 1 - back));
    };
    const DallyOp op = version == DallyVersion::kV0 ? v0_ops[rng() % 4] : v3_ops[rng() % 7];
    if (op == DallyOp::kCopy) {
      p.unary(op, pick());
    } else if (op == DallyOp::kSet) {
      p.set(static_cast<std::int64_t>(rng() % 256) - 128);
    } else if (op == DallyOp::kCmp) {
      p.cmp(DallyPredicate::kEq, pick(), pick());
    } else if (op == DallyOp::kSelect) {
      p.select(pick(), pick(), pick());
    } else {
      p.binary(op, pick(), pick());
    }
  }
  for (int i = 0; i < outputs; ++i) {
    p.output(static_cast<DallyValue>(p.value_count() - 1 -
                                     rng() % std::min<std::size_t>(p.value_count(), 8)));
  }
  return p;
}

TEST(DallyValueProgram, RenderedProgramsComputeWhatTheValuesDo) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const DallyVersion version = trial % 2 == 0 ? DallyVersion::kV0 : DallyVersion::kV3;
    DallyValueProgram p =
        random_program(rng, version, 1 + static_cast<int>(rng() % 6), static_cast<int>(rng() % 40),
                       1 + static_cast<int>(rng() % 5));
    p.remove_dead_code();
    // Chain colouring, or exact shells for the first one to three shells and chains after.
    const DallyAllocation a =
        trial % 3 == 0 ? allocate_addresses(p) : allocate_addresses_by_shell(p, 1 + trial % 3);
    EXPECT_EQ(a.cost, slow_cost(p, a));
    EXPECT_LE(placement_lower_bound(p), a.cost);
    const DallyProgram program = parse_dally_program(render_dally_program(p, a), "r.ir", version);
    // Rendering only drops self-copies, each of which saves a read.
    EXPECT_LE(program.cost(), a.cost);
    for (int sample = 0; sample < 4; ++sample) {
      std::vector<std::int64_t> in;
      for (std::size_t i = 0; i < p.input_count(); ++i)
        in.push_back(static_cast<std::int64_t>(rng() % 7) - 3);
      bool overflow = false;
      const std::vector<std::int64_t> want = evaluate(p, in, &overflow);
      if (overflow) {
        EXPECT_THROW(run_dally(program, in), ConfigError);
      } else {
        EXPECT_EQ(run_dally(program, in).outputs, want) << render_dally_program(p, a);
      }
    }
  }
}

// Exhaustive optimum: the cheapest assignment of addresses 1..limit to the values that keeps
// overlapping lifetimes apart.
std::uint64_t exhaustive_optimum(const DallyValueProgram& p, std::uint64_t limit) {
  const std::size_t n = p.value_count();
  // Lifetimes on the doubled clock, as the header defines them.
  std::vector<std::uint64_t> start(n, 1), end(n, 1), reads(n, 0);
  const auto& code = p.instructions();
  for (std::size_t i = 0; i < code.size(); ++i) {
    for (int k = 0; k < code[i].n_sources; ++k) {
      end[code[i].sources[k]] = 2 * i + 2;
      ++reads[code[i].sources[k]];
    }
    start[code[i].dest] = end[code[i].dest] = 2 * i + 3;
  }
  for (DallyValue v : p.outputs()) {
    end[v] = 2 * code.size() + 2;
    ++reads[v];
  }
  std::uint64_t best = ~0ull;
  std::vector<std::uint64_t> at(n, 0);
  const auto search = [&](auto& self, std::size_t v, std::uint64_t cost) -> void {
    if (cost >= best) return;
    if (v == n) {
      best = cost;
      return;
    }
    for (std::uint64_t addr = 1; addr <= limit; ++addr) {
      bool free = true;
      for (std::size_t u = 0; u < v && free; ++u) {
        free = at[u] != addr || end[u] < start[v] || end[v] < start[u];
      }
      if (!free) continue;
      at[v] = addr;
      self(self, v + 1, cost + reads[v] * slow_distance(addr));
    }
  };
  search(search, 0, 0);
  return best;
}

TEST(DallyValueProgram, AllocatorAgainstExhaustiveOptimumOnTinyPrograms) {
  std::mt19937_64 rng(11);
  std::uint64_t total_alloc = 0, total_best = 0;
  int equal = 0, trials = 0;
  for (int trial = 0; trial < 120; ++trial) {
    DallyValueProgram p =
        random_program(rng, DallyVersion::kV0, 1 + static_cast<int>(rng() % 3),
                       1 + static_cast<int>(rng() % 4), 1 + static_cast<int>(rng() % 2));
    p.remove_dead_code();
    if (p.value_count() > 7) continue;
    const DallyAllocation a = allocate_addresses(p);
    const std::uint64_t best = exhaustive_optimum(p, 7);
    ASSERT_GE(a.cost, best);
    EXPECT_GE(allocate_addresses_by_shell(p, 8).cost, best);
    EXPECT_LE(placement_lower_bound(p), best);
    total_alloc += a.cost;
    total_best += best;
    equal += a.cost == best;
    ++trials;
  }
  ASSERT_GT(trials, 50);
  // Chain colouring is a heuristic; on these programs it is optimal nearly always.
  EXPECT_GE(equal, trials * 9 / 10) << equal << " of " << trials;
  EXPECT_LE(total_alloc, total_best + total_best / 50);
}

TEST(DallyValueProgram, ReadmeExampleAndSharing) {
  // a*b + c*d + e (dally-ir.md §1.1): the scorer's hand layout costs 15.
  DallyValueProgram p(DallyVersion::kV0);
  const DallyValue a = p.input(), b = p.input(), c = p.input(), d = p.input(), e = p.input();
  const DallyValue sum =
      p.binary(DallyOp::kAdd, p.binary(DallyOp::kMul, a, b), p.binary(DallyOp::kMul, c, d));
  p.output(p.binary(DallyOp::kAdd, sum, e));
  const DallyAllocation alloc = allocate_addresses(p);
  EXPECT_EQ(alloc.cost, exhaustive_optimum(p, 9));
  EXPECT_LE(alloc.cost, 15u);
  const DallyProgram program =
      parse_dally_program(render_dally_program(p, alloc), "x", DallyVersion::kV0);
  EXPECT_EQ(run_dally(program, std::vector<std::int64_t>{10, 20, 30, 40, 50}).outputs,
            (std::vector<std::int64_t>{1450}));

  // A chain of values, each read once by the next, shares one cell.
  DallyValueProgram chain(DallyVersion::kV0);
  DallyValue v = chain.input();
  for (int i = 0; i < 10; ++i) v = chain.unary(DallyOp::kCopy, v);
  chain.output(v);
  const DallyAllocation ca = allocate_addresses(chain);
  EXPECT_EQ(ca.cost, 11u);
  EXPECT_EQ(parse_dally_program(render_dally_program(chain, ca), "c", DallyVersion::kV0).cost(), 1u)
      << "every copy lands on its source's cell and is dropped";
}

TEST(DallyValueProgram, DeadCodeAndErrors) {
  DallyValueProgram p(DallyVersion::kV3);
  const DallyValue x = p.input();
  const DallyValue dead = p.binary(DallyOp::kXor, x, x);
  p.binary(DallyOp::kAnd, dead, x);  // dead too: nothing reads it
  const DallyValue one = p.set(1);
  p.output(p.binary(DallyOp::kXor, x, one));
  p.remove_dead_code();
  ASSERT_EQ(p.instructions().size(), 2u);
  EXPECT_EQ(p.instructions()[0].op, DallyOp::kSet);
  const DallyProgram program =
      parse_dally_program(render_dally_program(p, allocate_addresses(p)), "d", DallyVersion::kV3);
  EXPECT_EQ(run_dally(program, std::vector<std::int64_t>{1}).outputs,
            (std::vector<std::int64_t>{0}));

  DallyValueProgram q(DallyVersion::kV0);
  const DallyValue in = q.input();
  EXPECT_THROW(q.set(3), Error);                        // v3 only
  EXPECT_THROW(q.binary(DallyOp::kAdd, in, 5), Error);  // undefined value
  q.unary(DallyOp::kCopy, in);
  EXPECT_THROW(q.input(), Error);  // inputs come first
  DallyValueProgram r(DallyVersion::kV3);
  EXPECT_THROW(r.set(256), Error);
}

}  // namespace
}  // namespace cube
