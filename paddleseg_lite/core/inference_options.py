"""`InferenceOptions`: how a model is run on an image, the one object that evaluation (tools/val.py and
the evaluation inside training), prediction (tools/predict.py) and the deploy script share.

It holds PaddleSeg's `test_config` keys (plus `mirror_pad`), checks them once, and `logits()` runs
`core.infer` accordingly: whole-image or sliding-window inference, with flip/scale augmentation when
`aug` is on, mapped back to the image's original size.
"""
import dataclasses
from typing import Optional, Sequence, Union

from paddleseg_lite.core.infer import aug_inference, inference
from paddleseg_lite.utils.errors import UserError

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

    @classmethod
    def from_test_config(cls, test_config):
        """From PaddleSeg's test_config dict (`aug_eval` is `aug`; `auc_roc` is left to evaluation).

        Raises:
            UserError: for a key that is not a test_config key.
        """
        fields = [f.name for f in dataclasses.fields(cls) if f.name != "aug"]
        valid = ["aug_eval"] + fields + list(EVAL_ONLY_KEYS)
        unknown = sorted(set(test_config) - set(valid))
        if unknown:
            raise UserError("test_config has unknown key(s) {}; valid keys: {}".format(
                ", ".join(unknown), ", ".join(valid)))
        values = {k: test_config[k] for k in fields if test_config.get(k) is not None}
        return cls(aug=bool(test_config.get("aug_eval", False)), **values)

    def logits(self, model, im, trans_info=None):
        """N x C x h0 x w0 float32 logits of `model` on the transformed image batch `im`, at the size
        before the transforms recorded in `trans_info`."""
        slide = dict(is_slide=self.is_slide, stride=self.stride, crop_size=self.crop_size, mirror_pad=self.mirror_pad)
        if self.aug:
            return aug_inference(model, im, trans_info, scales=self.scales, flip_horizontal=self.flip_horizontal,
                                 flip_vertical=self.flip_vertical, **slide)
        return inference(model, im, trans_info, **slide)
