"""PaddleSeg's own vessel configs (../shared/docs/paddleseg-configs) build unmodified but for dataset_root."""
import glob
import os

import cv2
import numpy as np
import paddle
import pytest

from paddleseg_lite.cvlibs import Config

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "docs", "paddleseg-configs", "unet")
CONFIGS = sorted(glob.glob(os.path.join(CONFIG_DIR, "*.yml")))


def release_layout(root, n=2, size=(48, 40)):
    """PaddleSeg's release layout: PNG images, 0/1 PNG labels, train_list.txt / val_list.txt."""
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(root, "images"))
    os.makedirs(os.path.join(root, "annotations"))
    lines = []
    for i in range(n):
        cv2.imwrite(os.path.join(root, "images", "{}.png".format(i)),
                    rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
        cv2.imwrite(os.path.join(root, "annotations", "{}.png".format(i)),
                    rng.integers(0, 2, (size[1], size[0]), dtype=np.uint8))
        lines.append("images/{0}.png annotations/{0}.png".format(i))
    for name in ("train_list.txt", "val_list.txt"):
        with open(os.path.join(root, name), "w") as f:
            f.write("\n".join(lines) + "\n")
    return str(root)


@pytest.mark.skipif(not CONFIGS, reason="../shared/docs/paddleseg-configs is not beside this checkout")
@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_paddleseg_config_builds_unmodified(tmp_path, path):
    root = release_layout(tmp_path / "data")
    cfg = Config(path, opts=["train_dataset.dataset_root=" + root, "val_dataset.dataset_root=" + root])
    cfg.check_train()
    assert (cfg.batch_size, cfg.iters) == (4, 40000)
    assert len(cfg.train_dataset) == 2 and len(cfg.val_dataset) == 2
    assert type(cfg.model).__name__ == "UNet" and cfg.model.cls.weight.shape[0] == 2
    assert type(cfg.loss["types"][0]).__name__ == "DiceLoss" and cfg.loss["coef"] == [1.0]
    assert isinstance(cfg.optimizer, paddle.optimizer.Momentum)
    sample = cfg.train_dataset[0]
    crop = 256 if "hrf" in path else 128
    assert sample["img"].shape == (3, crop, crop) and sample["label"].shape == (crop, crop)
    assert cfg.test_config == {"auc_roc": True}
