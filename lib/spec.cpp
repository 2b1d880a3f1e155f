#include "spec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <utility>
#include <sys/stat.h>

#include "error.hpp"
#include "limits.hpp"
#include "io.hpp"
#include "text.hpp"

namespace effscale {

std::string_view to_string(Activation activation) {
  switch (activation) {
    case Activation::kNone: return "none";
    case Activation::kRelu: return "relu";
    case Activation::kRelu6: return "relu6";
    case Activation::kSwish: return "swish";
    case Activation::kSigmoid: return "sigmoid";
  }
  return "?";
}

Activation parse_network_activation(std::string_view name) {
  if (name == "swish" || name == "silu") return Activation::kSwish;
  if (name == "relu6") return Activation::kRelu6;
  if (name == "relu") return Activation::kRelu;
  throw Error(fmt::format("unknown activation '{}' (allowed: swish, relu6, relu)", name));
}

bool BlockArgs::operator==(const BlockArgs& o) const {
  return repeats == o.repeats && kernel == o.kernel && stride == o.stride &&
         expand_ratio == o.expand_ratio && in_channels == o.in_channels &&
         out_channels == o.out_channels && se_ratio == o.se_ratio && id_skip == o.id_skip;
}

namespace {

struct FieldRange {
  const char* meaning;
  long long min;
  long long max;
};

// Bounds keep every derived size far from integer overflow.
constexpr FieldRange kRepeats{"repeats", 1, 1000};
constexpr FieldRange kKernel{"kernel size", 1, 31};
constexpr FieldRange kExpand{"expand ratio", 1, 64};
constexpr FieldRange kChannels{"channels", 1, 100000};

}  // namespace

int make_divisible(double value, int divisor) {
  // Same double arithmetic as the Python originals, so ties and near-ties round alike.
  const double half = divisor / 2.0;
  long long n = static_cast<long long>(value + half) / divisor * divisor;
  n = std::max<long long>(divisor, n);
  if (static_cast<double>(n) < 0.9 * value) n += divisor;
  return static_cast<int>(n);
}

int expanded_channels(int block_in, double expand_ratio) {
  const double product = block_in * expand_ratio;
  if (product == std::floor(product)) return static_cast<int>(product);
  return make_divisible(product);
}

namespace {

// timm block types effscale cannot build, and why (timm/models/_efficientnet_builder.py).
constexpr std::pair<std::string_view, std::string_view> kUnsupportedTimmTypes[] = {
    {"dsa", "a depthwise-separable block with an activation after its projection"},
    {"er", "an edge residual (fused expansion) block"},
    {"cn", "a plain conv-bn-act block"},
    {"uir", "a universal inverted residual block"},
    {"mha", "a multi-head attention block"},
    {"mqa", "a multi-query attention block"},
};

bool all_letters(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
}

}  // namespace

BlockArgs parse_block_string(std::string_view text) {
  BlockArgs args;
  auto fail = [&](size_t field, size_t column, std::string_view op, const std::string& why) {
    return Error(fmt::format("block string '{}': field {} '{}' (column {}): {}", text, field,
                             op, column, why));
  };
  if (trim(text).empty())
    throw Error("block string is empty (expected e.g. r1_k3_s11_e1_i32_o16_se0.25 or ir_r2_k3_s2_e6_c24_se0.25)");
  const std::vector<std::string_view> ops = split(text, '_');
  // timm's syntax starts with the block type; the reference's with a field such as r1.
  static constexpr std::string_view kReferenceWords[] = {"noskip", "r", "k", "s", "e", "i", "o", "se"};
  const bool timm = all_letters(ops[0]) && std::find(std::begin(kReferenceWords), std::end(kReferenceWords), ops[0]) ==
                                               std::end(kReferenceWords);
  enum Slot { kR, kK, kS, kE, kI, kO, kSe, kSlots };
  bool seen[kSlots] = {};
  std::string_view type;
  size_t column = 1;
  size_t field = 0;
  for (std::string_view op : ops) {
    ++field;
    const size_t op_column = column;
    column += op.size() + 1;
    if (op.empty()) throw fail(field, op_column, op, "empty field (two '_' in a row, or a '_' at an end)");
    if (timm && field == 1) {
      type = op;
      if (type == "ir" || type == "ds") continue;
      for (const auto& [name, what] : kUnsupportedTimmTypes)
        if (type == name)
          throw fail(field, op_column, op, fmt::format("timm block type '{}' is {}, which effscale does not build "
                                                       "(supported: ir = inverted residual, ds = depthwise separable)",
                                                       name, what));
      throw fail(field, op_column, op, "unknown timm block type (supported: ir = inverted residual, ds = depthwise separable)");
    }
    if (op == "noskip") {
      args.id_skip = false;
      continue;
    }
    size_t digit = 0;
    while (digit < op.size() && !std::isdigit(static_cast<unsigned char>(op[digit]))) ++digit;
    std::string_view key = op.substr(0, digit);
    std::string_view value = op.substr(digit);
    auto int_value = [&](const FieldRange& range) -> int {
      auto v = parse_int(value);
      if (!v) throw fail(field, op_column, op, fmt::format("{} '{}' is not an integer", range.meaning, value));
      if (*v < range.min || *v > range.max)
        throw fail(field, op_column, op, fmt::format("{} {} is out of range [{}, {}]", range.meaning, *v, range.min, range.max));
      return static_cast<int>(*v);
    };
    auto once = [&](Slot slot) {
      if (seen[slot]) throw fail(field, op_column, op, fmt::format("field '{}' given twice", key));
      seen[slot] = true;
    };
    if (timm) {
      if (op == "skip" || (!key.empty() && key[0] == 'n'))
        throw fail(field, op_column, op, op == "skip" ? "'skip' forces a shortcut only on timm's cn blocks, which effscale does not build"
                                                      : "a per-block activation is not supported: set 'activation' for the whole network");
      if ((key == "a" || key == "p") && value == "1") continue;  // 1x1 expansion / projection: timm's default
      static constexpr std::string_view kTimmKeys[] = {"r", "k", "s", "e", "c", "se"};
      if (std::find(std::begin(kTimmKeys), std::end(kTimmKeys), key) == std::end(kTimmKeys))
        throw fail(field, op_column, op,
                   fmt::format("timm option '{}' is not supported (allowed: r k s e c se noskip; a1 and p1)", key));
    } else {
      static constexpr std::string_view kKeys[] = {"r", "k", "s", "e", "i", "o", "se"};
      if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys))
        throw fail(field, op_column, op, fmt::format("unknown field '{}' (allowed: r k s e i o se noskip)", key));
    }
    if (value.empty()) {
      throw fail(field, op_column, op,
                 timm ? fmt::format("'{}' has no value (timm fields are r<repeats> k<kernel> s<stride> e<expand> "
                                    "c<out channels> se<ratio> noskip)", key)
                      : fmt::format("'{}' has no value (fields are r<repeats> k<kernel> s<stride><stride> "
                                    "e<expand> i<in> o<out> se<ratio> noskip)", key));
    }
    if (key == "r") {
      once(kR);
      args.repeats = int_value(kRepeats);
    } else if (key == "k") {
      once(kK);
      if (timm && value.find('.') != std::string_view::npos)
        throw fail(field, op_column, op, "mixed kernel sizes (MixNet's k3.5) are not supported");
      args.kernel = int_value(kKernel);
      if (args.kernel % 2 == 0) throw fail(field, op_column, op, fmt::format("kernel size {} must be odd", args.kernel));
    } else if (key == "s") {
      once(kS);
      if (timm) {
        if (value.size() != 1 || !std::isdigit(static_cast<unsigned char>(value[0])) || value[0] == '0')
          throw fail(field, op_column, op, "timm strides are one digit from 1 to 9, like s1 or s2");
        args.stride = value[0] - '0';
      } else {
        if (value.size() != 2 || !std::isdigit(static_cast<unsigned char>(value[0])) ||
            !std::isdigit(static_cast<unsigned char>(value[1])))
          throw fail(field, op_column, op, "strides must be a pair of digits like s11 or s22");
        if (value[0] != value[1])
          throw fail(field, op_column, op, "only square strides are supported (s11, s22, ...)");
        args.stride = value[0] - '0';
        if (args.stride < 1) throw fail(field, op_column, op, "stride must be at least 1");
      }
    } else if (key == "e") {
      once(kE);
      auto v = parse_double(value);
      if (!v) throw fail(field, op_column, op, fmt::format("expand ratio '{}' is not a number", value));
      if (!(*v >= kExpand.min && *v <= kExpand.max))
        throw fail(field, op_column, op, fmt::format("expand ratio {} is out of range [{}, {}]", *v, kExpand.min, kExpand.max));
      args.expand_ratio = *v;
    } else if (key == "i") {
      once(kI);
      args.in_channels = int_value(kChannels);
    } else if (key == "o" || key == "c") {
      once(kO);
      args.out_channels = int_value(kChannels);
    } else if (key == "se") {
      once(kSe);
      auto v = parse_double(value);
      if (!v) throw fail(field, op_column, op, fmt::format("SE ratio '{}' is not a number", value));
      if (!(*v >= 0 && *v <= 1)) throw fail(field, op_column, op, fmt::format("SE ratio {} is out of range [0, 1]", *v));
      args.se_ratio = *v;
    }
  }
  if (timm) {
    const char* names[] = {"r (repeats)", "k (kernel)", "s (stride)", "e (expand ratio)", nullptr, "c (output channels)"};
    for (int i : {kR, kK, kS, kO}) {
      if (!seen[i]) throw Error(fmt::format("block string '{}': missing field {}", text, names[i]));
    }
    if (type == "ir" && !seen[kE]) throw Error(fmt::format("block string '{}': missing field {}", text, names[kE]));
    if (type == "ds" && args.expand_ratio != 1)
      throw Error(fmt::format("block string '{}': a ds (depthwise separable) block has no expansion; use ir_ for "
                              "expand ratio {}", text, shortest(args.expand_ratio)));
    if (type == "ir" && args.expand_ratio == 1)
      throw Error(fmt::format("block string '{}': timm's ir block keeps a 1x1 expansion conv at e1, which effscale's "
                              "MBConv (as the reference) leaves out; write ds_ for a block without expansion", text));
    args.in_channels = 0;
    return args;
  }
  const char* names[] = {"r (repeats)", "k (kernel)", "s (strides)", "e (expand ratio)", "i (input channels)",
                         "o (output channels)"};
  for (int i = 0; i < 6; ++i) {
    if (!seen[i]) {
      throw Error(fmt::format("block string '{}': missing field {}", text, names[i]));
    }
  }
  return args;
}

std::string encode_block_string(const BlockArgs& a) {
  std::string s = fmt::format("r{}_k{}_s{}{}_e{}_i{}_o{}", a.repeats, a.kernel, a.stride, a.stride,
                              shortest(a.expand_ratio), a.in_channels, a.out_channels);
  if (a.se_ratio) s += "_se" + shortest(*a.se_ratio);
  if (!a.id_skip) s += "_noskip";
  return s;
}

std::string encode_timm_block_string(const BlockArgs& a) {
  std::string s = a.has_expansion()
                      ? fmt::format("ir_r{}_k{}_s{}_e{}_c{}", a.repeats, a.kernel, a.stride, shortest(a.expand_ratio), a.out_channels)
                      : fmt::format("ds_r{}_k{}_s{}_c{}", a.repeats, a.kernel, a.stride, a.out_channels);
  if (a.se_ratio) s += "_se" + shortest(*a.se_ratio);
  if (!a.id_skip) s += "_noskip";
  return s;
}

namespace {

NetworkSpec efficientnet_b0() {
  // tensorflow/tpu models/official/efficientnet/efficientnet_builder.py, efficientnet():
  // blocks_args and the 32-channel stem, 1280-channel head, swish.
  NetworkSpec spec;
  spec.name = "efficientnet-b0";
  spec.resolution = 224;
  spec.stem = {32, 3, 2};
  for (const char* s : {"r1_k3_s11_e1_i32_o16_se0.25", "r2_k3_s22_e6_i16_o24_se0.25",
                        "r2_k5_s22_e6_i24_o40_se0.25", "r3_k3_s22_e6_i40_o80_se0.25",
                        "r3_k5_s11_e6_i80_o112_se0.25", "r4_k5_s22_e6_i112_o192_se0.25",
                        "r1_k3_s11_e6_i192_o320_se0.25"}) {
    spec.stages.push_back(parse_block_string(s));
  }
  spec.head_channels = 1280;
  spec.classes = 1000;
  spec.activation = Activation::kSwish;
  return spec;
}

NetworkSpec mobilenet_v2() {
  // Sandler et al. 2018, Table 2 (t, c, n, s); torchvision/models/mobilenetv2.py: 32-channel
  // stem, 1280-channel head that never shrinks below 1280, ReLU6, no SE.
  NetworkSpec spec;
  spec.name = "mobilenet-v2";
  spec.resolution = 224;
  spec.stem = {32, 3, 2};
  for (const char* s : {"r1_k3_s11_e1_i32_o16", "r2_k3_s22_e6_i16_o24", "r3_k3_s22_e6_i24_o32",
                        "r4_k3_s22_e6_i32_o64", "r3_k3_s11_e6_i64_o96", "r3_k3_s22_e6_i96_o160",
                        "r1_k3_s11_e6_i160_o320"}) {
    spec.stages.push_back(parse_block_string(s));
  }
  spec.head_channels = 1280;
  spec.head_no_shrink = true;
  spec.classes = 1000;
  spec.activation = Activation::kRelu6;
  return spec;
}

int directive_int(std::string_view value, std::string_view what, long long min, long long max,
                  const std::string& where) {
  auto v = parse_int(value);
  if (!v) throw Error(fmt::format("{}: {} '{}' is not an integer", where, what, value));
  if (*v < min || *v > max)
    throw Error(fmt::format("{}: {} {} is out of range [{}, {}]", where, what, *v, min, max));
  return static_cast<int>(*v);
}

}  // namespace

std::vector<std::string> builtin_baseline_names() { return {"efficientnet-b0", "mobilenet-v2"}; }

NetworkSpec builtin_baseline(std::string_view name) {
  if (name == "efficientnet-b0" || name == "efficientnet_b0") return efficientnet_b0();
  if (name == "mobilenet-v2" || name == "mobilenet_v2") return mobilenet_v2();
  std::string hint = closest_match(name, builtin_baseline_names());
  throw Error(fmt::format("unknown baseline '{}'{} (built-in: {}; or give a baseline file)", name,
                          hint.empty() ? "" : fmt::format(", did you mean '{}'?", hint),
                          join(builtin_baseline_names(), ", ")));
}

NetworkSpec parse_baseline_text(std::string_view text, std::string_view source) {
  NetworkSpec spec;
  spec.name.clear();
  bool have_stem = false, have_head = false, have_classes = false, have_activation = false,
       have_resolution = false, have_input = false;
  int line_number = 0;
  // A UTF-8 byte order mark (editors on Windows write one) is not part of the first line.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  for (std::string_view raw : split(text, '\n')) {
    ++line_number;
    std::string where = fmt::format("{}:{}", source, line_number);
    std::string blanks(raw);
    std::replace(blanks.begin(), blanks.end(), '\t', ' ');  // tabs separate words as spaces do
    std::string_view line = blanks;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    std::vector<std::string_view> words;
    for (std::string_view w : split(line, ' ')) {
      w = trim(w);
      if (!w.empty()) words.push_back(w);
    }
    std::string_view key = words[0];
    auto once = [&](bool& flag) {
      if (flag) throw Error(fmt::format("{}: '{}' given twice", where, key));
      flag = true;
    };
    auto arity = [&](size_t min_words, size_t max_words, const char* usage) {
      if (words.size() < min_words || words.size() > max_words)
        throw Error(fmt::format("{}: expected '{}'", where, usage));
    };
    if (key == "name") {
      arity(2, 2, "name NAME");
      if (!spec.name.empty()) throw Error(fmt::format("{}: 'name' given twice", where));
      spec.name = std::string(words[1]);
    } else if (key == "resolution") {
      once(have_resolution);
      arity(2, 2, "resolution N");
      spec.resolution = directive_int(words[1], "resolution", kMinResolution, kMaxResolution, where);
    } else if (key == "input-channels") {
      once(have_input);
      arity(2, 2, "input-channels N");
      spec.image_channels = directive_int(words[1], "input channels", 1, 1024, where);
    } else if (key == "activation") {
      once(have_activation);
      arity(2, 2, "activation swish|relu6|relu");
      try {
        spec.activation = parse_network_activation(words[1]);
      } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", where, e.what()));
      }
    } else if (key == "stem") {
      once(have_stem);
      arity(2, 4, "stem CHANNELS [kKERNEL] [sSTRIDE]");
      spec.stem.channels = directive_int(words[1], "stem channels", 1, 100000, where);
      bool have_kernel = false, have_stride = false;
      for (size_t i = 2; i < words.size(); ++i) {
        std::string_view w = words[i];
        if (w.size() > 1 && (w[0] == 'k' || w[0] == 's')) {
          bool& seen = w[0] == 'k' ? have_kernel : have_stride;
          if (seen) throw Error(fmt::format("{}: stem {} given twice", where, w[0] == 'k' ? "kernel" : "stride"));
          seen = true;
        }
        if (w.size() > 1 && w[0] == 'k') {
          spec.stem.kernel = directive_int(w.substr(1), "stem kernel", 1, 31, where);
          if (spec.stem.kernel % 2 == 0)
            throw Error(fmt::format("{}: stem kernel {} must be odd", where, spec.stem.kernel));
        } else if (w.size() > 1 && w[0] == 's') {
          spec.stem.stride = directive_int(w.substr(1), "stem stride", 1, 8, where);
        } else {
          throw Error(fmt::format("{}: stem field '{}' is neither kKERNEL nor sSTRIDE (e.g. 'stem 32 k3 s2')", where, w));
        }
      }
    } else if (key == "head") {
      once(have_head);
      arity(2, 3, "head CHANNELS [no-shrink] | head none");
      if (words[1] == "none") {
        if (words.size() != 2) throw Error(fmt::format("{}: expected 'head none'", where));
        spec.head_channels = 0;
      } else {
        spec.head_channels = directive_int(words[1], "head channels", 1, 100000, where);
        if (words.size() == 3) {
          if (words[2] != "no-shrink")
            throw Error(fmt::format("{}: unknown head option '{}' (allowed: no-shrink)", where, words[2]));
          spec.head_no_shrink = true;
        }
      }
    } else if (key == "classes") {
      once(have_classes);
      arity(2, 2, "classes N");
      spec.classes = directive_int(words[1], "classes", 1, 1000000, where);
    } else if (key.find('_') != std::string_view::npos) {
      if (words.size() != 1)
        throw Error(fmt::format("{}: a block string has no spaces: '{}'", where, line));
      try {
        spec.stages.push_back(parse_block_string(key));
      } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", where, e.what()));
      }
    } else {
      std::string hint = closest_match(
          key, {"name", "resolution", "activation", "stem", "head", "classes", "input-channels"});
      throw Error(fmt::format(
          "{}: unknown line '{}'{} (expected a block string like r1_k3_s11_e1_i32_o16_se0.25, or "
          "one of: name, resolution, activation, stem, head, classes, input-channels)",
          where, line, hint.empty() ? "" : fmt::format(", did you mean '{}'?", hint)));
    }
  }
  if (!have_stem) throw Error(fmt::format("{}: missing 'stem' line (e.g. 'stem 32 k3 s2')", source));
  if (!have_head) throw Error(fmt::format("{}: missing 'head' line (e.g. 'head 1280' or 'head none')", source));
  if (spec.stages.empty())
    throw Error(fmt::format("{}: no block strings (e.g. 'r1_k3_s11_e1_i32_o16_se0.25')", source));
  if (spec.name.empty()) spec.name = "custom";
  int previous = spec.stem.channels;  // timm block strings take their input channels from here
  for (BlockArgs& stage : spec.stages) {
    if (stage.in_channels == 0) stage.in_channels = previous;
    previous = stage.out_channels;
  }
  try {
    validate(spec);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", source, e.what()));
  }
  return spec;
}

std::string format_baseline_text(const NetworkSpec& spec) {
  std::string out;
  out += fmt::format("name {}\n", spec.name);
  out += fmt::format("resolution {}\n", spec.resolution);
  if (spec.image_channels != 3) out += fmt::format("input-channels {}\n", spec.image_channels);
  out += fmt::format("activation {}\n", to_string(spec.activation));
  out += fmt::format("stem {} k{} s{}\n", spec.stem.channels, spec.stem.kernel, spec.stem.stride);
  for (const auto& stage : spec.stages) out += encode_block_string(stage) + "\n";
  if (spec.head_channels == 0) out += "head none\n";
  else out += fmt::format("head {}{}\n", spec.head_channels, spec.head_no_shrink ? " no-shrink" : "");
  out += fmt::format("classes {}\n", spec.classes);
  return out;
}

NetworkSpec load_baseline(std::string_view name_or_path) {
  for (const auto& n : builtin_baseline_names()) {
    if (name_or_path == n) return builtin_baseline(n);
  }
  if (name_or_path == "efficientnet_b0" || name_or_path == "mobilenet_v2") return builtin_baseline(name_or_path);
  const std::string path(name_or_path);
  if (path.empty()) throw Error("baseline name is empty (built-in: efficientnet-b0, mobilenet-v2; or a baseline file)");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    std::string hint = closest_match(name_or_path, builtin_baseline_names());
    throw Error(fmt::format("unknown baseline '{}'{} (built-in: {}; or the path of a baseline file, and "
                            "no file of that name exists)",
                            name_or_path, hint.empty() ? "" : fmt::format(", did you mean '{}'?", hint),
                            join(builtin_baseline_names(), ", ")));
  }
  const std::string text = read_text_file(path, "baseline file", kMaxBaselineFileBytes);
  if (text.find('\0') != std::string::npos)
    throw Error(fmt::format("baseline file '{}' is not a text file", path));
  return parse_baseline_text(text, path);
}

void validate(const NetworkSpec& spec) {
  check_resolution(spec.resolution);
  if (spec.stages.empty()) throw Error("the network has no stages");
  int previous = spec.stem.channels;
  for (size_t i = 0; i < spec.stages.size(); ++i) {
    const BlockArgs& s = spec.stages[i];
    if (s.in_channels != previous) {
      throw Error(fmt::format("stage {} ('{}') has {} input channels but the previous {} gives {}",
                              i + 1, encode_block_string(s), s.in_channels,
                              i == 0 ? "stem" : "stage", previous));
    }
    previous = s.out_channels;
  }
}

}  // namespace effscale
