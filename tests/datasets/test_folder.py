"""FolderDataset: pairing by key across formats and suffixes, unmatched files, label_map (0/255, palette,
colour; also in the file-list Dataset), FOV folder and `fov: auto`, split lists, and the YAML build."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from drive_files import make_drive_folder
from paddleseg_lite.cvlibs import builder, manager
from paddleseg_lite.datasets import Dataset, FolderDataset
from paddleseg_lite.utils.errors import UserError

H, W = 24, 32


def fundus(seed):
    """(BGR image: a bright disc on black, its disc mask 0/1, a 0/255 vessel-like mask)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    disc = (np.hypot(xx - W / 2, yy - H / 2) < 10).astype(np.uint8)
    img = np.zeros((H, W, 3), np.uint8)
    img[disc == 1] = (40, 90, 200)  # BGR: red is the bright channel
    mask = np.where(rng.random((H, W)) < 0.3, 255, 0).astype(np.uint8)
    return img, disc, mask


def write(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), array), path


def folder(root, names, mask_ext=".png", seed=0):
    """images/<name> and masks/<stem><mask_ext> (0/255); returns {stem: 0/255 mask}."""
    masks = {}
    for i, name in enumerate(names):
        img, _, mask = fundus(seed + i)
        stem = os.path.splitext(name)[0]
        write(os.path.join(root, "images", name), img)
        write(os.path.join(root, "masks", stem + mask_ext), mask)
        masks[stem] = mask
    return masks


def test_registered():
    assert manager.DATASETS["FolderDataset"] is FolderDataset


def test_images_and_masks_pair_by_stem_in_any_format(tmp_path):
    root = str(tmp_path)
    names = ["a.png", "b.JPG", "c.tif", "d.bmp", "e.ppm", "img10.jpeg", "img2.png"]
    masks = folder(root, names)
    os.rename(os.path.join(root, "masks", "c.png"), os.path.join(root, "masks", "c.bmp"))
    img, _, mask = fundus(9)
    Image.fromarray(img[:, :, ::-1]).save(os.path.join(root, "images", "f.gif"))
    write(os.path.join(root, "masks", "f.TIF"), mask)
    masks["f"] = mask
    ds = FolderDataset(root, 2, label_map={0: 0, 255: 1})
    stems = [os.path.splitext(os.path.basename(s.img))[0] for s in ds.file_list]
    assert stems == ["a", "b", "c", "d", "e", "f", "img2", "img10"]  # natural order
    for sample in ds.file_list:
        stem = os.path.splitext(os.path.basename(sample.img))[0]
        assert os.path.splitext(os.path.basename(sample.label))[0] == stem and sample.fov is None
    for i, stem in enumerate(stems):
        item = ds[i]
        assert item["img"].shape == (3, H, W)
        np.testing.assert_array_equal(item["label"], masks[stem] // 255)


def test_drive_names_read_through_suffixes(tmp_path):
    written = make_drive_folder(str(tmp_path), [21, 22], "training")
    ds = FolderDataset(str(tmp_path), 2, mode="val", ann_dir="1st_manual", fov_dir="mask", img_suffix="_training",
                       seg_map_suffix="_manual1", fov_suffix="_training_mask", label_map={0: 0, 255: 1})
    assert [os.path.basename(s.fov) for s in ds.file_list] == ["21_training_mask.gif", "22_training_mask.gif"]
    for i, key in enumerate([21, 22]):
        _, vessels, fov = written[key]
        want = np.where(fov > 0, vessels > 0, 255)
        item = ds[i]
        np.testing.assert_array_equal(item["label"][0], want)
        np.testing.assert_array_equal(item["fov"][0], fov > 0)


def test_a_suffix_with_an_extension_takes_that_format_only(tmp_path, log_lines):
    root = str(tmp_path)
    folder(root, ["a.png", "b.jpg"])
    with open(os.path.join(root, "images", "notes.txt"), "w") as f:
        f.write("x")
    ds = FolderDataset(root, 2, img_suffix=".png", label_map={0: 0, 255: 1})
    assert [os.path.basename(s.img) for s in ds.file_list] == ["a.png"]
    assert any("2 file(s) in '{}' are skipped".format(os.path.join(root, "images")) in line
               and "b.jpg, notes.txt" in line for line in log_lines)
    assert any("1 masks have no image and are not used: keys b" in line for line in log_lines)


def test_images_without_masks_are_one_error_naming_them(tmp_path):
    root = str(tmp_path)
    folder(root, ["a.png", "b.png", "c.png"])
    os.remove(os.path.join(root, "masks", "b.png"))
    os.remove(os.path.join(root, "masks", "c.png"))
    with pytest.raises(UserError, match=r"FolderDataset: 2 of 3 images have no mask in '.*masks': keys b, c "
                                        r"\(expected <key>\.\* there\)"):
        FolderDataset(root, 2)
    ds = FolderDataset(root, 2, mode="test", label_map={0: 0, 255: 1})  # test mode: masks optional
    assert [s.label is None for s in ds.file_list] == [False, True, True]
    assert "label" not in ds[1] and ds[0]["label"].shape == (H, W)


@pytest.mark.parametrize("kwargs, match", [
    (dict(img_dir="imgs"), r"folder '.*imgs' not found; set `img_dir`"),
    (dict(ann_dir="labels"), r"folder '.*labels' not found; set `ann_dir`"),
    (dict(fov_dir="mask"), r"folder '.*mask' not found; set `fov_dir`"),
    (dict(img_suffix="_x"), r"no train samples found"),
    (dict(label_map={0: 0, 255: 2}), r"label_map maps to \[2\]")])
def test_layout_mistakes(tmp_path, kwargs, match):
    folder(str(tmp_path), ["a.png"])
    with pytest.raises((UserError, ValueError), match=match):
        FolderDataset(str(tmp_path), 2, **kwargs)


def test_two_files_with_one_key_are_refused(tmp_path):
    folder(str(tmp_path), ["a.png"])
    write(os.path.join(str(tmp_path), "images", "a.jpg"), fundus(0)[0])
    with pytest.raises(UserError, match=r"'a.jpg' and 'a.png' in '.*images' are both key 'a'"):
        FolderDataset(str(tmp_path), 2)


def test_0_255_masks_without_label_map_are_refused_naming_the_option(tmp_path):
    folder(str(tmp_path), ["a.png"])
    with pytest.raises(UserError, match=r"labels look like 0/255 masks: .*`label_map: \{0: 0, 255: 1\}`.*"
                                        r"tools/convert_labels.py --map 0:0 255:1"):
        FolderDataset(str(tmp_path), 2, ignore_index=254)  # the first sample is read when the dataset is built
    with pytest.raises(UserError, match=r"values \[255\] are not covered by FolderDataset: label_map \{0: 0\}"):
        FolderDataset(str(tmp_path), 2, label_map={0: 0})[0]
    with pytest.raises(UserError, match=r"holds only 0 and 255 \(= ignore_index, so its foreground would be ignored\)"
                                        r".*`label_map: \{0: 0, 255: 1\}`.*say so: `label_map: \{0: 0, 255: 255\}`"):
        FolderDataset(str(tmp_path), 2)  # ignore_index 255: refused, not read as background + ignore
    label = FolderDataset(str(tmp_path), 2, label_map={0: 0, 255: 255})[0]["label"]
    np.testing.assert_array_equal(label, fundus(0)[2])


def test_palette_masks_map_by_index(tmp_path):
    root = str(tmp_path)
    write(os.path.join(root, "images", "p.png"), fundus(0)[0])
    index = np.random.default_rng(1).integers(0, 3, (H, W)).astype(np.uint8)
    pal = Image.fromarray(index, "P")
    pal.putpalette([0, 0, 0, 255, 255, 255, 255, 0, 0] + [0] * 759)  # 1 white, 2 red
    os.makedirs(os.path.join(root, "masks"))
    pal.save(os.path.join(root, "masks", "p.png"))
    label = FolderDataset(root, 2, label_map={0: 0, 1: 1, 2: 255})[0]["label"]
    np.testing.assert_array_equal(label, np.array([0, 1, 255])[index])
    colours = FolderDataset(root, 3, label_map={"0,0,0": 0, "255,0,0": 2, "255,255,255": 1})[0]["label"]
    np.testing.assert_array_equal(colours, np.array([0, 1, 2])[index])


def test_fov_folder_and_fov_auto(tmp_path):
    root = str(tmp_path)
    folder(root, ["a.png", "b.png"])
    for stem in "ab":
        write(os.path.join(root, "fov", stem + ".png"), fundus(0)[1] * 255)
    os.remove(os.path.join(root, "fov", "b.png"))
    with pytest.raises(UserError, match=r"1 of 2 images have no FOV mask in '.*fov': keys b; .*`fov: auto`"):
        FolderDataset(root, 2, label_map={0: 0, 255: 1})
    ds = FolderDataset(root, 2, label_map={0: 0, 255: 1}, fov="auto")
    assert ds.file_list[0].fov.endswith("a.png") and ds.file_list[1].fov is None
    _, disc, mask = fundus(1)
    item = ds[1]  # estimated: the drawn disc
    np.testing.assert_array_equal(item["fov"], disc)
    np.testing.assert_array_equal(item["label"], np.where(disc == 1, mask // 255, 255))


def test_split_lists_select_exactly_the_listed_samples(tmp_path):
    root = str(tmp_path)
    masks = folder(root, ["a.png", "b.png", "c.png", "d.png"])
    for stem in "abcd":
        write(os.path.join(root, "fov", stem + ".png"), fundus(0)[1] * 255)
    with open(os.path.join(root, "val.txt"), "w") as f:
        f.write("images/d.png masks/d.png\nimages/b.png masks/b.png fov/b.png\n")
    with open(os.path.join(root, "test.txt"), "w") as f:
        f.write("images/c.png\n")
    ds = FolderDataset(root, 2, mode="val", label_map={0: 0, 255: 1}, val_path="val.txt", train_path="nope.txt")
    assert [os.path.basename(s.img) for s in ds.file_list] == ["d.png", "b.png"]
    assert [os.path.basename(s.fov) for s in ds.file_list] == ["d.png", "b.png"]  # d's filled from fov/
    np.testing.assert_array_equal(ds[0]["label"][0], np.where(fundus(0)[1] == 1, masks["d"] // 255, 255))
    test = FolderDataset(root, 2, mode="test", label_map={0: 0, 255: 1}, test_path=os.path.join(root, "test.txt"))
    assert [(os.path.basename(s.img), os.path.basename(s.label)) for s in test.file_list] == [("c.png", "c.png")]
    with pytest.raises(UserError, match="list file 'nope.txt' not found.*fix `train_path`"):
        FolderDataset(root, 2, label_map={0: 0, 255: 1}, train_path="nope.txt")


def test_the_file_list_dataset_takes_label_map_too(tmp_path):
    root = str(tmp_path)
    masks = folder(root, ["a.png"])
    with open(os.path.join(root, "train.txt"), "w") as f:
        f.write("images/a.png masks/a.png\n")
    item = Dataset("train", root, None, 2, train_path="train.txt", label_map={0: 0, 255: 1})[0]
    np.testing.assert_array_equal(item["label"], masks["a"] // 255)


def test_built_from_yaml_and_a_bad_label_map_names_the_key(tmp_path):
    folder(str(tmp_path), ["a.png"])
    cfg = {"type": "FolderDataset", "dataset_root": str(tmp_path), "num_classes": 2, "mode": "train",
           "label_map": {0: 0, 255: 1}, "transforms": [{"type": "Resize", "target_size": [16, 12]}]}
    ds = builder.build_dataset({"train_dataset": cfg}, "train_dataset")
    assert ds[0]["label"].shape == (12, 16) and set(np.unique(ds[0]["label"])) <= {0, 1}
    with pytest.raises(UserError, match=r"train_dataset.* \(FolderDataset\).*label_map.*key 'x' is neither"):
        builder.build_dataset({"train_dataset": dict(cfg, label_map={"x": 1})}, "train_dataset")
