"""List every registered component with its constructor signature (what `type:` accepts), the built-in
configs that `--config NAME` accepts and the shipped models that `--model NAME` accepts."""
import argparse
import inspect

from paddleseg_lite.cvlibs import manager
from paddleseg_lite import pretrained
from paddleseg_lite.cvlibs.builtin_configs import builtin_configs
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import did_you_mean

CONFIGS, MODELS = "configs", "pretrained"


def describe(component):
    target = component.__init__ if inspect.isclass(component) else component
    params = list(inspect.signature(target).parameters.values())
    if inspect.isclass(component):
        params = params[1:]
    return "{}({})".format(component.__name__, ", ".join(str(p) for p in params))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="List registered components and built-in configs")
    parser.add_argument("registry", nargs="?", default=None,
                        help="only this registry (models, losses, ...), '{}' or '{}'".format(CONFIGS, MODELS))
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    choices = [registry.name for registry in manager.ALL] + [CONFIGS, MODELS]
    if args.registry is not None and args.registry not in choices:
        raise UserError("list {}: no such registry; choose one of {}.{}".format(
            args.registry, ", ".join(choices), did_you_mean(args.registry, choices)))
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
    if args.registry in (None, MODELS):
        print("{} ({}, for --model NAME):".format(MODELS, len(pretrained.names())))
        for name in pretrained.names():
            print("  " + name)
