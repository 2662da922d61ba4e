"""Registries (`manager`), config loading (`Config`) and building (`builder`)."""
from . import manager
from .config import Config
