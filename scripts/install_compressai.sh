#!/usr/bin/env bash
# Install CompressAI for semcom's learned codecs into the active Python environment, without
# touching numpy or torch. See docs/reference/codecs.md, "Learned codecs (CompressAI)".
#
# Why not `pip install compressai`: PyPI's 1.2.7/1.2.8 wheels pin numpy<2, and Sionna 2.2 needs
# numpy>=2.2.6, so pip would downgrade numpy and break Sionna and imagecodecs. CompressAI 1.2.6 is
# the last sdist; it builds against numpy 2 and torch 2.13 (its C++ ANS coder needs pybind11) and
# runs with numpy 2. It is built here with --no-deps, and its pure-Python needs (the `learned`
# extra: einops, requests, torch-geometric) are installed from the project's own metadata.
# torchvision, which compressai imports at start-up, is not installed: PyPI's build does not
# import beside the CPU torch 2.13; semcom.codecs.learned.import_compressai stands in for it.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
constraints="$here/scripts/compressai-constraints.txt"
py="${PYTHON:-python}"
"$py" -m pip install -c "$constraints" "pybind11>=2.6" wheel "setuptools>=68" einops requests "torch-geometric>=2.3"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
"$py" -m pip wheel --no-deps --no-build-isolation -c "$constraints" "compressai==1.2.6" -w "$build"
"$py" -m pip install --no-deps "$build"/compressai-1.2.6-*.whl
"$py" - <<'PY'
import numpy
from semcom.codecs.learned import import_compressai
c = import_compressai()
from compressai import ans  # the compiled entropy coder
print(f"compressai {c.__version__} ok (numpy {numpy.__version__})")
PY
