"""Pixel-wise cross entropy with ignore, class weights and hard-pixel mining (PaddleSeg semantics).

Built from `loss: {types: [{type: CrossEntropyLoss}], ...}`.
"""
import paddle
import paddle.nn as nn

from paddleseg_lite.registry import LOSSES
from paddleseg_lite.models.losses.utils import EPS, pixel_nll, prepare, safe_label, weight_tensor
from paddleseg_lite.utils.labels import num_classes_of
from paddleseg_lite.utils.validate import check_choice, check_class_weight, check_number


@LOSSES.add_component
class CrossEntropyLoss(nn.Layer):
    """Softmax cross entropy averaged over pixels.

    Per pixel: l = -w[y] log softmax(x)[y] (w = 1 without weights; 0 at ignored
    pixels). With top_k_percent_pixels = 1 the loss is mean(l) / (mean(c) + 1e-8),
    where c is w[y] at non-ignored pixels when `avg_non_ignore` (so it is the
    weighted mean over non-ignored pixels) and 1 at every pixel otherwise. With
    top_k_percent_pixels < 1 only the k = max(1, int(p * N*H*W)) largest pixel
    losses are kept: mean(top-k l) / (mean(c of those pixels) + 1e-8).
    A 1-channel logit z is read as the two-class logits [0, z] (binary cross entropy).

    Args:
        weight (list[float]|None): One weight per class. Default None.
        ignore_index (int): Label value to ignore. Default 255.
        top_k_percent_pixels (float): Fraction in (0, 1] of hardest pixels kept. Default 1.0.
        avg_non_ignore (bool): Average over non-ignored pixels only. Default True.
        data_format (str): 'NCHW' or 'NHWC' logits. Default 'NCHW'.

    Returns:
        Tensor: scalar loss.

    Shape:
        logits: N x C x H x W (or N x H x W x C); label: N x H x W int.
    """

    def __init__(self, weight=None, ignore_index=255, top_k_percent_pixels=1.0, avg_non_ignore=True,
                 data_format='NCHW'):
        super().__init__()
        self.weight = check_class_weight('CrossEntropyLoss', 'weight', weight)
        self.ignore_index = ignore_index
        self.top_k_percent_pixels = check_number('CrossEntropyLoss', 'top_k_percent_pixels',
                                                 top_k_percent_pixels, low=0, high=1, low_open=True)
        self.avg_non_ignore = bool(avg_non_ignore)
        self.data_format = check_choice('CrossEntropyLoss', 'data_format', data_format, ('NCHW', 'NHWC'))

    def forward(self, logits, label):
        if self.data_format == 'NHWC':
            logits = logits.transpose([0, 3, 1, 2])
        label, mask = prepare(self, logits, label)
        loss = pixel_nll(logits, label, mask)
        coef = mask if self.avg_non_ignore else paddle.ones_like(mask)
        if self.weight is not None:
            class_weight = weight_tensor('CrossEntropyLoss', self.weight, num_classes_of(logits.shape[1]))
            pixel_weight = paddle.gather(class_weight, safe_label(label, mask).flatten()).reshape(label.shape)
            loss = loss * pixel_weight
            if self.avg_non_ignore:
                coef = coef * pixel_weight
        if self.top_k_percent_pixels == 1.0:
            return loss.mean() / (coef.mean() + EPS)
        k = max(1, int(self.top_k_percent_pixels * loss.numel()))
        top_loss, indices = paddle.topk(loss.flatten(), k)
        return top_loss.mean() / (paddle.gather(coef.flatten(), indices).mean() + EPS)
