"""Mutation testing of the core modules with mutmut (slow: not part of CI).

    python dev/mutation.py                        # mutate every module listed in setup.cfg [mutmut]
    python dev/mutation.py 'paddleseg_lite.utils.metrics.*'   # only these mutants (mutmut's name globs)
    python dev/mutation.py --report               # only print the table of the last run

Runs `python -m mutmut run` from the repository root (mutants are built under `mutants/`), then prints,
for each area of the code and each module, the number of mutants, how many the tests killed (a test
failed or timed out), how many survived, and the kill rate. Survivors are listed by
`python -m mutmut results`; `python -m mutmut show NAME` prints one as a diff. docs/testing.md holds
the measured rates and the survivors judged equivalent.
"""
import argparse
import collections
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
AREAS = (  # (area, module path prefix) in report order; the first matching prefix wins
    ("metrics", "paddleseg_lite/utils/metrics/"),
    ("losses", "paddleseg_lite/models/losses/"),
    ("config/builder", "paddleseg_lite/cvlibs/"),
    ("transforms", "paddleseg_lite/transforms/"),
    ("models", "paddleseg_lite/models/"),
    ("training/checkpoint", "paddleseg_lite/core/train.py"),
    ("training/checkpoint", "paddleseg_lite/core/checkpoint.py"),
    ("training/checkpoint", "paddleseg_lite/core/loader.py"),
    ("inference", "paddleseg_lite/core/infer.py"),
    ("inference", "paddleseg_lite/deploy/"),
)
KILLED = {1, 3, 36, 24, -24}   # mutmut's exit codes for "killed" and "timeout"
SURVIVED = {0}


def area_of(module):
    return next((area for area, prefix in AREAS if module.startswith(prefix)), "other")


def collect(mutants_dir):
    """{module: Counter(killed=, survived=, other=)} from mutmut's `*.py.meta` files."""
    counts = collections.defaultdict(collections.Counter)
    for folder, _, files in os.walk(mutants_dir):
        for name in (f for f in files if f.endswith(".py.meta")):
            path = os.path.join(folder, name)
            module = os.path.relpath(path, mutants_dir)[:-len(".meta")]
            with open(path) as f:
                codes = json.load(f)["exit_code_by_key"].values()
            for code in codes:
                kind = "killed" if code in KILLED else "survived" if code in SURVIVED else "other"
                counts[module][kind] += 1
    return counts


def _row(name, c):
    total = sum(c.values())
    rate = 100.0 * c["killed"] / total if total else 0.0
    return "| {} | {} | {} | {} | {} | {:.1f}% |".format(name, total, c["killed"], c["survived"], c["other"], rate)


def report(counts):
    """Markdown table: one row per area, then one per module."""
    areas = collections.defaultdict(collections.Counter)
    for module, c in counts.items():
        areas[area_of(module)].update(c)
    lines = ["| area / module | mutants | killed | survived | not run | kill rate |", "|---|---|---|---|---|---|"]
    lines += [_row("**{}**".format(a), areas[a]) for a in dict.fromkeys(a for a, _ in AREAS) if a in areas]
    lines += [_row(m, counts[m]) for m in sorted(counts, key=lambda m: (area_of(m), m))]
    total = collections.Counter()
    for c in counts.values():
        total.update(c)
    lines.append(_row("**all**", total))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mutants", nargs="*", help="mutmut mutant-name globs (default: all)")
    parser.add_argument("--report", action="store_true", help="only print the table of the last run")
    args = parser.parse_args(argv)
    if not args.report:
        subprocess.run([sys.executable, "-m", "mutmut", "run", *args.mutants], cwd=ROOT, check=False)
    print(report(collect(os.path.join(ROOT, "mutants"))))


if __name__ == "__main__":
    main()
