"""Model zoo: LeNet-5, AlexNet, VGG, ResNet and plain nets, behind one interface (models/base.py)."""

from abstract_cls.models.base import count_params
from abstract_cls.models.grad_norms import layer_norms
from abstract_cls.models.registry import get_model, list_models

__all__ = ["count_params", "get_model", "layer_norms", "list_models"]
