"""Model registry: get_model(name, num_classes, rngs=..., **options)."""

from collections.abc import Callable

from flax import nnx

from abstract_cls.models import classic, layers, resnet

# Values accepted for the enumerated options (shared by every model).
_CHOICES = {
  "norm": layers.NORMS,
  "stem": ("imagenet", "small"),
  "shortcut": ("projection", "zero_pad"),
  "dtype": ("float32", "bfloat16"),
  "conv_impl": layers.CONV_IMPLS,
}

# name -> (constructor taking num_classes, rngs and options; allowed options)
_MODELS: dict[str, tuple[Callable[..., nnx.Module], tuple[str, ...]]] = {
  "lenet5": (classic.LeNet5, classic.LeNet5.OPTIONS),
  "alexnet": (classic.AlexNet, classic.AlexNet.OPTIONS),
}


def _vgg(depth, norm):
  def build(**kwargs):
    kwargs.setdefault("norm", norm)
    suffix = "_bn" if norm == "batch" else ""
    return classic.VGG(depth=depth, name=f"vgg{depth}{suffix}", **kwargs)

  return build


for _depth in classic.VGG_PLANS:
  _MODELS[f"vgg{_depth}"] = (_vgg(_depth, "none"), classic.VGG.OPTIONS)
  _MODELS[f"vgg{_depth}_bn"] = (_vgg(_depth, "batch"), classic.VGG.OPTIONS)


def _resnet(family, depth, residual):
  def build(**kwargs):
    return family(depth, residual, **kwargs)

  return build


for _depth in resnet.IMAGENET_DEPTHS:
  for _residual, _prefix in ((True, "resnet"), (False, "plain")):
    _MODELS[f"{_prefix}{_depth}"] = (
      _resnet(resnet.imagenet_resnet, _depth, _residual),
      resnet.OPTIONS,
    )
for _depth in resnet.CIFAR_DEPTHS:
  for _residual, _prefix in ((True, "resnet"), (False, "plain")):
    _MODELS[f"{_prefix}{_depth}"] = (
      _resnet(resnet.cifar_resnet, _depth, _residual),
      resnet.OPTIONS,
    )


def list_models() -> list[str]:
  """Every registered name, in registration order (families, then depth)."""
  return list(_MODELS)


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
  build, allowed = _MODELS[name]
  unsupported = sorted(set(options) - set(allowed))
  if unsupported:
    raise ValueError(
      f"model {name!r} does not support option(s) {unsupported}; it accepts {sorted(allowed)}"
    )
  for option, value in options.items():
    if option in _CHOICES and value not in _CHOICES[option]:
      raise ValueError(f"model {name!r}: {option} must be one of {_CHOICES[option]}, got {value!r}")
  if not isinstance(num_classes, int) or num_classes < 1:
    raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
  if rngs is None:
    rngs = nnx.Rngs(0)
  return build(num_classes=num_classes, rngs=rngs, **options)
