from setuptools import find_packages, setup

setup(
    name="paddleseg_lite",
    version="0.1.0",
    description="A small, config-driven semantic segmentation framework on PaddlePaddle (PaddleSeg-compatible).",
    packages=find_packages(include=["paddleseg_lite", "paddleseg_lite.*"]),
    python_requires=">=3.8",
    # PaddlePaddle is installed separately: `pip install paddlepaddle` (CPU) or paddlepaddle-gpu.
    install_requires=["numpy", "opencv-python-headless>=4.7", "pyyaml", "visualdl"],
    # the test suite: pytest, and import-linter for the layer check (tests/test_import_layers.py)
    extras_require={"test": ["pytest", "import-linter"]},
)
