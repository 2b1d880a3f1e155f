// effscale predict: the predicted latency of models from this machine's latency table, beside
// their measured latency, per model and per unit (lib/predict_pipeline.hpp).

#include <fmt/format.h>

#include <cmath>
#include <sstream>

#include "cli.hpp"
#include "error.hpp"
#include "interrupt.hpp"
#include "options.hpp"
#include "predict_pipeline.hpp"
#include "report/table.hpp"
#include "text.hpp"

namespace effscale {

namespace {

// 12 paired runs each, in 3 replicates: a few more than a predicted search's units and refit get
// (table_measure_settings), since here the models are measured to judge their predictions.
const MeasureDefaults kPredictMeasure{12, 0.0, false, 0.0};

std::string interval_text(const Interval& i) { return fmt::format("{:.3f} [{:.3f}, {:.3f}]", i.estimate, i.low, i.high); }

DataTable model_data(const PredictOutcome& o) {
  DataTable t;
  t.columns = {"model", "network", "resolution", "macs", "units", "predicted_rel", "predicted_low", "predicted_high",
               "predicted_ms", "measured_rel", "measured_low", "measured_high", "measured_ms", "error"};
  for (const auto& r : o.rows) {
    const Interval& p = r.prediction.rel;
    std::vector<Cell> row = {r.model.name, r.network, std::int64_t(r.model.factors.resolution), r.cost.total.macs,
                             std::int64_t(r.prediction.units.size()), p.estimate, p.low, p.high,
                             p.estimate * o.table.reference_ms};
    if (r.measured) {
      const Interval& m = r.measured->rel;
      row.insert(row.end(), {m.estimate, m.low, m.high, r.measured->ms, p.estimate / m.estimate - 1});
    } else {
      row.insert(row.end(), {Cell{}, Cell{}, Cell{}, Cell{}, Cell{}});
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

DataTable unit_data(const PredictOutcome& o) {
  DataTable t;
  t.columns = {"model", "unit", "key", "table_name", "predicted_rel", "predicted_low", "predicted_high", "runs",
               "measured_rel"};
  for (const auto& r : o.rows)
    for (size_t i = 0; i < r.prediction.units.size(); ++i) {
      const UnitPrediction& u = r.prediction.units[i];
      const UnitLatency& l = *u.latency;
      t.rows.push_back({r.model.name, u.name, u.key, l.name, l.rel.estimate, l.rel.low, l.rel.high,
                        std::int64_t(l.runs),
                        i < r.unit_measured_rel.size() ? Cell{r.unit_measured_rel[i]} : Cell{}});
    }
  return t;
}

std::string table_words(const TableOutcome& t) {
  std::string s = fmt::format("latency table {}: {} units", t.path, t.table.units.size());
  if (t.units_measured || t.calibration_networks)
    s += fmt::format("; measured {} new unit(s){} in {:.1f} s", t.units_measured,
                     t.calibration_networks ? fmt::format(" and {} calibration networks", t.calibration_networks) : "",
                     t.seconds);
  else
    s += "; every unit was cached";
  if (t.anchors > 0)
    s += fmt::format("; {} anchor units timed again carried the new ones into the table's state (now = {:.3f} x "
                     "table^{:.3f})", t.anchors, std::exp(t.anchor_map.offset), t.anchor_map.slope);
  s += fmt::format(" (the table took {:.1f} s to measure in all)", t.table.build_seconds);
  return s;
}

std::string to_text(const PredictOutcome& o, bool units) {
  std::ostringstream out;
  if (!o.table.rebuilt.empty()) out << "rebuilt the latency table: " << o.table.rebuilt << '\n';
  out << table_words(o.table) << '\n';
  const OverheadFit& f = o.table.table.overhead;
  out << fmt::format("fit: {} (n units; on {} calibration networks {}, residual sd {:.1f}%); latencies relative to "
                     "the baseline, ms at its {:.3f} ms {}\n\n",
                     fit_words(f), f.networks, o.table.calibration_networks ? "measured now" : "of an earlier run",
                     100 * f.residual_sd, o.table.reference_ms,
                     o.table.measurement ? "in this run" : "when the table was first measured");
  TextTable t;
  t.headers = {"model", "res", "MACs", "units", "predicted rel [95%]", "ms", "measured rel [95%]", "ms", "error"};
  t.right_aligned = {false, true, true, true, true, true, true, true, true};
  for (const auto& r : o.rows) {
    std::vector<std::string> row = {r.model.name, std::to_string(r.model.factors.resolution),
                                    human(static_cast<double>(r.cost.total.macs), 1e9) + "B",
                                    std::to_string(r.prediction.units.size()), interval_text(r.prediction.rel),
                                    fmt::format("{:.2f}", r.prediction.rel.estimate * o.table.reference_ms)};
    if (r.measured)
      row.insert(row.end(), {interval_text(r.measured->rel), fmt::format("{:.2f}", r.measured->ms),
                             fmt::format("{:+.1f}%", 100 * (r.prediction.rel.estimate / r.measured->rel.estimate - 1))});
    else
      row.insert(row.end(), {"-", "-", "-"});
    t.rows.push_back(std::move(row));
  }
  write_text(t, out);
  const Agreement& a = o.agreement;
  if (a.networks > 1)
    out << fmt::format("\npredicted within 10% of measured: {}/{} ({:.1f}%); largest error {:.1f}%; Spearman {:.3f}\n",
                       static_cast<int>(std::lround(a.within_10 * a.networks)), a.networks, 100 * a.within_10,
                       100 * a.max_error, a.spearman);
  if (units) {
    for (const auto& r : o.rows) {
      out << fmt::format("\n{}: units (predicted = the unit timed alone; in network = its primitives' share of the "
                         "profiled network x the measured rel)\n",
                         r.model.name);
      TextTable u;
      u.headers = {"unit", "key", "predicted rel [95%]", "in network", "difference"};
      u.right_aligned = {false, false, true, true, true};
      for (size_t i = 0; i < r.prediction.units.size(); ++i) {
        const UnitPrediction& p = r.prediction.units[i];
        const double in_net = i < r.unit_measured_rel.size() ? r.unit_measured_rel[i] : 0;
        u.rows.push_back({p.name, p.key, interval_text(p.latency->rel),
                          in_net > 0 ? fmt::format("{:.4f}", in_net) : "-",
                          in_net > 0 ? fmt::format("{:+.1f}%", 100 * (p.latency->rel.estimate / in_net - 1)) : "-"});
      }
      u.rows.push_back({"overhead", "", fmt::format("{:.4f}", r.prediction.overhead), "", ""});
      write_text(u, out);
    }
  }
  return out.str();
}

}  // namespace

int cmd_predict(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts(
      "effscale predict",
      "Predicts each model's latency from this machine's latency table: the sum of its units (stem, blocks, head),\n"
      "each timed alone next to the unscaled baseline, plus a fitted overhead, with a 95% interval. Units the table\n"
      "lacks are measured first and kept. Then the models are measured next to the baseline, so that the prediction\n"
      "can be judged (--no-measure: prediction only). Models: names (b0..b8, l2, base, w1.1d1.2r260), --phi values,\n"
      "or --width/--depth/--resolution; default b0.");
  opts.positional_help("[MODEL...]");
  opts.add_options("Model")("model", "Model names", cxxopts::value<std::vector<std::string>>());
  opts.parse_positional({"model"});
  add_model_options(opts);
  add_report_options(opts, "a model (the row's depth, width and resolution)");
  add_measure_options(opts, kPredictMeasure);
  opts.add_options("Prediction")
      ("latency-table", "The latency table to read and extend (default: this machine's and setting's file under "
                        "$XDG_CACHE_HOME/effscale, else ~/.cache/effscale)", cxxopts::value<std::string>(), "FILE")
      ("no-measure", "Only predict; do not measure the models")
      ("no-recalibrate", "Use the table's stored fit instead of measuring the calibration networks again (faster; "
                         "the fit then holds for the machine as it was when it was measured)")
      ("units", "Also show every unit: its predicted latency beside its share of the measured network");
  add_output_options(opts);
  auto result = parse_options(opts, args);
  if (result.count("help")) {
    io.out << opts.help({"Model", "Prediction", "Measurement", "Output"});
    return kExitOk;
  }
  const Format format = read_format(result);
  Outputs outputs(result, {"output"}, input_files(result));
  const ModelOptions options = read_model_options(result);
  PredictPlan plan;
  plan.baseline = options.baseline;
  plan.measure = read_measure_options(result, kPredictMeasure);
  if (plan.measure.command)
    throw Error("predict adds up oneDNN unit latencies; --latency-cmd times whole networks: use bench --latency-cmd");
  plan.measure_models = result.count("no-measure") == 0;
  plan.units = result.count("units") > 0;
  if (plan.units && !plan.measure_models) throw Error("--units compares units with the measured network: drop --no-measure");
  plan.max_memory = options.max_memory;
  plan.recalibrate = result.count("no-recalibrate") == 0;
  const TableChoice table = latency_table_choice(result, plan.baseline, plan.measure);
  plan.table_path = table.path;
  plan.create_folder = table.is_default;
  for (const auto& m : collect_models(positional_models(result, "model"), options, "b0"))
    plan.models.push_back({m.name, m.factors});
  InterruptGuard guard;
  auto progress = [&](const MeasureProgress& p) {
    if (io.err_is_terminal)
      io.err << fmt::format("\rmeasuring: {}/{} done      ", p.complete, p.total) << std::flush;
  };
  if (io.err_is_terminal) io.err << "predict: latency table " << plan.table_path << '\n';
  const PredictOutcome outcome = run_predict(plan, &InterruptGuard::flag(), progress);
  if (io.err_is_terminal) io.err << std::string(60, ' ') << '\r' << std::flush;
  if (outcome.interrupted) {
    io.err << fmt::format("effscale: interrupted; the units measured so far are kept in {}\n", plan.table_path);
    return kExitInterrupted;
  }
  std::ostringstream out;
  switch (format) {
    case Format::kTable: out << to_text(outcome, plan.units); break;
    case Format::kCsv: write_csv(plan.units ? unit_data(outcome) : model_data(outcome), out); break;
    case Format::kJson:
      write_json_tables(out,
                        {{"latency_table", outcome.table.path},
                         {"table_units", std::int64_t(outcome.table.table.units.size())},
                         {"units_measured", std::int64_t(outcome.table.units_measured)},
                         {"anchors", std::int64_t(outcome.table.anchors)},
                         {"table_seconds", outcome.table.table.build_seconds},
                         {"reference_ms", outcome.table.reference_ms},
                         {"fit_scale", outcome.table.table.overhead.scale},
                         {"overhead_constant", outcome.table.table.overhead.constant},
                         {"overhead_per_unit", outcome.table.table.overhead.per_unit},
                         {"overhead_residual_sd", outcome.table.table.overhead.residual_sd},
                         {"within_10", outcome.agreement.within_10},
                         {"max_error", outcome.agreement.max_error},
                         {"spearman", outcome.agreement.spearman}},
                        {{"models", model_data(outcome)}, {"units", unit_data(outcome)}});
      break;
  }
  outputs.emit(out.str(), io);
  return kExitOk;
}

}  // namespace effscale
