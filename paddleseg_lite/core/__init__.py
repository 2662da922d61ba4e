"""Training, evaluation and prediction loops (PaddleSeg's `paddleseg.core` API) and the `Trainer`."""
from paddleseg_lite.core.predict import predict
from paddleseg_lite.core.train import train
from paddleseg_lite.core.trainer import Trainer
from paddleseg_lite.core.val import evaluate, evaluate_metrics

__all__ = ["Trainer", "evaluate", "evaluate_metrics", "predict", "train"]
