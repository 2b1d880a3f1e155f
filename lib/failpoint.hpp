#pragma once
// Fault injection for the failure tests: EFFSCALE_FAILPOINTS="name[,name...]" in the environment
// makes failpoint(name) true where the code asks. Unset (always, outside tests) it costs a getenv.
//
// Failpoints: "write-enospc" (report writes fail half-way with ENOSPC), "onednn-resolution=R"
// (building a network whose input is R pixels fails inside oneDNN), "interrupt-after-batch"
// (a search is interrupted after its first measured batch, as by Ctrl-C), "pause-after-checkpoint"
// (a search waits after writing its first checkpoint until a real SIGINT/SIGTERM/SIGHUP arrives),
// "hang-after-checkpoint" (it waits there whatever arrives: only a second signal ends it),
// "simulated-machine" (measurements run on measure.hpp's SimulatedTimer: deterministic latencies
// from each network's MACs and layer count, in virtual time).

#include <string_view>

namespace effscale {

/// True when `name` is listed in EFFSCALE_FAILPOINTS.
bool failpoint(std::string_view name);

}  // namespace effscale
