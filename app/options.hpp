#pragma once
// Options shared by several subcommands: choosing the baseline and the scaled models, output
// format and destination, and strict parsing of option values.

#include <cxxopts.hpp>

#include <cmath>
#include <map>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench.hpp"
#include "measure_onednn.hpp"
#include "predict_pipeline.hpp"
#include "cli.hpp"
#include "cost.hpp"
#include "io.hpp"
#include "onednn/network.hpp"
#include "scaling.hpp"
#include "search.hpp"
#include "spec.hpp"

namespace effscale {

/// Parses `args` (args[0] is the command name). Unknown options and stray arguments become an
/// Error with a "did you mean" hint.
cxxopts::ParseResult parse_options(cxxopts::Options& options, const std::vector<std::string>& args);

/// The value of a string option, if given.
std::optional<std::string> option_text(const cxxopts::ParseResult& result, const std::string& name);

/// --baseline and --max-memory.
void add_baseline_options(cxxopts::Options& options);

/// --from-report REPORT and --rank N: take the model (or, for compare, the coefficients) from a
/// search report. `what` says what the row gives, for the help text.
void add_report_options(cxxopts::Options& options, const std::string& what);

/// The baseline options plus --phi, --alpha, --beta, --gamma, --width, --depth, --resolution.
/// `one_model`: the command shows one model, and --phi takes one value.
void add_model_options(cxxopts::Options& options, bool one_model = false);

/// What a model is.
enum class ModelKind {
  kBase,       ///< the baseline unscaled
  kPublished,  ///< a published EfficientNet (b1..b8, l2): EfficientNet-B0 only
  kFormula,    ///< d = alpha^phi, w = beta^phi, r = round(base * gamma^phi)
  kCustom,     ///< --width/--depth/--resolution
  kReport,     ///< a ranked row of a search report (--from-report)
};

std::string_view to_string(ModelKind kind);

/// One model to build: a preset, a formula model (phi) or a custom (width, depth, resolution).
struct ModelChoice {
  std::string name;      ///< "b3", "phi1", "custom", "base"
  ModelKind kind = ModelKind::kBase;
  ScaleFactors factors;
  double phi = NAN;      ///< formula models only
};

/// What the model options asked for.
struct ModelOptions {
  NetworkSpec baseline;
  Coefficients coefficients;
  std::vector<double> phis;                 ///< --phi values, in order
  std::optional<ScaleFactors> custom;       ///< --width/--depth/--resolution, if any was given
  std::int64_t max_memory = 0;              ///< bytes of activation memory allowed per model
  std::optional<ReportModel> report;        ///< --from-report: its row (and its baseline is `baseline`)
};

/// Reads what add_model_options declared.
ModelOptions read_model_options(const cxxopts::ParseResult& result);

/// Reads only --baseline, --max-memory and --from-report/--rank (the other fields keep their defaults).
ModelOptions read_baseline_options(const cxxopts::ParseResult& result);

/// A preset name ("b3", "efficientnet-b3") or "base" (the baseline unscaled). Throws Error with
/// the valid names.
ModelChoice resolve_model(const std::string& name, const ModelOptions& options);

/// One formula model per --phi value.
std::vector<ModelChoice> formula_models(const ModelOptions& options);

/// The custom model from --width/--depth/--resolution.
ModelChoice custom_model(const ModelOptions& options);

/// The model of --from-report: "rank1" (the row's rank), its factors and phi*.
ModelChoice report_model(const ReportModel& report);

/// The models a command was asked for: `names` (resolved), then one formula model per --phi
/// value, then the custom model, then the --from-report model; `fallback` (a model name) when that
/// list is empty.
std::vector<ModelChoice> collect_models(const std::vector<std::string>& names, const ModelOptions& options,
                                        const std::string& fallback);

/// The options of a command that takes exactly one model: the positional MODEL, the model options
/// (one --phi value) and --from-report.
void add_single_model_options(cxxopts::Options& options);

/// That one model (default "base"); Error "<does> one model: give ..." when the arguments name
/// none or several, e.g. does = "describe shows".
ModelChoice single_model(const cxxopts::ParseResult& result, const ModelOptions& options, const std::string& does);

/// The positional MODEL arguments of `option` (empty when none).
std::vector<std::string> positional_models(const cxxopts::ParseResult& result, const std::string& option);

/// Output formats of the printing commands.
enum class Format { kTable, kCsv, kJson };

/// --format and --output.
void add_output_options(cxxopts::Options& options);

Format read_format(const cxxopts::ParseResult& result);

/// The files a command writes, prepared before any work (io.hpp's OutputFile: nothing that is not
/// a regular file is replaced, a temporary file proves each folder writable), distinct from each
/// other and from the command's inputs. "-" is standard output.
class Outputs {
 public:
  /// `names`: the command's path options given ("output", "plot"), in the order they are written;
  /// `inputs`: (what, path) of every file the command reads.
  Outputs(const cxxopts::ParseResult& result, const std::vector<std::string>& names,
          const std::vector<std::pair<std::string, std::string>>& inputs);
  /// Outputs at explicit paths (e.g. a default report path), same rules.
  Outputs(const std::vector<std::pair<std::string, std::string>>& outputs,
          const std::vector<std::pair<std::string, std::string>>& inputs);

  bool has(const std::string& name) const { return paths_.count(name) > 0; }
  /// True when output `name` is standard output.
  bool to_stdout(const std::string& name) const { return has(name) && !files_.at(name); }
  const std::string& path(const std::string& name) const { return paths_.at(name); }

  /// Writes every (name, content) pair: all are staged before any is put in place, so that one
  /// failing leaves every output as it was. Standard output gets its text last.
  void write(const std::vector<std::pair<std::string, std::string>>& contents, Io& io);
  /// A checkpoint of `name`: replaced atomically when it is a regular file, skipped otherwise.
  void checkpoint(const std::string& name, const std::string& content);
  /// A command's main text: to --output when given ("wrote PATH" on stderr), else standard output.
  void emit(const std::string& text, Io& io);

 private:
  void prepare(const std::vector<std::pair<std::string, std::string>>& outputs,
               const std::vector<std::pair<std::string, std::string>>& inputs);
  std::map<std::string, std::optional<OutputFile>> files_;  ///< nullopt: standard output
  std::map<std::string, std::string> paths_;
};

/// (what, path) of the input files named by the common options: --baseline (a file, not a
/// built-in name), --accuracy, --resume.
std::vector<std::pair<std::string, std::string>> input_files(const cxxopts::ParseResult& result);

/// An integer option in [min, max], or `fallback` when absent. Throws Error with the range.
int int_option(const cxxopts::ParseResult& result, const std::string& name, int fallback, int min, int max);

/// --layout blocked|nhwc.
ActivationLayout read_layout(const cxxopts::ParseResult& result);

/// Per-command defaults of the measurement options.
struct MeasureDefaults {
  int runs = 10;              ///< --runs: paired runs per network
  double min_seconds = 0;     ///< --min-time: of each network's own timed time
  bool racing = false;        ///< declare --budget (search)
  double budget_seconds = 0;  ///< --budget default
};

/// The measurement options of every measuring command (group "Measurement"): --threads,
/// --batch, --layout, --seed, --lowering, --runs, --min-time, --warmup, and --budget when the
/// command races.
void add_measure_options(cxxopts::Options& options, const MeasureDefaults& defaults);

/// Reads what add_measure_options declared.
MeasureConfig read_measure_options(const cxxopts::ParseResult& result, const MeasureDefaults& defaults);

/// The latency table a predicting command uses: --latency-table FILE, else the default cache file
/// of this machine and setting (predict_pipeline.hpp); `is_default` when it is the latter.
struct TableChoice {
  std::string path;
  bool is_default = false;
};
TableChoice latency_table_choice(const cxxopts::ParseResult& result, const NetworkSpec& baseline,
                                 const MeasureConfig& config);

/// A comma-separated list option, split and trimmed; empty items are an Error.
std::vector<std::string> list_option(const std::string& text, const std::string& what);

}  // namespace effscale
