"""Smoke test: the three tools in a row, as a user runs them (subprocesses, 3 iterations)."""
import os

import cv2
import numpy as np

from tool_runner import run_tool


def test_train_then_val_then_predict(tmp_path):
    out = tmp_path / "out"
    train = run_tool("train", "--iters", 3, "--save_interval", 3, "--do_eval", "--use_vdl", "--save_dir", out)
    assert train.returncode == 0, train.stderr[-2000:]
    assert "[EVAL] The model with the best validation mIoU" in train.stdout
    weights = out / "best_model" / "model.pdparams"
    val = run_tool("val", "--model_path", weights, "--save_dir", tmp_path / "val")
    assert val.returncode == 0, val.stderr[-2000:]
    assert "[EVAL] #Images: 4 mIoU:" in val.stdout and (tmp_path / "val" / "per_image_metrics.csv").is_file()
    cv2.imwrite(str(tmp_path / "eye.png"), np.full((20, 30, 3), 90, np.uint8))
    predict = run_tool("predict", "--model_path", weights, "--image_path", tmp_path / "eye.png",
                       "--save_dir", tmp_path / "result", "--save_prob")
    assert predict.returncode == 0, predict.stderr[-2000:]
    for folder in ("pseudo_color_prediction", "added_prediction", "probability_map"):
        assert os.listdir(tmp_path / "result" / folder) == ["eye.png"]
