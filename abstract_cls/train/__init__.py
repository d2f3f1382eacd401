"""Training, evaluation and prediction: one jitted data-parallel loop over a device mesh.

Modules: mesh (devices, multi-host), optimizer (optax chain and schedules), losses,
state (model <-> plain-dict train state), step (jitted train / eval steps),
metrics_writer (JSON lines, TensorBoard, progress bar), checkpointing (Orbax),
evaluate (eval mode, reports), predict (CSV of top-k classes), loop (train_and_evaluate).
"""
