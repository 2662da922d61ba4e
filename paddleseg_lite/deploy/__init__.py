"""Deployment: export a model to a static inference model and run it with Paddle Inference.

`export_model` writes model.pdmodel / model.pdiparams / deploy.yaml; `Predictor` runs them
(CPU oneDNN fp32/bf16, GPU, TensorRT); `inference_model` turns a dygraph model into a
`PredictorModel` that core.val / core.predict can use in place of the model, exporting through the
per-checkpoint cache of `cache.cached_export`.
"""
from paddleseg_lite.deploy.cache import cached_export
from paddleseg_lite.deploy.export import (ExportWrapper, check_input_shape, export_model, save_inference_model,
                                          write_deploy_yaml)
from paddleseg_lite.deploy.predictor import (Predictor, PredictorModel, cpu_has_fast_bf16, inference_model,
                                             load_deploy_config)

__all__ = ["ExportWrapper", "Predictor", "PredictorModel", "cached_export", "check_input_shape", "cpu_has_fast_bf16", "export_model",
           "inference_model", "load_deploy_config", "save_inference_model", "write_deploy_yaml"]
