"""dcc2022 TFDS builder (competition class folders, manual dir)."""

from abstract_cls.data.builders.dcc2022.dcc2022_dataset_builder import Dcc2022

__all__ = ["Dcc2022"]
