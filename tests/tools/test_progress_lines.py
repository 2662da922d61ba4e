"""Progress when the output is not a terminal (stdout and stderr piped, as into a log file or a notebook):
tools/predict.py and tools/check_data.py print one plain line per step of 10% or more, each with the count,
the percentage, the rate and the ETA (the last: the time it took), and never a carriage return."""
import re

from fault_check import run_tool_args
from tool_runner import CONFIG, TINY, load_tool, run_tool, save_tiny_weights

LINE = re.compile(r"^(?P<label>[\w -]+): (?P<done>\d+)/(?P<total>\d+) img \((?P<percent>\d+)%\) - \d+\.\d\d img/s - "
                  r"(ETA|done in) \d\d:\d\d:\d\d$")


def progress_lines(stderr, label):
    """(done, total, percent, the whole line) of each progress line of `label` in `stderr`."""
    found = []
    for line in stderr.splitlines():
        match = LINE.match(line)
        if match and match.group("label") == label:
            found.append((int(match.group("done")), int(match.group("total")), int(match.group("percent")), line))
    return found


def test_predict_prints_plain_progress_lines_when_piped(tmp_path):
    save_tiny_weights(tmp_path / "model.pdparams")
    load_tool("make_synthetic_data").write_dataset(str(tmp_path / "data"), 3, 32, "val", 0)
    proc = run_tool("predict", "--model_path", tmp_path / "model.pdparams", "--image_path", tmp_path / "data" / "images",
                    "--save_dir", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "\r" not in proc.stdout + proc.stderr
    lines = progress_lines(proc.stderr, "predict")
    assert [line[:3] for line in lines] == [(1, 3, 33), (2, 3, 67), (3, 3, 100)]  # every third is >= 10%
    assert " - ETA 00:00:" in lines[0][3] and " - done in 00:00:" in lines[-1][3]


def test_check_data_prints_one_line_per_ten_percent_when_piped():
    proc = run_tool_args("check_data", "--config", CONFIG, "--opts", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "\r" not in proc.stdout + proc.stderr
    train = progress_lines(proc.stderr, "check-data train")
    # 16 samples: the first, then each step that completes another 10% (2/16 = 12%, 4/16 = 25%, ...), 11 in all
    assert [line[0] for line in train] == [1, 2, 4, 5, 7, 8, 10, 12, 13, 15, 16]
    assert [line[2] for line in train][-1] == 100 and "done in" in train[-1][3]
    assert [line[:3] for line in progress_lines(proc.stderr, "check-data val")] == [
        (1, 4, 25), (2, 4, 50), (3, 4, 75), (4, 4, 100)]
