"""Layer-level model tests: lowerings (NaN, forward mode), dtype policy, trace and layer-norm
helpers."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from abstract_cls.models import cpu_kernels, get_model, layer_norms, layers


@pytest.mark.parametrize(
  "hwc,k,stride,pad,cout",
  [
    ((6, 6, 5), 3, 1, 1, 4),
    ((7, 7, 3), 7, 2, 3, 8),
    ((8, 8, 4), 3, 2, 1, 6),
    ((2, 2, 8), 3, 1, 1, 8),
    ((9, 9, 2), 5, 1, 0, 3),
    ((8, 8, 4), 1, 2, 0, 6),
    ((4, 4, 8), 3, 2, 1, 8),
    ((1, 1, 8), 3, 1, 1, 8),
    ((2, 2, 3), 2, 1, 2, 4),  # the corner windows lie wholly in the padding
  ],
)
def test_conv_lowerings_match_xla(hwc, k, stride, pad, cout):
  x = jax.random.normal(jax.random.key(0), (2,) + hwc)
  w = jax.random.normal(jax.random.key(1), (k, k, hwc[2], cout))

  @jax.jit
  def both(x, w):
    results = {}
    for impl in ("xla", "patches", "positions", "xla_tap_grad", "xla_padded_out"):
      conv = functools.partial(layers.conv2d, stride=stride, padding=pad, impl=impl)
      loss = lambda x, w: jnp.sum(conv(x, w) ** 2)  # noqa: B023
      results[impl] = (conv(x, w),) + jax.grad(loss, argnums=(0, 1))(x, w)
    return results

  results = both(x, w)
  assert results["xla"][0].shape[1] == layers.output_size(hwc[0], k, stride, pad)
  for impl in ("patches", "positions", "xla_tap_grad", "xla_padded_out"):
    for a, b in zip(results["xla"], results[impl]):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
  "size,k,stride,pad,ties",
  [
    (8, 3, 2, 1, False),
    (9, 3, 2, 0, False),
    (8, 2, 2, 0, False),
    (7, 3, 1, 1, False),
    (10, 3, 3, 0, False),
    (11, 3, 2, 1, False),
    (6, 3, 2, 1, True),
    (8, 2, 2, 0, True),
  ],
)
def test_slice_max_pool_matches_reduce_window(size, k, stride, pad, ties):
  x = jax.random.normal(jax.random.key(0), (2, size, size, 3))
  if ties:  # every window holds its maximum more than once
    x = jnp.round(x)

  @jax.jit
  def both(x):
    outs = {}
    for impl in ("xla", "patches"):
      pool = lambda x, impl=impl: layers.max_pool(x, k, stride, pad, name="p", conv_impl=impl)
      outs[impl] = (pool(x), jax.grad(lambda x: jnp.sum(pool(x) ** 2))(x))  # noqa: B023
    return outs

  outs = both(x)
  for a, b in zip(outs["xla"], outs["patches"]):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_whole_model_same_result_for_every_conv_impl():
  # ImageNet stem (7x7/2 conv, 3x3/2 max-pool) down to 1x1 maps at 32 px.
  x = jax.random.normal(jax.random.key(0), (2, 32, 32, 3))
  outs = []
  for impl in ("xla", "patches"):
    model = get_model("resnet18", num_classes=3, rngs=nnx.Rngs(0), width=0.125, conv_impl=impl)
    model.eval()
    outs.append(nnx.jit(lambda m, x: m(x))(model, x))
  np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
  "name,options",
  [
    ("resnet18", dict(width=0.125)),  # 7x7/2 stem, 3x3/2 max-pool, 1x1/2 projections
    ("resnet20", dict(input_size=16)),
    ("alexnet", dict(input_size=32, stem="small", width=0.125, dropout=0.0)),
  ],
)
def test_whole_model_gradients_same_for_auto_and_xla(monkeypatch, name, options):
  # A tiny tap budget makes every kernel gradient a multi-step chunked scan.
  monkeypatch.setattr(cpu_kernels, "TAP_CHUNK_BYTES", 1)
  size = options.get("input_size", 32)
  x = jax.random.normal(jax.random.key(0), (16, size, size, 3))
  y = jnp.arange(16) % 3
  grads = []
  for impl in ("xla", "auto"):
    model = get_model(name, num_classes=3, rngs=nnx.Rngs(0), conv_impl=impl, **options)
    model.train()

    @nnx.jit
    def grad_fn(model, x, y):
      def loss(model):
        logits = model(x)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))

      return nnx.grad(loss)(model)

    grads.append(nnx.state(grad_fn(model, x, y), nnx.Param))
  for a, b in zip(jax.tree.leaves(grads[0]), jax.tree.leaves(grads[1])):
    np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-5)


def test_auto_lowering_rule():
  from abstract_cls.models import cpu_lowering

  assert jax.default_backend() == "cpu"
  rule = cpu_lowering.conv_lowering
  assert rule("auto", (8, 2, 2, 512), (3, 3, 512, 512), 1, 1) == "positions"
  assert rule("auto", (8, 4, 4, 256), (3, 3, 256, 512), 2, 1) == "positions"
  assert rule("auto", (8, 1, 1, 512), (3, 3, 512, 512), 1, 1) == "positions"
  assert rule("auto", (8, 4, 4, 256), (3, 3, 256, 256), 1, 1) == "xla_tap_grad"
  assert rule("auto", (8, 16, 16, 64), (3, 3, 64, 64), 1, 1) == "xla_tap_grad"
  assert rule("auto", (8, 16, 16, 64), (3, 3, 64, 128), 2, 1) == "xla_tap_grad"
  assert rule("auto", (8, 32, 32, 16), (3, 3, 16, 16), 1, 1) == "xla_tap_grad"
  assert rule("auto", (8, 16, 16, 64), (1, 1, 64, 128), 2, 0) == "xla_tap_grad"
  assert rule("auto", (8, 2, 2, 1024), (1, 1, 1024, 256), 1, 0) == "xla_tap_grad"
  assert rule("auto", (8, 64, 64, 3), (7, 7, 3, 64), 2, 3) == "xla_tap_grad"
  assert rule("auto", (8, 32, 32, 3), (5, 5, 3, 6), 1, 0) == "xla_padded_out"
  assert rule("auto", (8, 14, 14, 6), (5, 5, 6, 16), 1, 0) == "xla_tap_grad"
  assert rule("xla", (8, 2, 2, 512), (3, 3, 512, 512), 1, 1) == "xla"
  assert rule("patches", (8, 16, 16, 64), (3, 3, 64, 64), 1, 1) == "patches"


@nnx.jit
def consistency(model, x):
  fmap = model.features(x)
  return model(x), model.classify(fmap), model.embed(x), model.penultimate(fmap)


@pytest.mark.parametrize(
  "name,options,size",
  [
    ("resnet20", dict(width=0.5), 16),
    ("lenet5", dict(in_channels=3), 32),
  ],
)
def test_features_classify_embed_consistency(name, options, size):
  model = get_model(name, num_classes=4, rngs=nnx.Rngs(0), **options)
  model.eval()
  x = jax.random.normal(jax.random.key(0), (2, size, size, 3))
  logits, logits2, emb, emb2 = consistency(model, x)
  np.testing.assert_allclose(logits, logits2, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(emb, emb2, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(
    emb @ model.out.kernel[...] + model.out.bias[...], logits, rtol=1e-4, atol=1e-4
  )


def test_bfloat16_compute_keeps_float32_params_and_stats():
  model = get_model("resnet20", num_classes=4, rngs=nnx.Rngs(0), width=0.5, dtype="bfloat16")
  x = jax.random.normal(jax.random.key(0), (4, 16, 16, 3))
  model.train()
  fmap = nnx.jit(lambda m, x: m.features(x))(model, x)
  assert fmap.dtype == jnp.bfloat16
  for leaf in jax.tree.leaves(nnx.state(model, nnx.Param)):
    assert leaf.dtype == jnp.float32
  for leaf in jax.tree.leaves(nnx.state(model, nnx.BatchStat)):
    assert leaf.dtype == jnp.float32
  logits = model.classify(fmap)
  assert logits.dtype == jnp.float32 and np.isfinite(logits).all()


def test_group_and_no_norm_and_zero_init():
  x = jax.random.normal(jax.random.key(0), (2, 16, 16, 3))
  for norm in ("group", "none"):
    model = get_model("plain20", num_classes=4, width=0.5, norm=norm)
    assert not jax.tree.leaves(nnx.state(model, nnx.BatchStat))
    assert np.isfinite(nnx.jit(lambda m, x: m(x))(model, x)).all()
  model = get_model("resnet20", num_classes=4, width=0.5, zero_init_residual=True)
  last_scales = [b.norm2.layer.scale[...] for b in model.blocks]
  assert all(float(jnp.abs(s).max()) == 0.0 for s in last_scales)


def test_layer_norms_in_depth_order():
  model = get_model("plain20", num_classes=4, rngs=nnx.Rngs(0), width=0.5)
  model.train()
  x = jax.random.normal(jax.random.key(0), (4, 16, 16, 3))
  y = jnp.arange(4) % 4

  def loss(model):
    logits = model(x)
    return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(4), y])

  grads = nnx.jit(nnx.grad(loss))(model)
  norms = layer_norms(grads)
  names = [n for n, _ in norms]
  assert names == sorted(names)
  weights = layer_norms(grads, kinds=("conv", "fc"))
  # plain20: 19 convs + 1 fc, numbered by depth 1..20.
  assert [n for n, _ in weights] == (
    [f"layer_{i:03d}_conv" for i in range(1, 20)] + ["layer_020_fc"]
  )
  assert all(v > 0 and np.isfinite(v) for _, v in weights)
  # A pure-dict gradient tree still gives one entry per module path.
  pure = nnx.to_pure_dict(grads)
  assert len(layer_norms(pure)) == len(norms)


def test_trace_of_reference_resnet18():
  model = nnx.eval_shape(lambda: get_model("resnet18", num_classes=1000, rngs=nnx.Rngs(0)))
  entries = model.trace()
  assert entries[0]["output_shape"] == (1, 112, 112, 64)
  assert entries[1]["kind"] == "pool" and entries[1]["output_shape"] == (1, 56, 56, 64)
  convs = [e for e in entries if e["kind"] == "conv"]
  assert convs[-1]["output_shape"] == (1, 7, 7, 512)
  # 17 main-path convs + 3 projection shortcuts.
  assert len(convs) == 20


def test_tap_chunk_images_fits_budget_and_divides_batch():
  budget = cpu_kernels.TAP_CHUNK_BYTES
  assert cpu_kernels.tap_chunk_images(128, budget // 4) == 4
  assert cpu_kernels.tap_chunk_images(12, budget // 5) == 4  # 5 does not divide 12
  assert cpu_kernels.tap_chunk_images(7, budget * 3) == 1  # one image over budget
  assert cpu_kernels.tap_chunk_images(2, 1) == 2


@pytest.mark.parametrize("sharded", [False, True])
@pytest.mark.parametrize("k,stride,pad", [(3, 1, 1), (3, 2, 1), (1, 2, 0)])
def test_chunked_tap_kernel_grad_matches_xla(monkeypatch, sharded, k, stride, pad):
  # A tiny budget forces one image per chunk: 8 shards x 3 chunks of 1 image.
  monkeypatch.setattr(cpu_kernels, "TAP_CHUNK_BYTES", 1)
  x = jax.random.normal(jax.random.key(0), (24, 9, 9, 5))
  w = jax.random.normal(jax.random.key(1), (k, k, 5, 6))
  g = jax.random.normal(jax.random.key(2), cpu_kernels.xla_conv(x, w, stride, pad).shape)
  if sharded:
    from abstract_cls.train import mesh as mesh_lib  # the trainer's data-parallel mesh

    mesh = mesh_lib.make_mesh()
    spec = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(mesh_lib.DATA_AXIS))
    x, g = jax.device_put(x, spec), jax.device_put(g, spec)
  _, vjp = jax.vjp(lambda w: cpu_kernels.xla_conv(x, w, stride, pad), w)
  expected = vjp(g)[0]
  got = jax.jit(lambda x, g: cpu_kernels.tap_kernel_grad(x, g, w.shape, stride, pad))(x, g)
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_slice_max_pool_propagates_nan_like_reduce_window():
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3))
  x = x.at[0, 3, 4, 1].set(jnp.nan).at[1, 0, 0, 2].set(jnp.nan)
  pools = {
    impl: layers.max_pool(x, 3, 2, 1, name="p", conv_impl=impl) for impl in ("xla", "patches")
  }
  np.testing.assert_array_equal(np.isnan(pools["patches"]), np.isnan(pools["xla"]))
  assert np.isnan(pools["patches"]).sum() > 0
  np.testing.assert_allclose(pools["patches"], pools["xla"])  # NaNs compare equal here


@pytest.mark.parametrize("kernel", ["conv_tap_grad", "max_pool_strided"])
def test_forward_mode_through_cpu_kernels_matches_xla(kernel):
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 4))
  w = jax.random.normal(jax.random.key(1), (3, 3, 4, 5))
  dx = jax.random.normal(jax.random.key(2), x.shape)
  dw = jax.random.normal(jax.random.key(3), w.shape)
  if kernel == "conv_tap_grad":
    fast = lambda x, w: cpu_kernels.conv_tap_grad(x, w, 2, 1)
    reference = lambda x, w: cpu_kernels.xla_conv(x, w, 2, 1)
  else:
    fast = lambda x, w: cpu_kernels.max_pool_strided(x, 3, 2, 1) * jnp.sum(w)
    reference = lambda x, w: layers.max_pool(x, 3, 2, 1, name="p", conv_impl="xla") * jnp.sum(w)
  got, want = jax.jvp(fast, (x, w), (dx, dw)), jax.jvp(reference, (x, w), (dx, dw))
  for a, b in zip(got, want):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
  loss = lambda f: lambda x, w: jnp.sum(jnp.sin(f(x, w)))  # grad transposes the same rule
  for a, b in zip(jax.grad(loss(fast), (0, 1))(x, w), jax.grad(loss(reference), (0, 1))(x, w)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
