#include "onnx_export.hpp"

#include <fmt/format.h>

#include <cstring>
#include <initializer_list>
#include <unordered_set>
#include <vector>

#include "error.hpp"
#include "limits.hpp"
#include "onnx/onnx_subset.pb.h"
#include "weights.hpp"

#ifndef EFFSCALE_VERSION
#define EFFSCALE_VERSION "unknown"
#endif

namespace effscale {

namespace {

namespace pb = effscale::onnx;

constexpr std::int64_t kIrVersion = 7;
constexpr std::int64_t kOpsetVersion = 13;
constexpr const char* kBatchDim = "batch";

bool has_weights(const Layer& l) {
  return l.kind == LayerKind::kConv || l.kind == LayerKind::kDepthwiseConv || l.kind == LayerKind::kFullyConnected;
}

// Floats the initializers of `l` hold: weights [out_c][in_c / groups][k][k] and a bias [out_c]
// (always present: BatchNorm folds into it).
std::int64_t initializer_elements(const Layer& l) {
  if (!has_weights(l)) return 0;
  const std::int64_t fan_in = checked_mul(checked_mul(l.in_c / l.groups, l.kernel, "parameters"), l.kernel, "parameters");
  return checked_add(checked_mul(fan_in, l.out_c, "parameters"), l.out_c, "parameters");
}

// `values` as fixed-width little-endian IEEE 754 bytes, as TensorProto.raw_data wants them on any host.
std::string little_endian_bytes(const std::vector<float>& values) {
  std::string bytes(values.size() * 4, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    std::uint32_t u = 0;
    std::memcpy(&u, &values[i], 4);
    for (size_t b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<char>((u >> (8 * b)) & 0xff);
  }
  return bytes;
}

void set_shape(pb::ValueInfoProto& info, const std::string& name, const std::vector<std::int64_t>& dims) {
  info.set_name(name);
  pb::TypeProto::Tensor& tensor = *info.mutable_type()->mutable_tensor_type();
  tensor.set_elem_type(pb::TensorProto::FLOAT);
  pb::TensorShapeProto& shape = *tensor.mutable_shape();
  shape.add_dim()->set_dim_param(kBatchDim);
  for (std::int64_t d : dims) shape.add_dim()->set_dim_value(d);
}

void add_ints(pb::NodeProto& node, const char* name, std::initializer_list<std::int64_t> values) {
  pb::AttributeProto& a = *node.add_attribute();
  a.set_name(name);
  a.set_type(pb::AttributeProto::INTS);
  for (std::int64_t v : values) a.add_ints(v);
}

void add_int(pb::NodeProto& node, const char* name, std::int64_t value) {
  pb::AttributeProto& a = *node.add_attribute();
  a.set_name(name);
  a.set_type(pb::AttributeProto::INT);
  a.set_i(value);
}

// Lowers the layer list into `out`, one node chain per layer, in layer order (which is a
// topological order: a layer reads only tensors of earlier layers).
class Lowering {
 public:
  Lowering(const Graph& graph, const OnnxExportOptions& options, pb::GraphProto& out)
      : graph_(graph), seed_(options.seed), out_(out) {
    tensor_names_.assign(graph.tensors.size(), "");
    tensor_names_[0] = "input";
    std::unordered_set<std::string> seen = {"input"};
    for (size_t i = 0; i < graph.layers.size(); ++i) {
      const Layer& l = graph.layers[i];
      std::string name = i + 1 == graph.layers.size() ? "logits" : layer_name(l);
      if (!seen.insert(name).second)
        throw runtime_failure(fmt::format("two layers are named '{}'; ONNX needs distinct tensor names", name));
      tensor_names_.at(static_cast<size_t>(l.output)) = std::move(name);
    }
  }

  void lower(int index) {
    switch (graph_.layers[index].kind) {
      case LayerKind::kConv:
      case LayerKind::kDepthwiseConv: lower_conv(index); break;
      case LayerKind::kGlobalAvgPool: lower_pool(index); break;
      case LayerKind::kChannelScale: lower_scale(index); break;
      case LayerKind::kFullyConnected: lower_fc(index); break;
    }
    declare(graph_.layers[index]);
  }

  std::int64_t initializer_elements() const { return initializer_elements_; }

 private:
  // ---- one lowering function per layer kind ----

  // Conv, then the shortcut's Add, then the activation: the order of oneDNN's post-ops (sum, then
  // eltwise) in onednn/network.cpp.
  void lower_conv(int index) {
    const Layer& l = graph_.layers[index];
    const std::string name = layer_name(l);
    const FoldedWeights folded = fold_batch_norm(l, make_layer_weights(graph_, index, seed_));
    const std::string weight = add_initializer(name + ".weight", {l.out_c, l.in_c / l.groups, l.kernel, l.kernel}, folded.weights);
    const std::string bias = add_initializer(name + ".bias", {l.out_c}, folded.bias);
    const bool shortcut = l.residual >= 0;
    const bool activated = l.activation != Activation::kNone;
    std::string x = step_output(l, "conv", !shortcut && !activated);
    pb::NodeProto& conv = add_node("Conv", name, {tensor_names_[l.input], weight, bias}, x);
    add_ints(conv, "kernel_shape", {l.kernel, l.kernel});
    add_ints(conv, "strides", {l.stride, l.stride});
    add_ints(conv, "pads", {l.pad_top, l.pad_left, l.pad_bottom, l.pad_right});  // TF 'SAME': extra at bottom/right
    add_ints(conv, "dilations", {1, 1});
    add_int(conv, "group", l.groups);
    if (shortcut) {
      const std::string sum = step_output(l, "add", !activated);
      add_node("Add", name + ".add", {x, tensor_names_[l.residual]}, sum);
      x = sum;
    }
    activate(l, x);
  }

  void lower_pool(int index) {
    const Layer& l = graph_.layers[index];
    add_node("GlobalAveragePool", layer_name(l), {tensor_names_[l.input]}, tensor_names_[l.output]);
  }

  // N x C x H x W times the N x C x 1 x 1 gate, broadcast.
  void lower_scale(int index) {
    const Layer& l = graph_.layers[index];
    add_node("Mul", layer_name(l), {tensor_names_[l.input], tensor_names_[l.gate]}, tensor_names_[l.output]);
  }

  // The classifier reads the pooled N x C x 1 x 1 tensor: Flatten to N x C, then y = x W^T + b.
  void lower_fc(int index) {
    const Layer& l = graph_.layers[index];
    const std::string name = layer_name(l);
    if (l.in_h != 1 || l.in_w != 1)
      throw Error(fmt::format("layer {} reads a {}x{}x{} tensor; the ONNX export takes a fully connected layer "
                              "only after global pooling (1x1)", name, l.in_c, l.in_h, l.in_w));
    const FoldedWeights folded = fold_batch_norm(l, make_layer_weights(graph_, index, seed_));
    const std::string weight = add_initializer(name + ".weight", {l.out_c, l.in_c}, folded.weights);
    const std::string bias = add_initializer(name + ".bias", {l.out_c}, folded.bias);
    const std::string flat = name + ".flatten";
    add_int(add_node("Flatten", flat, {tensor_names_[l.input]}, flat), "axis", 1);
    const std::string y = step_output(l, "gemm", l.activation == Activation::kNone);
    add_int(add_node("Gemm", name, {flat, weight, bias}, y), "transB", 1);
    activate(l, y);
  }

  // ---- helpers ----

  // Nodes from `x` to the layer's output tensor applying its activation (none: `x` is the output).
  void activate(const Layer& l, const std::string& x) {
    const std::string name = layer_name(l);
    const std::string& out = tensor_names_[l.output];
    switch (l.activation) {
      case Activation::kNone: break;
      case Activation::kRelu: add_node("Relu", name + ".relu", {x}, out); break;
      case Activation::kRelu6: add_node("Clip", name + ".relu6", {x, constant("relu6.min", 0.f), constant("relu6.max", 6.f)}, out); break;
      case Activation::kSigmoid: add_node("Sigmoid", name + ".sigmoid", {x}, out); break;
      case Activation::kSwish: {
        // x * sigmoid(x): oneDNN's eltwise_swish with alpha 1.
        const std::string gate = name + ".sigmoid";
        add_node("Sigmoid", gate, {x}, gate);
        add_node("Mul", name + ".swish", {x, gate}, out);
        break;
      }
    }
  }

  // The output of an intermediate step of layer `l` ("<layer>.<step>"), or of the layer itself.
  std::string step_output(const Layer& l, const char* step, bool last) const {
    return last ? tensor_names_[l.output] : layer_name(l) + "." + step;
  }

  pb::NodeProto& add_node(const char* op_type, const std::string& name, std::initializer_list<std::string> inputs,
                          const std::string& output) {
    pb::NodeProto& node = *out_.add_node();
    node.set_op_type(op_type);
    node.set_name(name);
    for (const std::string& in : inputs) node.add_input(in);
    node.add_output(output);
    return node;
  }

  std::string add_initializer(const std::string& name, std::initializer_list<std::int64_t> dims,
                              const std::vector<float>& values) {
    pb::TensorProto& t = *out_.add_initializer();
    t.set_name(name);
    t.set_data_type(pb::TensorProto::FLOAT);
    std::int64_t elements = 1;
    for (std::int64_t d : dims) {
      t.add_dims(d);
      elements *= d;
    }
    if (elements != static_cast<std::int64_t>(values.size()))
      throw runtime_failure(fmt::format("initializer {} has {} values for {} elements", name, values.size(), elements));
    t.set_raw_data(little_endian_bytes(values));
    initializer_elements_ += elements;
    return name;
  }

  // A float scalar made by a Constant node the first time it is asked for. Not an initializer:
  // the initializers are exactly the network's learned parameters.
  std::string constant(const std::string& name, float value) {
    if (!constants_.insert(name).second) return name;
    pb::NodeProto& node = add_node("Constant", name, {}, name);
    pb::AttributeProto& a = *node.add_attribute();
    a.set_name("value");
    a.set_type(pb::AttributeProto::TENSOR);
    pb::TensorProto& t = *a.mutable_t();
    t.set_data_type(pb::TensorProto::FLOAT);
    t.add_float_data(value);  // no dims: a scalar
    return name;
  }

  // The layer's output shape, for value_info (intermediate tensors) or the graph's output.
  void declare(const Layer& l) {
    const bool last = tensor_names_[l.output] == "logits";
    pb::ValueInfoProto& info = last ? *out_.add_output() : *out_.add_value_info();
    if (l.kind == LayerKind::kFullyConnected) {
      set_shape(info, tensor_names_[l.output], {l.out_c});
    } else {
      set_shape(info, tensor_names_[l.output], {l.out_c, l.out_h, l.out_w});
    }
  }

  const Graph& graph_;
  std::uint64_t seed_;
  pb::GraphProto& out_;
  std::vector<std::string> tensor_names_;  // graph tensor id -> ONNX tensor name
  std::unordered_set<std::string> constants_;
  std::int64_t initializer_elements_ = 0;
};

void add_metadata(pb::ModelProto& model, const char* key, const std::string& value) {
  pb::StringStringEntryProto& e = *model.add_metadata_props();
  e.set_key(key);
  e.set_value(value);
}

}  // namespace

std::string export_onnx(const Graph& graph, const OnnxExportOptions& options, OnnxExportSummary* summary) {
  if (graph.layers.empty() || graph.tensors.empty()) throw Error("the network has no layers to export");
  std::int64_t elements = 0, bn_channels = 0;
  for (const Layer& l : graph.layers) {
    elements = checked_add(elements, initializer_elements(l), "parameters");
    if (l.batch_norm) bn_channels = checked_add(bn_channels, l.out_c, "parameters");
  }
  const std::int64_t parameter_bytes = checked_mul(elements, 4, "parameter bytes");
  if (parameter_bytes > kMaxOnnxModelBytes)
    throw Error(fmt::format("the ONNX model would hold {} bytes of parameters ({} floats); protobuf writes at most "
                            "{} bytes (2 GiB): lower the width or depth",
                            parameter_bytes, elements, kMaxOnnxModelBytes));

  pb::ModelProto model;
  model.set_ir_version(kIrVersion);
  model.set_producer_name("effscale");
  model.set_producer_version(EFFSCALE_VERSION);
  if (!options.doc_string.empty()) model.set_doc_string(options.doc_string);
  pb::OperatorSetIdProto& opset = *model.add_opset_import();
  opset.set_domain("");
  opset.set_version(kOpsetVersion);
  add_metadata(model, "effscale.seed", std::to_string(options.seed));
  add_metadata(model, "effscale.network_id", network_id(graph));
  add_metadata(model, "effscale.layers", std::to_string(graph.layers.size()));
  add_metadata(model, "effscale.weights", "synthetic (weights.hpp), BatchNorm folded into conv weights and bias");

  pb::GraphProto& g = *model.mutable_graph();
  g.set_name(options.graph_name);
  const TensorInfo& image = graph.tensors[0];
  set_shape(*g.add_input(), "input", {image.c, image.h, image.w});
  Lowering lowering(graph, options, g);
  for (int i = 0; i < static_cast<int>(graph.layers.size()); ++i) lowering.lower(i);

  const size_t bytes = model.ByteSizeLong();
  if (bytes > static_cast<size_t>(kMaxOnnxModelBytes))
    throw Error(fmt::format("the ONNX model would take {} bytes; protobuf writes at most {} bytes (2 GiB): lower the "
                            "width or depth", bytes, kMaxOnnxModelBytes));
  std::string serialized;
  if (!model.SerializeToString(&serialized))
    throw runtime_failure(fmt::format("protobuf could not serialize the ONNX model ({} bytes)", bytes));
  if (summary) {
    summary->initializer_elements = lowering.initializer_elements();
    summary->folded_batch_norm_channels = bn_channels;
    summary->nodes = g.node_size();
  }
  return serialized;
}

}  // namespace effscale
