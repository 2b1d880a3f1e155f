#pragma once
// Baseline networks as plain data: the stem, stages of MBConv blocks, the head and classifier.
// A spec holds channel counts and repeats exactly as given; scaling (scaling.hpp) produces another
// spec with scaled numbers, and graph.hpp expands a spec into layers.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace effscale {

/// Nonlinearities that appear in the networks (the network's own one, and SE's sigmoid gate).
enum class Activation { kNone, kRelu, kRelu6, kSwish, kSigmoid };

/// "none", "relu", "relu6", "swish", "sigmoid".
std::string_view to_string(Activation activation);

/// The network activations a baseline may choose: relu, relu6, swish (also "silu").
/// Throws Error listing the allowed names.
Activation parse_network_activation(std::string_view name);

/// One stage of MBConv blocks, in the reference block-string format of tensorflow/tpu
/// efficientnet_builder.py: "r1_k3_s11_e1_i32_o16_se0.25" = 1 repeat, kernel 3, stride 1x1,
/// expand ratio 1, 32 input and 16 output channels, squeeze-and-excitation ratio 0.25.
struct BlockArgs {
  int repeats = 1;       ///< blocks in the stage (r)
  int kernel = 3;        ///< depthwise kernel size, odd (k)
  int stride = 1;        ///< stride of the stage's first block, same in both axes (s11, s22)
  double expand_ratio = 1;  ///< in [1, 64], fractional allowed (e4.5); see expanded_channels()
  int in_channels = 0;   ///< input channels of the stage's first block (i); 0 = the previous stage's
                         ///< output (timm syntax has no i), filled in by parse_baseline_text
  int out_channels = 0;  ///< output channels of every block of the stage (o)
  std::optional<double> se_ratio;  ///< SE width = max(1, int(block input * ratio)) (se)
  bool id_skip = true;   ///< false with "noskip": never a shortcut

  bool has_se() const { return se_ratio && *se_ratio > 0; }
  /// A 1x1 expansion conv exists when the expand ratio is not 1 (the reference's rule).
  bool has_expansion() const { return expand_ratio != 1; }
  bool operator==(const BlockArgs& other) const;
};

/// timm's make_divisible (timm/layers/helpers.py) with divisor 8: max(8, int(v + 4) // 8 * 8),
/// plus 8 if that is below 0.9 v. The same rule as round_filters.
int make_divisible(double value, int divisor = 8);

/// Channels after a block's expansion: block_in * e when that product is a whole number (the
/// reference's integer rule), else make_divisible(block_in * e) (timm and torchvision's rule for
/// fractional ratios such as e4.5). Both rules agree whenever block_in * e is a multiple of 8.
int expanded_channels(int block_in, double expand_ratio);

/// Parses one block string, in either syntax:
/// - the reference's (tensorflow/tpu efficientnet_builder.py): "r2_k3_s22_e6_i16_o24_se0.25";
///   fields in any order, r k s e i o required;
/// - timm's (timm/models/_efficientnet_builder.py _decode_block_str): a block type first, then
///   "ir_r2_k3_s2_e6_c24_se0.25" (inverted residual) or "ds_r1_k3_s1_c16" (depthwise separable,
///   no expansion); c is the output channels, s one stride, and the input channels are the
///   previous stage's (in_channels = 0 in the result).
/// Throws Error naming the field, its 1-based position and column, and what is allowed.
BlockArgs parse_block_string(std::string_view text);

/// The block string of `args`, in the reference encoder's field order (r k s e i o se noskip).
std::string encode_block_string(const BlockArgs& args);

/// The block string of `args` in timm's syntax: "ds_..." when there is no expansion, else "ir_...".
std::string encode_timm_block_string(const BlockArgs& args);

/// The first convolution: image -> stem channels, kernel x kernel, stride.
struct StemSpec {
  int channels = 32;
  int kernel = 3;
  int stride = 2;
};

/// A whole baseline network. Every convolution is followed by BatchNorm; the stem, expansion,
/// depthwise and head convolutions by `activation`; projections are linear. After the head come
/// global average pooling and a fully connected classifier.
struct NetworkSpec {
  std::string name;
  int resolution = 224;     ///< the baseline's input size (square)
  int image_channels = 3;
  StemSpec stem;
  std::vector<BlockArgs> stages;
  int head_channels = 1280;  ///< 1x1 conv before pooling; 0 = no head conv
  bool head_no_shrink = false;  ///< MobileNetV2: the head keeps its width when width < 1
  int classes = 1000;
  Activation activation = Activation::kSwish;
};

/// Names of the built-in baselines: "efficientnet-b0", "mobilenet-v2".
std::vector<std::string> builtin_baseline_names();

/// A built-in baseline by name; throws Error listing the valid names.
NetworkSpec builtin_baseline(std::string_view name);

/// Parses a baseline file's text (format in README.md: one directive or block string per
/// line). `source` names the file in error messages ("net.txt:7: ...").
NetworkSpec parse_baseline_text(std::string_view text, std::string_view source);

/// Writes a spec in the baseline file format (parse_baseline_text reads it back).
std::string format_baseline_text(const NetworkSpec& spec);

/// A built-in name, or else a path to a baseline file. Throws Error for an unknown name that is
/// not a readable file (listing the built-in names).
NetworkSpec load_baseline(std::string_view name_or_path);

/// Checks the spec is a well-formed chain (positive sizes, odd kernels, stage i matches the
/// previous o). Throws Error naming the stage and field.
void validate(const NetworkSpec& spec);

}  // namespace effscale
