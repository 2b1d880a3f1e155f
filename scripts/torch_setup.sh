#!/usr/bin/env bash
# Makes PyTorch and torchvision importable by Debian's python3, for the test that runs the Python
# snippets of `effscale export --format timm` (tests/export_test.cpp, tag [torchvision]): installs
# Debian 12's python3-torchvision (with python3-torch) when `import torchvision` fails. timm is not
# packaged by Debian; the snippets skip it when it is missing. Safe to run again.
set -euo pipefail

if ! /usr/bin/python3 -c 'import torch, torchvision' >/dev/null 2>&1; then
  echo "torch_setup: installing python3-torchvision" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3-torchvision >/dev/null
  /usr/bin/python3 -c 'import torch, torchvision' >&2
fi
/usr/bin/python3 -c 'import torchvision; print("torchvision", torchvision.__version__)'
