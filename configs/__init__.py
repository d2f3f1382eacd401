"""Training configs: each file's get_config() returns an ml_collections.ConfigDict.

A family config starts from another by import (`from configs import default`); the
trainer loads a file by path (--config=configs/resnet.py), with the repository root on
sys.path so that this package imports.
"""
