"""Losses (registered in `registry.LOSSES`): `loss(logits, label)` -> scalar (MixedLoss: a list).

None of them modifies its inputs. Binary (1-channel, sigmoid) models work with
every loss: a 1-channel logit z is read as P(class 1) = sigmoid(z).
"""
from paddleseg_lite.models.losses.bce_loss import BCELoss
from paddleseg_lite.models.losses.border_weighted_ce_loss import BorderWeightedCELoss, border_weight_map
from paddleseg_lite.models.losses.cldice_loss import clDiceLoss, soft_skeleton
from paddleseg_lite.models.losses.cross_entropy_loss import CrossEntropyLoss
from paddleseg_lite.models.losses.dice_loss import DiceLoss
from paddleseg_lite.models.losses.focal_loss import FocalLoss
from paddleseg_lite.models.losses.lovasz_softmax_loss import LovaszSoftmaxLoss
from paddleseg_lite.models.losses.loss_set import NAN_HINT, LossSet, check_finite
from paddleseg_lite.models.losses.mixed_loss import MixedLoss

__all__ = ['BCELoss', 'BorderWeightedCELoss', 'CrossEntropyLoss', 'DiceLoss', 'FocalLoss', 'LossSet',
           'LovaszSoftmaxLoss', 'MixedLoss', 'NAN_HINT', 'border_weight_map', 'check_finite', 'clDiceLoss',
           'soft_skeleton']
