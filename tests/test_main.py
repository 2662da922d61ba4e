"""`paddleseg_lite <command>` / `python -m paddleseg_lite`: the command list without loading Paddle, each
command with the flags of its tools/*.py, one error line for an unknown command."""
import os
import re
import subprocess
import sys

import pytest

from paddleseg_lite.utils.errors import UserError
from tool_runner import ENV, ROOT

COMMANDS = ["train", "val", "predict", "export", "infer", "list", "print-config", "check-data", "prepare-dataset",
            "prepare-drive", "split-dataset", "cross-validate", "convert-labels", "make-synthetic-data", "quickstart"]


def run_main(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "paddleseg_lite", *args], capture_output=True, text=True,
                          cwd=cwd, env=dict(ENV, PYTHONPATH=ROOT), timeout=120)


def test_help_lists_every_command_without_importing_paddle():
    code = ("import sys; from paddleseg_lite.__main__ import main; rc = main(['--help']); "
            "print('paddle imported:', 'paddle' in sys.modules); sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=ENV)
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^  (\S+)  +\S.*$", result.stdout, re.M)  # `  name   description`
    assert listed == COMMANDS
    assert result.stdout.rstrip().endswith("paddle imported: False")


@pytest.mark.parametrize("word, hint", [("trian", " Did you mean 'train'?"), ("frobnicate", "")])
def test_an_unknown_command_is_one_error_line(word, hint):
    result = run_main(word, "--config", "x")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "error: unknown command '{}'.{} `paddleseg_lite --help` lists the commands\n".format(
        word, hint)


def option_strings(help_text):
    return set(re.findall(r"(?<![\w-])--\w+", help_text))


def test_a_command_has_the_flags_of_its_tool():
    result = run_main("infer", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: paddleseg_lite infer ")
    wrapper = subprocess.run([sys.executable, os.path.join(ROOT, "deploy", "python", "infer.py"), "--help"],
                             capture_output=True, text=True, cwd="/", env=ENV, timeout=120)  # from any directory
    assert wrapper.returncode == 0, wrapper.stderr
    assert wrapper.stdout.startswith("usage: infer.py ")
    flags = option_strings(result.stdout)
    assert flags == option_strings(wrapper.stdout) and {"--config", "--image_path", "--use_trt"} <= flags


def test_a_user_error_is_one_line_and_a_built_in_config_works_from_any_directory(tmp_path):
    result = run_main("print-config", "--config", "quickstart/unet_synthetic_vessels", "--opts", "iters=3",
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^iters: 3$", result.stdout, re.M) and re.search(r"^iters +--opts$", result.stdout, re.M)
    result = run_main("print_config", "--config", "quickstart/unet_synthetic", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "error: --config quickstart/unet_synthetic: no such file and no built-in config of that name; close built-in "
        "names: quickstart/unet_synthetic_vessels (`paddleseg_lite list configs` lists them)"]


def test_list_shows_the_shipped_models_and_refuses_an_unknown_registry(capsys):
    from paddleseg_lite.cli import list_components
    list_components.main(["pretrained"])
    assert capsys.readouterr().out.splitlines() == ["pretrained (1, for --model NAME):", "  drive_unet_cpu"]
    with pytest.raises(UserError, match="list model: no such registry.*Did you mean 'models'"):
        list_components.main(["model"])
