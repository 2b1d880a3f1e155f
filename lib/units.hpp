#pragma once
// The units a latency prediction adds up: a network's expanded layer list cut into its stem, each
// block (expand, depthwise, SE path, projection with its shortcut) and its head (head conv, pool,
// classifier). Each unit becomes a graph of its own whose tensor 0 is the unit's input, so that it
// can be built and timed alone; its network_id is the unit's key in a latency table (the same
// shapes are the same unit in any network, at any depth). Pure: no oneDNN.

#include <string>
#include <vector>

#include "graph.hpp"

namespace effscale {

/// One unit of a network.
struct Unit {
  std::string name;  ///< "stem", "stage2.block1", "head"
  std::string key;   ///< network_id(graph)
  Graph graph;       ///< tensor 0 is the unit's input (the image for the stem)
};

/// The units of `graph`, in execution order. Throws Error for a graph whose units are not
/// contiguous runs of layers (never the case for expand()'s output).
std::vector<Unit> split_units(const Graph& graph);

/// The keys only (what a prediction looks up), without keeping the slices.
std::vector<std::string> unit_keys(const Graph& graph);

}  // namespace effscale
