"""List every registered component with its constructor signature (what `type:` accepts)."""
import argparse
import inspect
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cvlibs import builder, manager  # noqa: E402


def describe(component):
    target = component.__init__ if inspect.isclass(component) else component
    params = list(inspect.signature(target).parameters.values())
    if inspect.isclass(component):
        params = params[1:]
    return "{}({})".format(component.__name__, ", ".join(str(p) for p in params))


def main(argv=None):
    parser = argparse.ArgumentParser(description="List registered components")
    parser.add_argument("registry", nargs="?", default=None, help="only this registry (models, losses, ...)")
    args = parser.parse_args(argv)
    builder._import_components()
    for registry in manager.ALL:
        if args.registry and registry.name != args.registry:
            continue
        print("{} ({}):".format(registry.name, len(registry)))
        for name in sorted(registry.components_dict):
            print("  " + describe(registry[name]))


if __name__ == "__main__":
    cli.run(main)
