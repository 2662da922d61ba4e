"""Shared by the reference-output tests and reference/make_reference_outputs.py: the U-Net-family cases,
seeded weights for every state_dict entry, seeded inputs and the eval forward pass.

seeded_state overwrites every entry of a state_dict (conv/deconv weights and biases, BatchNorm
weight, bias, _mean and _variance) with seeded random values, so that eval-mode BatchNorm is not the
identity and every parameter shapes the output.
"""
import os

import numpy as np
import paddle

from paddleseg_lite.cvlibs import manager

FIXTURE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'reference')
HEIGHT, WIDTH = 35, 37  # odd, not multiples of 16: every skip needs a resize
# name: (registered type, constructor kwargs, batch size)
CASES = {
    'unet_in3_nc2_bilinear': ('UNet', dict(num_classes=2, in_channels=3), 2),
    'unet_in3_nc2_bilinear_ac': ('UNet', dict(num_classes=2, in_channels=3, align_corners=True), 1),
    'unet_in1_nc1_deconv': ('UNet', dict(num_classes=1, in_channels=1, use_deconv=True), 1),
    'unet_in3_nc2_deconv_ac': ('UNet', dict(num_classes=2, in_channels=3, use_deconv=True, align_corners=True), 1),
    'attention_unet_in3_nc2': ('AttentionUNet', dict(num_classes=2, in_channels=3), 1),
    'attention_unet_in1_nc1_ac': ('AttentionUNet', dict(num_classes=1, in_channels=1, align_corners=True), 1),
    'res_unet_in3_nc2': ('ResUNet', dict(num_classes=2, in_channels=3), 1),
    'res_unet_in1_nc1_ac': ('ResUNet', dict(num_classes=1, in_channels=1, align_corners=True), 1),
    'unet_plusplus_in3_nc2': ('UNetPlusPlus', dict(num_classes=2, in_channels=3), 1),
    'unet_plusplus_in1_nc1_ac_deep': ('UNetPlusPlus', dict(num_classes=1, in_channels=1, align_corners=True,
                                                           deep_supervision=True), 1),
}
BASE_CHANNELS = 4


def fixture_path(name):
    return os.path.join(FIXTURE_DIR, name + '.npy')


def seeded_state(model, seed):
    """{key: float32 array} for every state_dict entry, drawn in key order from RandomState(seed).

    Aliased entries (UNet's conv.* = cls.*) get the value of their first key.
    """
    rng, by_tensor, state = np.random.RandomState(seed), {}, {}
    for key, tensor in model.state_dict().items():
        if id(tensor) not in by_tensor:
            shape = list(tensor.shape)
            if key.endswith('_variance'):
                value = rng.uniform(0.5, 2.0, shape)
            elif key.endswith('_mean'):
                value = rng.normal(0.0, 0.3, shape)
            elif len(shape) == 1 and key.endswith('weight'):   # BatchNorm scale
                value = rng.uniform(0.5, 1.5, shape)
            elif len(shape) == 1:                               # conv and BatchNorm biases
                value = rng.normal(0.0, 0.2, shape)
            else:                                               # conv / deconv kernels
                value = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[1:])), shape)
            by_tensor[id(tensor)] = value.astype('float32')
        state[key] = by_tensor[id(tensor)]
    return state


def build(name, seed=0):
    """The case's model in eval mode, with seeded weights (seed from the case's position)."""
    model_type, kwargs, _ = CASES[name]
    paddle.seed(seed)
    model = manager.MODELS[model_type](base_channels=BASE_CHANNELS, **kwargs)
    model.set_state_dict(seeded_state(model, 100 + list(CASES).index(name)))
    model.eval()
    return model


def make_input(name):
    _, kwargs, batch = CASES[name]
    rng = np.random.RandomState(200 + list(CASES).index(name))
    return rng.normal(0.0, 1.0, (batch, kwargs['in_channels'], HEIGHT, WIDTH)).astype('float32')


def forward(model, images):
    """Eval-mode logits as one float32 array, heads stacked on axis 0."""
    with paddle.no_grad():
        return np.stack([logit.numpy() for logit in model(paddle.to_tensor(images))]).astype('float32')
