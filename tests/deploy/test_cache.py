"""deploy.cache: a checkpoint is exported once; changed weights or settings, and a corrupt entry, export
again; concurrent writers leave one complete entry; the cache stays bounded."""
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

from paddleseg_lite.deploy import cache
from paddleseg_lite.deploy.export import write_deploy_yaml
from paddleseg_lite.deploy.predictor import inference_model
from paddleseg_lite.models import UNet

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def tiny(seed=3, **kwargs):
    paddle.seed(seed)
    net = UNet(num_classes=2, base_channels=4, **kwargs)
    net.eval()
    return net


@pytest.fixture
def exports(monkeypatch):
    """Count the real exports made through the cache."""
    made, real = [], cache.export_model

    def counted(net, save_dir, **kwargs):
        made.append(save_dir)
        return real(net, save_dir, **kwargs)
    monkeypatch.setattr(cache, "export_model", counted)
    return made


def entries(root):
    return sorted(os.listdir(root))


def test_second_load_reuses_the_export_and_changes_export_again(exports, tmp_path):
    root, net = str(tmp_path), tiny()
    first, exported = cache.cached_export(net, root=root)
    assert exported and len(exports) == 1
    assert cache.cached_export(net, root=root) == (first, False) and len(exports) == 1
    assert cache.cached_export(tiny(), root=root) == (first, False)  # the same weights built again
    weight = net.parameters()[0]
    weight.set_value(weight.numpy() + 1e-6)
    assert cache.cached_export(net, root=root)[0] != first and len(exports) == 2  # a changed weight
    cache.cached_export(net, model_config={"type": "UNet", "align_corners": True}, root=root)
    cache.cached_export(net, output_op="argmax", root=root)
    assert len(exports) == 4 and len(entries(root)) == 4
    assert not [name for name in entries(root) if name.startswith(".")]  # no temporaries left


def test_a_forward_only_setting_is_part_of_the_key():
    assert cache.model_key(tiny(align_corners=True)) != cache.model_key(tiny(align_corners=False))


@pytest.mark.parametrize("damage", ["truncate", "manifest", "missing"])
def test_a_corrupt_entry_is_rebuilt(exports, tmp_path, damage):
    root, net = str(tmp_path), tiny()
    entry, _ = cache.cached_export(net, root=root)
    target = os.path.join(entry, "model.pdiparams" if damage != "manifest" else cache.MANIFEST)
    if damage == "missing":
        os.remove(target)
    else:
        with open(target, "r+b") as f:
            f.truncate(os.path.getsize(target) // 2)
    assert cache.cached_export(net, root=root) == (entry, True) and len(exports) == 2
    engine = inference_model(net, precision="fp32", cache_dir=root)  # the rebuilt entry runs
    x = np.random.RandomState(0).uniform(-1, 1, (1, 3, 32, 32)).astype("float32")
    with paddle.no_grad():
        want = net(paddle.to_tensor(x))[0].numpy()
    np.testing.assert_allclose(engine(paddle.to_tensor(x))[0].numpy(), want, atol=1e-4, rtol=0)
    assert len(exports) == 2


def test_the_cache_keeps_the_most_recently_used_entries(monkeypatch, tmp_path):
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)
    monkeypatch.setattr(cache, "export_model", lambda net, save_dir, **kwargs: write_deploy_yaml(save_dir, []) and [
        open(os.path.join(save_dir, name), "w").close() for name in ("model.pdmodel", "model.pdiparams")])
    root = str(tmp_path)
    os.makedirs(os.path.join(root, ".tmp-crashed"))
    os.utime(os.path.join(root, ".tmp-crashed"), (0, 0))  # a crashed writer's leftover, long ago
    made = [cache.cached_export(tiny(seed), root=root)[0] for seed in (1, 2)]
    os.utime(made[1], (1, 1))
    cache.cached_export(tiny(1), root=root)  # used again: the most recent
    third = cache.cached_export(tiny(3), root=root)[0]
    assert entries(root) == sorted(os.path.basename(p) for p in (made[0], third))


WRITER = """
import sys
sys.path.insert(0, {root!r})
import paddle
from paddleseg_lite.deploy import cache
from paddleseg_lite.models import UNet
paddle.seed(3)
net = UNet(num_classes=2, base_channels=4)
net.eval()
print(cache.cached_export(net, root=sys.argv[1])[0])
"""


def test_concurrent_writers_leave_one_complete_entry(tmp_path):
    root = str(tmp_path)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER.format(root=ROOT), root], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in outs]
    paths = {out.strip().splitlines()[-1] for out, _ in outs}
    assert len(paths) == 1 and entries(root) == [os.path.basename(paths.pop())]
    net = tiny()
    assert cache.cached_export(net, root=root)[1] is False  # complete: every checksum matches
