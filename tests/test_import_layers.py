"""The layer order of .importlinter holds: no module imports from a layer above its own.

Checked with import-linter (static analysis of the import statements) on the package, and on a copy
of the package with one upward import added, to show the check fails when it should.
"""
import os
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def lint_imports(root):
    """Run import-linter on the package under `root` with the repository's contract."""
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"
    env = dict(os.environ, PYTHONPATH=root)
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def test_layers_point_down():
    proc = lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Layers point down only KEPT" in proc.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    shutil.copytree(os.path.join(ROOT, "paddleseg_lite"), tmp_path / "paddleseg_lite",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(ROOT, ".importlinter"), tmp_path)
    metrics = tmp_path / "paddleseg_lite" / "utils" / "metrics" / "arrays.py"
    metrics.write_text(metrics.read_text() + "\nfrom paddleseg_lite.core import checkpoint  # upward\n")
    proc = lint_imports(str(tmp_path))
    assert proc.returncode == 1
    assert "Layers point down only BROKEN" in proc.stdout
    assert "paddleseg_lite.utils.metrics.arrays -> paddleseg_lite.core.checkpoint" in proc.stdout
