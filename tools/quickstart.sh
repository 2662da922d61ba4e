#!/usr/bin/env bash
# The quickstart from a clone: `paddleseg_lite quickstart` (paddleseg_lite/cli/quickstart.py) — train a small
# U-Net on the built-in synthetic vessel images, evaluate it, predict a folder. Runs in about 2-3 minutes on a
# 2-core CPU. Outputs go to out/quickstart/ (flags: --save_dir --device --iters --opts).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m paddleseg_lite quickstart "$@"
