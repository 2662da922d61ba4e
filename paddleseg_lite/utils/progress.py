"""Progress of every long job (val, predict, deploy infer, check-data, prepare-drive, download, export).

Training reports its own progress: the ETA of PaddleSeg's [TRAIN] lines (`format_eta`, core.train_log).
`Progress` counts steps and shows the count, the percentage, the rate and the ETA on stderr. On a
terminal it redraws one line (at most every REDRAW_S, and at the end); when stderr is not a terminal (a
log file, a pipe, a notebook) it prints one plain line each time another `every` percent is done and
at the end, never a carriage return, so a log gets about eleven lines per job. `Stages` reports the
named stages of a job of unknown length (export: tracing, saving, ONNX conversion) with the elapsed time.
Written by hand: tqdm is not a dependency, and its non-terminal output is carriage-return lines too.
"""
import sys
import time

from paddleseg_lite.utils import logger

REDRAW_S = 0.1
BAR_WIDTH = 30


def format_eta(seconds):
    """Seconds as HH:MM:SS (hours may exceed 99)."""
    seconds = max(int(seconds), 0)
    return "{:02d}:{:02d}:{:02d}".format(seconds // 3600, seconds // 60 % 60, seconds % 60)


def _is_tty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """`label: 3/10 img (30%) - 2.15 img/s - ETA 00:00:03` on stderr, for a job of `total` steps.

    Use it as a context manager (the terminal line is ended even when the job stops early) and call
    `update(step)` with the number of steps done, or `advance(n)`; `track` wraps a loop in one.

    Args:
        total (int | float | None): Steps of the whole job; None when unknown (no %, no ETA).
        label (str): What runs, e.g. 'predict'.
        unit (str): What a step is, e.g. 'img', 'MB'.
        scale (float): Steps are shown divided by it (bytes with scale 1e6 and unit 'MB').
        initial (int | float): Steps already done before this run (a resumed download): not in the rate.
        every (int): Without a terminal, print a line each `every` percent (and at the end).
        enabled (bool): Print nothing when False (non-zero ranks, --print_detail False).
        stream (file, optional): Where to write; default: sys.stderr at the time of the call.
    """

    def __init__(self, total, label, unit="it", scale=1, initial=0, every=10, enabled=True, stream=None):
        self.total, self.label, self.unit, self.scale, self.every = total, label, unit, scale, every
        self.enabled, self.stream = enabled, sys.stderr if stream is None else stream
        self.interactive = _is_tty(self.stream)
        self.initial = self.step = initial
        self.start = self._drawn_at = time.time()
        self._mark, self._open_line, self._done = -1, False, False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def advance(self, n=1, values=()):
        """`n` more steps done; `values` ((name, number) pairs, e.g. batch_cost) are shown after the ETA."""
        self.update(self.step + n, values)

    def update(self, step, values=()):
        """`step` steps done (see `advance`)."""
        self.step = step
        if not self.enabled:
            return
        finished = self.total is not None and step >= self.total
        if self.interactive:
            if finished or time.time() - self._drawn_at >= REDRAW_S:
                self._draw(values, finished)
        elif self._crossed_mark() or finished:
            self._print(self.line(values))
        self._done = self._done or finished

    def close(self):
        """End the job's output: the terminal line gets its newline; without a terminal, a job that stopped
        before its total (or has none) prints its last state."""
        if not self.enabled or self._done:
            return
        self._done = True
        if self._open_line:
            self._print("")
        elif not self.interactive and self.step > self.initial:
            self._print(self.line())

    def line(self, values=(), bar=""):
        """The progress text at the current step (with `bar` before the count; no newline)."""
        elapsed = time.time() - self.start
        rate = (self.step - self.initial) / elapsed if elapsed > 0 else 0.0
        parts = ["{}: {}{}".format(self.label, bar, self._count())]
        parts.append("{:.2f} {}/s".format(rate / self.scale, self.unit))
        if self.total is not None and self.step >= self.total:
            parts.append("done in {}".format(format_eta(elapsed)))
        elif self.total is not None and rate > 0:
            parts.append("ETA {}".format(format_eta((self.total - self.step) / rate)))
        else:
            parts.append("ETA --:--:--")
        parts += ["{}: {:.4f}".format(name, value) for name, value in values]
        return " - ".join(parts)

    def _count(self):
        fmt = "{:.0f}" if self.scale == 1 else "{:.1f}"
        done = fmt.format(self.step / self.scale)
        if self.total is None:
            return "{} {}".format(done, self.unit)
        return "{}/{} {} ({:.0f}%)".format(done, fmt.format(self.total / self.scale), self.unit, self._percent())

    def _percent(self):
        return 100.0 * self.step / self.total if self.total else 100.0

    def _crossed_mark(self):
        """Whether another `every` percent is done since the last printed line (never without a total)."""
        if self.total is None:
            return False
        mark = int(self._percent() // self.every)
        crossed, self._mark = mark > self._mark, max(mark, self._mark)
        return crossed

    def _draw(self, values, finished):
        bar = ""
        if self.total:
            filled = int(BAR_WIDTH * min(self.step / self.total, 1.0))
            bar = "[{}{}] ".format("=" * filled, "." * (BAR_WIDTH - filled))
        self.stream.write("\r" + self.line(values, bar) + ("\n" if finished else "\x1b[K"))
        self.stream.flush()
        self._drawn_at, self._open_line = time.time(), not finished

    def _print(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()
        self._open_line = False


def track(items, label, unit="it", total=None, **kwargs):
    """Iterate over `items` with a `Progress` (`kwargs`: its other arguments) that advances as the loop's
    body ends for each item; `total` defaults to len(items)."""
    with Progress(len(items) if total is None else total, label, unit, **kwargs) as progress:
        for item in items:
            yield item
            progress.advance()


class Stages:
    """The named stages of a job whose length is unknown: one log line as each starts, with the time
    elapsed so far, and one at the end, e.g. `export 2/3: ONNX conversion (elapsed 1.9 s)`.

    Args:
        label (str): The job, e.g. 'export'.
        names (list[str]): Its stages in order.
        enabled (bool): Log nothing when False.
    """

    def __init__(self, label, names, enabled=True):
        self.label, self.names, self.enabled = label, list(names), enabled
        self.start, self.begun = time.time(), False

    def begin(self, name):
        """Stage `name` (one of `names`) starts now."""
        self.begun = True
        if self.enabled:
            logger.info("{} {}/{}: {} (elapsed {:.1f} s)".format(
                self.label, self.names.index(name) + 1, len(self.names), name, time.time() - self.start))

    def finish(self):
        """The job is done (nothing is logged when no stage began)."""
        if self.enabled and self.begun:
            logger.info("{}: done in {:.1f} s".format(self.label, time.time() - self.start))
