"""A Keras-style progress bar on stderr, as PaddleSeg's evaluation prints it."""
import sys
import time


def format_eta(seconds):
    """Seconds as HH:MM:SS (hours may exceed 99)."""
    seconds = max(int(seconds), 0)
    return "{:02d}:{:02d}:{:02d}".format(seconds // 3600, seconds // 60 % 60, seconds % 60)


class Progbar:
    """`k/N [=====>....] - ETA: 3s - batch_cost: 0.0123 - reader cost: 0.0012` on stderr.

    Args:
        total (int): Number of steps.
        width (int): Bar width in characters.
        enabled (bool): Print nothing when False (non-zero ranks).
        stream (file, optional): Where to write; default: sys.stderr at the time of the call.
    """

    def __init__(self, total, width=30, enabled=True, stream=None):
        stream = sys.stderr if stream is None else stream
        self.total, self.width, self.enabled, self.stream = total, width, enabled, stream
        self.interactive = hasattr(stream, "isatty") and stream.isatty()
        self.start = time.time()

    def update(self, step, values=()):
        """Redraw the bar at `step` (only the final state when the stream is not a terminal)."""
        if not self.enabled or (not self.interactive and step < self.total):
            return
        done = int(self.width * step / max(self.total, 1))
        bar = "=" * max(done - 1, 0) + (">" if done < self.width else "=") + "." * (self.width - done)
        elapsed = time.time() - self.start
        eta = elapsed / step * (self.total - step) if step else 0
        parts = ["{}/{} [{}]".format(step, self.total, bar),
                 "ETA: {:.0f}s".format(eta) if step < self.total else "{:.0f}s".format(elapsed)]
        parts += ["{}: {:.4f}".format(k, v) for k, v in values]
        self.stream.write("\r" + " - ".join(parts))
        if step >= self.total:
            self.stream.write("\n")
        self.stream.flush()
