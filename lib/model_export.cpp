#include "model_export.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "cost.hpp"
#include "graph.hpp"
#include "report/table.hpp"
#include "text.hpp"

namespace effscale {

namespace {

// The network of a spec without its name and resolution: what makes two baselines the same.
bool same_network(const NetworkSpec& a, const NetworkSpec& b) {
  return a.image_channels == b.image_channels && a.stem.channels == b.stem.channels && a.stem.kernel == b.stem.kernel &&
         a.stem.stride == b.stem.stride && a.stages == b.stages && a.head_channels == b.head_channels &&
         a.head_no_shrink == b.head_no_shrink && a.classes == b.classes && a.activation == b.activation;
}

// One block of the scaled network, with effscale's widths.
struct Block {
  int stage = 0, index = 0;
  int in = 0, out = 0, stride = 1;
  int expanded = 0;  // channels after expansion (= in without expansion)
  int squeezed = 0;  // SE width, 0 without SE
};

std::vector<Block> blocks_of(const NetworkSpec& scaled) {
  std::vector<Block> blocks;
  for (int s = 0; s < static_cast<int>(scaled.stages.size()); ++s) {
    const BlockArgs& a = scaled.stages[s];
    for (int r = 0; r < a.repeats; ++r) {
      Block b;
      b.stage = s;
      b.index = r;
      b.in = r == 0 ? a.in_channels : a.out_channels;
      b.out = a.out_channels;
      b.stride = r == 0 ? a.stride : 1;
      b.expanded = a.has_expansion() ? expanded_channels(b.in, a.expand_ratio) : b.in;
      b.squeezed = a.has_se() ? std::max(1, static_cast<int>(b.in * *a.se_ratio)) : 0;
      blocks.push_back(b);
    }
  }
  return blocks;
}

std::string where(const Block& b) { return fmt::format("stage {} block {}", b.stage + 1, b.index + 1); }

// Python's round(): half to even, on the double as computed.
int python_round(double v) { return static_cast<int>(std::nearbyint(v)); }

int total_stride(const NetworkSpec& spec) {
  long long stride = spec.stem.stride;
  for (const auto& s : spec.stages) stride = std::min<long long>(stride * s.stride, 1 << 20);
  return static_cast<int>(stride);
}

// timm/models/efficientnet.py EfficientNet + _efficientnet_builder.py EfficientNetBuilder and
// _efficientnet_blocks.py: the stem has stride 2; strides are 1 or 2; an ir block expands to
// make_divisible(in * e) and its SE reduces the expanded width by round(mid * se / e); a ds block's
// SE reduces its input by round(in * se).
LibraryFit timm_fit(const NetworkSpec& scaled) {
  LibraryFit fit;
  if (scaled.stem.stride != 2)
    fit.differences.push_back(fmt::format("timm's stem has stride 2, this network's {}", scaled.stem.stride));
  for (size_t s = 0; s < scaled.stages.size(); ++s)
    if (scaled.stages[s].stride > 2)
      fit.differences.push_back(fmt::format("timm builds strides 1 and 2 only; stage {} has stride {}", s + 1, scaled.stages[s].stride));
  int last_stage = -1;
  for (const Block& b : blocks_of(scaled)) {
    if (b.stage == last_stage) continue;  // one difference per stage is enough to say
    const BlockArgs& a = scaled.stages[b.stage];
    std::string why;
    if (a.has_expansion() && make_divisible(b.in * a.expand_ratio) != b.expanded) {
      why = fmt::format("{}: timm expands {} channels to make_divisible({} x {}) = {}, effscale to {}", where(b), b.in, b.in,
                        shortest(a.expand_ratio), make_divisible(b.in * a.expand_ratio), b.expanded);
    } else if (a.has_se()) {
      const double ratio = *a.se_ratio / (a.has_expansion() ? a.expand_ratio : 1.0);
      const int timm_se = python_round(b.expanded * ratio);
      if (timm_se != b.squeezed)
        why = fmt::format("{}: timm's SE width is round({} x {} / {}) = {}, effscale's max(1, int({} x {})) = {}", where(b),
                          b.expanded, shortest(*a.se_ratio), shortest(a.has_expansion() ? a.expand_ratio : 1.0), timm_se,
                          b.in, shortest(*a.se_ratio), b.squeezed);
    }
    if (!why.empty()) {
      fit.differences.push_back(why);
      last_stage = b.stage;
    }
  }
  return fit;
}

// torchvision/models/efficientnet.py (0.14+): SiLU everywhere, SE of every block at
// max(1, in // 4), a 3x3 stride-2 stem, shortcuts whenever stride 1 and in == out, an expansion
// conv only when make_divisible(in * e) differs from in.
LibraryFit torchvision_efficientnet_fit(const NetworkSpec& scaled) {
  LibraryFit fit;
  if (scaled.activation != Activation::kSwish)
    fit.differences.push_back(fmt::format("torchvision's EfficientNet uses swish (SiLU), this network {}", to_string(scaled.activation)));
  if (scaled.stem.kernel != 3 || scaled.stem.stride != 2)
    fit.differences.push_back(fmt::format("torchvision's stem is 3x3 with stride 2, this network's {}x{} with stride {}",
                                          scaled.stem.kernel, scaled.stem.kernel, scaled.stem.stride));
  if (scaled.image_channels != 3)
    fit.differences.push_back(fmt::format("torchvision's EfficientNet takes 3 input channels, this network {}", scaled.image_channels));
  if (scaled.head_channels == 0) fit.differences.push_back("torchvision's EfficientNet always has a head convolution");
  for (size_t s = 0; s < scaled.stages.size(); ++s) {
    const BlockArgs& a = scaled.stages[s];
    if (!a.se_ratio || *a.se_ratio != 0.25)
      fit.differences.push_back(fmt::format("torchvision's MBConv has SE with ratio 0.25; stage {} has {}", s + 1,
                                            a.has_se() ? "ratio " + shortest(*a.se_ratio) : std::string("none")));
    if (!a.id_skip) fit.differences.push_back(fmt::format("torchvision has no noskip blocks (stage {})", s + 1));
  }
  int last_stage = -1;
  for (const Block& b : blocks_of(scaled)) {
    const BlockArgs& a = scaled.stages[b.stage];
    const int tv_expanded = make_divisible(b.in * a.expand_ratio);
    if (b.stage != last_stage && (tv_expanded != b.expanded || (tv_expanded != b.in) != a.has_expansion())) {
      fit.differences.push_back(fmt::format("{}: torchvision expands {} channels to {}{}, effscale to {}", where(b), b.in,
                                            tv_expanded, tv_expanded == b.in ? " (no expansion conv)" : "", b.expanded));
      last_stage = b.stage;
    }
  }
  return fit;
}

// torchvision/models/mobilenetv2.py: a 32-channel 3x3 stride-2 stem and a 1280-channel head
// (neither shrinks below width 1 for the head), ReLU6, no SE, hidden width int(round(in * t)).
LibraryFit torchvision_mobilenet_fit(const NetworkSpec& base, const NetworkSpec& scaled) {
  LibraryFit fit;
  if (base.activation != Activation::kRelu6) fit.differences.push_back("torchvision's MobileNetV2 uses ReLU6");
  if (base.stem.channels != 32 || base.stem.kernel != 3 || base.stem.stride != 2)
    fit.differences.push_back("torchvision's MobileNetV2 has a 32-channel 3x3 stride-2 stem");
  if (base.head_channels != 1280 || !base.head_no_shrink)
    fit.differences.push_back("torchvision's MobileNetV2 has a 1280-channel head that does not shrink below width 1");
  if (base.image_channels != 3) fit.differences.push_back("torchvision's MobileNetV2 takes 3 input channels");
  for (size_t s = 0; s < base.stages.size(); ++s) {
    if (base.stages[s].has_se()) fit.differences.push_back(fmt::format("torchvision's MobileNetV2 has no SE (stage {})", s + 1));
    if (!base.stages[s].id_skip) fit.differences.push_back(fmt::format("torchvision has no noskip blocks (stage {})", s + 1));
  }
  int last_stage = -1;
  for (const Block& b : blocks_of(scaled)) {
    const BlockArgs& a = scaled.stages[b.stage];
    const int hidden = python_round(b.in * a.expand_ratio);
    if (b.stage != last_stage && a.has_expansion() && hidden != b.expanded) {
      fit.differences.push_back(fmt::format("{}: torchvision's hidden width is round({} x {}) = {}, effscale's {}", where(b),
                                            b.in, shortest(a.expand_ratio), hidden, b.expanded));
      last_stage = b.stage;
    }
  }
  return fit;
}

const char* python_activation(Activation a) {
  switch (a) {
    case Activation::kRelu: return "nn.ReLU";
    case Activation::kRelu6: return "nn.ReLU6";
    default: return "nn.SiLU";
  }
}

// Published names of the same architecture, when the model is one.
struct KnownNames {
  std::string timm, torchvision;
};

KnownNames known_names(const ExportModel& m) {
  if (has_published_presets(m.baseline)) {
    for (const auto& p : official_presets()) {
      if (p.factors.width != m.factors.width || p.factors.depth != m.factors.depth) continue;
      // timm: efficientnet_b0..b8 and tf_efficientnet_l2 (TF 'SAME' padding port); torchvision: b0..b7.
      const bool tv = p.name != "b8" && p.name != "l2";
      return {p.name == "l2" ? "tf_efficientnet_l2" : "efficientnet_" + p.name, tv ? "efficientnet_" + p.name : ""};
    }
  }
  if (same_network(m.baseline, builtin_baseline("mobilenet-v2")) && m.factors.width == 1 && m.factors.depth == 1)
    return {"mobilenetv2_100", "mobilenet_v2"};
  return {};
}

std::string python_list(const std::vector<std::string>& items, const std::string& indent) {
  std::string out = "[\n";
  for (const auto& i : items) out += indent + "    " + i + ",\n";
  return out + indent + "]";
}

std::string json_list(const std::vector<std::string>& items) { return "[" + join(items, ", ") + "]"; }

std::string json_differences(const LibraryFit& fit) {
  std::vector<std::string> quoted;
  for (const auto& d : fit.differences) quoted.push_back(json_string(d));
  return json_list(quoted);
}

}  // namespace

std::string export_baseline_file(const ExportModel& m) {
  NetworkSpec scaled = scale(m.baseline, m.factors);
  scaled.name = m.model == "base" ? m.baseline.name : m.baseline.name + "-" + m.model;
  std::string text = fmt::format(
      "# {} scaled by effscale: width {}, depth {}, resolution {} (channels and repeats already rounded;\n"
      "# load it with --baseline FILE, where its unscaled model 'base' is this network)\n",
      m.baseline.name, shortest(m.factors.width), shortest(m.factors.depth), m.factors.resolution);
  return text + format_baseline_text(scaled);
}

std::vector<std::string> timm_arch_def(const NetworkSpec& baseline) {
  std::vector<std::string> strings;
  for (const auto& s : baseline.stages) strings.push_back(encode_timm_block_string(s));
  return strings;
}

PythonExport export_python(const ExportModel& m) {
  const NetworkSpec& base = m.baseline;
  const NetworkSpec scaled = scale(base, m.factors);
  const Graph graph = expand(scaled);
  const NetworkCost cost = network_cost(graph);
  const bool mobilenet = base.activation == Activation::kRelu6 && std::none_of(base.stages.begin(), base.stages.end(),
                                                                                [](const BlockArgs& a) { return a.has_se(); });
  PythonExport out;
  out.timm = timm_fit(scaled);
  out.torchvision = mobilenet ? torchvision_mobilenet_fit(base, scaled) : torchvision_efficientnet_fit(scaled);
  const KnownNames names = known_names(m);
  const std::string width = shortest(m.factors.width), depth = shortest(m.factors.depth);
  const int stride = total_stride(scaled);
  const std::string head_width = base.head_no_shrink ? "max(1.0, WIDTH)" : "WIDTH";

  // timm arguments
  std::vector<std::string> arch;
  for (const auto& s : timm_arch_def(base)) arch.push_back("[\"" + s + "\"]");
  const std::string num_features = base.head_channels == 0 ? "0" : fmt::format("round_channels({}, {})", base.head_channels, head_width);
  std::string timm_call = fmt::format(
      "EfficientNet(\n"
      "        block_args=decode_arch_def(ARCH_DEF, depth_multiplier=DEPTH),\n"
      "        num_features={},\n"
      "        stem_size={}, stem_kernel_size={}, in_chans={},\n"
      "        round_chs_fn=partial(round_channels, multiplier=WIDTH),\n"
      "        act_layer={}, num_classes=num_classes{})",
      num_features, base.stem.channels, base.stem.kernel, base.image_channels, python_activation(base.activation),
      stride > 32 ? fmt::format(", output_stride={}", stride) : "");

  // torchvision arguments
  std::vector<std::string> tv_rows;
  std::string tv_builder;
  if (mobilenet) {
    for (const auto& s : base.stages)
      tv_rows.push_back(fmt::format("[{}, {}, math.ceil({} * DEPTH), {}]", shortest(s.expand_ratio), s.out_channels, s.repeats, s.stride));
    tv_builder = fmt::format(
        "    from torchvision.models import MobileNetV2\n"
        "    # t, c, n, s of each stage; n scaled as timm and the reference do: ceil(n * DEPTH)\n"
        "    setting = {}\n"
        "    return MobileNetV2(num_classes=num_classes, width_mult=WIDTH, inverted_residual_setting=setting, "
        "round_nearest=8)\n",
        python_list(tv_rows, "    "));
  } else {
    for (const auto& s : base.stages)
      tv_rows.push_back(fmt::format("conf({}, {}, {}, {}, {}, {})", shortest(s.expand_ratio), s.kernel, s.stride, s.in_channels,
                                    s.out_channels, s.repeats));
    tv_builder = fmt::format(
        "    from torchvision.models.efficientnet import EfficientNet, MBConvConfig\n"
        "    conf = partial(MBConvConfig, width_mult=WIDTH, depth_mult=DEPTH)\n"
        "    # expand_ratio, kernel, stride, input_channels, out_channels, num_layers of each stage\n"
        "    setting = {}\n"
        "    return EfficientNet(setting, dropout=0.2, num_classes=num_classes,\n"
        "                        last_channel=MBConvConfig.adjust_channels({}, {}))\n",
        python_list(tv_rows, "    "), base.head_channels, head_width);
  }

  std::string s;
  s += "#!/usr/bin/env python3\n";
  s += fmt::format("# {} scaled to {}: width {}, depth {}, resolution {} (made by effscale).\n", base.name, m.model, width,
                   depth, m.factors.resolution);
  if (!names.timm.empty())
    s += fmt::format("# The same architecture as timm's {}{}.\n", names.timm,
                     names.torchvision.empty() ? "" : fmt::format(" and torchvision's {}", names.torchvision));
  s += fmt::format("# effscale counts {} parameters (BatchNorm weight and bias included) and {} multiply-adds at {}x{}.\n",
                   cost.total.params, cost.total.macs, m.factors.resolution, m.factors.resolution);
  s += "# Run it: it builds the model with timm and torchvision (those installed) and checks the parameter count.\n";
  s += "# effscale's engine pads as TensorFlow 'SAME' (extra padding bottom/right); the shapes are the same with\n";
  s += "# PyTorch's symmetric padding, and timm's pad_type=\"same\" reproduces it exactly.\n";
  s += "import math\nfrom functools import partial\n\n";
  s += fmt::format("WIDTH = {}  # width (channel) multiplier\n", width);
  s += fmt::format("DEPTH = {}  # depth multiplier\n", depth);
  s += fmt::format("RESOLUTION = {}  # input resolution, square\n", m.factors.resolution);
  s += fmt::format("NUM_CLASSES = {}\n", base.classes);
  s += fmt::format("PARAMS = {}  # effscale's count\n\n", cost.total.params);
  s += "# The baseline in timm's block-string syntax, one stage per list (timm's decode_arch_def).\n";
  s += "ARCH_DEF = " + python_list(arch, "") + "\n\n\n";
  if (out.timm.exact()) {
    s += "def timm_model(num_classes=NUM_CLASSES):\n";
    s += "    import torch.nn as nn\n";
    s += "    from timm.models.efficientnet import EfficientNet\n";
    s += "    from timm.models._efficientnet_builder import decode_arch_def, round_channels\n";
    s += "    return " + timm_call + "\n\n\n";
  } else {
    s += "# timm: not given, it would build another network:\n";
    for (const auto& d : out.timm.differences) s += "#   " + d + "\n";
    s += "timm_model = None\n\n\n";
  }
  if (out.torchvision.exact()) {
    s += "def torchvision_model(num_classes=NUM_CLASSES):\n" + tv_builder + "\n\n";
  } else {
    s += "# torchvision: not given, it would build another network:\n";
    for (const auto& d : out.torchvision.differences) s += "#   " + d + "\n";
    s += "torchvision_model = None\n\n\n";
  }
  s += "if __name__ == \"__main__\":\n"
       "    import importlib.util\n"
       "    import sys\n"
       "    import torch\n"
       "    built = 0\n"
       "    for name, build in ((\"timm\", timm_model), (\"torchvision\", torchvision_model)):\n"
       "        if build is None:\n"
       "            print(f\"{name}: cannot build this network (see the comment above)\")\n"
       "            continue\n"
       "        if importlib.util.find_spec(name) is None:\n"
       "            print(f\"{name}: not installed, skipped\")\n"
       "            continue\n"
       "        model = build().eval()\n"
       "        params = sum(p.numel() for p in model.parameters())\n"
       "        with torch.no_grad():\n"
       "            logits = model(torch.zeros(1, " + std::to_string(base.image_channels) + ", RESOLUTION, RESOLUTION))\n"
       "        verdict = \"matches effscale\" if params == PARAMS else f\"effscale counts {PARAMS}\"\n"
       "        print(f\"{name}: params {params} ({verdict}), logits {tuple(logits.shape)}\")\n"
       "        if params != PARAMS:\n"
       "            sys.exit(1)\n"
       "        built += 1\n"
       "    if not built:\n"
       "        sys.exit(\"neither timm nor torchvision could build the model here\")\n";
  out.snippet = std::move(s);

  // JSON: the same arguments, for tools.
  std::vector<std::string> arch_json, tv_json;
  for (const auto& a : timm_arch_def(base)) arch_json.push_back("[" + json_string(a) + "]");
  for (const auto& st : base.stages) {
    tv_json.push_back(mobilenet ? fmt::format("[{}, {}, {}, {}]", shortest(st.expand_ratio), st.out_channels,
                                              round_repeats(st.repeats, m.factors.depth), st.stride)
                                : fmt::format("[{}, {}, {}, {}, {}, {}]", shortest(st.expand_ratio), st.kernel, st.stride,
                                              st.in_channels, st.out_channels, st.repeats));
  }
  const auto optional_name = [](const std::string& n) { return n.empty() ? std::string("null") : json_string(n); };
  std::string j = "{\n";
  j += fmt::format("  \"baseline\": {},\n  \"model\": {},\n", json_string(base.name), json_string(m.model));
  j += fmt::format("  \"width_multiplier\": {},\n  \"depth_multiplier\": {},\n  \"resolution\": {},\n", width, depth,
                   m.factors.resolution);
  j += fmt::format("  \"params\": {},\n  \"macs\": {},\n  \"network\": {},\n", cost.total.params, cost.total.macs,
                   json_string(network_id(graph)));
  j += "  \"timm\": {\n";
  j += fmt::format("    \"exact\": {},\n    \"differences\": {},\n", out.timm.exact() ? "true" : "false",
                   json_differences(out.timm));
  j += fmt::format("    \"model_name\": {},\n", optional_name(names.timm));
  j += "    \"builder\": \"timm.models.efficientnet.EfficientNet\",\n";
  j += fmt::format("    \"arch_def\": {},\n", json_list(arch_json));
  j += fmt::format("    \"channel_multiplier\": {},\n    \"depth_multiplier\": {},\n", width, depth);
  j += fmt::format("    \"stem_size\": {},\n    \"stem_kernel_size\": {},\n    \"in_chans\": {},\n", base.stem.channels,
                   base.stem.kernel, base.image_channels);
  j += fmt::format("    \"num_features\": {},\n", base.head_channels == 0 ? 0 : scaled.head_channels);
  j += fmt::format("    \"act_layer\": {},\n", json_string(base.activation == Activation::kSwish ? "silu" : std::string(to_string(base.activation))));
  j += fmt::format("    \"output_stride\": {},\n    \"num_classes\": {}\n  }},\n", std::max(32, stride), base.classes);
  j += "  \"torchvision\": {\n";
  j += fmt::format("    \"exact\": {},\n    \"differences\": {},\n", out.torchvision.exact() ? "true" : "false",
                   json_differences(out.torchvision));
  j += fmt::format("    \"model_name\": {},\n", optional_name(names.torchvision));
  if (mobilenet) {
    j += "    \"builder\": \"torchvision.models.MobileNetV2\",\n";
    j += fmt::format("    \"width_mult\": {},\n", width);
    j += fmt::format("    \"inverted_residual_setting\": {},\n", json_list(tv_json));
    j += "    \"inverted_residual_setting_fields\": [\"t\", \"c\", \"n (depth-scaled)\", \"s\"],\n";
  } else {
    j += "    \"builder\": \"torchvision.models.efficientnet.EfficientNet\",\n";
    j += fmt::format("    \"width_mult\": {},\n    \"depth_mult\": {},\n", width, depth);
    j += fmt::format("    \"inverted_residual_setting\": {},\n", json_list(tv_json));
    j += "    \"inverted_residual_setting_fields\": [\"expand_ratio\", \"kernel\", \"stride\", \"input_channels\", "
         "\"out_channels\", \"num_layers\"],\n";
    j += fmt::format("    \"last_channel\": {},\n", scaled.head_channels);
  }
  j += fmt::format("    \"num_classes\": {}\n  }}\n}}\n", base.classes);
  out.json = std::move(j);
  return out;
}

}  // namespace effscale
