"""core/inference_options.py: test_config keys become InferenceOptions, and `logits` runs the matching
inference with every option passed on."""
import pytest

from paddleseg_lite.core import inference_options
from paddleseg_lite.core.inference_options import InferenceOptions
from paddleseg_lite.utils.errors import UserError


def test_defaults_are_a_plain_whole_image_pass():
    assert InferenceOptions.from_test_config({}) == InferenceOptions() == InferenceOptions(
        aug=False, scales=1.0, flip_horizontal=False, flip_vertical=False, is_slide=False, crop_size=None,
        stride=None, mirror_pad=False)


def test_paddleseg_keys_map_onto_the_options_and_auc_roc_is_left_to_evaluation():
    options = InferenceOptions.from_test_config(dict(
        aug_eval=True, scales=[0.5, 1.0], flip_horizontal=True, flip_vertical=True, is_slide=True,
        crop_size=[16, 8], stride=[8, 4], mirror_pad=True, auc_roc=True))
    assert options == InferenceOptions(aug=True, scales=[0.5, 1.0], flip_horizontal=True, flip_vertical=True,
                                       is_slide=True, crop_size=[16, 8], stride=[8, 4], mirror_pad=True)
    assert InferenceOptions.from_test_config({"scales": None, "aug_eval": 0}) == InferenceOptions()


def test_unknown_keys_are_named_with_the_valid_ones():
    with pytest.raises(UserError) as info:
        InferenceOptions.from_test_config({"is_slid": True, "crop": 1})
    assert str(info.value) == ("test_config: unknown key 'is_slid'. Did you mean 'is_slide'? Valid keys: "
                               "aug_eval, scales, flip_horizontal, flip_vertical, is_slide, crop_size, stride, "
                               "mirror_pad, auc_roc")


@pytest.fixture
def calls(monkeypatch):
    recorded = []
    for name in ("inference", "aug_inference"):
        monkeypatch.setattr(inference_options, name,
                            lambda *a, _name=name, **k: recorded.append((_name, a, k)) or "logits")
    return recorded


def test_logits_without_aug_runs_inference_with_the_slide_options(calls):
    options = InferenceOptions(scales=[2.0], flip_horizontal=True, is_slide=True, crop_size=[8, 8], stride=[4, 4],
                               mirror_pad=True)
    assert options.logits("model", "im", ["info"]) == "logits"
    assert calls == [("inference", ("model", "im", ["info"]),
                      dict(is_slide=True, stride=[4, 4], crop_size=[8, 8], mirror_pad=True))]


def test_logits_with_aug_runs_aug_inference_with_every_option(calls):
    options = InferenceOptions(aug=True, scales=[0.5, 1.0], flip_horizontal=True, flip_vertical=False)
    assert options.logits("model", "im") == "logits"
    assert calls == [("aug_inference", ("model", "im", None),
                      dict(scales=[0.5, 1.0], flip_horizontal=True, flip_vertical=False, is_slide=False, stride=None,
                           crop_size=None, mirror_pad=False))]
