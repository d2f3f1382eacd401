"""aihub_abstract TFDS builder (AI Hub layout with JSON labels, manual dir)."""

from abstract_cls.data.builders.aihub_abstract.aihub_abstract_dataset_builder import AihubAbstract

__all__ = ["AihubAbstract"]
