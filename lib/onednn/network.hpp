#pragma once
// An expanded layer list (graph.hpp) lowered to a oneDNN 2.6 primitive graph on the CPU engine:
// BatchNorm folded into the weights, activations and the residual add fused as post-ops,
// squeeze-and-excitation as pooling -> 1x1 convs -> in-place broadcast multiply, weights reordered
// once at build time, activation buffers reused by liveness. oneDNN headers stay behind this
// interface.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graph.hpp"
#include "kernels/kernels.hpp"

namespace effscale {

/// Memory layout of every activation tensor of the network.
enum class ActivationLayout {
  kBlocked,  ///< nChw16c on AVX-512 machines, nChw8c otherwise (channels padded to the block)
  kNhwc,     ///< plain channels-last
};

std::string_view to_string(ActivationLayout layout);

/// How to build the network.
/// Which expansion convs join the own depthwise step after them (NetworkOptions::fuse_expand).
enum class FuseExpand { kOff, kWide, kAll };

struct NetworkOptions {
  int batch = 1;
  std::uint64_t seed = 1;  ///< synthetic weights (weights.hpp)
  ActivationLayout layout = ActivationLayout::kBlocked;
  bool reuse_buffers = true;      ///< share activation buffers between tensors whose lives do not overlap
  /// With more than one OpenMP thread, give every activation its own memory instead (reuse_buffers
  /// then only applies to one thread): a reused buffer was last read by the other core, whose cached
  /// copies each write must then invalidate one line at a time. Measured on a 2-core Zen 5 VM: a
  /// 12 x 12 x 1632 depthwise step 92 -> 250 us once both cores had read its output buffer; with 2
  /// threads B4 3-5% faster without reuse (B0 and MobileNetV2 level to 2%, the runs disagreeing);
  /// with 1 thread no reuse was 4% slower in one run (bench/PERFORMANCE_NOTES.md, nineteenth
  /// sitting). Switch reuse-buffers-with-threads.
  bool fresh_buffers_with_threads = true;
  bool forbid_reference = false;  ///< throw when oneDNN picks a slow reference ("ref") kernel
  /// A graph that does not start with the stem (a unit of a network, units.hpp) gets its input
  /// tensor in the activation layout, as the unit's input is inside the network; set_input
  /// reorders the plain NCHW input into it. The stem always reads the plain image.
  bool blocked_input = false;
  // Lowering choices, kept switchable so that their effect can be measured (bench --lowering).
  bool inplace_scale = true;      ///< SE multiply writes into its input (dst = src0)
  bool fuse_residual = true;      ///< residual add as a sum post-op of the projection (else a binary add)
  bool user_scratchpad = true;    ///< one shared scratchpad (else each primitive owns one)
  bool se_inner_product = false;  ///< SE reduce as an inner product (else a 1x1 convolution)
  /// Blocked layouts: each depthwise conv and the SE path after it (average pool, reduce, expand)
  /// run as one own kernel step (kernels.hpp), else as oneDNN primitives.
  bool own_depthwise = true;
  /// Batch 1, with own_depthwise: the SE gate scales the projection's weights (Cout x Cin) instead
  /// of the activation (H x W x C) where the weights are the smaller.
  bool gate_in_weights = true;
  /// With own_depthwise: which 1x1 expansion convs run inside the depthwise step after them
  /// (kernels::expand_depthwise: the expanded tensor never goes to memory). kWide: before a
  /// depthwise conv on a map at least kFuseExpandMinWidth wide, where it measured faster than the
  /// separate expansion and depthwise steps (strided since kernels v2; stride 1 since v5, once
  /// each thread's ring was its own 64-byte aligned buffer); off the AVX-512 path, before a
  /// stride-1 depthwise conv only when the expanded tensor is at least
  /// kFuseStride1MinExpandedBytes.
  FuseExpand fuse_expand = FuseExpand::kWide;
  /// With a fused expansion: the 1x1 projection conv after a depthwise conv without SE (and its
  /// shortcut) runs inside the same step, row by row (kernels::Projection): the depthwise output
  /// never goes to memory.
  bool fuse_project = true;
  /// On the AVX-512 path, a fused projection whose last output vector is half padding (24 or 40
  /// channels in blocks of 16): two pixels' real channels of that vector in one register
  /// (kernels::Projection::out_channels), so that the padding costs no FMAs; else the padded vector.
  bool pixel_pairs = true;
  /// Blocked layouts: the 1x1 expansion convs not fused into a depthwise step, on maps of at least
  /// kOwnPointwiseMinPixels, and on smaller maps (and the head conv) as kOwnPointwiseMaxSmallMapWeightBytes
  /// and kOwnPointwiseAnyActivationMaxPixels say (own_pointwise_all: every one), run as own kernel
  /// steps (kernels::pointwise), else as oneDNN convolutions.
  bool own_pointwise = true;
  bool own_pointwise_all = false;
  /// false: the small-map rules (kOwnPointwiseMaxSmallMapWeightBytes, kOwnPointwiseAnyActivationMaxPixels)
  /// are off: the expansion convs under kOwnPointwiseMinPixels and the head conv run as oneDNN
  /// convolutions.
  bool small_map_pointwise = true;
  /// Blocked layouts: the stem (a dense conv reading the plain image) runs as an own kernel step
  /// (kernels::stem), else as a oneDNN convolution.
  bool own_stem = true;
  /// Blocked layouts: the global average pool before the classifier and the classifier (a fully
  /// connected layer) run as one own kernel step (kernels::classifier), else as oneDNN's pooling
  /// and inner product.
  bool own_classifier = true;
  /// Where the head conv is an own pointwise step and the pool and classifier an own classifier
  /// step: the three as one step (kernels::head_classifier), the classifier's weights read while
  /// the head computes.
  bool fuse_head_classifier = true;
  /// The own kernels' instruction-set path; unset: the widest this CPU runs.
  std::optional<kernels::Path> kernel_path;
};

/// The narrowest expanded map whose expansion conv FuseExpand::kWide fuses: on narrower maps
/// the expanded tensor stays in L2 anyway, and the fused kernel measured slower.
constexpr int kFuseExpandMinWidth = 28;

/// Off the AVX-512 path, the smallest expanded tensor (one image, float32) whose expansion conv
/// FuseExpand::kWide fuses into a stride-1 depthwise step. On a Zen 3 core with AVX2, MobileNetV2's
/// and B0's stride-1 fused steps (expanded tensors of 0.6-1.8 MB) measured 3-10% slower than the
/// expansion and depthwise steps apart, the strided ones faster; B4's (3-7 MB) level with 1
/// thread, and apart they would add 30 MB of memory traffic an inference, which two threads
/// share (bench/PERFORMANCE_NOTES.md, twelfth and thirteenth sittings).
constexpr std::int64_t kFuseStride1MinExpandedBytes = std::int64_t{2} << 20;

/// The smallest map (height x width) whose expansion conv runs as an own pointwise step whatever
/// its activation and weights. Measured per layer against oneDNN's 1x1 convolution
/// (bench/PERFORMANCE_NOTES.md): faster on maps from 17 x 17 up (the swish is cheaper, and the
/// early layers are mostly swish).
constexpr int kOwnPointwiseMinPixels = 15 * 15;

/// On the AVX-512 path, on smaller maps: the expansion and head convs with a swish run as own
/// pointwise steps, and those on maps of at most this many pixels with any activation. Measured
/// on a Zen 5 core, kernels v12, per layer against oneDNN's 1x1 convolution with its post-op
/// (bench/PERFORMANCE_NOTES.md, fifteenth sitting): with 1 thread B0's 14 x 14 and 7 x 7 swish
/// expansions 9-13% faster (8-20% with 2 threads), B4's 12 x 12 ones 1-6%, the swish head convs
/// 2-7%; MobileNetV2's ReLU6 expansions 2-8% faster on 7 x 7, up to 8% slower on 14 x 14, its
/// head level. (The second sitting's kernels v1 had measured slower on 7 x 7 to 9 x 9 maps.)
constexpr int kOwnPointwiseAnyActivationMaxPixels = 8 * 8;

/// Off the AVX-512 path, on smaller maps, the expansion convs whose weights (in x out channels,
/// float32) are at most this many bytes run as own pointwise steps too. Measured on a
/// Zen 3 core with AVX2 (kernels v8, weights in panels and the swish as one division;
/// bench/PERFORMANCE_NOTES.md, seventh sitting): B0's 14 x 14 and 7 x 7 expansions (154-885 KB)
/// 8-20% faster than oneDNN's convolution with its swish post-op, B4's 12 x 12 ones (1.8-3.2 MB,
/// streamed from memory in every pass) level.
constexpr std::int64_t kOwnPointwiseMaxSmallMapWeightBytes = std::int64_t{1} << 20;

/// Applies a comma list of lowering switches ("no-inplace-scale", "separate-residual",
/// "library-scratchpad", "no-buffer-reuse", "reuse-buffers-with-threads", "se-inner-product", "no-own-depthwise",
/// "no-gate-in-weights", "no-fused-expand", "fused-expand-all", "no-own-pointwise", "own-pointwise-all",
/// "no-small-map-pointwise", "no-fused-project", "no-pixel-pairs", "no-fused-classifier",
/// "no-own-stem", "no-own-classifier", "kernels-avx512", "kernels-avx2", "kernels-portable") to `options`;
/// throws Error for an unknown one, or a kernel path this CPU cannot run.
void apply_lowering_switches(const std::string& list, NetworkOptions& options);

/// The switches that differ from the default lowering, as apply_lowering_switches reads them
/// ("" for the default lowering).
std::string lowering_switches(const NetworkOptions& options);

/// Where a primitive's time is accounted in profiles.
enum class ProfileGroup { kStem, kPointwise, kDepthwise, kSqueezeExcite, kHead, kReorder };

std::string_view to_string(ProfileGroup group);

/// One primitive of the built network.
struct PrimitiveInfo {
  std::string name;        ///< layer name ("stage2.block1.expand"), or "reorder:<tensor>" for reorders
  std::string primitive;   ///< "convolution", "pooling", "binary", "inner_product", "reorder", or an own
                           ///< kernel step: "own:depthwise", "own:depthwise+se", "own:gate_weights"
  std::string impl;        ///< oneDNN's implementation name, e.g. "brg:avx512_core"; "own:avx512" etc.
  ProfileGroup group = ProfileGroup::kStem;
  std::int64_t macs = 0;   ///< multiply-adds implied by the primitive's own shapes (conv, inner product)
};

/// Whether a network built with `options` for `threads` OpenMP threads shares activation buffers
/// between tensors whose lives do not overlap (reuse_buffers, fresh_buffers_with_threads).
bool reuses_buffers(const NetworkOptions& options, int threads);

/// A built network, ready to run. Build it with the OpenMP thread count it will run with (some
/// oneDNN primitives fix their thread count when they are created): build and run it in the same
/// thread after omp_set_num_threads() (bench.hpp does this), or build it under OpenmpThreads.
class OnednnNetwork {
 public:
  /// Lowers `graph`. Throws Error naming the layer and oneDNN's status when oneDNN refuses a
  /// primitive, or when `forbid_reference` is set and a reference kernel was chosen.
  OnednnNetwork(const Graph& graph, const NetworkOptions& options);
  ~OnednnNetwork();
  OnednnNetwork(const OnednnNetwork&) = delete;
  OnednnNetwork& operator=(const OnednnNetwork&) = delete;

  /// Copies a batch of images (NCHW, batch * C * H * W floats) into the input tensor.
  void set_input(const std::vector<float>& nchw);

  /// One forward pass. Throws Error when the calling thread's OpenMP thread count is not the one
  /// the network was built for.
  void run();

  /// Runs only primitive `index` (profiling); the same check as run().
  void run_primitive(size_t index);

  /// The last layer's output, as plain NCHW floats (batch * C * H * W).
  std::vector<float> output() const;

  const std::vector<PrimitiveInfo>& primitives() const;

  /// Bytes of the activation buffers allocated (input image and scratchpad included).
  std::int64_t activation_bytes() const;

  /// Bytes of the weights and biases in their primitive layouts.
  std::int64_t weight_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The own kernels' path a network built with `options` runs: options.kernel_path, else the widest
/// this CPU runs whose vector width divides the blocked layout's channel block.
kernels::Path own_kernel_path(const NetworkOptions& options);

/// "2.6.3 (cpu: omp)".
std::string onednn_version();

/// The instruction set oneDNN dispatches to on this machine, e.g. "avx512_core_bf16".
std::string onednn_isa();

/// Sets the calling thread's OpenMP thread count for the guard's lifetime, then restores it.
/// Building on another thread (a TBB worker) takes the run's count from it; a reorder done while
/// building takes 1 from it, so that building never starts an OpenMP team (a team's threads stay
/// in libgomp's pool, and more pooled threads than cores make every timed team wait by futex).
class OpenmpThreads {
 public:
  explicit OpenmpThreads(int threads);
  ~OpenmpThreads();
  OpenmpThreads(const OpenmpThreads&) = delete;
  OpenmpThreads& operator=(const OpenmpThreads&) = delete;

 private:
  int saved_;
};

/// Sets flush-to-zero and denormals-are-zero in the calling thread and every thread of its
/// OpenMP team (the threads oneDNN runs on).
void set_flush_denormals();

}  // namespace effscale
