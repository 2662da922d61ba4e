"""paddleseg_lite: a small, config-driven semantic segmentation framework on PaddlePaddle."""
__version__ = "0.1.0"
