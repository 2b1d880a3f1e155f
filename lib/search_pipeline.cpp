#include "search_pipeline.hpp"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <set>

#include "error.hpp"
#include "limits.hpp"
#include "strategy.hpp"
#include "text.hpp"

namespace effscale {

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

namespace {

using Triple = std::tuple<Decimal, Decimal, Decimal>;

Triple triple_of(const Candidate& c) { return {c.alpha, c.beta, c.gamma}; }

// Cost, calibration and network id of every result, in parallel on TBB workers.
void evaluate_candidates(const SearchPlan& plan, std::int64_t baseline_macs, std::vector<CandidateResult>& results) {
  const double target_ratio = std::pow(plan.constraint.target.value(), plan.phi);
  // The grid's candidates are few distinct networks (79,232 candidates, 741 networks): each
  // thread costs a rounded model once.
  struct Evaluated {
    NetworkCost cost;
    std::string network;
    std::int64_t bytes = 0;
  };
  struct Scratch {
    Graph graph;
    NetworkSpec scaled;
    std::string key;
    MacCache macs;
    std::unordered_map<std::string, Evaluated> evaluated;
  };
  tbb::enumerable_thread_specific<Scratch> scratches;
  tbb::parallel_for(tbb::blocked_range<size_t>(0, results.size(), 16), [&](const tbb::blocked_range<size_t>& range) {
    Scratch& scratch = scratches.local();
    Graph& g = scratch.graph;
    MacCache& cache = scratch.macs;
    for (size_t i = range.begin(); i != range.end(); ++i) {
      CandidateResult& r = results[i];
      r.phi = plan.phi;
      r.phi_star = plan.phi;
      r.target_ratio = target_ratio;
      try {
        const Coefficients coefficients{r.candidate.alpha.value(), r.candidate.beta.value(), r.candidate.gamma.value()};
        if (plan.calibrate && target_ratio != 1.0) {
          if (!(r.candidate.product_value > 1))
            throw Error(fmt::format("alpha*beta^2*gamma^2 = {} does not grow the network", r.candidate.product));
          Strategy strategy;
          strategy.kind = StrategyKind::kCompound;
          strategy.coefficients = coefficients;
          const auto point = calibrated_point(strategy, target_ratio, plan.baseline, baseline_macs, g, &cache);
          r.factors = point->factors;
          r.phi_star = point->phi;
        } else {
          r.factors = compound_factors(plan.phi, coefficients, plan.baseline.resolution);
        }
        scale(plan.baseline, r.factors, scratch.scaled);
        rounded_key(scratch.scaled, scratch.key);
        auto it = scratch.evaluated.find(scratch.key);
        if (it == scratch.evaluated.end()) {
          expand(scratch.scaled, g);
          Evaluated e{network_cost(g), network_id(g), 0};
          e.bytes = network_memory_bytes(g, e.cost.total.params, plan.measure.network, plan.measure.threads);
          it = scratch.evaluated.emplace(scratch.key, std::move(e)).first;
        }
        const NetworkCost& c = it->second.cost;
        r.cost = c.total;
        r.peak_memory_bytes = c.peak_activation_bytes;
        r.mac_ratio = static_cast<double>(c.total.macs) / static_cast<double>(baseline_macs);
        r.mac_error = r.mac_ratio / target_ratio - 1;
        r.network = it->second.network;
        const std::int64_t bytes = it->second.bytes;
        if (bytes > plan.max_memory) {
          r.status = RowStatus::skipped(fmt::format("needs an estimated {} (activations at batch {} and weights), over "
                                                    "the limit of {} (--max-memory)",
                                                    human_bytes(bytes), plan.measure.network.batch,
                                                    human_bytes(plan.max_memory)));
        }
      } catch (const Error& e) {
        r.status = RowStatus::skipped(e.what());  // out of the ranges effscale builds
      } catch (const std::exception& e) {
        r.status = RowStatus::failed(e.what());
      }
    }
  });
}

ScoreSettings score_settings(const std::optional<double>& latency_target_ms, const ReportHeader& header) {
  ScoreSettings score;
  if (latency_target_ms) {
    score.latency_target_ms = *latency_target_ms;
  } else if (header.baseline_latency_ms) {
    const double target = parse_double(header.key.get("target")).value_or(2);
    const double phi = parse_double(header.key.get("phi")).value_or(1);
    score.latency_target_ms = *header.baseline_latency_ms * std::pow(target, phi);
  }
  return score;
}

// Predictions for the distinct networks of `todo` (ok rows whose latency is not known yet) into
// `known`; rows whose prediction fails (a unit could not be measured) are marked failed.
void predict_rows(const SearchPlan& plan, std::vector<CandidateResult>& todo, std::map<std::string, Latency>& known,
                  std::optional<TableOutcome>& table, const std::atomic<bool>* stop,
                  const std::function<void(const MeasureProgress&)>& progress, double& prediction_seconds) {
  std::map<std::string, ScaleFactors> networks;
  for (const auto& r : todo)
    if (r.ok() && !known.count(r.network)) networks.emplace(r.network, r.factors);
  MeasureConfig units = plan.measure;  // the search's --runs are for whole networks (--verify)
  units.settings = table_measure_settings(plan.measure.settings.seed);
  TablePlan tp = make_table_plan(plan.baseline, units, plan.max_memory, plan.table_path, plan.table_default,
                                 plan.recalibrate);
  tp.refit_settings = refit_measure_settings(plan.measure.settings.seed);
  std::vector<std::string> ids;
  for (const auto& [id, f] : networks) {
    ids.push_back(id);
    tp.networks.push_back(expand(scale(plan.baseline, f)));
  }
  table = ensure_latency_table(tp, stop, progress);
  if (table->interrupted) return;
  const auto started = std::chrono::steady_clock::now();
  std::vector<Prediction> predictions(ids.size());
  tbb::parallel_for(size_t{0}, ids.size(), [&](size_t i) { predictions[i] = predict_graph(tp.networks[i], table->table); });
  std::map<std::string, std::string> failed;
  const std::string why = table->failures.empty() ? "" : "; " + join(table->failures, "; ");
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!predictions[i].ok()) {
      failed[ids[i]] = fmt::format("latency not predicted: {} unit(s) could not be measured{}", predictions[i].missing, why);
      continue;
    }
    Latency l;
    l.rel = predictions[i].rel;
    l.ms = l.rel.estimate * table->reference_ms;
    known.emplace(ids[i], l);
  }
  for (auto& r : todo)
    if (auto f = failed.find(r.network); f != failed.end()) r.status = RowStatus::failed(f->second);
  prediction_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

// --verify: the top `plan.verify` distinct networks of the ranked rows measured next to the
// baseline, ranked by the measurement with the search's objective.
void verify_top(const SearchPlan& plan, SearchOutcome& out, const std::atomic<bool>* stop,
                const std::function<void(const MeasureProgress&)>& progress) {
  const std::string baseline_network = network_id(expand(plan.baseline));
  std::vector<CandidateResult> top;
  std::set<std::string> seen;
  for (const auto& r : out.results) {
    if (static_cast<int>(top.size()) >= plan.verify) break;
    if (r.rank == 0 || !r.latency || !seen.insert(r.network).second) continue;
    top.push_back(r);
  }
  if (top.empty()) return;
  // Measured in one run with the calibration networks, whose refit then predicts them again: the
  // predictions and the measurements compared share the machine's state.
  TablePlan tp = make_table_plan(plan.baseline, plan.measure, plan.max_memory, plan.table_path, plan.table_default, true);
  for (const auto& r : top) tp.measure_too.push_back(expand(scale(plan.baseline, r.factors)));
  tp.networks = tp.measure_too;
  TableOutcome t = ensure_latency_table(tp, stop, progress);
  if (t.interrupted) {
    out.interrupted = true;
    return;
  }
  std::vector<CandidateResult> measured;
  std::vector<double> predicted_rel, measured_rel;
  for (size_t i = 0; i < top.size(); ++i) {
    if (!t.measured.at(i)) continue;
    const Prediction p = predict_graph(tp.measure_too[i], t.table);
    if (!p.ok()) continue;
    top[i].latency->rel = p.rel;
    top[i].latency->ms = p.rel.estimate * t.reference_ms;
    CandidateResult c = top[i];
    c.latency = t.measured[i];
    measured.push_back(c);
    predicted_rel.push_back(p.rel.estimate);
    measured_rel.push_back(c.latency->rel.estimate);
  }
  out.agreement = prediction_agreement(predicted_rel, measured_rel);
  rank_results(measured, plan.objective, out.score);
  std::map<std::string, const CandidateResult*> by_network;
  for (const auto& r : top) by_network[r.network] = &r;
  for (const auto& c : measured) out.verified.push_back({*by_network.at(c.network), *c.latency, c.rank, c.tied});
  out.counts.measured = out.verified.size();
  out.header.verified.push_back(fmt::format(
      "top {} networks by prediction measured next to the baseline in {:.0f} s, with the calibration networks, whose "
      "refit ({}) predicts them; predicted within 10% of measured: {}/{}, Spearman {:.2f}",
      out.verified.size(), t.seconds, fit_words(t.table.overhead),
      static_cast<int>(std::lround(out.agreement.within_10 * out.agreement.networks)), out.agreement.networks,
      out.agreement.spearman));
  for (const auto& v : out.verified)
    out.header.verified.push_back(fmt::format(
        "measured rank {}{} network {} ({}, {}, {}) predicted rank {}: predicted {:.4f} [{:.4f}, {:.4f}], measured "
        "{:.4f} [{:.4f}, {:.4f}]", v.rank, v.tied ? "=" : "", v.row.network, v.row.candidate.alpha.text(),
        v.row.candidate.beta.text(), v.row.candidate.gamma.text(), v.row.rank, v.row.latency->rel.estimate,
        v.row.latency->rel.low, v.row.latency->rel.high, v.measured.rel.estimate, v.measured.rel.low,
        v.measured.rel.high));
  out.measurement = std::move(t.measurement);
}

}  // namespace

SearchKey search_key(const SearchPlan& p) {
  SearchKey k;
  k.fields = {{"baseline", p.baseline.name},
              {"baseline_spec", baseline_fingerprint(p.baseline)},
              {"phi", shortest(p.phi)},
              {"calibrate", p.calibrate ? "on" : "off"},
              {"target", p.constraint.target.text()},
              {"tolerance", p.constraint.tolerance.text()},
              {"alpha", p.alpha.spec()},
              {"beta", p.beta.spec()},
              {"gamma", p.gamma.spec()},
              {"latency", !p.latency ? "off" : p.source == LatencySource::kPredicted ? "predicted" : "on"}};
  if (p.latency) {
    const MachineInfo machine = this_machine();
    const auto& n = p.measure.network;
    const std::string lowering = lowering_switches(n);
    k.fields.insert(k.fields.end(), {{"cpu", machine.cpu},
                                     {"cores", std::to_string(machine.cores)},
                                     {"onednn", machine.onednn},
                                     {"threads", std::to_string(p.measure.threads)},
                                     {"batch", std::to_string(n.batch)},
                                     {"layout", std::string(to_string(n.layout))},
                                     {"lowering", lowering.empty() ? "default" : lowering},
                                     {"seed", std::to_string(n.seed)}});
    // Latencies from the user's command are another measurement: never merged or resumed with oneDNN's.
    if (p.measure.command) k.fields.emplace_back("latency_cmd", p.measure.command->text);
  }
  return k;
}

SearchOutcome run_search(const SearchPlan& plan, const std::atomic<bool>* stop, const SearchCallbacks& callbacks) {
  const auto started = std::chrono::steady_clock::now();
  SearchOutcome out;
  out.objective = plan.objective;

  // Candidates of the grid under the constraint; this shard's share.
  std::vector<Candidate> nearest;
  std::vector<Candidate> candidates = enumerate_candidates(plan.alpha, plan.beta, plan.gamma, plan.constraint, &nearest);
  out.counts.grid = plan.alpha.size() * plan.beta.size() * plan.gamma.size();
  if (candidates.empty()) {
    std::vector<std::string> near;
    for (const auto& c : nearest)
      near.push_back(fmt::format("{} ({}, {}, {})", c.product, c.alpha.text(), c.beta.text(), c.gamma.text()));
    throw Error(fmt::format("no (alpha, beta, gamma) of the {} grid triples has alpha*beta^2*gamma^2 within {} of {}; "
                            "nearest products: {}",
                            out.counts.grid, plan.constraint.tolerance.text(), plan.constraint.target.text(),
                            near.empty() ? "none" : join(near, ", ")));
  }
  if (plan.shard_count > 1) {
    std::vector<Candidate> mine;
    for (size_t i = static_cast<size_t>(plan.shard_index); i < candidates.size(); i += static_cast<size_t>(plan.shard_count))
      mine.push_back(candidates[i]);
    candidates = std::move(mine);
  }
  out.counts.candidates = candidates.size();
  if (static_cast<std::int64_t>(candidates.size()) > kMaxCandidates)
    throw Error(fmt::format("{} candidates in one search is more than {} (its report would be too large to read back): "
                            "split it with --shard, or use coarser grid steps",
                            candidates.size(), kMaxCandidates));
  if (!plan.accuracy.empty()) {
    size_t known = 0;
    for (const auto& [triple, top1] : plan.accuracy)
      known += grid_candidate(plan.alpha, plan.beta, plan.gamma, plan.constraint, std::get<0>(triple), std::get<1>(triple),
                              std::get<2>(triple))
                   .has_value();
    if (known == 0)
      throw Error(fmt::format("none of the {} triples of the accuracy file is a candidate of this search (its grids and "
                              "constraint): is it the right file?",
                              plan.accuracy.size()));
  }

  ReportHeader& header = out.header;
  header.key = search_key(plan);
  header.command = plan.command;
  header.machine = plan.latency ? this_machine().text() : "";
  header.date = utc_now();
  header.shard_index = plan.shard_index;
  header.shard_count = plan.shard_count;
  header.objective = std::string(to_string(plan.objective));
  const Graph baseline_graph = expand(plan.baseline);
  const std::int64_t baseline_macs = network_cost(baseline_graph).total.macs;
  const std::string baseline_network = network_id(baseline_graph);
  header.baseline_macs = baseline_macs;

  // Resume: rows of an earlier run of the same search are kept and not measured again. Skipped
  // rows are evaluated again (their reason, e.g. --max-memory, may not hold any more).
  std::vector<CandidateResult> kept;
  std::set<Triple> done;
  std::map<std::string, Latency> known;  // network -> latency measured earlier
  if (plan.resume) {
    const std::string difference = header.key.difference(plan.resume->header.key);
    if (!difference.empty())
      throw Error(fmt::format("the resume report was made by a different search ({}, this search vs the report)",
                              difference));
    validate_report(*plan.resume, plan.baseline, plan.resume_source);
    for (const auto& r : plan.resume->results) {
      if (r.status.state == RowState::kSkipped) continue;
      if (!done.insert(triple_of(r.candidate)).second) continue;
      kept.push_back(r);
      if (r.latency && !r.network.empty()) known.emplace(r.network, *r.latency);
    }
    if (plan.resume->header.baseline_latency_ms) header.baseline_latency_ms = plan.resume->header.baseline_latency_ms;
  }
  if (callbacks.ready) callbacks.ready();
  std::vector<CandidateResult> todo;
  for (const auto& c : candidates) {
    if (done.count(triple_of(c))) continue;
    CandidateResult r;
    r.candidate = c;
    todo.push_back(r);
  }
  out.counts.evaluated = todo.size();
  evaluate_candidates(plan, baseline_macs, todo);

  // Predicted latency: every distinct network's prediction from the latency table (its missing
  // units measured first), taken as known, as a resumed report's latencies are.
  std::optional<TableOutcome> table;
  if (plan.latency && plan.source == LatencySource::kPredicted) {
    predict_rows(plan, todo, known, table, stop, callbacks.progress, out.prediction_seconds);
    if (table->interrupted) {  // the units measured so far are in the table file; no row is ranked
      out.interrupted = true;
      out.table = std::move(table);
      out.results = kept;
      rank_results(out.results, plan.objective, out.score);
      out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      return out;
    }
    header.baseline_latency_ms = table->reference_ms;
  }

  // Distinct networks to time: each once; the baseline itself is the reference.
  std::map<std::string, int> id_of;
  std::vector<ScaleFactors> factors;
  std::vector<double> scale = {0.0};
  const bool racing = plan.objective == Objective::kRelLatency || plan.objective == Objective::kLatency ||
                      plan.objective == Objective::kNormLatency;
  auto objective_scale = [&](const CandidateResult& r) {
    return plan.objective == Objective::kNormLatency ? r.target_ratio / r.mac_ratio : 1.0;
  };
  if (plan.latency) {
    for (const auto& r : todo) {
      if (!r.ok() || known.count(r.network) || id_of.count(r.network)) continue;
      if (r.network == baseline_network) {
        id_of[r.network] = kReference;
        scale[0] = objective_scale(r);
        continue;
      }
      id_of[r.network] = static_cast<int>(factors.size()) + 1;
      factors.push_back(r.factors);
      scale.push_back(objective_scale(r));
    }
  }

  // The rows so far: resumed ones, and this run's whose measurement is complete (or needs none).
  auto assemble = [&](const MeasureOutcome* m, bool final) {
    std::vector<CandidateResult> rows = kept;
    for (const auto& r : todo) {
      CandidateResult row = r;
      if (plan.latency && row.ok()) {
        if (auto k = known.find(row.network); k != known.end()) {
          row.latency = k->second;
        } else if (!m) {
          continue;
        } else {
          const int id = id_of.at(row.network);
          const NetworkMeasurement& n = m->networks.at(static_cast<size_t>(id));
          if (!n.failure.empty()) {
            row.status = RowStatus::failed(n.failure);
          } else if (n.ok() && m->reference.median_ms > 0) {
            row.latency = latency_of(*m, id);
          } else if (!final || m->interrupted) {
            continue;  // not measured yet: a resumed run measures it
          } else {
            row.status = RowStatus::failed("not measured");
          }
        }
      }
      auto acc = plan.accuracy.find(triple_of(row.candidate));
      row.top1 = acc == plan.accuracy.end() ? std::nullopt : std::optional<double>(acc->second);
      rows.push_back(std::move(row));
    }
    for (auto& r : rows) {
      if (r.top1) continue;
      auto acc = plan.accuracy.find(triple_of(r.candidate));
      if (acc != plan.accuracy.end()) r.top1 = acc->second;
    }
    return rows;
  };
  auto finish = [&](SearchOutcome& o, std::vector<CandidateResult> rows, const MeasureOutcome* m) {
    if (m && m->reference.median_ms > 0) {
      o.header.baseline_latency_ms = m->reference.median_ms;
      o.header.drift = m->drift;
      o.header.timing = measure_words(plan.measure, *m);
      o.header.warnings = measure_warnings(*m);
    } else if (!plan.latency) {
      o.header.timing = "latency not measured (--latency none)";
    } else if (plan.source == LatencySource::kPredicted && table) {
      const TableOutcome& t = *table;
      o.header.timing = fmt::format(
          "latency predicted from the unit latency table {} ({} units; {} measured in this run in {:.1f} s; the table "
          "took {:.1f} s to measure in all; fit {} on {} calibration networks{}, residual sd {:.1f}%)",
          t.path, t.table.units.size(), t.units_measured, t.seconds, t.table.build_seconds, fit_words(t.table.overhead),
          t.table.overhead.networks, t.calibration_networks ? " measured in this run" : " of an earlier run",
          100 * t.table.overhead.residual_sd);
      if (t.anchors > 0)
        o.header.timing += fmt::format("; {} anchor units timed again carried the new units into the table's state "
                                       "(now = {:.3f} x table^{:.3f})",
                                       t.anchors, std::exp(t.anchor_map.offset), t.anchor_map.slope);
      if (!t.rebuilt.empty()) o.header.warnings.push_back("the latency table was rebuilt: " + t.rebuilt);
    } else {
      o.header.timing = "nothing measured in this run (every network came from --resume)";
    }
    o.score = score_settings(plan.latency_target_ms, o.header);
    rank_results(rows, plan.objective, o.score);
    o.results = std::move(rows);
    std::set<std::string> networks;
    for (const auto& r : o.results)
      if (!r.network.empty()) networks.insert(r.network);
    o.counts.networks = networks.size();
  };

  const bool anything_to_time = plan.latency && (!factors.empty() || !id_of.empty() || !header.baseline_latency_ms);
  if (anything_to_time) {
    MeasureConfig config = plan.measure;
    config.settings.memory_limit = plan.max_memory;
    auto progress = [&](const MeasureProgress& p) {
      if (callbacks.progress) callbacks.progress(p);
      if (p.batch_done && callbacks.checkpoint && p.so_far) {
        SearchOutcome partial = out;
        finish(partial, assemble(p.so_far, false), p.so_far);
        callbacks.checkpoint(partial);
      }
    };
    MeasureOutcome m = measure_networks(plan.baseline, factors, config, racing ? scale : std::vector<double>{},
                                        stop, progress);
    out.interrupted = m.interrupted;
    for (size_t id = 1; id < m.networks.size(); ++id) out.counts.measured += m.networks[id].ok();
    finish(out, assemble(&m, true), &m);
    out.measurement = std::move(m);
  } else {
    finish(out, assemble(nullptr, true), nullptr);
  }
  out.table = std::move(table);
  if (plan.latency && plan.source == LatencySource::kPredicted && plan.verify > 0)
    verify_top(plan, out, stop, callbacks.progress);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

FamilyOutcome run_family_search(const SearchPlan& plan, const std::vector<double>& phis,
                                const std::atomic<bool>* stop, const SearchCallbacks& callbacks) {
  if (phis.size() < 2) throw Error("a family search needs at least two phi values (--phi 1,2,3)");
  if (!plan.latency || plan.objective != Objective::kRelLatency)
    throw Error("--phi with several values ranks triples by the geometric mean of their relative latency: it needs "
                "--latency measured or predicted and --rank-by rel-latency");
  if (plan.shard_count > 1 || plan.resume)
    throw Error("--phi with several values cannot be sharded or resumed: run one search per phi for that");
  const auto started = std::chrono::steady_clock::now();
  FamilyOutcome out;
  out.phis = phis;
  for (size_t i = 0; i < phis.size(); ++i) {
    SearchPlan p = plan;
    p.phi = phis[i];
    p.verify = 0;
    p.recalibrate = plan.recalibrate && i == 0;  // one fit for the whole family, measured once
    SearchCallbacks c;
    c.ready = i == 0 ? callbacks.ready : nullptr;
    c.progress = callbacks.progress;
    out.searches.push_back(run_search(p, stop, c));
    if (out.searches.back().interrupted) {
      out.interrupted = true;
      break;
    }
  }
  // Triples in grid order, each with its result at every phi.
  std::map<std::int64_t, FamilyRow> rows;
  for (const auto& search : out.searches)
    for (const auto& r : search.results) {
      FamilyRow& row = rows[r.candidate.index];
      row.candidate = r.candidate;
      row.per_phi.push_back(r);
    }
  std::vector<FamilyRow> ranked;
  for (auto& [index, row] : rows) {
    double log_estimate = 0, log_low = 0, log_high = 0;
    row.status = "ok";
    for (size_t i = 0; i < row.per_phi.size(); ++i) {
      const CandidateResult& r = row.per_phi[i];
      if (!r.ok() || !r.latency) {
        row.status = fmt::format("phi {}: {}", shortest(phis[i]), r.ok() ? "no latency" : r.status.text());
        break;
      }
      log_estimate += std::log(r.latency->rel.estimate);
      log_low += std::log(r.latency->rel.low);
      log_high += std::log(r.latency->rel.high);
    }
    if (row.status == "ok" && row.per_phi.size() != phis.size()) row.status = "not evaluated at every phi";
    if (row.status == "ok") {
      const double n = static_cast<double>(phis.size());
      row.geomean = Interval{std::exp(log_estimate / n), std::exp(log_low / n), std::exp(log_high / n)};
    }
    ranked.push_back(std::move(row));
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const FamilyRow& a, const FamilyRow& b) {
    if (a.geomean.has_value() != b.geomean.has_value()) return a.geomean.has_value();
    return a.geomean && a.geomean->estimate < b.geomean->estimate;
  });
  std::vector<std::optional<Interval>> values;
  std::vector<std::string> networks;
  for (const auto& r : ranked) {
    values.push_back(r.geomean);
    std::string id;
    for (const auto& p : r.per_phi) id += p.network;
    networks.push_back(id);
  }
  const std::vector<RankMark> marks = mark_ranks(values, networks);
  for (size_t i = 0; i < ranked.size(); ++i) {
    ranked[i].rank = marks[i].rank;
    ranked[i].tied = marks[i].tied;
  }
  out.rows = std::move(ranked);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

DataTable family_table(const FamilyOutcome& o) {
  DataTable t;
  t.columns = {"rank", "tied", "alpha", "beta", "gamma", "product", "geomean_rel", "geomean_low", "geomean_high"};
  for (double phi : o.phis) {
    const std::string p = shortest(phi);
    t.columns.insert(t.columns.end(), {"rel_latency_phi" + p, "resolution_phi" + p, "network_phi" + p});
  }
  t.columns.push_back("status");
  for (const auto& r : o.rows) {
    std::vector<Cell> row = {r.rank > 0 ? Cell{std::int64_t(r.rank)} : Cell{}, std::string(r.tied ? "true" : "false"),
                             r.candidate.alpha.text(), r.candidate.beta.text(), r.candidate.gamma.text(),
                             r.candidate.product};
    if (r.geomean) row.insert(row.end(), {r.geomean->estimate, r.geomean->low, r.geomean->high});
    else row.insert(row.end(), {Cell{}, Cell{}, Cell{}});
    for (size_t i = 0; i < o.phis.size(); ++i) {
      if (i < r.per_phi.size() && r.per_phi[i].latency)
        row.insert(row.end(), {r.per_phi[i].latency->rel.estimate, std::int64_t(r.per_phi[i].factors.resolution),
                               r.per_phi[i].network});
      else
        row.insert(row.end(), {Cell{}, Cell{}, Cell{}});
    }
    row.push_back(r.status);
    t.rows.push_back(std::move(row));
  }
  return t;
}

MergeOutcome merge_reports(const MergePlan& plan) {
  if (plan.reports.empty()) throw Error("merge needs at least one report (effscale merge A.csv B.csv ...)");
  MergeOutcome out;
  const Report& first = plan.reports[0];
  auto source = [&](size_t i) { return i < plan.sources.size() ? plan.sources[i] : fmt::format("report {}", i + 1); };
  bool machines_differ = false;
  for (size_t i = 1; i < plan.reports.size(); ++i) {
    const std::string difference = first.header.key.difference(plan.reports[i].header.key, machine_key_fields());
    if (!difference.empty())
      throw Error(fmt::format("'{}' and '{}' come from different searches ({})", source(0), source(i), difference));
    const std::string machine = first.header.key.difference(plan.reports[i].header.key);
    if (!machine.empty() && !machines_differ) {
      machines_differ = true;
      out.notes.push_back(fmt::format("the reports come from different machines ({}, in '{}' and '{}'); each measured "
                                      "its latencies against its own reference, so they are ranked by relative latency",
                                      machine, source(0), source(i)));
    }
  }
  for (size_t i = 0; i < plan.reports.size(); ++i) validate_report(plan.reports[i], plan.baseline, source(i));
  Objective objective = plan.objective.value_or(
      first.header.objective.empty() ? Objective::kRelLatency : parse_objective(first.header.objective));
  if (machines_differ && (objective == Objective::kLatency || objective == Objective::kNormLatency)) {
    out.notes.push_back(fmt::format("--rank-by {} compares milliseconds across machines: ranking by rel-latency instead",
                                    to_string(objective)));
    objective = Objective::kRelLatency;
  }
  out.objective = objective;

  // Shards: every i of n should be there.
  std::map<int, std::set<int>> shards;
  for (const auto& r : plan.reports)
    if (r.header.shard_count > 1) shards[r.header.shard_count].insert(r.header.shard_index);
  for (const auto& [n, present] : shards) {
    std::vector<std::string> missing;
    for (int i = 0; i < n; ++i)
      if (!present.count(i)) missing.push_back(fmt::format("{}/{}", i, n));
    if (!missing.empty())
      out.notes.push_back(fmt::format("shard(s) {} missing: the ranking covers {} of {} shards", join(missing, ", "),
                                      present.size(), n));
  }

  out.header = first.header;
  out.header.shard_index = 0;
  out.header.shard_count = 1;
  out.header.warnings.clear();
  std::vector<double> baseline_latencies, drifts;
  std::vector<CandidateResult> merged;
  std::set<Triple> seen;
  for (const auto& r : plan.reports) {
    if (r.header.baseline_latency_ms) baseline_latencies.push_back(*r.header.baseline_latency_ms);
    if (r.header.drift) drifts.push_back(*r.header.drift);
    for (const auto& w : r.header.warnings) out.header.warnings.push_back(w);
    for (const auto& c : r.results)
      if (seen.insert(triple_of(c.candidate)).second) merged.push_back(c);
  }
  if (!baseline_latencies.empty()) out.header.baseline_latency_ms = median(baseline_latencies);
  if (!drifts.empty()) out.header.drift = *std::max_element(drifts.begin(), drifts.end());
  out.header.command = "effscale merge " + join(plan.sources, " ");
  out.header.date = utc_now();
  out.header.objective = std::string(to_string(objective));
  for (const auto& n : out.notes) out.header.warnings.push_back(n);
  if (needs_latency(objective)) {
    const bool any = std::any_of(merged.begin(), merged.end(), [](const CandidateResult& c) { return c.latency.has_value(); });
    if (!any) throw Error(fmt::format("--rank-by {} needs latency, and these reports have none", to_string(objective)));
  }
  out.score = score_settings(plan.latency_target_ms, out.header);
  rank_results(merged, objective, out.score);
  out.results = std::move(merged);
  return out;
}

}  // namespace effscale
