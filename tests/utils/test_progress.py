"""utils.progress on a fake clock: one plain line per 10% without a terminal, one redrawn line on a terminal,
the right counts, rates and ETAs (hand-computed), stages with their elapsed time."""
import contextlib
import io

import pytest

from paddleseg_lite.utils import progress as P


class Clock:
    def __init__(self):
        self.now = 1000.0

    def time(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(P, "time", fake)
    return fake


def run(bar, clock, steps, seconds=1.0):
    for _ in range(steps):
        clock.now += seconds
        bar.advance()


def test_log_gets_one_plain_line_per_ten_percent(clock):
    out = io.StringIO()
    with P.Progress(20, "job", "img", stream=out) as bar:
        run(bar, clock, 20)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and out.getvalue().endswith("\n")
    # step 1 (5%) starts the log; then 10%, 20%, ..., 100%: 11 lines
    assert len(lines) == 11
    assert lines[0] == "job: 1/20 img (5%) - 1.00 img/s - ETA 00:00:19"
    assert lines[1] == "job: 2/20 img (10%) - 1.00 img/s - ETA 00:00:18"
    assert lines[-1] == "job: 20/20 img (100%) - 1.00 img/s - done in 00:00:20"


def test_few_steps_give_a_line_each_with_values(clock):
    out = io.StringIO()
    with P.Progress(4, "eval", "img", stream=out) as bar:
        for _ in range(4):
            clock.now += 0.5
            bar.advance(values=[("batch_cost", 0.5)])
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[2] == "eval: 3/4 img (75%) - 2.00 img/s - ETA 00:00:00 - batch_cost: 0.5000"


def test_terminal_redraws_one_line_at_most_every_tenth_of_a_second(clock):
    out = Terminal()
    with P.Progress(10, "predict", "img", stream=out) as bar:
        run(bar, clock, 10, seconds=0.06)
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert text.count("\r") == 5  # steps 2, 4, 6, 8 (0.12 s apart) and 10 (the end); 1, 3, ... are < 0.1 s after
    assert text.count("\r") == text.count("predict: [")
    assert text.split("\r")[-1] == "predict: [" + "=" * 30 + "] 10/10 img (100%) - 16.67 img/s - done in 00:00:00\n"


def test_a_job_that_stops_early_ends_its_output(clock):
    out = io.StringIO()
    with pytest.raises(RuntimeError):
        with P.Progress(100, "job", stream=out) as bar:
            run(bar, clock, 5)
            raise RuntimeError
    # 1% (the first step) is logged, then the state where it stopped
    assert out.getvalue().splitlines() == ["job: 1/100 it (1%) - 1.00 it/s - ETA 00:01:39",
                                           "job: 5/100 it (5%) - 1.00 it/s - ETA 00:01:35"]
    tty = Terminal()
    with P.Progress(100, "job", stream=tty) as bar:
        run(bar, clock, 5)
    assert tty.getvalue().endswith("\n") and tty.getvalue().count("\n") == 1


def test_bytes_of_a_resumed_download_and_an_unknown_total(clock):
    out = io.StringIO()
    with P.Progress(10e6, "download", "MB", scale=1e6, initial=4e6, stream=out) as bar:
        clock.now += 2
        bar.update(6e6)  # 2 MB in 2 s: 1 MB/s, 4 MB left
    assert out.getvalue().splitlines()[0] == "download: 6.0/10.0 MB (60%) - 1.00 MB/s - ETA 00:00:04"
    out = io.StringIO()
    with P.Progress(None, "download", "MB", scale=1e6, stream=out) as bar:
        clock.now += 4
        bar.update(2e6)
    assert out.getvalue() == "download: 2.0 MB - 0.50 MB/s - ETA --:--:--\n"  # only at the end


def test_disabled_prints_nothing(clock):
    out = io.StringIO()
    with P.Progress(3, "job", enabled=False, stream=out) as bar:
        run(bar, clock, 3)
    assert out.getvalue() == ""


def test_track_advances_as_each_body_ends(clock):
    out = io.StringIO()
    seen = []
    for item in P.track(["a", "b"], "job", "img", stream=out):
        clock.now += 3
        seen.append((item, out.getvalue().count("\n")))
    assert seen == [("a", 0), ("b", 1)]
    assert out.getvalue().splitlines()[-1] == "job: 2/2 img (100%) - 0.33 img/s - done in 00:00:06"


def test_default_stream_is_the_stderr_of_the_moment(clock):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        with P.Progress(1, "job") as bar:
            run(bar, clock, 1)
    assert err.getvalue() == "job: 1/1 it (100%) - 1.00 it/s - done in 00:00:01\n"


def test_stages_log_each_start_with_the_elapsed_time(clock, capsys):
    stages = P.Stages("export", ["tracing", "saving"])
    stages.finish()  # nothing began: nothing to say
    stages.begin("tracing")
    clock.now += 1.5
    stages.begin("saving")
    clock.now += 0.25
    stages.finish()
    lines = [line.split("INFO: ", 1)[1] for line in capsys.readouterr().out.splitlines()]
    assert lines == ["export 1/2: tracing (elapsed 0.0 s)", "export 2/2: saving (elapsed 1.5 s)",
                     "export: done in 1.8 s"]


def test_format_eta():
    assert [P.format_eta(s) for s in (0, 59.9, 3661, 360000, -5)] == ["00:00:00", "00:00:59", "01:01:01",
                                                                       "100:00:00", "00:00:00"]
