"""`TrainProfiler`: PaddleSeg's `--profiler_options` (paddleseg/utils/train_profiler.py) on `paddle.profiler`.

The options are PaddleSeg's string, `key=value` items separated by `;`, e.g.
`"batch_range=[10,20];timer_only=False;exit_on_finished=False"`:

    batch_range       [start, end]: profile this run's iterations start+1 .. end (counted from its first
                      iteration); default [10, 20]
    timer_only        True (default): throughput and step times only; False: operator timings and a
                      Chrome trace (chrome://tracing, Perfetto) in profile_path
    profile_path      the trace directory; default save_dir/profiler_log (PaddleSeg ignores the key and
                      always writes ./profiler_log)
    exit_on_finished  True (default, as PaddleSeg): the run stops after the profiled range (PaddleSeg calls
                      sys.exit(0) there; here the loop ends and the process exits normally, without a save)
    state             CPU, GPU or All (default): what is traced
    sorted_key        total (default), max, min or ave: the order of the summary tables
    tracer_option     Default, OpDetail or AllOpDetail: accepted, no effect (as in PaddleSeg)

Unlike PaddleSeg, a malformed item, an unknown key or a bad value is a UserError (PaddleSeg ignores a bad
batch_range silently), and the profiler runs once (PaddleSeg starts a new one, never stopped, after the
range when exit_on_finished is False).
"""
import os

import paddle
import paddle.profiler as profiler

from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import did_you_mean

DEFAULTS = {"batch_range": [10, 20], "state": "All", "sorted_key": "total", "tracer_option": "Default",
            "profile_path": None, "exit_on_finished": True, "timer_only": True}
_CHOICES = {"state": ("CPU", "GPU", "All"), "sorted_key": ("total", "max", "min", "ave"),
            "tracer_option": ("Default", "OpDetail", "AllOpDetail")}
_SORTED = {"total": "Total", "max": "Max", "min": "Min", "ave": "Avg"}
_TRUE, _FALSE = ("yes", "true", "t", "1"), ("no", "false", "f", "0")


def _fail(text, why):
    raise UserError("--profiler_options {!r}: {}; e.g. \"batch_range=[10,20];timer_only=False\"".format(text, why))


def _value(text, key, value):
    if key == "batch_range":
        try:
            bounds = [int(v) for v in value.strip("[]").split(",")]
        except ValueError:
            bounds = []
        if len(bounds) != 2 or not 0 <= bounds[0] < bounds[1]:
            _fail(text, "batch_range must be [start, end] with 0 <= start < end, got {}".format(value))
        return bounds
    if key in ("exit_on_finished", "timer_only"):
        if value.lower() not in _TRUE + _FALSE:
            _fail(text, "{} must be True or False, got {}".format(key, value))
        return value.lower() in _TRUE
    if key in _CHOICES and value not in _CHOICES[key]:
        _fail(text, "{} must be one of {}, got {}".format(key, ", ".join(_CHOICES[key]), value))
    return value


def parse_profiler_options(text):
    """PaddleSeg's options string as a dict (DEFAULTS for the keys not given).

    Raises:
        UserError: an item without `=`, an unknown key (did-you-mean) or a bad value.
    """
    options = dict(DEFAULTS)
    for item in filter(None, text.replace(" ", "").split(";")):
        if item.count("=") != 1:
            _fail(text, "item {!r} must look like key=value".format(item))
        key, value = item.split("=")
        if key not in DEFAULTS:
            _fail(text, "unknown key {!r}.{} Keys: {}".format(key, did_you_mean(key, DEFAULTS), ", ".join(DEFAULTS)))
        options[key] = _value(text, key, value)
    return options


def _targets(state):
    cpu, gpu = [profiler.ProfilerTarget.CPU], []
    if paddle.is_compiled_with_cuda() and paddle.get_device().startswith("gpu"):
        gpu = [profiler.ProfilerTarget.GPU]
    return {"CPU": cpu, "GPU": gpu or cpu, "All": cpu + gpu}[state]


class TrainProfiler:
    """Profiles the iterations of `batch_range` of a training run (see the module doc).

    Args:
        text (str): PaddleSeg's options string.
        save_dir (str): The run's directory (the default trace directory is save_dir/profiler_log).
    """

    def __init__(self, text, save_dir):
        self.options = parse_profiler_options(text)
        self.trace_dir = self.options["profile_path"] or os.path.join(save_dir, "profiler_log")
        self._prof, self._calls = None, 0

    def step(self):
        """Call after each training iteration. Returns True when the run should stop (exit_on_finished, after
        the profiled range)."""
        start, end = self.options["batch_range"]
        if self._calls > end:
            return False
        if self._calls == 0:
            self._prof = profiler.Profiler(targets=_targets(self.options["state"]), scheduler=(start, end),
                                           on_trace_ready=profiler.export_chrome_tracing(self.trace_dir),
                                           timer_only=self.options["timer_only"])
            self._prof.start()
        else:
            self._prof.step()
        self._calls += 1
        if self._calls <= end:
            return False
        self.finish()
        if self.options["exit_on_finished"]:
            logger.info("Profiler: iterations {}-{} profiled; stopping the run (exit_on_finished)".format(
                start + 1, end))
        return self.options["exit_on_finished"]

    def finish(self):
        """Stop the profiler (if running) and log its summary."""
        if self._prof is None:
            return
        prof, self._prof = self._prof, None
        prof.stop()
        state = "GPU" if self.options["state"] == "GPU" and paddle.get_device().startswith("gpu") else "CPU"
        sorted_by = getattr(profiler.SortedKeys, state + _SORTED[self.options["sorted_key"]])
        prof.summary(sorted_by=sorted_by, op_detail=True, thread_sep=False, time_unit="ms")
        if not self.options["timer_only"]:
            logger.info("Profiler: Chrome trace in {}".format(self.trace_dir))
