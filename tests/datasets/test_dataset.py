"""File-list Dataset: list parsing, label rules per mode, FOV column, and user-error messages."""
import os

import cv2
import numpy as np
import pytest

from paddleseg_lite.cvlibs import manager
from paddleseg_lite.datasets import Dataset, SegDataset
from paddleseg_lite.datasets import dataset as dataset_module
from paddleseg_lite.transforms import Normalize, Resize
from paddleseg_lite.utils.errors import UserError


def _write_sample(root, name, label, fov=None, img_size=None):
    h, w = img_size or label.shape
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 2] = 200  # red in BGR
    img[:, :, 0] = 10
    os.makedirs(os.path.join(root, "img"), exist_ok=True)
    os.makedirs(os.path.join(root, "ann"), exist_ok=True)
    cv2.imwrite(os.path.join(root, "img", name + ".png"), img)
    cv2.imwrite(os.path.join(root, "ann", name + ".png"), label.astype(np.uint8))
    line = "img/{0}.png ann/{0}.png".format(name)
    if fov is not None:
        cv2.imwrite(os.path.join(root, "ann", name + "_fov.png"), fov.astype(np.uint8))
        line += " ann/{}_fov.png".format(name)
    return line


def _write_list(root, lines, name="train.txt"):
    with open(os.path.join(root, name), "w") as f:
        f.write("\n".join(lines) + "\n")
    return name


@pytest.fixture
def root(tmp_path):
    label = np.zeros((24, 32), np.uint8)
    label[5:10, :] = 1
    fov = np.zeros((24, 32), np.uint8)
    fov[:, :16] = 255
    lines = [_write_sample(str(tmp_path), "a", label, fov), _write_sample(str(tmp_path), "b", label)]
    _write_list(str(tmp_path), lines[:1], "fov.txt")
    _write_list(str(tmp_path), lines[1:], "plain.txt")
    return str(tmp_path)


def test_registered_with_alias():
    assert manager.DATASETS["Dataset"] is Dataset
    assert issubclass(manager.DATASETS["SegDataset"], Dataset) and SegDataset.__name__ == "SegDataset"


def test_train_mode_transforms_label_and_fov_together(root):
    ds = Dataset("train", root, [Resize([16, 12])], 2, train_path="fov.txt")
    item = ds[0]
    assert item["img"].shape == (3, 12, 16) and item["img"].dtype == np.float32
    assert item["label"].shape == (12, 16) and item["label"].dtype == np.int64
    assert item["fov"].shape == (12, 16) and item["fov"].dtype == np.uint8
    # outside the FOV (right half) the label is ignore_index, inside it keeps 0/1
    assert set(np.unique(item["label"][:, 8:])) == {255}
    assert set(np.unique(item["label"][:, :8])) == {0, 1}
    assert item["trans_info"] == [("resize", (24, 32))]
    assert item["img_path"].endswith(os.path.join("img", "a.png"))


def test_val_mode_label_untouched_at_original_size(root):
    ds = Dataset("val", root, [Resize([16, 12])], 2, val_path="fov.txt")
    item = ds[0]
    assert item["img"].shape == (3, 12, 16)
    assert item["label"].shape == (1, 24, 32) and item["label"].dtype == np.int64
    assert item["fov"].shape == (1, 24, 32)
    assert item["label"][0, 5, 3] == 1 and item["label"][0, 5, 20] == 255


def test_samples_are_decoded_once_while_the_cache_has_room_and_come_back_as_copies(root, monkeypatch):
    reads = []
    read_image = dataset_module.io.read_image
    monkeypatch.setattr(dataset_module.io, "read_image", lambda *a: reads.append(a[0]) or read_image(*a))
    ds = Dataset("train", root, None, 2, train_path="fov.txt")
    first = ds[0]
    first["img"][:] = -1
    first["label"][:] = 7
    again = ds[0]
    assert len(reads) == 1 and again["img"].max() == 200 and set(np.unique(again["label"])) == {0, 1, 255}
    monkeypatch.setattr(dataset_module, "RAW_CACHE_BYTES", 24 * 32 * 3 * 4)  # the image fits, not the label
    small = Dataset("train", root, None, 2, train_path="fov.txt")
    small[0]
    small[0]
    assert len(reads) == 3
    np.testing.assert_array_equal(small[0]["img"], again["img"])


def test_image_is_rgb_and_normalized(root):
    item = Dataset("train", root, [Normalize()], 2, train_path="plain.txt")[0]
    assert np.allclose(item["img"][0], 200 / 127.5 - 1) and np.allclose(item["img"][2], 10 / 127.5 - 1)
    assert "fov" not in item


def test_list_path_as_given_or_under_root(root):
    absolute = os.path.join(root, "plain.txt")
    assert len(Dataset("train", root, None, 2, train_path=absolute)) == 1
    assert len(Dataset("train", root, None, 2, train_path="plain.txt")) == 1


def test_test_mode_accepts_image_only_lines(root):
    _write_list(root, ["img/a.png", "img/b.png ann/b.png"], "test.txt")
    ds = Dataset("test", root, None, 2, test_path="test.txt")
    assert "label" not in ds[0]
    assert ds[1]["label"].shape == (24, 32)


def test_custom_separator(root):
    _write_list(root, ["img/b.png|ann/b.png"], "pipe.txt")
    assert len(Dataset("train", root, None, 2, train_path="pipe.txt", separator="|")) == 1


@pytest.mark.parametrize("kwargs, match", [
    (dict(mode="training"), "mode must be one of train, val, test, got 'training'"),
    (dict(num_classes=0), "num_classes must be >= 1, got 0"),
    (dict(img_channels=4), "img_channels must be one of 1, 3, got 4"),
    (dict(edge=True), "edge=True"),
    (dict(train_path=None), "needs `train_path`"),
])
def test_bad_arguments_raise_value_error_naming_class(root, kwargs, match):
    args = dict(mode="train", dataset_root=root, transforms=None, num_classes=2, train_path="plain.txt")
    args.update(kwargs)
    with pytest.raises(ValueError, match="Dataset: .*" + match):
        Dataset(**args)


def test_transforms_must_be_a_list(root):
    with pytest.raises(TypeError, match="Dataset: transforms must be a list"):
        Dataset("train", root, {"type": "Resize"}, 2, train_path="plain.txt")


def test_missing_root_and_list(root):
    with pytest.raises(UserError, match="dataset_root '.*nowhere' does not exist"):
        Dataset("train", os.path.join(root, "nowhere"), None, 2, train_path="plain.txt")
    with pytest.raises(UserError, match="list file 'missing.txt' not found.*fix `train_path`"):
        Dataset("train", root, None, 2, train_path="missing.txt")


def test_malformed_line_names_file_and_line_number(root):
    _write_list(root, ["img/b.png ann/b.png", "img/b.png"], "bad.txt")
    with pytest.raises(UserError, match=r"bad.txt:2: expected 'image label \[fov\]'"):
        Dataset("train", root, None, 2, train_path="bad.txt")


def test_missing_file_in_list(root):
    _write_list(root, ["img/b.png ann/zzz.png"], "gone.txt")
    with pytest.raises(UserError, match=r"gone.txt:1: file '.*zzz.png' does not exist"):
        Dataset("train", root, None, 2, train_path="gone.txt")


def test_empty_list(root):
    _write_list(root, ["", "  "], "empty.txt")
    with pytest.raises(UserError, match="no train samples found in '.*empty.txt'"):
        Dataset("train", root, None, 2, train_path="empty.txt")


def test_out_of_range_labels_name_file_and_values(tmp_path):
    label = np.zeros((8, 8), np.uint8)
    label[0, 0], label[1, 1] = 3, 7
    _write_list(str(tmp_path), [_write_sample(str(tmp_path), "c", label)])
    ds = Dataset("train", str(tmp_path), None, 2, train_path="train.txt")
    with pytest.raises(UserError, match=r"label '.*c.png': label values \[3, 7\] are outside \[0, 2\) and not ignore_index 255; check num_classes"):
        ds[0]


def test_0_255_labels_get_conversion_hint(tmp_path):
    label = np.zeros((8, 8), np.uint8)
    label[2:4] = 255
    _write_list(str(tmp_path), [_write_sample(str(tmp_path), "d", label)])
    ds = Dataset("train", str(tmp_path), None, 2, train_path="train.txt", ignore_index=254)
    with pytest.raises(UserError, match="look like 0/255 masks: convert them to 0/1 with the dataset option "
                                        r"`label_map: \{0: 0, 255: 1\}`, or .* `tools/convert_labels.py --map 0:0 255:1`"):
        ds[0]


def test_0_255_labels_with_ignore_255_warn_once(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_module, "RAW_CACHE_BYTES", 0)  # read the label twice
    label = np.zeros((8, 8), np.uint8)
    label[2:4] = 255
    _write_list(str(tmp_path), [_write_sample(str(tmp_path), "d", label)])
    ds = Dataset("train", str(tmp_path), None, 2, train_path="train.txt")
    messages = []
    monkeypatch.setattr(dataset_module.logger, "warning", messages.append)
    ds[0]
    ds[0]
    assert len(messages) == 1 and "so its foreground would be ignored): if 255 marks the foreground, set " \
                                  "`label_map: {0: 0, 255: 1}`" in messages[0]


def test_size_mismatch(tmp_path):
    label = np.zeros((8, 8), np.uint8)
    _write_list(str(tmp_path), [_write_sample(str(tmp_path), "e", label, img_size=(8, 9))])
    ds = Dataset("val", str(tmp_path), None, 2, val_path="train.txt")
    with pytest.raises(UserError, match=r"size mismatch: label '.*e.png' is 8x8 \(WxH\) but its image '.*e.png' is 9x8"):
        ds[0]


def test_unreadable_image(tmp_path):
    label = np.zeros((8, 8), np.uint8)
    line = _write_sample(str(tmp_path), "f", label)
    with open(os.path.join(str(tmp_path), "img", "f.png"), "wb") as f:
        f.write(b"not a png")
    _write_list(str(tmp_path), [line])
    with pytest.raises(UserError, match="f.png"):
        Dataset("train", str(tmp_path), None, 2, train_path="train.txt")[0]
