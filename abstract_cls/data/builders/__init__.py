"""TFDS builders abstract_icons, dcc2022 and aihub_abstract (records: see
reporting_builder.common_features). Importing this package registers them with TFDS.

builder = prepare("abstract_icons", data_dir)
train = builder.as_data_source("train")  # random access; records are dicts of numpy
"""

from abstract_cls.data.builders.preparation import BUILDERS, prepare
from abstract_cls.data.builders.report import read_report
from abstract_cls.data.builders.reporting_builder import ManualDirError

__all__ = ["BUILDERS", "ManualDirError", "prepare", "read_report"]
