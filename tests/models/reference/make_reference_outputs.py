"""Make the stored reference outputs of the U-Net family (run once; the .npy files are committed).

    python tests/models/reference/make_reference_outputs.py

For each case in model_refs.CASES: build the model through its public constructor (base_channels 4),
give every state_dict entry seeded random values (BatchNorm statistics included, so eval-mode
BatchNorm is not the identity), run one eval forward pass on a seeded 35x37 input and save the
logits (float32, heads stacked on axis 0) as `<case>.npy` in this folder.
tests/models/test_reference_outputs.py rebuilds the same models and inputs from the seeds and
compares. The files were generated from the code that loads PaddleSeg's UNet checkpoints;
regenerate them only after a deliberate change of the models' arithmetic, and say so in the commit.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.abspath(os.path.join(HERE, '..', '..', '..')), os.path.join(HERE, '..')]

import numpy as np  # noqa: E402

import model_refs as ref  # noqa: E402


def main():
    for name in ref.CASES:
        output = ref.forward(ref.build(name), ref.make_input(name))
        np.save(ref.fixture_path(name), output)
        print('{}: {} mean {:.4f} std {:.4f}'.format(name, output.shape, output.mean(), output.std()))


if __name__ == '__main__':
    main()
