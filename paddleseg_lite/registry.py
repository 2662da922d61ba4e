"""Component registries, the package's ground floor: YAML `type: Name` is looked up here.

Every model, backbone, dataset, transform and loss registers itself with a decorator, e.g.
``@MODELS.add_component``. Registering a name twice is an error (pass ``force=True`` to replace on
purpose); looking up an unknown name lists close matches.

This module imports nothing of the package. A registry names the packages whose modules register
into it (`locations`) and imports them on its first lookup, so that `type: UNet` resolves without
the caller importing `paddleseg_lite.models` first (MMEngine's registry `locations`).
`paddleseg_lite.cvlibs.manager` is the same module under PaddleSeg's name.
"""
import difflib
import importlib
import inspect


class ComponentManager:
    """A named mapping from component name to class or function.

    Args:
        name (str): The registry name shown in error messages, e.g. "models".
        locations (list[str]): Packages imported on the first lookup, so that their components are
            registered (e.g. ["paddleseg_lite.models"]).
    """

    def __init__(self, name, locations=()):
        self.name = name
        self.locations = list(locations)
        self._components = {}

    def _import_locations(self):
        while self.locations:
            importlib.import_module(self.locations.pop(0))

    def __len__(self):
        self._import_locations()
        return len(self._components)

    def __contains__(self, key):
        self._import_locations()
        return key in self._components

    def __repr__(self):
        return "{}:{}".format(self.name, sorted(self._components))

    def __getitem__(self, key):
        self._import_locations()
        if key not in self._components:
            raise KeyError(self.unknown_message(key))
        return self._components[key]

    @property
    def components_dict(self):
        self._import_locations()
        return dict(self._components)

    def unknown_message(self, key):
        """Say that `key` is not registered, with close matches if any."""
        close = difflib.get_close_matches(str(key), self._components, n=3, cutoff=0.6)
        hint = " Did you mean {}?".format(" or ".join(close)) if close else ""
        return "'{}' is not in the {} registry.{} Registered: {}".format(
            key, self.name, hint, ", ".join(sorted(self._components)))

    def add_component(self, components=None, force=False):
        """Register a class/function (or a list of them); usable as a decorator.

        ``@REG.add_component``, ``@REG.add_component(force=True)`` and
        ``REG.add_component([A, B])`` all work.
        """
        if components is None:
            return lambda obj: self.add_component(obj, force=force)
        if isinstance(components, (list, tuple)):
            for component in components:
                self._add_single(component, force)
        else:
            self._add_single(components, force)
        return components

    def _add_single(self, component, force):
        if not (inspect.isclass(component) or inspect.isfunction(component)):
            raise TypeError("Expect class/function type, but received {}".format(type(component)))
        name = component.__name__
        old = self._components.get(name)
        if old is not None and old is not component and not force:
            raise KeyError("{} '{}' is already registered by {}; {}.{} registers the same name. "
                           "Rename one, or pass force=True to replace it.".format(
                               self.name, name, old.__module__, component.__module__, name))
        self._components[name] = component


MODELS = ComponentManager("models", ["paddleseg_lite.models"])
BACKBONES = ComponentManager("backbones", ["paddleseg_lite.models"])
DATASETS = ComponentManager("datasets", ["paddleseg_lite.datasets"])
TRANSFORMS = ComponentManager("transforms", ["paddleseg_lite.transforms"])
LOSSES = ComponentManager("losses", ["paddleseg_lite.models.losses"])

ALL = (MODELS, BACKBONES, DATASETS, TRANSFORMS, LOSSES)


def find(name):
    """Return (registry, component) for `name`, searching every registry in order.

    Raises:
        KeyError: naming close matches over all registries.
    """
    for registry in ALL:
        if name in registry:
            return registry, registry[name]
    every = [n for reg in ALL for n in reg.components_dict]
    close = difflib.get_close_matches(str(name), every, n=3, cutoff=0.6)
    hint = " Did you mean {}?".format(" or ".join(close)) if close else ""
    raise KeyError("Unknown type '{}'.{} Run `python tools/list_components.py` to see all.".format(name, hint))
