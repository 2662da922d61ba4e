"""Atomic checkpoint directories, recovery after a killed writer, and --resume_model auto's choice."""
import hashlib
import logging
import os
import re
import shutil

import numpy as np
import paddle
import pytest

from paddleseg_lite.core import checkpoint, checkpoint_files
from paddleseg_lite.utils.errors import UserError


def write(path, value):
    checkpoint_files.write_dir(str(path), {"model.pdparams": {"w": paddle.to_tensor([value])},
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
    checkpoint_files.recover(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["best_model"]


def test_recover_restores_a_directory_moved_aside_before_the_replacement_arrived(tmp_path):
    write(tmp_path / "best_model", 1.0)
    os.replace(tmp_path / "best_model", tmp_path / ".tmp-best_model-0123abcd.old")
    (tmp_path / ".tmp-best_model-0123abcd").mkdir()  # the unfinished replacement
    checkpoint_files.recover(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["best_model"]
    assert weight(tmp_path / "best_model") == 1.0


def test_auto_resume_takes_the_newest_loadable_checkpoint(tmp_path):
    for it in (2, 4, 10):
        write(tmp_path / "iter_{}".format(it), float(it))
    os.remove(tmp_path / "iter_10" / "model.pdopt")  # incomplete: ignored
    (tmp_path / "iter_12").mkdir()
    write(tmp_path / "iter_16", 16.0)
    (tmp_path / "iter_16" / "model.pdparams").write_bytes(b"truncated")  # corrupt: skipped
    assert checkpoint_files.candidates(str(tmp_path)) == [str(tmp_path / "iter_16"), str(tmp_path / "iter_4"),
                                                          str(tmp_path / "iter_2")]
    model_state, _, states, path = checkpoint_files.load_latest(str(tmp_path))
    assert path == str(tmp_path / "iter_4") and states["iter"] == 4
    assert checkpoint_files.load_latest(str(tmp_path / "empty")) is None


def test_an_explicit_corrupt_checkpoint_is_a_user_error(tmp_path):
    write(tmp_path / "iter_2", 2.0)
    (tmp_path / "iter_2" / "model.pdopt").write_bytes(b"")
    with pytest.raises(UserError, match="Cannot read the optimizer state .*iter_2"):
        checkpoint_files.load_dir(str(tmp_path / "iter_2"))
    write(tmp_path / "weights", 1.0)
    os.remove(tmp_path / "weights" / "model.pdstates")
    with pytest.raises(UserError) as error:
        checkpoint_files.load_dir(str(tmp_path / "weights"))
    assert str(error.value) == "--resume_model {}: cannot tell the iteration (name it iter_N)".format(
        tmp_path / "weights")


def test_checksum_sees_every_value():
    state = {"a": np.zeros(3, np.float32), "b": paddle.ones([2]), "table": {"a": "x"}}
    same = {"a": np.zeros(3, np.float32), "b": paddle.ones([2])}
    changed = {"a": np.array([0, 0, 1e-30], np.float32), "b": paddle.ones([2])}
    assert checkpoint_files.checksum(state) == checkpoint_files.checksum(same) != checkpoint_files.checksum(changed)


def test_iteration_numbers_come_from_iter_n_names_only():
    assert checkpoint_files.iter_of("out/iter_12/") == 12
    assert checkpoint_files.iter_of("iter_007") == 7
    for name in ("best_model", "iter_", "iter_3a", "xiter_3", "out/iter_x"):
        assert checkpoint_files.iter_of(name) is None


def test_a_checkpoint_needs_weights_and_optimizer_but_not_states(tmp_path):
    write(tmp_path / "iter_7", 7.0)
    os.remove(tmp_path / "iter_7" / "model.pdstates")
    model_state, opt_state, states, path = checkpoint_files.load_dir(str(tmp_path / "iter_7"))
    assert (float(model_state["w"].numpy()[0]), opt_state, states, path) == (7.0, {"lr": 7.0}, {"iter": 7},
                                                                           str(tmp_path / "iter_7"))
    assert checkpoint_files.candidates(str(tmp_path)) == [str(tmp_path / "iter_7")]
    os.remove(tmp_path / "iter_7" / "model.pdparams")
    assert checkpoint_files.candidates(str(tmp_path)) == []
    with pytest.raises(UserError) as error:
        checkpoint_files.load_dir(str(tmp_path / "iter_7"))
    assert str(error.value) == "--resume_model {}: missing model.pdparams; it is not a complete checkpoint".format(
        tmp_path / "iter_7")


def test_candidates_sort_by_iteration_number_not_by_name(tmp_path):
    for it in (9, 10, 100):
        write(tmp_path / "iter_{}".format(it), float(it))
    write(tmp_path / "best_model", 1.0)
    assert checkpoint_files.candidates(str(tmp_path)) == [str(tmp_path / "iter_{}".format(it)) for it in (100, 10, 9)]


def test_load_errors_name_the_file_and_what_it_holds(tmp_path):
    with pytest.raises(UserError) as error:
        checkpoint_files.load_dir(str(tmp_path / "iter_1"))
    assert str(error.value) == "--resume_model {}: directory not found (expected e.g. output/iter_500, or " \
                               "'auto')".format(tmp_path / "iter_1")
    write(tmp_path / "iter_2", 2.0)
    paddle.save([1, 2], str(tmp_path / "iter_2" / "model.pdparams"))
    with pytest.raises(UserError) as error:
        checkpoint_files.load_dir(str(tmp_path / "iter_2"))
    assert str(error.value) == ("Cannot read the model weights {}: it holds a list, not a dict. Delete the "
                                "checkpoint or resume from another one".format(tmp_path / "iter_2" / "model.pdparams"))
    (tmp_path / "iter_2" / "model.pdstates").write_bytes(b"")
    paddle.save({"w": 1}, str(tmp_path / "iter_2" / "model.pdparams"))
    with pytest.raises(UserError) as error:
        checkpoint_files.load_dir(str(tmp_path / "iter_2"))
    message = str(error.value)
    assert message.startswith("Cannot read the training state {}: ".format(tmp_path / "iter_2" / "model.pdstates"))
    assert message.endswith(". Delete the checkpoint or resume from another one") and "\n" not in message


def test_auto_resume_warns_about_each_skipped_checkpoint(tmp_path):
    write(tmp_path / "iter_2", 2.0)
    write(tmp_path / "iter_4", 4.0)
    (tmp_path / "iter_4" / "model.pdopt").write_bytes(b"junk")
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logging.getLogger("paddleseg_lite").addHandler(handler)
    try:
        assert checkpoint_files.load_latest(str(tmp_path))[3] == str(tmp_path / "iter_2")
    finally:
        logging.getLogger("paddleseg_lite").removeHandler(handler)
    assert len(messages) == 1
    assert messages[0].startswith("--resume_model auto: skipping {}: Cannot read the optimizer state {}".format(
        tmp_path / "iter_4", tmp_path / "iter_4" / "model.pdopt"))


def test_recover_removes_leftovers_and_keeps_what_it_does_not_own(tmp_path):
    write(tmp_path / "iter_2", 2.0)
    write(tmp_path / ".tmp-iter_2-89abcdef.old", 1.0)  # moved aside, but iter_2 arrived: stale
    write(tmp_path / ".tmp-iter_4-01234567", 4.0)  # an unfinished write
    (tmp_path / ".tmp-a-notes").mkdir()  # not a name the writer makes (and sorted first)
    checkpoint_files.recover(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == [".tmp-a-notes", "iter_2"]
    assert weight(tmp_path / "iter_2") == 2.0


def test_write_dir_creates_missing_parents(tmp_path):
    write(tmp_path / "a" / "b" / "iter_1", 1.0)
    assert sorted(os.listdir(tmp_path / "a" / "b" / "iter_1")) == ["model.pdopt", "model.pdparams", "model.pdstates"]
    assert paddle.load(str(tmp_path / "a" / "b" / "iter_1" / "model.pdstates")) == {"iter": 1}


def test_checksum_is_sha256_of_sorted_names_dtypes_and_bytes():
    a, b = np.arange(3, dtype=np.float32), np.array([[1, 2]], np.int64)
    expected = hashlib.sha256(b"a" + b"float32" + a.tobytes() + b"b" + b"int64" + b.tobytes()).hexdigest()[:16]
    assert checkpoint_files.checksum({"b": paddle.to_tensor(b), "a": a, "step": 3}) == expected
    assert checkpoint_files.checksum({"a": np.zeros(2, np.float32)}) != checkpoint_files.checksum(
        {"a": np.zeros(2, np.int32)})
    assert checkpoint_files.checksum({"a": a}) != checkpoint_files.checksum({"c": a})


def test_a_directory_without_both_files_names_both(tmp_path):
    (tmp_path / "iter_3").mkdir()
    with pytest.raises(UserError) as error:
        checkpoint_files.load_dir(str(tmp_path / "iter_3"))
    assert str(error.value) == ("--resume_model {}: missing model.pdparams, model.pdopt; it is not a complete "
                                "checkpoint".format(tmp_path / "iter_3"))


@pytest.mark.parametrize("exception, shown", [
    (ValueError(""), "ValueError (corrupt file)"),
    (EOFError("Ran out of input\nmore detail"), "EOFError (Ran out of input)"),
    (RuntimeError("x" * 300), "RuntimeError ({})".format("x" * 200))])
def test_an_unreadable_file_shows_the_error_type_and_its_first_line(tmp_path, monkeypatch, exception, shown):
    write(tmp_path / "iter_2", 2.0)

    def failing_load(path):
        raise exception

    monkeypatch.setattr(paddle, "load", failing_load)
    with pytest.raises(UserError) as error:
        checkpoint_files.load_dir(str(tmp_path / "iter_2"))
    assert str(error.value) == ("Cannot read the model weights {}: {}. Delete the checkpoint or resume from "
                                "another one".format(tmp_path / "iter_2" / "model.pdparams", shown))


def test_a_writer_dying_between_the_two_renames_is_recovered(tmp_path, monkeypatch):
    """write_dir fills `.tmp-<name>-<8 hex>` next to the target, moves the old directory to `<that>.old`, then
    renames; killed after the first rename, `recover` puts the old checkpoint back."""
    write(tmp_path / "best_model", 1.0)
    real_replace, renames = os.replace, []

    def dying_replace(src, dst):
        renames.append((os.path.basename(src), os.path.basename(dst)))
        if len(renames) == 2:
            raise KeyboardInterrupt  # stands for the process being killed here
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        write(tmp_path / "best_model", 2.0)
    monkeypatch.undo()
    (old, moved), (tmp, target) = renames
    assert re.fullmatch(r"\.tmp-best_model-[0-9a-f]{8}", tmp) and (old, moved, target) == ("best_model", tmp + ".old",
                                                                                          "best_model")
    assert sorted(os.listdir(tmp_path)) == [tmp, tmp + ".old"]
    checkpoint_files.recover(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["best_model"]
    assert weight(tmp_path / "best_model") == 1.0


class OneWeight(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.w = self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(1.0))


def test_manager_defaults_and_a_pruned_checkpoint_already_gone(tmp_path):
    manager = checkpoint.CheckpointManager(str(tmp_path))
    assert (manager.keep_checkpoint_max, manager.metric_name, manager.early_stop_intervals, manager.rank) == (
        5, "mIoU", None, 0)
    model = OneWeight()
    optimizer = paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters())
    one = checkpoint.CheckpointManager(str(tmp_path), keep_checkpoint_max=1)
    one.save(1, model, optimizer, {})
    shutil.rmtree(tmp_path / "iter_1")  # deleted by hand while training: pruning it later is no error
    one.save(2, model, optimizer, {})
    assert os.listdir(tmp_path) == ["iter_2"]


def test_resuming_a_checkpoint_without_states_starts_the_best_bookkeeping_afresh(tmp_path):
    model = OneWeight()
    optimizer = paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters())
    checkpoint_files.write_dir(str(tmp_path / "iter_3"), {"model.pdparams": model.state_dict(),
                                                          "model.pdopt": optimizer.state_dict()})
    manager = checkpoint.CheckpointManager(str(tmp_path), early_stop_intervals=1)
    assert manager.restore("auto", model, optimizer) == {"iter": 3}
    assert (manager.best, manager.best_iter, manager.worse_count, manager.should_stop()) == (-1.0, -1, 0, False)
    manager.save(4, model, optimizer, {}, eval_pending=True)
    assert paddle.load(str(tmp_path / "iter_4" / "model.pdstates"))["eval_pending"] is True
    manager.record_evaluation(4, model, optimizer, {"mIoU": 0.5}, {})
    assert (manager.best, manager.best_iter, manager.worse_count) == (0.5, 4, 0)
    states = paddle.load(str(tmp_path / "iter_4" / "model.pdstates"))
    assert "eval_pending" not in states and (states["mIoU"], states["best_iter"]) == (0.5, 4)
    assert paddle.load(str(tmp_path / "best_model" / "model.pdstates")) == states
    assert sorted(os.listdir(tmp_path / "iter_4")) == ["model.pdopt", "model.pdparams", "model.pdstates"]
