"""The CPU training step as a Paddle old-IR static program (`to_static_training`).

Everything that touches Paddle's legacy static graph and optimizers' private state lives here, behind
`core.steps`' step interface: `legacy_ops` (build-time shims), `optimizer_state` (the mirrored
optimizer), `rewrites` (oneDNN conv bias, bf16 convolutions in the built program),
`trainer.StaticTrainer` (build, run, sync) and `step.StaticStep` (the interface).
"""
from paddleseg_lite.static.step import StaticStep
from paddleseg_lite.static.trainer import StaticTrainer

__all__ = ["StaticStep", "StaticTrainer"]
