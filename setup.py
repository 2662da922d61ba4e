from setuptools import find_packages, setup

setup(
    name="paddleseg_lite",
    version="0.1.0",
    description="A small, config-driven semantic segmentation framework on PaddlePaddle (PaddleSeg-compatible).",
    packages=find_packages(include=["paddleseg_lite", "paddleseg_lite.*"]),
    # the shipped models (--model NAME): config, weights and threshold of each
    package_data={"paddleseg_lite": ["pretrained/*/config.yml", "pretrained/*/model.pdparams",
                                     "pretrained/*/model.pdstates"]},
    python_requires=">=3.8",
    # PaddlePaddle is installed separately: `pip install paddlepaddle` (CPU) or paddlepaddle-gpu.
    # onnxruntime + paddle2onnx: --engine onnx and tools/export.py --format onnx (2.1.0: the version
    # tested with Paddle 3.3; its converter API changes between minor versions)
    # Pillow: palette PNGs and RandomDistort's ImageEnhance (as PaddleSeg); paddlepaddle requires it too
    install_requires=["numpy", "opencv-python-headless>=4.7", "Pillow>=8", "pyyaml", "visualdl", "onnxruntime>=1.17",
                      "paddle2onnx==2.1.0"],
    # the test suite: pytest, and import-linter for the layer check (tests/test_import_layers.py)
    extras_require={"test": ["pytest", "import-linter"]},
)
