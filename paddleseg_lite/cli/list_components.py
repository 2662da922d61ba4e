"""List every registered component with its constructor signature (what `type:` accepts), and the
built-in configs that `--config NAME` accepts."""
import argparse
import inspect

from paddleseg_lite.cvlibs import manager
from paddleseg_lite.cvlibs.builtin_configs import builtin_configs

CONFIGS = "configs"


def describe(component):
    target = component.__init__ if inspect.isclass(component) else component
    params = list(inspect.signature(target).parameters.values())
    if inspect.isclass(component):
        params = params[1:]
    return "{}({})".format(component.__name__, ", ".join(str(p) for p in params))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="List registered components and built-in configs")
    parser.add_argument("registry", nargs="?", default=None,
                        help="only this registry (models, losses, ...) or '{}'".format(CONFIGS))
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for registry in manager.ALL:
        if args.registry and registry.name != args.registry:
            continue
        print("{} ({}):".format(registry.name, len(registry)))
        for name in sorted(registry.components_dict):
            print("  " + describe(registry[name]))
    if args.registry in (None, CONFIGS):
        names = list(builtin_configs())
        print("{} ({}, for --config NAME):".format(CONFIGS, len(names)))
        for name in names:
            print("  " + name)
