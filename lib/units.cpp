#include "units.hpp"

#include <fmt/format.h>

#include <map>

#include "error.hpp"

namespace effscale {

namespace {

// Which unit a layer belongs to: the stem, a block, or the head (everything after the stages).
struct UnitId {
  int kind = 0;  // 0 stem, 1 block, 2 head
  int stage = -1, block = -1;
  bool operator==(const UnitId& o) const { return kind == o.kind && stage == o.stage && block == o.block; }
  bool operator!=(const UnitId& o) const { return !(*this == o); }
};

UnitId unit_of(const Layer& l) {
  if (l.stage >= 0) return {1, l.stage, l.block};
  return {l.role == LayerRole::kStem ? 0 : 2, -1, -1};
}

std::string unit_name(const UnitId& u) {
  if (u.kind == 0) return "stem";
  if (u.kind == 2) return "head";
  return fmt::format("stage{}.block{}", u.stage + 1, u.block + 1);
}

// Layers [begin, end) of `g` as a graph of their own into `s`: tensors renumbered in order of
// appearance, the unit's input first.
void slice(const Graph& g, size_t begin, size_t end, Graph& s) {
  s.layers.clear();
  s.tensors.clear();
  std::map<int, int> remap;
  const int input = g.layers[begin].input;
  const TensorInfo& in = g.tensors.at(static_cast<size_t>(input));
  s.tensors.push_back({in.c, in.h, in.w, -1, -1});
  remap[input] = 0;
  auto map = [&](int t) {
    if (t < 0) return t;
    auto it = remap.find(t);
    if (it == remap.end())
      throw Error(fmt::format("layer {} reads a tensor made outside its unit", layer_name(g.layers[begin])));
    return it->second;
  };
  for (size_t i = begin; i < end; ++i) {
    Layer l = g.layers[i];
    l.input = map(l.input);
    l.gate = map(l.gate);
    l.residual = map(l.residual);
    const TensorInfo& out = g.tensors.at(static_cast<size_t>(l.output));
    const int id = static_cast<int>(s.tensors.size());
    s.tensors.push_back({out.c, out.h, out.w, static_cast<int>(s.layers.size()), -1});
    remap[l.output] = id;
    l.output = id;
    s.layers.push_back(l);
  }
  for (int i = 0; i < static_cast<int>(s.layers.size()); ++i)
    for (int t : {s.layers[i].input, s.layers[i].gate, s.layers[i].residual})
      if (t >= 0) s.tensors[static_cast<size_t>(t)].last_use = i;
}

// Calls f(name, begin, end) for every unit of g.
template <typename F>
void for_each_unit(const Graph& g, F&& f) {
  std::vector<UnitId> seen;
  size_t begin = 0;
  for (size_t i = 1; i <= g.layers.size(); ++i) {
    if (i < g.layers.size() && unit_of(g.layers[i]) == unit_of(g.layers[begin])) continue;
    const UnitId u = unit_of(g.layers[begin]);
    for (const auto& s : seen)
      if (s == u) throw Error(fmt::format("the layers of {} are not contiguous", unit_name(u)));
    seen.push_back(u);
    f(u, begin, i);
    begin = i;
  }
}

}  // namespace

std::vector<Unit> split_units(const Graph& graph) {
  std::vector<Unit> units;
  for_each_unit(graph, [&](const UnitId& u, size_t begin, size_t end) {
    Unit unit;
    unit.name = unit_name(u);
    slice(graph, begin, end, unit.graph);
    unit.key = network_id(unit.graph);
    units.push_back(std::move(unit));
  });
  return units;
}

std::vector<std::string> unit_keys(const Graph& graph) {
  std::vector<std::string> keys;
  Graph s;
  for_each_unit(graph, [&](const UnitId&, size_t begin, size_t end) {
    slice(graph, begin, end, s);
    keys.push_back(network_id(s));
  });
  return keys;
}

}  // namespace effscale
