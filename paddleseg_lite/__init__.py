"""paddleseg_lite: a small, config-driven semantic segmentation framework on PaddlePaddle.

The Python API (`init_model`, `inference_model`, `Segmenter`: `paddleseg_lite.apis`) is imported on first use,
so `import paddleseg_lite` does not import paddle.
"""
__version__ = "0.1.0"

import os
import warnings

# Paddle's C++ INFO lines ("New Executor is Running", ...) drown our logs; users can still set
# GLOG_minloglevel=0 themselves. This must happen before paddle is first imported.
os.environ.setdefault("GLOG_minloglevel", "1")

# Paddle prints these on import / first BN forward; they are noise for users of this package.
warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message="When training, we now always track global mean and variance")

_API = ("Segmenter", "inference_model", "init_model")


def __getattr__(name):
    if name in _API:
        from paddleseg_lite import apis
        return getattr(apis, name)
    raise AttributeError("module 'paddleseg_lite' has no attribute {!r}".format(name))


def __dir__():
    return sorted(list(globals()) + list(_API))
