import cv2
import numpy as np
import pytest

from paddleseg_lite.datasets import Dataset
from paddleseg_lite.transforms import Compose, io
from paddleseg_lite.utils.errors import UserError


def test_one_reader_for_compose_and_dataset(tmp_path):
    bgr = np.random.RandomState(0).randint(0, 255, (6, 7, 3)).astype(np.uint8)
    fov = np.zeros((6, 7), np.uint8)
    fov[:, :4] = 255
    cv2.imwrite(str(tmp_path / "a.png"), bgr)
    cv2.imwrite(str(tmp_path / "a_l.png"), np.ones((6, 7), np.uint8))
    cv2.imwrite(str(tmp_path / "a_m.png"), fov)
    (tmp_path / "train.txt").write_text("a.png a_l.png a_m.png\n")
    img = io.read_image(str(tmp_path / "a.png"))
    np.testing.assert_array_equal(img, bgr[:, :, ::-1].astype(np.float32))
    np.testing.assert_array_equal(io.read_gt("fov", str(tmp_path / "a_m.png")), (fov > 0).astype(np.uint8))
    raw_img, _, raw_fov, _ = Dataset("train", str(tmp_path), None, 2, train_path="train.txt").load_raw(0)
    out = Compose([])({"img": str(tmp_path / "a.png"), "fov": str(tmp_path / "a_m.png"), "gt_fields": ["fov"]})
    np.testing.assert_array_equal(raw_img, img)
    np.testing.assert_array_equal(out["img"], img.transpose(2, 0, 1))
    np.testing.assert_array_equal(raw_fov, out["fov"])


def test_size_check_names_both_files():
    with pytest.raises(UserError, match=r"size mismatch: fov 'm.png' is 3x2 \(WxH\) but its image 'i.png' is 4x2"):
        io.check_same_size("fov", "m.png", np.zeros((2, 3)), "i.png", (2, 4, 3))
    io.check_same_size("label", "l.png", np.zeros((2, 4)), "i.png", (2, 4))
