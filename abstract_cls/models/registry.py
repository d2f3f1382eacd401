"""Model registry: get_model(name, num_classes, rngs=..., **options).

One table: each name, the constructor that builds it, the options it accepts and the
stems it has. get_model checks every option here, once, before building.
"""

import dataclasses
import functools
from collections.abc import Callable

from flax import nnx

from abstract_cls.models import classic, layers, resnet


@dataclasses.dataclass(frozen=True)
class _Entry:
  build: Callable[..., nnx.Module]  # called with num_classes, rngs and the options
  options: tuple[str, ...]
  stems: tuple[str, ...] = ("imagenet", "small")  # values of the stem option


# Values accepted for the other enumerated options (shared by every model).
_CHOICES = {
  "norm": layers.NORMS,
  "shortcut": ("projection", "zero_pad"),
  "dtype": ("float32", "bfloat16"),
  "conv_impl": layers.CONV_IMPLS,
}


def _vgg(depth, norm, name):
  return _Entry(
    functools.partial(classic.VGG, depth=depth, norm=norm, name=name), classic.VGG.OPTIONS
  )


def _resnet(family, depth, residual, stems):
  return _Entry(functools.partial(family, depth, residual), resnet.OPTIONS, stems)


_PREFIXES = (("resnet", True), ("plain", False))  # a ResNet and its plain twin

_MODELS: dict[str, _Entry] = {
  "lenet5": _Entry(classic.LeNet5, classic.LeNet5.OPTIONS, stems=()),
  "alexnet": _Entry(classic.AlexNet, classic.AlexNet.OPTIONS),
  **{
    f"vgg{depth}{suffix}": _vgg(depth, norm, f"vgg{depth}{suffix}")
    for depth in classic.VGG_STAGES
    for norm, suffix in (("none", ""), ("batch", "_bn"))
  },
  **{
    f"{prefix}{depth}": _resnet(resnet.imagenet_resnet, depth, residual, ("imagenet", "small"))
    for depth in resnet.IMAGENET_DEPTHS
    for prefix, residual in _PREFIXES
  },
  **{
    f"{prefix}{depth}": _resnet(resnet.cifar_resnet, depth, residual, ("small",))
    for depth in resnet.CIFAR_DEPTHS
    for prefix, residual in _PREFIXES
  },
}


def list_models() -> list[str]:
  """Every registered name, in registration order (families, then depth)."""
  return list(_MODELS)


def stems(name: str) -> tuple[str, ...]:
  """The values the model's stem option accepts (empty for a model without the option)."""
  if name not in _MODELS:
    raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
  return _MODELS[name].stems


def get_model(
  name: str, num_classes: int = 20, rngs: nnx.Rngs | None = None, **options
) -> nnx.Module:
  """Builds a registered model; unknown names or options raise ValueError.

  Options: in_channels, input_size, norm, width, stem, zero_init_residual,
  shortcut, dropout, dtype, conv_impl (each model accepts those that apply;
  see its class). Plain nets accept `shortcut` for symmetry with their ResNet
  but have no shortcut to shape.
  """
  if name not in _MODELS:
    raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
  entry = _MODELS[name]
  unsupported = sorted(set(options) - set(entry.options))
  if unsupported:
    raise ValueError(
      f"model {name!r} does not support option(s) {unsupported}; it accepts {sorted(entry.options)}"
    )
  choices = dict(_CHOICES, stem=entry.stems)
  for option, value in options.items():
    if option in choices and value not in choices[option]:
      raise ValueError(f"model {name!r}: {option} must be one of {choices[option]}, got {value!r}")
  if not isinstance(num_classes, int) or num_classes < 1:
    raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
  if rngs is None:
    rngs = nnx.Rngs(0)
  return entry.build(num_classes=num_classes, rngs=rngs, **options)
