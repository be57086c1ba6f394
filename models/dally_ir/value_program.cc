// cube/models/dally_ir/value_program.cc: the SSA builder, lifetimes, chain colouring and
// rendering of value_program.h.

#include "models/dally_ir/value_program.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <queue>

#include "core/error.h"

namespace cube {
namespace {

// A lifetime on the doubled clock: inputs are written at 1; instruction i (0-based) reads at
// 2i+2 and writes at 2i+3; the exit reads at 2n+2. Closed intervals that do not intersect may
// share a cell (a read at 2i+2 precedes the write at 2i+3 of the same instruction).
struct Lifetime {
  std::uint64_t start = 0, end = 0;
  std::uint64_t reads = 0;
};

std::vector<Lifetime> lifetimes_of(const DallyValueProgram& program) {
  std::vector<Lifetime> life(program.value_count());
  for (std::size_t v = 0; v < program.input_count(); ++v) life[v].start = life[v].end = 1;
  const auto& code = program.instructions();
  for (std::size_t i = 0; i < code.size(); ++i) {
    const DallyValueInstruction& in = code[i];
    for (int k = 0; k < in.n_sources; ++k) {
      Lifetime& l = life[in.sources[k]];
      l.end = 2 * i + 2;
      ++l.reads;
    }
    life[in.dest].start = life[in.dest].end = 2 * i + 3;
  }
  const std::uint64_t exit_time = 2 * code.size() + 2;
  for (DallyValue v : program.outputs()) {
    life[v].end = exit_time;
    ++life[v].reads;
  }
  return life;
}

// Chain colouring of `values` onto addresses first_address, first_address + 1, ...: each
// address takes a maximum-reads set of pairwise disjoint lifetimes (weighted interval
// scheduling over lifetimes sorted once by end). Returns one address per entry of `values`.
std::vector<std::uint64_t> chain_colour(const std::vector<Lifetime>& life,
                                        const std::vector<std::uint32_t>& values,
                                        std::uint64_t first_address) {
  const auto lt = [&](std::uint32_t i) -> const Lifetime& { return life[values[i]]; };
  // The unplaced entries of `values`, in end order; the arrays below index this list and are
  // rebuilt whenever half of it has been placed (so the work per address follows what is left).
  std::vector<std::uint32_t> order(values.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return lt(a).end != lt(b).end ? lt(a).end < lt(b).end : a < b;
  });
  std::vector<std::uint32_t> previous;  // how many lifetimes (in end order) end before i starts
  std::vector<std::uint64_t> ends, weight, best;
  std::vector<bool> placed(order.size(), false);
  const auto rebuild = [&] {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (!placed[i]) order[kept++] = order[i];
    }
    order.resize(kept);
    const std::size_t m = order.size();
    ends.resize(m);
    previous.resize(m);
    weight.resize(m);
    for (std::size_t i = 0; i < m; ++i) ends[i] = lt(order[i]).end;
    for (std::size_t i = 0; i < m; ++i) {
      previous[i] = static_cast<std::uint32_t>(
          std::lower_bound(ends.begin(), ends.end(), lt(order[i]).start) - ends.begin());
      // Reads first, then the number of lifetimes (so unread values still get placed and an
      // address packs as many as fit among equal-read choices).
      weight[i] = (lt(order[i]).reads << 20) + 1;
    }
    placed.assign(m, false);
    best.assign(m + 1, 0);
  };
  rebuild();

  std::vector<std::uint64_t> addresses(values.size(), 0);
  std::size_t remaining = order.size();
  for (std::uint64_t address = first_address; remaining > 0; ++address) {
    if (2 * remaining <= order.size()) rebuild();
    const std::size_t m = order.size();
    for (std::size_t i = 0; i < m; ++i) {
      best[i + 1] = best[i];
      if (!placed[i]) best[i + 1] = std::max(best[i], weight[i] + best[previous[i]]);
    }
    for (std::size_t i = m; i > 0;) {
      const std::size_t j = i - 1;
      if (!placed[j] && best[i] == weight[j] + best[previous[j]] && best[i] != best[j]) {
        placed[j] = true;
        --remaining;
        addresses[order[j]] = address;
        i = previous[j];
      } else {
        i = j;
      }
    }
  }
  return addresses;
}

// The values (indices into `life`) among `candidates` of maximum total reads of which at most
// `tracks` are live at any time: a min-cost flow of `tracks` units along the time line, where an
// interval [s, e] is a unit-capacity shortcut from s to e + 1 worth its reads (Arkin and
// Silverberg 1987). Successive shortest paths with Dijkstra on reduced costs; the first
// potentials come from the time line being acyclic. Each augmentation leaves a min-cost flow of
// its value, so best_reads (when given) receives the optimum for 1, 2, ... tracks.
std::vector<std::uint32_t> max_reads_within_tracks(
    const std::vector<Lifetime>& life, const std::vector<std::uint32_t>& candidates,
    std::int64_t tracks, std::vector<std::uint64_t>* best_reads = nullptr) {
  std::vector<std::uint64_t> times;
  times.reserve(2 * candidates.size());
  for (std::uint32_t v : candidates) {
    times.push_back(life[v].start);
    times.push_back(life[v].end + 1);
  }
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  const auto node_of = [&](std::uint64_t t) {
    return static_cast<std::uint32_t>(std::lower_bound(times.begin(), times.end(), t) -
                                      times.begin());
  };
  const std::uint32_t nodes = static_cast<std::uint32_t>(times.size());
  if (nodes < 2) return {};
  struct Edge {
    std::uint32_t to, reverse;
    std::int64_t capacity, cost;
  };
  std::vector<std::vector<Edge>> graph(nodes);
  const auto add_edge = [&](std::uint32_t a, std::uint32_t b, std::int64_t capacity,
                            std::int64_t cost) {
    graph[a].push_back({b, static_cast<std::uint32_t>(graph[b].size()), capacity, cost});
    graph[b].push_back({a, static_cast<std::uint32_t>(graph[a].size() - 1), 0, -cost});
  };
  for (std::uint32_t t = 0; t + 1 < nodes; ++t) add_edge(t, t + 1, tracks, 0);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> interval_edge(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Lifetime& l = life[candidates[i]];
    const std::uint32_t a = node_of(l.start);
    interval_edge[i] = {a, static_cast<std::uint32_t>(graph[a].size())};
    add_edge(a, node_of(l.end + 1), 1, -static_cast<std::int64_t>(l.reads));
  }
  constexpr std::int64_t kInfinity = std::numeric_limits<std::int64_t>::max() / 4;
  // Potentials: shortest distances on the acyclic time line (every edge goes forward).
  std::vector<std::int64_t> potential(nodes, kInfinity);
  potential[0] = 0;
  for (std::uint32_t u = 0; u < nodes; ++u) {
    for (const Edge& e : graph[u]) {
      if (e.capacity > 0) potential[e.to] = std::min(potential[e.to], potential[u] + e.cost);
    }
  }
  std::vector<std::int64_t> distance(nodes);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> parent(nodes);
  using Entry = std::pair<std::int64_t, std::uint32_t>;
  std::uint64_t reads = 0;
  for (std::int64_t unit = 0; unit < tracks; ++unit) {
    std::fill(distance.begin(), distance.end(), kInfinity);
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue;
    distance[0] = 0;
    queue.push({0, 0});
    while (!queue.empty()) {
      const auto [d, u] = queue.top();
      queue.pop();
      if (d != distance[u]) continue;
      for (std::uint32_t k = 0; k < graph[u].size(); ++k) {
        const Edge& e = graph[u][k];
        if (e.capacity <= 0) continue;
        const std::int64_t next = d + e.cost + potential[u] - potential[e.to];
        if (next < distance[e.to]) {
          distance[e.to] = next;
          parent[e.to] = {u, k};
          queue.push({next, e.to});
        }
      }
    }
    const std::uint32_t sink = nodes - 1;
    if (distance[sink] >= kInfinity) break;
    const std::int64_t path_cost = distance[sink] + potential[sink] - potential[0];
    if (path_cost >= 0) break;  // no augmenting path adds reads any more
    reads -= static_cast<std::uint64_t>(path_cost);
    if (best_reads != nullptr) best_reads->push_back(reads);
    for (std::uint32_t v = 0; v < nodes; ++v) {
      potential[v] += std::min(distance[v], distance[sink]);
    }
    for (std::uint32_t v = sink; v != 0;) {
      const auto [u, k] = parent[v];
      Edge& e = graph[u][k];
      --e.capacity;
      ++graph[v][e.reverse].capacity;
      v = u;
    }
  }
  std::vector<std::uint32_t> chosen;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const auto [a, k] = interval_edge[i];
    if (graph[a][k].capacity == 0) chosen.push_back(candidates[i]);
  }
  return chosen;
}

// Interval partitioning of `values` (at most `tracks` live at once) onto the addresses
// first, first + 1, ...: by start, each into an address whose last value has ended.
void partition_onto(const std::vector<Lifetime>& life, std::vector<std::uint32_t> values,
                    std::uint64_t first, std::int64_t tracks, std::vector<std::uint64_t>& at) {
  std::sort(values.begin(), values.end(),
            [&](std::uint32_t a, std::uint32_t b) { return life[a].start < life[b].start; });
  using Slot = std::pair<std::uint64_t, std::uint64_t>;  // (last end, address)
  std::priority_queue<Slot, std::vector<Slot>, std::greater<>> slots;
  for (std::int64_t t = 0; t < tracks; ++t) slots.push({0, first + static_cast<std::uint64_t>(t)});
  for (std::uint32_t v : values) {
    const auto [end, address] = slots.top();
    CUBE_CHECK(end < life[v].start, "more than " << tracks << " values overlap");
    slots.pop();
    at[v] = address;
    slots.push({life[v].end, address});
  }
}

}  // namespace

DallyValue DallyValueProgram::input() {
  CUBE_CHECK(instructions_.empty(), "declare every input before the first instruction");
  ++input_count_;
  return static_cast<DallyValue>(value_count_++);
}

DallyValue DallyValueProgram::define(DallyValueInstruction in, int arity) {
  for (int k = 0; k < arity; ++k) {
    CUBE_CHECK(in.sources[k] < value_count_, "value " << in.sources[k] << " is not defined yet");
  }
  in.n_sources = static_cast<std::uint8_t>(arity);
  in.dest = static_cast<DallyValue>(value_count_++);
  instructions_.push_back(in);
  return in.dest;
}

DallyValue DallyValueProgram::binary(DallyOp op, DallyValue a, DallyValue b) {
  DallyValueInstruction in;
  in.op = op;
  in.sources = {a, b, 0};
  return define(in, 2);
}

DallyValue DallyValueProgram::cmp(DallyPredicate predicate, DallyValue a, DallyValue b) {
  DallyValueInstruction in;
  in.op = DallyOp::kCmp;
  in.predicate = predicate;
  in.sources = {a, b, 0};
  return define(in, 2);
}

DallyValue DallyValueProgram::unary(DallyOp op, DallyValue a) {
  DallyValueInstruction in;
  in.op = op;
  in.sources = {a, 0, 0};
  return define(in, 1);
}

DallyValue DallyValueProgram::select(DallyValue c, DallyValue t, DallyValue f) {
  DallyValueInstruction in;
  in.op = DallyOp::kSelect;
  in.sources = {c, t, f};
  return define(in, 3);
}

DallyValue DallyValueProgram::set(std::int64_t literal) {
  CUBE_CHECK(version_ == DallyVersion::kV3, "set is a v3 instruction");
  CUBE_CHECK(literal >= -128 && literal <= 255, "set literal " << literal << " out of range");
  DallyValueInstruction in;
  in.op = DallyOp::kSet;
  in.literal = literal;
  return define(in, 0);
}

void DallyValueProgram::output(DallyValue v) {
  CUBE_CHECK(v < value_count_, "output value " << v << " is not defined");
  outputs_.push_back(v);
}

void DallyValueProgram::remove_dead_code() {
  std::vector<std::uint32_t> uses(value_count_, 0);
  for (DallyValue v : outputs_) ++uses[v];
  for (const DallyValueInstruction& in : instructions_) {
    for (int k = 0; k < in.n_sources; ++k) ++uses[in.sources[k]];
  }
  std::vector<bool> dead(instructions_.size(), false);
  for (std::size_t i = instructions_.size(); i-- > 0;) {
    const DallyValueInstruction& in = instructions_[i];
    if (uses[in.dest] != 0) continue;
    dead[i] = true;
    for (int k = 0; k < in.n_sources; ++k) --uses[in.sources[k]];
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < instructions_.size(); ++i) {
    if (!dead[i]) instructions_[kept++] = instructions_[i];
  }
  instructions_.resize(kept);
}

DallyAllocation allocate_addresses(const DallyValueProgram& program) {
  return allocate_addresses_by_shell(program, 0);
}

DallyAllocation allocate_addresses_by_shell(const DallyValueProgram& program, int exact_shells) {
  const std::vector<Lifetime> life = lifetimes_of(program);
  DallyAllocation allocation;
  allocation.addresses.assign(life.size(), 0);
  std::vector<std::uint32_t> unplaced;
  for (std::uint32_t v = 0; v < life.size(); ++v) {
    if (life[v].start != 0) unplaced.push_back(v);
  }
  std::uint64_t first_address = 1;
  for (int d = 1; d <= exact_shells && !unplaced.empty(); ++d) {
    const std::int64_t tracks = 2 * d - 1;
    const std::vector<std::uint32_t> chosen = max_reads_within_tracks(life, unplaced, tracks);
    partition_onto(life, chosen, first_address, tracks, allocation.addresses);
    std::vector<bool> taken(life.size(), false);
    for (std::uint32_t v : chosen) taken[v] = true;
    std::erase_if(unplaced, [&](std::uint32_t v) { return taken[v]; });
    first_address += static_cast<std::uint64_t>(tracks);
  }
  if (!unplaced.empty()) {
    // The rest by chains, on the addresses after the exact shells.
    const std::vector<std::uint64_t> rest = chain_colour(life, unplaced, first_address);
    for (std::size_t i = 0; i < unplaced.size(); ++i) allocation.addresses[unplaced[i]] = rest[i];
  }
  for (std::uint32_t v = 0; v < life.size(); ++v) {
    if (allocation.addresses[v] != 0) {
      allocation.cost += life[v].reads * dally_distance(allocation.addresses[v]);
    }
  }
  return allocation;
}

std::uint64_t placement_lower_bound(const DallyValueProgram& program) {
  const std::vector<Lifetime> life = lifetimes_of(program);
  std::vector<std::uint32_t> values;
  std::uint64_t total = 0;
  for (std::uint32_t v = 0; v < life.size(); ++v) {
    if (life[v].start == 0) continue;
    values.push_back(v);
    total += life[v].reads;
  }
  // cost = Σ_v reads(v) · csqrt(addr) = total + Σ_{d >= 1} (reads placed above address d²), and
  // the reads placed at or below d² are at most best[d² - 1] (the d²-track optimum).
  std::vector<std::uint64_t> best;
  max_reads_within_tracks(life, values, static_cast<std::int64_t>(values.size()), &best);
  std::uint64_t bound = total;
  for (std::uint64_t d = 1;; ++d) {
    const std::uint64_t within =
        d * d <= best.size() ? best[d * d - 1] : (best.empty() ? 0 : best.back());
    if (within >= total) break;
    bound += total - within;
  }
  return bound;
}

std::string render_dally_program(const DallyValueProgram& program,
                                 const DallyAllocation& allocation) {
  const auto& at = allocation.addresses;
  std::string text;
  text.reserve(16 * (program.instructions().size() + program.value_count()));
  const auto append_number = [&](std::int64_t x) { text += std::to_string(x); };
  for (std::size_t v = 0; v < program.input_count(); ++v) {
    if (v != 0) text += ',';
    append_number(static_cast<std::int64_t>(at[v]));
  }
  text += '\n';
  for (const DallyValueInstruction& in : program.instructions()) {
    if (in.op == DallyOp::kCopy && at[in.dest] == at[in.sources[0]]) continue;
    text += to_string(in.op);
    text += ' ';
    append_number(static_cast<std::int64_t>(at[in.dest]));
    if (in.op == DallyOp::kSet) {
      text += ',';
      append_number(in.literal);
    }
    for (int k = 0; k < in.n_sources; ++k) {
      text += ',';
      append_number(static_cast<std::int64_t>(at[in.sources[k]]));
    }
    if (in.op == DallyOp::kCmp) {
      text += ',';
      text += to_string(in.predicate);
    }
    text += '\n';
  }
  for (std::size_t i = 0; i < program.outputs().size(); ++i) {
    if (i != 0) text += ',';
    append_number(static_cast<std::int64_t>(at[program.outputs()[i]]));
  }
  text += '\n';
  return text;
}

}  // namespace cube
