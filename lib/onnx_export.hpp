#pragma once
// An expanded layer list (graph.hpp) as an ONNX model, with the synthetic weights of weights.hpp
// folded exactly as the oneDNN network folds them, so that ONNX runtimes compute the same logits
// as effscale's own network. The protobuf classes (lib/onnx/onnx_subset.proto) stay behind this
// interface.

#include <cstdint>
#include <string>

#include "graph.hpp"

namespace effscale {

/// How to export.
struct OnnxExportOptions {
  std::uint64_t seed = 1;  ///< synthetic weights (weights.hpp): same seed, same weights as bench/run
  std::string graph_name = "effscale";
  std::string doc_string;  ///< stored in the model, e.g. the command that made it
};

/// What an export wrote.
struct OnnxExportSummary {
  std::int64_t initializer_elements = 0;  ///< floats in all initializers (the network's parameters
                                          ///< after BatchNorm folding)
  std::int64_t folded_batch_norm_channels = 0;  ///< sum of out_c over layers with batch_norm; the
                                                ///< cost model's params = initializer_elements + this
  int nodes = 0;                          ///< ONNX nodes in the graph (Constant nodes included)
};

/// Largest serialized model: protobuf cannot write or parse a message of 2 GiB or more.
inline constexpr std::int64_t kMaxOnnxModelBytes = 2147483647;

/// The network `graph` as a serialized ONNX ModelProto: IR version 7, opset 13 of domain "".
/// Input "input" is float32 NCHW [batch, C, H, W] (batch symbolic, C H W of graph.tensors[0]);
/// output "logits" is [batch, classes]. One Conv (with the BatchNorm-folded weights and bias as
/// initializers "<layer>.weight", "<layer>.bias", TF 'SAME' padding as explicit asymmetric pads),
/// then Add for a shortcut, then the activation (Relu; Clip 0..6; Sigmoid; Sigmoid and Mul for
/// swish), as oneDNN's post-ops apply them; GlobalAveragePool; Mul for SE scaling; Flatten and
/// Gemm for the classifier. Tensors are named after layers ("stage2.block1.expand").
/// Throws Error before building when the parameters alone would exceed kMaxOnnxModelBytes, and
/// when the graph has no layers or a layer effscale cannot express.
std::string export_onnx(const Graph& graph, const OnnxExportOptions& options, OnnxExportSummary* summary = nullptr);

}  // namespace effscale
