"""Data: TFDS builders, robust decoding, input pipeline.

Importing this package registers the TFDS builders abstract_icons, dcc2022 and
aihub_abstract (it imports tensorflow_datasets, not jax).
"""

from abstract_cls.data import builders  # noqa: F401  (registers the builders)
