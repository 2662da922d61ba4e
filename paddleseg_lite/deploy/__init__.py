"""Deployment: export a model to a static inference model and run it with Paddle Inference.

`export_model` writes model.pdmodel / model.pdiparams / deploy.yaml; `Predictor` runs them
(CPU oneDNN fp32/bf16, GPU, TensorRT); `inference_model` turns a dygraph model into a
`PredictorModel` that core.val / core.predict can use in place of the model, exporting through the
per-checkpoint cache of `cache.cached_export`. `onnx_export` / `onnx_predictor` do the same for ONNX
Runtime (`export_onnx_model`, `OnnxPredictor`, `onnx_model`; they need paddle2onnx and onnxruntime).
"""
from paddleseg_lite.deploy.cache import cached_export
from paddleseg_lite.deploy.export import (ExportWrapper, check_input_shape, export_model, save_inference_model,
                                          write_deploy_yaml)
from paddleseg_lite.deploy.onnx_export import convert_to_onnx, export_onnx_model
from paddleseg_lite.deploy.onnx_predictor import OnnxPredictor, onnx_model
from paddleseg_lite.deploy.predictor import (Predictor, PredictorModel, cpu_has_fast_bf16, inference_model,
                                             load_deploy_config)

__all__ = ["ExportWrapper", "OnnxPredictor", "Predictor", "PredictorModel", "cached_export", "check_input_shape",
           "convert_to_onnx", "cpu_has_fast_bf16", "export_model", "export_onnx_model", "inference_model",
           "load_deploy_config", "onnx_model", "save_inference_model", "write_deploy_yaml"]
