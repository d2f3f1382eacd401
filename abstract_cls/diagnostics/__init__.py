"""Visual diagnostics of a trained classifier: filters, feature maps, saliency, errors, embeddings.

`run_inspect(config, workdir)` restores WORKDIR's checkpoint and writes PNGs plus
index.md into WORKDIR/inspect/; `python -m abstract_cls.diagnostics --workdir=W` runs it.
"""

from abstract_cls.diagnostics.run import inspect_config, inspect_model, run_inspect

__all__ = ["inspect_config", "inspect_model", "run_inspect"]
