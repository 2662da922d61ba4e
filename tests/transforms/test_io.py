import struct
import zlib

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


# ----------------------------------------------------------------------------- reading files

def write_png(path, width, height, color_type, palette=None, rows=None):
    """A minimal 8-bit PNG (no compression tricks) written by hand."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    channels = {0: 1, 2: 3, 3: 1}[color_type]
    rows = np.zeros((height, width * channels), np.uint8) if rows is None else rows
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
    data += chunk(b"tEXt", b"Comment\x00made by hand")
    if palette is not None:
        data += chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).ravel()))
    data += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(data)
    return str(path)


def test_png_palette_reads_plte_of_palette_pngs_only(tmp_path):
    palette = [[0, 0, 0], [10, 20, 30], [10, 20, 30], [255, 0, 0]]
    path = write_png(tmp_path / "p.png", 4, 1, 3, palette, rows=np.array([[0, 1, 2, 3]], np.uint8))
    np.testing.assert_array_equal(io.png_palette(path), palette)
    # An RGB PNG may carry a suggested PLTE: it is not a palette image.
    assert io.png_palette(write_png(tmp_path / "rgb.png", 1, 1, 2, palette)) is None
    assert io.png_palette(write_png(tmp_path / "g.png", 2, 2, 0)) is None
    (tmp_path / "x.png").write_bytes(b"GIF89a" + b"\x00" * 40)
    assert io.png_palette(str(tmp_path / "x.png")) is None
    assert io.png_palette(str(tmp_path / "missing.png")) is None
    # Two palette entries with the same colour decode to the first index.
    np.testing.assert_array_equal(io.read_label(path), [[0, 1, 1, 3]])


def test_read_label_values_and_dtypes(tmp_path):
    label16 = np.array([[0, 1000], [65535, 7]], np.uint16)
    cv2.imwrite(str(tmp_path / "l16.png"), label16)
    out = io.read_label(str(tmp_path / "l16.png"))
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, label16)
    gray3 = np.dstack([label16.astype(np.uint8)] * 3)
    cv2.imwrite(str(tmp_path / "g3.png"), gray3)
    out = io.read_label(str(tmp_path / "g3.png"))
    assert out.ndim == 2 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, label16.astype(np.uint8))
    rows = np.array([[0, 0, 200, 10, 20, 30]], np.uint8)  # RGB pixels (0, 0, 200) and (10, 20, 30)
    path = write_png(tmp_path / "rgb.png", 2, 1, 2, rows=rows)
    with pytest.raises(UserError) as info:
        io.read_label(path)
    assert str(info.value).startswith("Label file {} is a colour image; labels must be single-channel class ids "
                                      "(gray or palette PNG). Convert it, e.g. to a PNG of class indices, or map its "
                                      "colours to classes: dataset option `label_map".format(path))
    path = write_png(tmp_path / "pal.png", 2, 1, 3, [[10, 20, 30], [0, 0, 200]], rows=np.array([[1, 0]], np.uint8))
    np.testing.assert_array_equal(io.read_label(path), [[1, 0]])


def test_read_label_decoded_with_alpha(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    # OpenCV decodes gray+alpha and palette+transparency PNGs to 4 channels (BGRA).
    Image.fromarray(np.array([[3, 3], [5, 0]], np.uint8)).convert("LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(io.read_label(str(tmp_path / "la.png")), [[3, 3], [5, 0]])
    pal = Image.fromarray(np.array([[0, 1], [2, 1]], np.uint8), "P")
    pal.putpalette([0, 0, 0, 10, 20, 30, 200, 0, 0] + [0, 0, 0] * 253)
    pal.save(tmp_path / "pt.png", transparency=0)
    out = io.read_label(str(tmp_path / "pt.png"))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[0, 1], [2, 1]])


def test_palette_lookup_takes_first_of_many_duplicates_and_distinct_codes(tmp_path):
    colours = np.array([[1, 0, 0], [0, 128, 0], [9, 9, 9]], np.uint8)  # (1,0,0) and (0,128,0) share no code
    palette = colours[np.arange(256) % 3]
    rows = np.array([[0, 1, 2, 254, 255, 3]], np.uint8)  # 254 and 255 repeat colours 2 and 0
    path = write_png(tmp_path / "dup.png", 6, 1, 3, palette, rows=rows)
    np.testing.assert_array_equal(io.read_label(path), [[0, 1, 2, 2, 0, 0]])


def test_png_palette_of_truncated_file_is_none(tmp_path):
    path = write_png(tmp_path / "t.png", 2, 1, 3, [[0, 0, 0], [1, 1, 1]])
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[:33])  # signature + IHDR only
    assert io.png_palette(path) is None
    (tmp_path / "t.png").write_bytes(data[:37])  # and half of the next chunk header
    assert io.png_palette(path) is None


def test_palette_indices_reject_unknown_colours():
    # OpenCV always decodes a palette PNG through its palette, so this guard is reached only directly.
    palette = np.array([[0, 0, 200], [10, 20, 30], [0, 0, 200]], np.uint8)
    rgb = np.array([[[10, 20, 30], [0, 0, 200]]], np.uint8)
    np.testing.assert_array_equal(io._palette_indices(rgb, palette, "x.png"), [[1, 0]])
    with pytest.raises(UserError) as info:
        io._palette_indices(np.array([[[10, 20, 31]]], np.uint8), palette, "x.png")
    assert str(info.value) == ("Label file x.png has colours that are not in its palette; save it as a "
                               "palette PNG or as single-channel class ids.")
    with pytest.raises(UserError, match="not in its palette"):
        io._palette_indices(np.array([[[255, 255, 255]]], np.uint8), palette, "x.png")  # beyond the last code


def test_decode_image_gray_and_colour(tmp_path):
    bgr = np.array([[[1, 2, 3], [40, 50, 60]]], np.uint8)
    cv2.imwrite(str(tmp_path / "c.png"), bgr)
    out = io._decode_image(str(tmp_path / "c.png"), 3)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, bgr)  # OpenCV order: no RGB conversion here
    gray = io._decode_image(str(tmp_path / "c.png"), 1)
    assert gray.shape == (1, 2, 1)
    np.testing.assert_array_equal(gray[:, :, 0], cv2.imread(str(tmp_path / "c.png"), cv2.IMREAD_GRAYSCALE))


def test_read_errors_name_the_file_or_type(tmp_path):
    missing = str(tmp_path / "nope.png")
    with pytest.raises(UserError) as info:
        io._decode_image(missing, 3)
    assert str(info.value) == ("Cannot read image file {}: No such file or directory; check the path (in the file "
                               "list or --image_path).".format(missing))
    with pytest.raises(UserError, match="Cannot read label file .*nope.png"):
        io.read_label(str(tmp_path / "nope.png"))
    with pytest.raises(UserError) as info:
        io.read_label(5)
    assert str(info.value) == "Expected a file path or a numpy array for the label, got int."
    with pytest.raises(UserError, match="for the image, got list"):
        io._decode_image([], 3)
