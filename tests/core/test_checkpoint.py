"""Atomic checkpoint directories, recovery after a killed writer, and --resume_model auto's choice."""
import os

import numpy as np
import paddle
import pytest

from paddleseg_lite.core import checkpoint
from paddleseg_lite.utils.errors import UserError


def write(path, value):
    checkpoint.write_dir(str(path), {"model.pdparams": {"w": paddle.to_tensor([value])},
                                     "model.pdopt": {"lr": value}, "model.pdstates": {"iter": int(value)}})


def weight(path):
    return float(paddle.load(os.path.join(str(path), "model.pdparams"))["w"].numpy()[0])


def test_write_dir_replaces_the_directory_whole(tmp_path):
    write(tmp_path / "best_model", 1.0)
    write(tmp_path / "best_model", 2.0)
    assert weight(tmp_path / "best_model") == 2.0
    assert sorted(os.listdir(tmp_path)) == ["best_model"]


def test_a_writer_dying_mid_write_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    write(tmp_path / "best_model", 1.0)
    real_save, calls = paddle.save, []

    def dying_save(obj, path):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt  # stands for the process being killed here
        real_save(obj, path)

    monkeypatch.setattr(paddle, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        write(tmp_path / "best_model", 2.0)
    monkeypatch.undo()
    assert weight(tmp_path / "best_model") == 1.0
    checkpoint.recover(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["best_model"]


def test_recover_restores_a_directory_moved_aside_before_the_replacement_arrived(tmp_path):
    write(tmp_path / "best_model", 1.0)
    os.replace(tmp_path / "best_model", tmp_path / ".tmp-best_model-0123abcd.old")
    (tmp_path / ".tmp-best_model-0123abcd").mkdir()  # the unfinished replacement
    checkpoint.recover(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["best_model"]
    assert weight(tmp_path / "best_model") == 1.0


def test_auto_resume_takes_the_newest_loadable_checkpoint(tmp_path):
    for it in (2, 4, 10):
        write(tmp_path / "iter_{}".format(it), float(it))
    os.remove(tmp_path / "iter_10" / "model.pdopt")  # incomplete: ignored
    (tmp_path / "iter_12").mkdir()
    write(tmp_path / "iter_16", 16.0)
    (tmp_path / "iter_16" / "model.pdparams").write_bytes(b"truncated")  # corrupt: skipped
    assert checkpoint.candidates(str(tmp_path)) == [str(tmp_path / "iter_16"), str(tmp_path / "iter_4"),
                                                    str(tmp_path / "iter_2")]
    model_state, _, states, path = checkpoint.load_latest(str(tmp_path))
    assert path == str(tmp_path / "iter_4") and states["iter"] == 4
    assert checkpoint.load_latest(str(tmp_path / "empty")) is None


def test_an_explicit_corrupt_checkpoint_is_a_user_error(tmp_path):
    write(tmp_path / "iter_2", 2.0)
    (tmp_path / "iter_2" / "model.pdopt").write_bytes(b"")
    with pytest.raises(UserError, match="Cannot read the optimizer state .*iter_2"):
        checkpoint.load_dir(str(tmp_path / "iter_2"))
    write(tmp_path / "weights", 1.0)
    os.remove(tmp_path / "weights" / "model.pdstates")
    with pytest.raises(UserError, match="cannot tell the iteration"):
        checkpoint.load_dir(str(tmp_path / "weights"))


def test_checksum_sees_every_value():
    state = {"a": np.zeros(3, np.float32), "b": paddle.ones([2]), "table": {"a": "x"}}
    same = {"a": np.zeros(3, np.float32), "b": paddle.ones([2])}
    changed = {"a": np.array([0, 0, 1e-30], np.float32), "b": paddle.ones([2])}
    assert checkpoint.checksum(state) == checkpoint.checksum(same) != checkpoint.checksum(changed)
