"""Test-wide setup: 8 fake CPU devices so multi-device code is exercised on any machine.

The flag must be set before jax is first imported; tests that need one device
build a one-device mesh explicitly.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
