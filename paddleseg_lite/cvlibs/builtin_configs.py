"""`--config`: a YAML file path, or the name of a config shipped inside the package.

The configs live in `paddleseg_lite/configs/` (a clone has a `configs` symlink to them), so a user who
installed the package with pip has them too: `--config quickstart/unet_synthetic_vessels` (with or
without `.yml`, with or without a leading `configs/`, so the commands of the README work from any
directory). A file that exists wins over a built-in of the same name. `_base_` entries stay paths
relative to the including file (`cvlibs.config_file.load_yaml`).
"""
import difflib
import os

from paddleseg_lite.utils.errors import UserError

BUILTIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
_EXTENSIONS = (".yml", ".yaml")
CONFIG_HELP = "a YAML config file, or the name of a built-in config (`paddleseg_lite list configs` lists them)"


def builtin_configs():
    """{name: file} of the shipped configs (`drive_cpu/unet_drive_cpu`, ...), in name order; `_base_` files,
    which are parts of configs rather than runs, are left out."""
    found = {}
    for folder, dirs, files in os.walk(BUILTIN_DIR):
        dirs[:] = [d for d in dirs if not d.startswith("_")]
        rel = os.path.relpath(folder, BUILTIN_DIR)
        for file in files:
            if file.endswith(_EXTENSIONS):
                name = os.path.normpath(os.path.join(rel, os.path.splitext(file)[0])).replace(os.sep, "/")
                found[name] = os.path.join(folder, file)
    return dict(sorted(found.items()))


def _builtin_name(value):
    """`value` as a built-in name: separators normalised, without a leading `configs/` or the extension."""
    name = value.replace("\\", "/")
    if name.startswith("configs/"):
        name = name[len("configs/"):]
    root, ext = os.path.splitext(name)
    return root if ext in _EXTENSIONS else name


def resolve_config(value, flag="--config"):
    """The YAML file `value` names: itself when it is a file, else the built-in config of that name.

    Raises:
        UserError: naming `flag`, the value and the closest built-in names, when it is neither.
    """
    if os.path.isfile(value):
        return value
    found = find_builtin(value)
    if found:
        return found
    names = list(builtin_configs())
    close = difflib.get_close_matches(_builtin_name(str(value)), names, n=3, cutoff=0.5)
    hint = "close built-in names: {}".format(", ".join(close)) if close else "built-in names: {}".format(
        ", ".join(names))
    raise UserError("{} {}: no such file and no built-in config of that name; {} (`paddleseg_lite list configs` "
                    "lists them)".format(flag, value, hint))


def find_builtin(value):
    """The file of the built-in config `value` (`drive_cpu/unet_drive_cpu`, with or without `configs/` or
    `.yml`), or None."""
    return builtin_configs().get(_builtin_name(str(value)))
