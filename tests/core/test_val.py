"""tools/val.py in-process: [EVAL] lines, --auc_roc, sliding window, flips, per-image CSV, PaddleSeg
checkpoints, and one-line errors for bad weights files."""
import pickle
import re

import numpy as np
import paddle
import pytest

from paddleseg_lite import cli
from paddleseg_lite.core import inference_options
from paddleseg_lite.core import val as core_val
from paddleseg_lite.core.inference_options import InferenceOptions
from tool_runner import CONFIG, TINY, load_tool, save_tiny_weights

VAL = load_tool("val")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "model.pdparams"
    save_tiny_weights(path)
    return path


def run_val(model_path, *args, opts=()):
    VAL.main(["--config", CONFIG, "--device", "cpu", "--model_path", str(model_path), *map(str, args),
              "--opts", *TINY, *opts])


def eval_line(lines):
    return next(line for line in lines if line.startswith("[EVAL] #Images"))


def test_eval_lines_and_per_image_csv(weights, tmp_path, log_lines):
    run_val(weights, "--save_dir", tmp_path)
    assert re.fullmatch(r"\[EVAL\] #Images: 4 mIoU: \d\.\d{4} Acc: \d\.\d{4} Kappa: -?\d\.\d{4} Dice: \d\.\d{4} "
                        r"Auc_roc: \d\.\d{4}", eval_line(log_lines))
    assert any(re.fullmatch(r"\[EVAL\] Class IoU: \n\[\d\.\d+ +\d\.\d+\]", line) for line in log_lines)
    assert [line.split(":")[:2] for line in log_lines if "Vessel" in line] == [
        ["[EVAL] Vessel (inside FOV)", " Dice/F1"], ["[EVAL] Vessel (whole image)", " Dice/F1"],
        ["[EVAL] Vessel (inside FOV)", " PR-AUC"]]
    assert any(re.fullmatch(r"\[EVAL\] 95% CI over 4 images \(bootstrap\): F1 \[\d\.\d{4}, \d\.\d{4}\] "
                            r"AUC \[\d\.\d{4}, \d\.\d{4}\]", line) for line in log_lines)
    rows = (tmp_path / "per_image_metrics.csv").read_text().splitlines()
    new_columns = {"fov_mcc", "fov_ap", "fov_cldice", "fov_betti0_err", "fov_betti1_err", "image_mcc"}
    assert new_columns <= set(rows[0].split(","))
    assert rows[0].startswith("name,") and [r.split(",")[0] for r in rows[1:]] == [
        "synthetic_val_{:04d}".format(i) for i in range(4)]


def test_auc_roc_from_flag_or_config(weights, log_lines):
    run_val(weights, opts=["test_config.auc_roc=False"])
    run_val(weights, "--auc_roc", opts=["test_config.auc_roc=False"])
    run_val(weights)
    lines = [line for line in log_lines if line.startswith("[EVAL] #Images")]
    assert ["Auc_roc" in line for line in lines] == [False, True, True]


def test_slide_and_flip_flags_reach_inference(weights, log_lines, monkeypatch):
    calls = []

    def spy(name):
        real = getattr(inference_options, name)
        monkeypatch.setattr(inference_options, name, lambda *a, **k: calls.append((name, k)) or real(*a, **k))

    spy("inference")
    spy("aug_inference")
    run_val(weights, "--is_slide", "--crop_size", 16, 16, "--stride", 8, 8)
    run_val(weights, "--aug_eval", "--flip_horizontal")
    assert len(calls) == 8 and len([line for line in log_lines if line.startswith("[EVAL] #Images")]) == 2
    name, kwargs = calls[0]
    assert (name, kwargs["is_slide"], kwargs["crop_size"], kwargs["stride"]) == ("inference", True, [16, 16], [8, 8])
    name, kwargs = calls[4]
    assert (name, kwargs["flip_horizontal"], kwargs["flip_vertical"]) == ("aug_inference", True, False)


def test_paddleseg_checkpoint_evaluates_without_conversion(weights, tmp_path, log_lines):
    """PaddleSeg's .pdparams: a protocol-4 pickle of numpy arrays plus the structured-name table."""
    state = {k: np.asarray(v.numpy()) for k, v in paddle.load(str(weights)).items() if hasattr(v, "shape")}
    state["StructuredToParameterName@@"] = {k: "param_{}".format(i) for i, k in enumerate(state)}
    with open(tmp_path / "paddleseg.pdparams", "wb") as f:
        pickle.dump(state, f, protocol=4)
    run_val(weights)
    run_val(tmp_path / "paddleseg.pdparams")
    lines = [line for line in log_lines if line.startswith("[EVAL] #Images")]
    assert lines[0] == lines[1]
    assert "There are {0}/{0} variables loaded into UNet.".format(len(paddle.load(str(weights)))) in log_lines


@pytest.mark.parametrize("weights_file, args, message", [
    (b"not a pickle", [], "is not a valid .pdparams weights file"),
    (None, [], "Model weights not found"),
    ("valid", ["--is_slide"], "(--is_slide) needs test_config.crop_size and test_config.stride (--crop_size W H")])
def test_bad_weights_or_flags_are_one_line_errors(tmp_path, capsys, weights, weights_file, args, message):
    path = weights if weights_file == "valid" else tmp_path / "model.pdparams"
    if isinstance(weights_file, bytes):
        path.write_bytes(weights_file)
    with pytest.raises(SystemExit) as exit_info:
        cli.run(lambda: run_val(path, *args))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_inference_engine_gives_the_dygraph_metrics(weights, log_lines, tmp_path):
    run_val(weights, "--engine", "dygraph", "--auc_roc", "--save_dir", tmp_path / "dy")
    run_val(weights, "--engine", "inference", "--precision", "fp32", "--auc_roc", "--save_dir", tmp_path / "pi")
    lines = [line for line in log_lines if line.startswith("[EVAL] #Images")]
    assert len(lines) == 2 and lines[0] == lines[1]
    assert any(line.startswith("Predictor: ") and "fp32, oneDNN" in line for line in log_lines)
    csv = [(tmp_path / d / "per_image_metrics.csv").read_text().splitlines() for d in ("dy", "pi")]
    dice = [[row.split(",")[1:7] for row in rows[1:]] for rows in csv]
    assert dice[0] == dice[1]


class ScoreModel(paddle.nn.Layer):
    """Logits [0, s] with s the image's first channel: p(vessel) = sigmoid(s), prediction = s > 0."""

    def forward(self, x):
        score = x[:, :1]
        return [paddle.concat([paddle.zeros_like(score), score], axis=1)]


class HandMadeDataset:
    """Two 2×4 images (val mode: label and fov 1×H×W); the last column is outside the FOV."""
    num_classes, ignore_index = 2, 255
    scores = [[[2, -1, 3, 1], [-2, 1, -3, 2]], [[-1, -2, 4, -1], [3, -4, 1, -3]]]
    labels = [[[1, 0, 0, 255], [0, 1, 1, 255]], [[0, 0, 1, 255], [1, 0, 0, 255]]]
    fov = [[1, 1, 1, 0], [1, 1, 1, 0]]

    def __init__(self, with_fov=True, outside_labels=None):
        self.labels = np.array(self.labels)
        if outside_labels is not None:  # labels left unmasked outside the FOV
            self.labels[:, :, 3] = outside_labels
        self.with_fov = with_fov

    def __len__(self):
        return 2

    def __getitem__(self, i):
        data = {"img": np.array(self.scores[i], np.float32)[None], "label": self.labels[i][None],
                "img_path": "img_{}.png".format("ab"[i]), "trans_info": []}
        if self.with_fov:
            data["fov"] = np.array(self.fov, np.uint8)[None]
        return data


# Hand-computed. Inside the FOV: image a TP 2 FP 1 FN 1 TN 2, image b TP 2 FP 1 FN 0 TN 3; outside it a
# predicts vessel twice (2 more FP whole-image), b never. AUC by counting score pairs (ties half):
# inside FOV 26/35, whole image 40.5/55; per image a 4/9 and 6/15, b 1 and 1.
# MCC (tp·tn - fp·fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)): FOV a 3/9, b 6/sqrt(72), pooled 18/sqrt(1260);
# whole image a 1/15, b 10/sqrt(180). AP, the sum of precision x recall step over descending scores:
# FOV a 1/6 + 2/9 + 1/6, b 1, pooled 1/5 + 2/15 + 3/20 + 2/15 + 1/11 = 467/660 (s = 3 and s = 1 are ties
# of a positive and a negative); whole image a 1/9 + 2/15 + 1/8.
# Topology inside the FOV (2×3 masks): a pred [[1,0,1],[0,1,0]], gt [[1,0,0],[0,1,1]], both one
# diagonal-connected component and their own skeletons: Tprec 2/3, Tsens 2/3; b pred [[0,0,1],[1,0,1]],
# gt [[0,0,1],[1,0,0]]: two components each, Tprec 2/3, Tsens 1 -> clDice 0.8; pooled 4/6, 4/5 -> 8/11.
# Bootstrap over 2 images: resamples aa, ab, bb (each >= 2.5%): F1 [4/6, 4/5], AUC [4/9, 1].
FOV_LINE = ("[EVAL] Vessel (inside FOV): Dice/F1: 0.7273 Se: 0.8000 Sp: 0.7143 Acc: 0.7500 IoU: 0.5714 "
            "Precision: 0.6667 AUC: 0.7429")
NEW_LINES = ["[EVAL] Vessel (inside FOV): PR-AUC: 0.7076 MCC: 0.5071 clDice: 0.7273 Betti-0 err: 0.00 "
             "Betti-1 err: 0.00",
             "[EVAL] 95% CI over 2 images (bootstrap): F1 [0.6667, 0.8000] AUC [0.4444, 1.0000]"]
IMAGE_LINE = ("[EVAL] Vessel (whole image): Dice/F1: 0.6154 Se: 0.8000 Sp: 0.6364 Acc: 0.6875 IoU: 0.4444 "
              "Precision: 0.5000 AUC: 0.7364")
CSV_TEXT = (
    "name,fov_dice,fov_sensitivity,fov_specificity,fov_accuracy,fov_iou,fov_precision,fov_mcc,fov_auc,fov_ap,"
    "image_dice,image_sensitivity,image_specificity,image_accuracy,image_iou,image_precision,image_mcc,image_auc,"
    "image_ap,fov_cldice,fov_betti0_err,fov_betti1_err\n"
    "img_a.png,0.666667,0.666667,0.666667,0.666667,0.500000,0.666667,0.333333,0.444444,0.555556,"
    "0.500000,0.666667,0.400000,0.500000,0.333333,0.400000,0.066667,0.400000,0.369444,0.666667,0,0\n"
    "img_b.png,0.800000,1.000000,0.750000,0.833333,0.666667,0.666667,0.707107,1.000000,1.000000,"
    "0.800000,1.000000,0.833333,0.875000,0.666667,0.666667,0.745356,1.000000,1.000000,0.800000,0,0\n")


def eval_messages(lines):
    return [line for line in lines if line.startswith("[EVAL]")]


def test_eval_lines_and_csv_of_a_hand_made_case(tmp_path, log_lines):
    metrics, panels = core_val.evaluate_metrics(ScoreModel(), HandMadeDataset(), InferenceOptions(),
                                                auc_roc=True, save_dir=str(tmp_path))
    assert panels == []
    # PaddleSeg's pixels (label != 255) = the FOV here: confusion [[5, 2], [1, 4]] -> IoU 5/8, 4/7;
    # Acc 9/12; Kappa (0.75 - 0.5) / 0.5; Dice 10/13, 8/11.
    assert eval_messages(log_lines) == [
        "[EVAL] #Images: 2 mIoU: 0.5982 Acc: 0.7500 Kappa: 0.5000 Dice: 0.7483 Auc_roc: 0.7429",
        "[EVAL] Class IoU: \n[0.625  0.5714]",
        "[EVAL] Class Precision: \n[0.8333 0.6667]",
        "[EVAL] Class Recall: \n[0.7143 0.8   ]",
        FOV_LINE, IMAGE_LINE] + NEW_LINES
    assert (tmp_path / "per_image_metrics.csv").read_text() == CSV_TEXT
    assert metrics["dice_fg"] == pytest.approx(8 / 11) and metrics["image_dice_fg"] == pytest.approx(8 / 13)
    assert metrics["mcc_fg"] == pytest.approx(18 / 1260 ** 0.5) and metrics["ap_fg"] == pytest.approx(467 / 660)
    assert metrics["image_mcc_fg"] == pytest.approx(24 / 3520 ** 0.5) and metrics["image_ap_fg"] == pytest.approx(0.62)
    assert metrics["cldice_fg"] == pytest.approx(8 / 11) and metrics["betti0_err_fg"] == 0
    assert (metrics["dice_ci_lo_fg"], metrics["dice_ci_hi_fg"]) == pytest.approx((4 / 6, 4 / 5))
    assert (metrics["auc_ci_lo_fg"], metrics["auc_ci_hi_fg"]) == pytest.approx((4 / 9, 1))
    assert metrics["Kappa"] == pytest.approx(0.5) and metrics["num_images"] == 2


def test_unmasked_labels_outside_the_fov_change_only_paddleseg_numbers(tmp_path, log_lines):
    """Labels outside the FOV that were not set to ignore_index upstream: the FOV and whole-image numbers
    must not move; PaddleSeg's pixels (label != 255) now include them."""
    core_val.evaluate_metrics(ScoreModel(), HandMadeDataset(outside_labels=[[1, 0], [0, 1]]), InferenceOptions(),
                              auc_roc=True, save_dir=str(tmp_path))
    lines = eval_messages(log_lines)
    # + outside: a TP (label 1, s 1), FP (label 0, s 2); b TN, FN -> confusion [[6, 3], [2, 5]], AUC 40/63.
    assert lines[0] == "[EVAL] #Images: 2 mIoU: 0.5227 Acc: 0.6875 Kappa: 0.3750 Dice: 0.6863 Auc_roc: 0.6349"
    assert lines[-4:] == [FOV_LINE, IMAGE_LINE] + NEW_LINES
    assert (tmp_path / "per_image_metrics.csv").read_text() == CSV_TEXT


def test_eval_lines_and_csv_without_fov_or_auc(tmp_path, log_lines):
    # PaddleSeg's evaluate: its 5-tuple (miou, acc, class_iou, class_precision, kappa), the same [EVAL] lines
    miou, acc, class_iou, class_precision, kappa = core_val.evaluate(ScoreModel(), HandMadeDataset(with_fov=False),
                                                                     save_dir=str(tmp_path))
    assert miou == pytest.approx((5 / 8 + 4 / 7) / 2) and acc == pytest.approx(0.75) and kappa == pytest.approx(0.5)
    np.testing.assert_allclose(class_iou, [5 / 8, 4 / 7])
    np.testing.assert_allclose(class_precision, [5 / 6, 4 / 6])
    assert eval_messages(log_lines)[0] == "[EVAL] #Images: 2 mIoU: 0.5982 Acc: 0.7500 Kappa: 0.5000 Dice: 0.7483"
    assert eval_messages(log_lines)[4:] == [  # whole image = the labelled pixels: the FOV numbers, no AUC
        "[EVAL] Vessel (whole image): Dice/F1: 0.7273 Se: 0.8000 Sp: 0.7143 Acc: 0.7500 IoU: 0.5714 "
        "Precision: 0.6667",
        "[EVAL] Vessel (whole image): MCC: 0.5071 clDice: 0.7273 Betti-0 err: 0.00 Betti-1 err: 0.00",
        "[EVAL] 95% CI over 2 images (bootstrap): F1 [0.6667, 0.8000]"]
    assert (tmp_path / "per_image_metrics.csv").read_text() == (
        "name,image_dice,image_sensitivity,image_specificity,image_accuracy,image_iou,image_precision,image_mcc,"
        "image_cldice,image_betti0_err,image_betti1_err\n"
        "img_a.png,0.666667,0.666667,0.666667,0.666667,0.500000,0.666667,0.333333,0.666667,0,0\n"
        "img_b.png,0.800000,1.000000,0.750000,0.833333,0.666667,0.666667,0.707107,0.800000,0,0\n")


def test_two_ranks_reduce_to_the_single_process_numbers(monkeypatch):
    """Stand-ins for a 2-process job: this process (rank 0) saw image a, rank 1 image b. Summed counts and
    gathered per-image samples must give the single-process numbers, the bootstrap interval included."""
    def evaluator(indices):
        ev = core_val.SegEvaluator(2, auc_bins=core_val.AUC_BINS)
        data = HandMadeDataset()
        for i in indices:
            logits = ScoreModel()(paddle.to_tensor(data[i]["img"][None]))[0]
            ev.update(core_val.logits_to_pred(logits).numpy()[0, 0], data[i]["label"][0], fov=data[i]["fov"][0],
                      prob=core_val.logits_to_prob(logits).numpy()[0], name=data[i]["img_path"])
        return ev

    single, rank0, rank1 = evaluator([0, 1]), evaluator([0]), evaluator([1])
    others = [cm.matrix for cm in rank1.confusion.values()] + [h.counts for h in rank1.auc.values()] + [
        np.array([1])]
    gathered = iter([rank1.per_image, rank1.samples])

    def all_reduce(tensor):
        tensor.set_value(tensor + paddle.to_tensor(others.pop(0)))

    monkeypatch.setattr(paddle.distributed, "get_world_size", lambda: 2)
    monkeypatch.setattr(paddle.distributed, "all_reduce", all_reduce)
    monkeypatch.setattr(paddle.distributed, "all_gather_object", lambda out, obj: out.extend([obj, next(gathered)]))
    reduced = core_val._reduce(rank0)
    got, want = core_val._flatten(reduced, 2), core_val._flatten(single, 2)
    assert set(got) == set(want) and "cldice_fg" in got and "auc_ci_lo_fg" in got
    for key in want:
        np.testing.assert_allclose(got[key], want[key], err_msg=key)
    assert reduced.per_image == single.per_image and not others


def test_panels_show_the_prediction_as_background_outside_the_fov():
    # image a predicts vessel in its outside-FOV column (scores 1, 2); the metrics keep the raw prediction
    metrics, panels = core_val.evaluate_metrics(ScoreModel(), HandMadeDataset(), InferenceOptions(), num_vis=1,
                                                print_detail=False)
    background, vessel = [128, 0, 0], [0, 128, 0]  # PaddleSeg's palette, RGB
    prediction = panels[0][:, 8:]  # input | label | prediction, 4 columns each
    np.testing.assert_array_equal(prediction[:, 3], [background, background])
    np.testing.assert_array_equal(prediction[:, 0], [vessel, background])  # scores 2, -2 inside the FOV
    assert metrics["image_dice_fg"] == pytest.approx(8 / 13)
