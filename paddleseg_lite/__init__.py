"""paddleseg_lite: a small, config-driven semantic segmentation framework on PaddlePaddle."""
__version__ = "0.1.0"

import warnings

# Paddle prints these on import / first BN forward; they are noise for users of this package.
warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message="When training, we now always track global mean and variance")
