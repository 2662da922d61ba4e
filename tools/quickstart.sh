#!/usr/bin/env bash
# The quickstart: train a small U-Net on the built-in synthetic vessel images, evaluate it, predict a folder.
# Runs in about 2-3 minutes on a 2-core CPU. Outputs go to out/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=configs/quickstart/unet_synthetic_vessels.yml
OUT=out/quickstart
python tools/train.py --config $CONFIG --device cpu --do_eval --use_vdl --save_interval 100 --log_iters 50 \
    --seed 0 --save_dir $OUT
python tools/val.py --config $CONFIG --device cpu --model_path $OUT/best_model/model.pdparams --save_dir $OUT/val
python tools/make_synthetic_data.py --save_dir $OUT/images --num 4 --size 64 --mode val
python tools/predict.py --config $CONFIG --device cpu --model_path $OUT/best_model/model.pdparams \
    --image_path $OUT/images/images --save_dir $OUT/result --save_prob
echo "Quickstart done: checkpoints in $OUT, predictions in $OUT/result, VisualDL: visualdl --logdir $OUT"
