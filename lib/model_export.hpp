#pragma once
// A scaled network leaves effscale to be trained or deployed: as a baseline file (which reads
// back to the same layer list), and as the arguments that build the same architecture in timm and
// torchvision, printed as a runnable Python snippet and as JSON. (ONNX: onnx_export.hpp.)
//
// Each library's own rules are applied to the network and compared with effscale's layer by layer
// (channel rounding, expansion width, SE width, strides, shortcuts); a library that would build
// anything else is left out of the snippet, with the reason.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scaling.hpp"
#include "spec.hpp"

namespace effscale {

/// The model to export: a baseline and how far it is scaled.
struct ExportModel {
  NetworkSpec baseline;  ///< unscaled
  ScaleFactors factors;
  std::string model;     ///< "b4", "phi1", "rank1", "custom", "base": names the export
};

/// The scaled network as a baseline file named "<baseline>-<model>". Loaded with --baseline, its
/// unscaled model ("base") is the same layer list: every scaled channel count is a multiple of 8,
/// which round_filters keeps at width 1.
std::string export_baseline_file(const ExportModel& model);

/// Whether a library builds exactly effscale's network.
struct LibraryFit {
  std::vector<std::string> differences;  ///< empty: the same layer list (shapes, params, MACs)
  bool exact() const { return differences.empty(); }
};

/// The timm and torchvision terms of a model.
struct PythonExport {
  LibraryFit timm;         ///< timm.models.efficientnet.EfficientNet with decode_arch_def
  LibraryFit torchvision;  ///< torchvision.models.efficientnet.EfficientNet or MobileNetV2
  std::string snippet;     ///< python3 source: builders for the libraries that fit; run, it builds
                           ///< the model with each installed one and checks the parameter count
  std::string json;        ///< the same arguments as one JSON object
};

/// timm's block strings of the baseline, one stage per string (encode_timm_block_string).
std::vector<std::string> timm_arch_def(const NetworkSpec& baseline);

PythonExport export_python(const ExportModel& model);

}  // namespace effscale
