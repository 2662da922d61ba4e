"""What every fault-injection case asserts about a tool run that met bad input (tests/faults/)."""
import os
import subprocess
import sys

from tool_runner import ENV, ROOT


def run_tool_args(tool, *args, timeout=180, env=None):
    """Run tools/<tool>.py with exactly `args` (no config or flags added); returns the CompletedProcess."""
    cmd = [sys.executable, os.path.join(ROOT, "tools", tool + ".py"), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env or ENV)


def assert_one_error(result, *names):
    """Exit code 2, exactly one `error:` line on stderr naming each of `names`, no traceback anywhere;
    returns the line."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1, (result.returncode, output[-3000:])
    for name in names:
        assert name in errors[0], (name, errors[0])
    return errors[0]


def leftover_temps(root):
    """Paths under `root` of temporary files or directories a write left behind (`.tmp` in the name)."""
    found = []
    for directory, dirs, files in os.walk(root):
        found += [os.path.join(directory, n) for n in dirs + files if ".tmp" in n]
    return found
