#pragma once
// Expansion of a (scaled) network spec into the ordered list of layers that both the cost model
// and the oneDNN lowering consume: the one source of truth for shapes.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "spec.hpp"

namespace effscale {

/// What a layer computes.
enum class LayerKind {
  kConv,           ///< dense convolution (groups == 1), any kernel; includes 1x1 and SE convs
  kDepthwiseConv,  ///< groups == channels
  kGlobalAvgPool,  ///< C x H x W -> C x 1 x 1
  kChannelScale,   ///< C x H x W times a C x 1 x 1 gate (squeeze-and-excitation)
  kFullyConnected, ///< classifier
};

/// The layer's place in the network; names layers and groups them in profiles.
enum class LayerRole {
  kStem, kExpand, kDepthwise, kSePool, kSeReduce, kSeExpand, kSeScale, kProject, kHead,
  kHeadPool, kClassifier,
};

std::string_view to_string(LayerKind kind);
std::string_view to_string(LayerRole role);

/// One layer. Plain data: shapes are per image (batch 1), channels x height x width. Padding is
/// TensorFlow 'SAME': out = ceil(in / stride), extra padding at the bottom/right.
struct Layer {
  LayerKind kind = LayerKind::kConv;
  LayerRole role = LayerRole::kStem;
  int stage = -1;     ///< 0-based stage index; -1 outside the stages
  int block = -1;     ///< 0-based block index within its stage
  int input = -1;     ///< tensor id read
  int gate = -1;      ///< kChannelScale: tensor id of the C x 1 x 1 gate
  int residual = -1;  ///< kConv: tensor id added to the output after BatchNorm (shortcut)
  int output = -1;    ///< tensor id written
  int in_c = 0, in_h = 0, in_w = 0;
  int out_c = 0, out_h = 0, out_w = 0;
  int kernel = 1, stride = 1, groups = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  Activation activation = Activation::kNone;
  bool batch_norm = false;  ///< BatchNorm after the conv (folded into weights at inference)
  bool bias = false;        ///< the layer has its own bias (SE convs, classifier)
};

/// A tensor between layers, per image.
struct TensorInfo {
  int c = 0, h = 0, w = 0;
  int producer = -1;  ///< layer index; -1 for the input image
  int last_use = -1;  ///< index of the last layer that reads it; -1 if none (the logits)
  std::int64_t elements() const { return static_cast<std::int64_t>(c) * h * w; }
};

/// The expanded network: tensor 0 is the input image; layers in execution order.
struct Graph {
  std::vector<TensorInfo> tensors;
  std::vector<Layer> layers;
};

/// The number of layers `spec` expands to, counted without expanding (checked arithmetic).
std::int64_t layer_count(const NetworkSpec& spec);

/// Bytes the expanded layer list of `spec` takes (layers and tensors).
std::int64_t layer_list_bytes(const NetworkSpec& spec);

/// Expands `spec` (already scaled) into `graph`, reusing its storage. Throws Error, before
/// allocating, when it would have more than kMaxLayers layers. Block i of a stage gets the
/// stage's stride and input channels only when i == 0; SE width = max(1, int(block_in * ratio));
/// shortcut when stride 1, in == out and id_skip.
void expand(const NetworkSpec& spec, Graph& graph);

/// Convenience: expand into a fresh graph.
Graph expand(const NetworkSpec& spec);

/// TF 'SAME' output size: ceil(in / stride).
inline int same_output_size(int in, int stride) { return (in + stride - 1) / stride; }

/// An id of the layer list: 16 hex digits of a 64-bit hash of every layer's kind, shapes,
/// kernel, stride, groups, padding, activation, BatchNorm, bias and connections. Two graphs with
/// the same layer list get the same id on any machine; different ones collide with probability
/// about n^2 / 2^65 for n networks.
std::string network_id(const Graph& graph);

/// A readable layer name: "stem", "stage2.block1.expand", "head", "pool", "fc".
std::string layer_name(const Layer& layer);

}  // namespace effscale
