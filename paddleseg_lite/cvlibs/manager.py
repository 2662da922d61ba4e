"""PaddleSeg's name for the registries (`from paddleseg_lite.cvlibs import manager`): the objects of
`paddleseg_lite.registry`, which the package's own modules import directly."""
from paddleseg_lite.registry import ALL, BACKBONES, DATASETS, LOSSES, MODELS, TRANSFORMS, ComponentManager, find

__all__ = ["ALL", "BACKBONES", "ComponentManager", "DATASETS", "LOSSES", "MODELS", "TRANSFORMS", "find"]
