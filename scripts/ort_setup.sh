#!/usr/bin/env bash
# Makes ONNX Runtime for Node.js available to the ONNX export tests (tests/onnx_test.cpp, tag
# [ort]): installs Debian's nodejs and npm when node or npm is missing, then the npm package
# onnxruntime-node (CPU binaries ship inside the package; ONNXRUNTIME_NODE_INSTALL=skip stops its
# install script from downloading GPU builds) into a cache folder, once. The last line on stdout
# is the node_modules folder to put in NODE_PATH. Safe to run again.
#   EFFSCALE_ORT_DIR   the cache folder (default: $HOME/.cache/effscale-ort)
set -euo pipefail

dir=${EFFSCALE_ORT_DIR:-$HOME/.cache/effscale-ort}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "ort_setup: installing nodejs npm" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# Present means: the package's JavaScript and its native binding for this platform both load.
if ! NODE_PATH="$dir/node_modules" node -e "require('onnxruntime-node')" >/dev/null 2>&1; then
  echo "ort_setup: installing onnxruntime-node into $dir" >&2
  mkdir -p "$dir"
  [[ -f "$dir/package.json" ]] || printf '{ "name": "effscale-ort", "private": true }\n' >"$dir/package.json"
  (cd "$dir" && ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip \
     npm install --no-audit --no-fund --loglevel=error onnxruntime-node >&2)
  NODE_PATH="$dir/node_modules" node -e "require('onnxruntime-node')" >&2
fi

echo "$dir/node_modules"
