"""`InferenceOptions`: how a model is run on an image, the one object that evaluation (tools/val.py and
the evaluation inside training), prediction (tools/predict.py) and the deploy script share.

It holds PaddleSeg's `test_config` keys (plus `mirror_pad`), checks them once on construction (so a
bad value stops val, predict or training before any work), and `logits()` runs
`core.infer` accordingly: whole-image or sliding-window inference, with flip/scale augmentation when
`aug` is on, mapped back to the image's original size. For an ensemble (`models.ensemble.Ensemble`) that is
done for each member, then their probabilities are averaged: per image, after each member's augmentation.
"""
import dataclasses
from typing import Optional, Sequence, Union

from paddleseg_lite.core.infer import aug_inference, inference
from paddleseg_lite.models.ensemble import Ensemble
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import check_number, check_pair, did_you_mean, is_number

EVAL_ONLY_KEYS = ("auc_roc",)  # test_config keys about metrics, not about running the model


@dataclasses.dataclass(frozen=True)
class InferenceOptions:
    """How to infer one image.

    Attributes:
        aug (bool): Average over `scales` and flips (test_config `aug_eval`, flags --aug_eval/--aug_pred).
        scales (float | list[float]): Resize factors for `aug`.
        flip_horizontal (bool), flip_vertical (bool): Flips for `aug`.
        is_slide (bool): Sliding-window inference with `crop_size` and `stride` ((w, h) each).
        mirror_pad (bool): Reflect-pad the borders for sliding windows (U-Net overlap-tile).
    """
    aug: bool = False
    scales: Union[float, Sequence[float]] = 1.0
    flip_horizontal: bool = False
    flip_vertical: bool = False
    is_slide: bool = False
    crop_size: Optional[Sequence[int]] = None
    stride: Optional[Sequence[int]] = None
    mirror_pad: bool = False

    def __post_init__(self):
        """Refuse options that cannot run, naming the test_config key and its flag."""
        _check_scales(self.scales)
        _check_slide(self.is_slide, self.crop_size, self.stride)

    @classmethod
    def from_test_config(cls, test_config):
        """From PaddleSeg's test_config dict (`aug_eval` is `aug`; `auc_roc` is left to evaluation).

        Raises:
            UserError: for a key that is not a test_config key.
        """
        fields = [f.name for f in dataclasses.fields(cls) if f.name != "aug"]
        valid = ["aug_eval"] + fields + list(EVAL_ONLY_KEYS)
        for key in test_config:
            if key not in valid:
                raise UserError("test_config: unknown key '{}'.{} Valid keys: {}".format(
                    key, did_you_mean(key, valid), ", ".join(valid)))
        values = {k: test_config[k] for k in fields if test_config.get(k) is not None}
        return cls(aug=bool(test_config.get("aug_eval", False)), **values)

    def logits(self, model, im, trans_info=None):
        """N x C x h0 x w0 float32 logits of `model` on the transformed image batch `im`, at the size
        before the transforms recorded in `trans_info`; for an `Ensemble`, the logits of its members' mean
        probabilities (`Ensemble.combine`)."""
        if isinstance(model, Ensemble):
            return model.combine([self.logits(member, im, trans_info) for member in model.members])
        slide = dict(is_slide=self.is_slide, stride=self.stride, crop_size=self.crop_size, mirror_pad=self.mirror_pad)
        if self.aug:
            return aug_inference(model, im, trans_info, scales=self.scales, flip_horizontal=self.flip_horizontal,
                                 flip_vertical=self.flip_vertical, **slide)
        return inference(model, im, trans_info, **slide)


def _name(key):
    """A test_config key as the user may have given it: in the config or as a val/predict flag."""
    return "test_config.{0} (--{0})".format(key)


def _check_scales(scales):
    values = [scales] if is_number(scales) else scales
    if not isinstance(values, (list, tuple)) or not values:
        raise UserError("{} must be a positive number or a non-empty list of them, got {!r}".format(
            _name("scales"), scales))
    for value in values:
        check_number(None, _name("scales"), value, 0, low_open=True, error=UserError)


def _check_slide(is_slide, crop_size, stride):
    """Windows must tile the image: positive sizes, and a stride that leaves no gap between windows
    (checked whenever given, since auto-slide may use them even without is_slide)."""
    crop_size, stride = (None if v is None else check_pair(None, _name(k), v, error=UserError)
                         for k, v in (("crop_size", crop_size), ("stride", stride)))
    if is_slide and (crop_size is None or stride is None):
        raise UserError("{} needs {} and {} (--crop_size W H --stride W H)".format(
            _name("is_slide"), "test_config.crop_size", "test_config.stride"))
    if crop_size and stride and (stride[0] > crop_size[0] or stride[1] > crop_size[1]):
        raise UserError("{} {} is larger than {} {}: the sliding windows would leave gaps; use a stride "
                        "<= crop_size on each side (e.g. half of it, for overlapping windows)".format(
                            _name("stride"), list(stride), _name("crop_size"), list(crop_size)))
