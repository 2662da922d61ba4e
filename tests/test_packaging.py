"""A non-editable install is a product without the clone: a wheel of this checkout, installed into an empty
folder, runs `python -m paddleseg_lite`, the `paddleseg_lite` console script and a short training on a
built-in config, from an empty working directory where only the installed package can be imported."""
import os
import shutil
import subprocess
import sys

import pytest

from tool_runner import ENV, ROOT, TINY


def pip(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, cwd=cwd,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(site folder, empty working directory, environment) of the wheel installed with `pip --target`."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"  # a copy, so that the build leaves nothing (build/, *.egg-info) in the checkout
    shutil.copytree(os.path.join(ROOT, "paddleseg_lite"), source / "paddleseg_lite",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), source)
    pip("wheel", "--no-deps", "-q", "-w", str(root / "wheel"), str(source), cwd=root)
    wheel, = (root / "wheel").iterdir()
    site = root / "site"
    pip("install", "--no-deps", "-q", "--target", str(site), str(wheel), cwd=root)
    cwd = root / "empty"
    cwd.mkdir()
    return site, cwd, dict(ENV, PYTHONPATH=str(site))


def run(installed, *cmd, timeout=120):
    site, cwd, env = installed
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def test_only_the_installed_package_is_imported(installed):
    site = installed[0]
    code = "import os, paddleseg_lite; print(os.path.dirname(paddleseg_lite.__file__))"
    result = run(installed, sys.executable, "-c", code)
    assert result.stdout.strip() == str(site / "paddleseg_lite"), result.stderr


@pytest.mark.parametrize("launcher", ["module", "console script"])
def test_the_command_line_answers(installed, launcher):
    cmd = [sys.executable, "-m", "paddleseg_lite"] if launcher == "module" else [str(installed[0] / "bin" /
                                                                                      "paddleseg_lite")]
    result = run(installed, *cmd, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: paddleseg_lite <command> [flags]")
    assert "\n  quickstart " in result.stdout


def test_train_on_a_built_in_config_from_an_empty_directory(installed):
    result = run(installed, str(installed[0] / "bin" / "paddleseg_lite"), "train", "--config",
                 "quickstart/unet_synthetic_vessels", "--iters", "4", "--device", "cpu", "--save_dir", "out",
                 "--opts", *TINY, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (installed[1] / "out" / "iter_4" / "model.pdparams").is_file()
    assert sorted(os.listdir(installed[1])) == ["out"]
