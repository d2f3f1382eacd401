"""The package's XLA:CPU option reaches the compiler (convs off YNNPACK).

Run in a fresh interpreter: in the test process jax may have started its
backend before the package was imported.
"""

import os
import subprocess
import sys

_PROBE = """
import abstract_cls, jax, jax.numpy as jnp
x = jnp.ones((2, 8, 8, 4)); w = jnp.ones((3, 3, 4, 4))
conv = jax.jit(lambda x, w: jax.lax.conv_general_dilated(
    x, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')))
print(conv.lower(x, w).compile().as_text())
"""


def test_convolutions_are_not_ynn_fusions():
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  env["JAX_PLATFORMS"] = "cpu"
  env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
  hlo = subprocess.run(
    [sys.executable, "-c", _PROBE], env=env, check=True, capture_output=True, text=True
  ).stdout
  assert " convolution(" in hlo
  assert "ynn_fusion" not in hlo
