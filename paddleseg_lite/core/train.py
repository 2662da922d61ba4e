"""PaddleSeg's `train()` function, kept for scripts written against `paddleseg.core.train`.

It only gathers its arguments into `TrainSettings` and runs a `Trainer`; configs and tools use
`Trainer.from_config` directly.
"""
from paddleseg_lite.core.trainer import Trainer
from paddleseg_lite.cvlibs.run_settings import TrainSettings
from paddleseg_lite.utils.errors import UserError


def train(model, train_dataset, val_dataset=None, optimizer=None, save_dir="output", iters=10000, batch_size=2,
          early_stop_intervals=None, resume_model=None, save_interval=1000, log_iters=10, num_workers=0,
          use_vdl=False, use_ema=False, losses=None, keep_checkpoint_max=5, test_config=None, precision="auto",
          amp_level="O1", profiler_options=None, to_static_training="auto", seed=None, save_best_metric="mIoU"):
    """Train `model` (PaddleSeg's parameters, in PaddleSeg's order; `seed` and `save_best_metric` added).

    Args:
        losses (LossSet | dict): PaddleSeg's `{'types': [loss, ...], 'coef': [float, ...]}` or a LossSet.
        use_ema (bool): Keep, evaluate and save an EMA of the weights (`core.ema`).
        profiler_options (str): PaddleSeg's profiler string (`core.profiler`).
        Others: as tools/train.py's flags of the same names (see `TrainSettings`).

    Returns:
        dict: The last evaluation's metrics (empty without val_dataset).
    """
    if optimizer is None or losses is None:
        raise UserError("train() needs an optimizer and losses ({'types': [...], 'coef': [...]})")
    settings = TrainSettings(iters=iters, batch_size=batch_size, save_interval=save_interval, log_iters=log_iters,
                             seed=seed, save_best_metric=save_best_metric, keep_checkpoint_max=keep_checkpoint_max,
                             early_stop_intervals=early_stop_intervals, precision=precision, amp_level=amp_level,
                             to_static_training=to_static_training, num_workers=num_workers,
                             do_eval=val_dataset is not None, use_vdl=use_vdl, use_ema=use_ema)
    trainer = Trainer(model, train_dataset, optimizer, losses, settings, val_dataset=val_dataset, save_dir=save_dir,
                      test_config=test_config)
    return trainer.train(resume_model, profiler_options)
