"""abstract_icons TFDS builder (the embedded archive)."""

from abstract_cls.data.builders.abstract_icons.abstract_icons_dataset_builder import AbstractIcons

__all__ = ["AbstractIcons"]
