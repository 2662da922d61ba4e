"""Forward passes of the U-Net family against stored reference outputs (tests/models/reference/).

The .npy files were made once by reference/make_reference_outputs.py from the code that loads
PaddleSeg's UNet checkpoints; a wiring change (concat order, skip order, a flag not passed on,
a resize or BatchNorm change) alters the logits and fails here even when every key and shape still
matches PaddleSeg's.
"""
import numpy as np
import pytest

import model_refs as ref


@pytest.mark.parametrize('name', list(ref.CASES))
def test_forward_matches_stored_reference(name):
    expected = np.load(ref.fixture_path(name))
    model_type, kwargs, batch = ref.CASES[name]
    heads = 4 if kwargs.get('deep_supervision') else 1
    assert expected.shape == (heads, batch, kwargs['num_classes'], ref.HEIGHT, ref.WIDTH)
    assert expected.std() > 0.1  # the fixture is not a constant map
    np.testing.assert_allclose(ref.forward(ref.build(name), ref.make_input(name)), expected, rtol=1e-4, atol=1e-5)

