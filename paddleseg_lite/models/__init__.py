"""Segmentation models (registered in `registry.MODELS`) and, via `losses`, the losses.

Importing this package registers every model and loss, so `type: UNet` /
`type: DiceLoss` in a config resolve.
"""
from paddleseg_lite.models import losses
from paddleseg_lite.models.attention_unet import AttentionUNet
from paddleseg_lite.models.checkpoint_io import load_entire_model, load_pretrained_model
from paddleseg_lite.models.layers import maybe_sync_batchnorm
from paddleseg_lite.models.res_unet import ResUNet
from paddleseg_lite.models.unet import UNet
from paddleseg_lite.models.unet_plusplus import UNetPlusPlus

__all__ = ['AttentionUNet', 'ResUNet', 'UNet', 'UNetPlusPlus', 'load_entire_model',
           'load_pretrained_model', 'losses', 'maybe_sync_batchnorm']
