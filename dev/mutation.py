"""Mutation testing of the core modules with mutmut (slow: not part of CI). See docs/testing.md.

    python dev/mutation.py                      # every area, one after the other
    python dev/mutation.py metrics losses       # only these areas
    python dev/mutation.py --report             # the table of the last runs

Each area (AREAS below: the modules to mutate and the tests that check them) runs in its own scratch
copy of the repository under `.mutation/<area>/` with a `setup.cfg` written for it, so the working
tree is never touched and one area's mutants cannot break another area's tests (mutmut wraps every
function it mutates; wrapped model code, for one, cannot be exported by `paddle.jit`). Survivors:
`cd .mutation/<area> && python -m mutmut results`, and `python -m mutmut show NAME` for one diff.
The table gives, per module, the mutants, how many the tests killed (a test failed or timed out),
how many survived, how many did not run, and the kill rate.
"""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
WORK = os.path.join(ROOT, ".mutation")
COPY = ("paddleseg_lite", "tests", "configs", "tools", "deploy", "pytest.ini", ".importlinter")
AREAS = {  # area: (modules to mutate, tests that check them)
    "metrics": (["paddleseg_lite/utils/metrics/*"], ["tests/utils/test_metrics.py"]),
    "rules": (["paddleseg_lite/utils/labels.py", "paddleseg_lite/utils/validate.py"],
              ["tests/utils/test_labels.py", "tests/utils/test_validate.py"]),
    "losses": (["paddleseg_lite/models/losses/*"], ["tests/models/test_losses.py", "tests/models/test_loss_utils.py",
                                                     "tests/models/test_border_weight_map.py",
                                                     "tests/models/test_loss_set.py"]),
    "config/builder": (["paddleseg_lite/cvlibs/*", "paddleseg_lite/registry.py"], ["tests/cvlibs"]),
    "transforms": (["paddleseg_lite/transforms/*"], ["tests/transforms"]),
    "models": ([f"paddleseg_lite/models/{m}.py" for m in ("base", "unet", "attention_unet", "unet_plusplus",
                                                         "res_unet", "layers", "checkpoint_io")],
               ["tests/models/test_unet.py", "tests/models/test_model_family.py", "tests/models/test_layers.py",
                "tests/models/test_checkpoint_io.py", "tests/models/test_reference_outputs.py"]),
    "training/checkpoint": ([f"paddleseg_lite/core/{m}.py" for m in ("trainer", "steps", "train_log", "distributed",
                                                                    "train", "checkpoint", "checkpoint_files", "loader",
                                                                    "restore")],
                            ["tests/faults/test_resume_faults.py", "tests/core/test_train.py", "tests/core/test_checkpoint.py", "tests/core/test_loader.py",
                             "tests/core/test_steps.py", "tests/core/test_distributed.py"]),
    "inference": (["paddleseg_lite/core/infer.py", "paddleseg_lite/core/inference_options.py",
                   "paddleseg_lite/core/memory.py", "paddleseg_lite/deploy/predictor.py"],
                  ["tests/core/test_infer.py", "tests/core/test_inference_options.py", "tests/core/test_predict.py",
                   "tests/deploy", "tests/faults/test_memory_faults.py"]),
}
KILLED = {1, 3, 36, 24, -24}  # mutmut's exit codes for "killed" and "timeout"
SURVIVED = {0}


def _lines(key, values):
    return "{} =\n{}\n".format(key, "".join("    {}\n".format(v) for v in values))


def prepare(area):
    """A fresh scratch copy of the repository for `area`, with its mutmut section; returns its path."""
    modules, tests = AREAS[area]
    path = os.path.join(WORK, area.replace("/", "_"))
    shutil.rmtree(path, ignore_errors=True)
    for name in COPY:
        src, dst = os.path.join(ROOT, name), os.path.join(path, name)
        if os.path.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(src, dst)
    with open(os.path.join(path, "setup.cfg"), "w") as f:
        f.write("[mutmut]\nsource_paths = paddleseg_lite\n" + _lines("only_mutate", modules)
                + _lines("also_copy", ["configs", "tools", "deploy"])
                + _lines("pytest_add_cli_args_test_selection", tests))
    return path


def collect(path):
    """{module: Counter(killed=, survived=, other=)} from the `*.py.meta` files of a run in `path`."""
    counts = collections.defaultdict(collections.Counter)
    mutants = os.path.join(path, "mutants")
    for folder, _, files in os.walk(mutants):
        for name in (f for f in files if f.endswith(".py.meta")):
            meta = os.path.join(folder, name)
            with open(meta) as f:
                codes = json.load(f)["exit_code_by_key"].values()
            module = os.path.relpath(meta, mutants)[:-len(".meta")]
            for code in codes:
                counts[module][
                    "killed" if code in KILLED else "survived" if code in SURVIVED else "other"] += 1
    return counts


def _row(name, c):
    total = sum(c.values())
    rate = 100.0 * c["killed"] / total if total else 0.0
    return "| {} | {} | {} | {} | {} | {:.1f}% |".format(name, total, c["killed"], c["survived"], c["other"], rate)


def report(areas):
    """Markdown table: per area of the last runs, its total, then one row per module."""
    lines = ["| area / module | mutants | killed | survived | not run | kill rate |", "|---|---|---|---|---|---|"]
    for area in areas:
        counts = collect(os.path.join(WORK, area.replace("/", "_")))
        if not counts:
            continue
        total = collections.Counter()
        for c in counts.values():
            total.update(c)
        lines.append(_row("**{}**".format(area), total))
        lines += [_row(module, counts[module]) for module in sorted(counts)]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("areas", nargs="*", help="areas to run: {} (default: all)".format(", ".join(AREAS)))
    parser.add_argument("--report", action="store_true", help="only print the table of the last runs")
    args = parser.parse_args(argv)
    unknown = [a for a in args.areas if a not in AREAS]
    if unknown:
        parser.error("unknown area(s) {}; choose from {}".format(", ".join(unknown), ", ".join(AREAS)))
    areas = args.areas or list(AREAS)
    if not args.report:
        for area in areas:
            subprocess.run([sys.executable, "-m", "mutmut", "run"], cwd=prepare(area), check=False)
    print(report(areas))


if __name__ == "__main__":
    main()
