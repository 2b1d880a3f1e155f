#pragma once
// effscale's own CPU kernels, for what oneDNN 2.6's primitives cannot fuse or do slower
// (bench/PERFORMANCE_NOTES.md, issue 14): the depthwise convolution with its activation and the
// squeeze-and-excitation average pool in one pass over the blocked activation, the SE gate's two
// small fully connected layers, the gate applied to a projection's weights instead of to the
// activation, the 1x1 expansion conv fused into the depthwise conv after it (and, in blocks
// without SE, the projection conv after that), the 1x1 expansion
// conv alone (its swish cheaper than oneDNN's), and the stem (a dense conv from the plain image,
// which oneDNN's kernel runs far below the FMA rate). Plain arrays in and out, no oneDNN here;
// the lowering (onednn/network.cpp) decides where they replace primitives.
//
// Three paths with the same arithmetic: AVX-512 (16 floats a vector), AVX2+FMA (8) and portable
// C++ (GCC vector extensions, 4 floats, no instruction-set flags), chosen at run time. Each path
// runs on any blocked layout whose block is a multiple of its vector width (nChw16c, nChw8c).
// They thread with OpenMP, like oneDNN's primitives, in the calling thread's team.

#include <cstddef>
#include <new>
#include <string_view>
#include <vector>

#include "spec.hpp"

namespace effscale::kernels {

/// Every buffer the kernels read whole vectors from is aligned to a cache line: a vector load
/// that straddles two lines costs two (std::vector<float>'s buffers are 16-byte aligned; the fused
/// kernel's rows 16 bytes off the line measured 10-20% slower).
constexpr std::size_t kAlignment = 64;

/// `bytes` rounded up to a multiple of kAlignment: what keeps the next buffer placed after them aligned.
constexpr std::size_t round_to_alignment(std::size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

/// round_to_alignment(bytes) bytes, kAlignment-aligned; null when they cannot be
/// had. Freed by AlignedDelete. The one allocation of aligned storage: the kernels' weights and
/// scratch (AlignedFloats), each thread's ring (thread_ring) and the network's activation arena.
void* aligned_bytes(std::size_t bytes) noexcept;

struct AlignedDelete {
  void operator()(void* p) const noexcept;
};

/// Storage for the kernels' weights and scratch, kAlignment-aligned (aligned_bytes).
template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(std::size_t n) {
    void* p = aligned_bytes(n * sizeof(T));
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) { AlignedDelete{}(p); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const {
    return true;
  }
  template <class U>
  bool operator!=(const AlignedAllocator<U>&) const {
    return false;
  }
};
using AlignedFloats = std::vector<float, AlignedAllocator<float>>;

enum class Path { kAvx512, kAvx2, kPortable };

/// Raised whenever a change to the kernels, or to how the lowering lays out their buffers (19: no
/// buffer reuse with several threads), changes their speed: latency tables (latency_table.hpp)
/// measured with other kernels are not reused.
constexpr int kKernelsVersion = 19;

std::string_view to_string(Path path);

/// Whether this CPU runs `path` (kPortable always).
bool available(Path path);

/// The widest available path.
Path best_path();

/// The widest available path whose vector width divides `block` (the activation layout's channel
/// block: 16 for nChw16c, 8 for nChw8c).
Path best_path(int block);

/// Every path this CPU runs, widest first.
std::vector<Path> available_paths();

/// Floats in one vector of `path`.
int vector_width(Path path);

/// Output vectors (of the path's width) per panel of the matrix products' weights (pack_panels).
constexpr int kPanelVectors = 3;

/// The weights of the matrix products (pointwise, expand_depthwise's expansion, stem) as they take
/// them: the transposed weights [inputs][padded] (padded: a multiple of the path's vector width)
/// cut into panels of kPanelVectors vectors of output channels (the last of 1 or 2 when they do
/// not divide), each panel [inputs][its width] and the panels one after the other; inputs x padded
/// floats. A register tile reads its weights as one stream: with the transposed matrix, its loads
/// were `padded` floats apart and fell into a few of the L1's sets, which could not hold them
/// (B4's 24x24 160->960 expansion with its swish, AVX2, 1 thread: 2.46 -> 2.02 ms;
/// bench/PERFORMANCE_NOTES.md, seventh sitting).
void pack_panels(Path path, const float* transposed, int inputs, int padded, float* panels);

/// A depthwise convolution over a blocked activation [batch][blocks][h][w][block] (channels
/// padded to blocks x block with zeros), TensorFlow SAME padding given as top/left.
struct DepthwiseShape {
  int batch = 1, blocks = 1, block = 16;
  int in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  int kernel = 3, stride = 1, pad_top = 0, pad_left = 0;
  Activation activation = Activation::kNone;
};

/// Throws Error when `shape` is outside what the kernels take (block not a multiple of the
/// path's vector width, kernel or stride outside 1..15, inconsistent sizes).
void check(Path path, const DepthwiseShape& shape);

/// dst = activation(depthwise(src, weights) + bias). weights: [blocks][kernel * kernel][block];
/// bias: [blocks * block]; padded channels must have zero weights and bias. `scratch`:
/// depthwise_scratch_floats(shape).
void depthwise(Path path, const DepthwiseShape& shape, const float* src, const float* weights, const float* bias,
               float* dst, float* scratch);

std::size_t depthwise_scratch_floats(const DepthwiseShape& shape);

/// The squeeze-and-excitation path after a depthwise conv: per image, pooled = mean of dst over
/// the image, squeezed = activation(reduce pooled + reduce_bias), gate = sigmoid(expand squeezed +
/// expand_bias).
struct SeShape {
  int channels = 1;  ///< real channels; padded = blocks x block of the depthwise shape
  int padded = 1;
  int squeezed = 1;
  float inv_area = 1;  ///< 1 / (out_h x out_w)
  Activation activation = Activation::kSwish;
};

/// The SE weights, zero-padded to `padded` channels: reduce [squeezed][padded], reduce_bias
/// [squeezed], expand_t [squeezed][padded] (the expand layer's weights transposed), expand_bias
/// [padded].
struct SeWeights {
  const float* reduce = nullptr;
  const float* reduce_bias = nullptr;
  const float* expand_t = nullptr;
  const float* expand_bias = nullptr;
};

/// depthwise(), then, when `se` is set, the SE gate of its output into gate [batch][padded]
/// (padding 0), in one parallel region; the channel sums add up in a fixed order, the same for any
/// thread count. `scratch`: depthwise_se_scratch_floats(shape, *se), or depthwise_scratch_floats.
void depthwise_se(Path path, const DepthwiseShape& shape, const SeShape* se, const float* src, const float* weights,
                  const float* bias, float* dst, const SeWeights* se_weights, float* gate, float* scratch);

std::size_t depthwise_se_scratch_floats(const DepthwiseShape& shape, const SeShape& se);

/// The 1x1 expansion conv before a depthwise conv, fused into it: expanded = activation(expand
/// src + expand_bias) is never stored. Each thread takes a band of output rows; it expands each
/// input row its window reaches once (a register tile of pixels x output vectors), into a ring
/// of `kernel` zero-padded rows of every channel block that stays in L2, and convolves each
/// output row from the ring.
struct ExpandShape {
  int in_channels = 1;  ///< real input channels
  int in_blocks = 1;    ///< the input's channel blocks (same block as the depthwise shape)
  Activation activation = Activation::kSwish;
};

/// The largest ring of expanded rows a thread may take (expand_fits).
constexpr std::size_t kMaxRingBytes = std::size_t{2} << 20;

/// Whether expand_depthwise takes `shape` on `path`: one thread's ring of expanded rows is at
/// most kMaxRingBytes.
bool expand_fits(Path path, const DepthwiseShape& shape);

/// The 1x1 projection conv after the depthwise conv of a block without SE, fused into
/// expand_depthwise: each output row of the depthwise conv goes to a buffer of the thread's (after
/// its ring) instead of dst, and is projected from there (the own pointwise kernel's register
/// tile) into dst = activation(weights^T row + bias + residual), [batch][out_blocks][out_h][out_w]
/// [block]. The depthwise output is never stored.
struct Projection {
  int in_channels = 1;  ///< real channels of the depthwise output (the projection's inputs)
  int out_blocks = 1;
  /// real output channels (at most out_blocks * block); 0: out_blocks * block. Where the last
  /// vector is half padding, the AVX-512 path skips the padding's arithmetic.
  int out_channels = 0;
  Activation activation = Activation::kNone;  ///< must map 0 to 0, as pointwise()'s
  const float* weights = nullptr;   ///< pack_panels of [in_channels][out_blocks * block]
  const float* bias = nullptr;      ///< [out_blocks * block]
  const float* residual = nullptr;  ///< dst's layout, added before the activation; null: none
};

/// src: the block input [batch][in_blocks][in_h][in_w][block] (the depthwise shape's in_h, in_w);
/// expand_weights: pack_panels of [in_channels][blocks * block] (the expansion's weights
/// transposed, zero-padded);
/// expand_bias: [blocks * block]; the rest as depthwise_se (se null: no SE, gate unused).
/// `scratch`: expand_depthwise_scratch_floats. Each thread's ring (at most kMaxRingBytes) is its
/// own buffer, kept by that thread between calls (thread_ring). The SE channel sums add up row by row in
/// order: the same bits for any thread count. project: the projection after it (se must be null),
/// dst its output.
void expand_depthwise(Path path, const DepthwiseShape& shape, const ExpandShape& expand, const float* src,
                      const float* expand_weights, const float* expand_bias, const float* weights, const float* bias,
                      float* dst, const SeShape* se, const SeWeights* se_weights, float* gate, float* scratch,
                      const Projection* project = nullptr);

std::size_t expand_depthwise_scratch_floats(Path path, const DepthwiseShape& shape, const SeShape* se);

/// A 1x1 convolution (stride 1) between blocked activations: src [batch][in_blocks][pixels][block],
/// dst [batch][out_blocks][pixels][block], dst = activation(weights^T src + bias), with the fused
/// expansion's register tile. The activation must map 0 to 0 (none, relu, relu6, swish), so that
/// padded output channels (zero weights and bias) stay zero.
struct PointwiseShape {
  int batch = 1, block = 16;
  int in_channels = 1, in_blocks = 1, out_blocks = 1;
  int pixels = 1;  ///< height x width
  Activation activation = Activation::kNone;
};

/// Throws Error when `shape` is outside what pointwise() takes.
void check(Path path, const PointwiseShape& shape);

/// weights: pack_panels of [in_channels][out_blocks * block] (the conv's weights transposed,
/// zero-padded); bias: [out_blocks * block].
void pointwise(Path path, const PointwiseShape& shape, const float* src, const float* weights, const float* bias,
               float* dst);

/// The stem: a dense convolution from the plain image [batch][channels][in_h][in_w] (NCHW, a few
/// channels) into a blocked activation [batch][out_blocks][out_h][out_w][block], dst =
/// activation(conv + bias), TensorFlow SAME padding given as top/left. oneDNN's kernel for it
/// runs at a third of the FMA rate and does not scale to two threads. Each output row is computed
/// from a zero-padded copy of the input rows its windows reach (channels x kernel rows, at most
/// kStemFloats), with the expansion's register tile: each input value broadcast, each weight
/// vector serving several pixels. The activation must map 0 to 0, so that padded output channels
/// (zero weights and bias) stay zero.
struct StemShape {
  int batch = 1, channels = 3, block = 16, out_blocks = 1;
  int in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  int kernel = 3, stride = 2, pad_top = 0, pad_left = 0;
  Activation activation = Activation::kSwish;
};

/// Floats of the stem's padded input band (on each thread's stack): 64 KB.
constexpr int kStemFloats = 16384;

/// Taps (channels x kernel x kernel) of the stem's products at most: their offsets in the band
/// are one table on each thread's stack (4 KB). 3 channels x 15 x 15 is 675.
constexpr int kStemMaxTaps = 1024;

/// Throws Error when `shape` is outside what stem() takes (among others: a padded band larger
/// than kStemFloats, that is channels x kernel x ((out_w - 1) x stride + kernel), or more than
/// kStemMaxTaps taps).
void check(Path path, const StemShape& shape);

/// weights: pack_panels of [channels][kernel][kernel][out_blocks * block] (the conv's weights with
/// the output channel innermost, zero-padded); bias: [out_blocks * block].
void stem(Path path, const StemShape& shape, const float* src, const float* weights, const float* bias, float* dst);

/// The network's end: the global average pool of a blocked activation and the fully connected
/// layer after it, in one step. oneDNN 2.6 runs the batch-1 classifier as a matrix product (its
/// gemm) that reads the weights as one stream, and memory on a shared VM gives one stream about
/// half of what four give (bench/PERFORMANCE_NOTES.md, thirteenth sitting): here each thread reads
/// its rows of the weights as kClassifierStreams streams side by side.
struct ClassifierShape {
  int batch = 1, block = 16;
  int in_channels = 1, in_blocks = 1;
  int pixels = 1;  ///< of the map the pool averages (h x w)
  int outputs = 1;
  Activation activation = Activation::kNone;
};

constexpr int kClassifierStreams = 4;

/// Floats between two rows of the classifier's weights: in_channels rounded up to 16, so that each
/// row starts on a cache line.
int classifier_row(const ClassifierShape& shape);

/// Throws Error when `shape` is outside what classifier() takes.
void check(Path path, const ClassifierShape& shape);

/// src: [batch][in_blocks][pixels][block]; weights: [outputs][classifier_row] (the layer's
/// [outputs][in_channels], rows zero-padded); bias [outputs]; dst [batch][outputs] =
/// activation(weights mean(src) + bias). `scratch`: batch x in_blocks x block floats (the pooled
/// vectors). The sums add up in a fixed order, the same for any thread count.
void classifier(Path path, const ClassifierShape& shape, const float* src, const float* weights, const float* bias,
                float* dst, float* scratch);

/// The head conv (a 1x1 conv), the global average pool and the classifier as one step. Each work
/// item computes one panel of the head's output channels (kPanelVectors vectors, pointwise()'s
/// register tile) over all pixels of an image into the thread's buffer, pools it, and multiplies
/// the pooled panel by that panel's rows of the classifier's weights (transposed) into a partial
/// sum per panel; the partial sums add up in panel order, the same bits for any thread count.
/// While a panel's head outputs are computed, its classifier weights are prefetched (two cache
/// lines per input channel of each register tile), so that their read from memory overlaps the
/// head's arithmetic instead of following it: the classifier alone is a read of its weights at
/// what memory gives one core.
struct HeadClassifierShape {
  PointwiseShape head;  ///< pixels: the map the pool averages
  int channels = 1;     ///< the head's real output channels: the classifier's inputs
  int outputs = 1;      ///< the classifier's
  Activation activation = Activation::kNone;  ///< the classifier's
};

/// Floats a thread's buffer of one panel of head outputs takes at most (kMaxRingBytes).
std::size_t head_classifier_buffer_floats(Path path, const HeadClassifierShape& shape);

/// Throws Error when `shape` is outside what head_classifier() takes (the head as check() of a
/// PointwiseShape, a panel's buffer over kMaxRingBytes).
void check(Path path, const HeadClassifierShape& shape);

/// Outputs of the classifier rounded up to 16: the rows of its packed weights.
int head_classifier_outputs(const HeadClassifierShape& shape);

/// The classifier's weights as head_classifier() takes them, from fc [outputs][channels]:
/// [padded][head_classifier_outputs] (padded: the head's out_blocks x block), zero-padded; each
/// panel of the head's channels is one contiguous run.
void pack_head_classifier(const HeadClassifierShape& shape, const float* fc, float* packed);

/// Floats of head_classifier()'s scratch: the partial sums, batch x panels x head_classifier_outputs.
std::size_t head_classifier_scratch_floats(Path path, const HeadClassifierShape& shape);

/// src: the head's input [batch][in_blocks][pixels][block]; head_weights, head_bias as pointwise();
/// fc_weights: pack_head_classifier; fc_bias [outputs]; dst [batch][outputs] = activation(fc x
/// mean(activation(head src)) + fc_bias). Each thread's panel buffer is its thread_ring.
void head_classifier(Path path, const HeadClassifierShape& shape, const float* src, const float* head_weights,
                     const float* head_bias, const float* fc_weights, const float* fc_bias, float* dst, float* scratch);

/// dst[r * run + j] = src[r * run + j] x gate[channel[r]] for r < runs, j < run: a weight tensor
/// in any layout whose consecutive `run` elements share an input channel.
void scale_runs(Path path, const float* src, float* dst, std::size_t runs, int run, const int* channel,
                const float* gate);

}  // namespace effscale::kernels
