"""Test configuration: CPU, float64 numerics, strict rank promotion, persistent compile cache."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_compilation_cache_dir",
                  os.environ.get("NEUROJAX_JAX_CACHE", os.path.expanduser("~/.cache/neurojax-jax")))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)


@pytest.fixture(autouse=True)
def _float64_numerics():
    """Importing brainpy switches x64 off process-wide; every test starts in float64 again."""
    jax.config.update("jax_enable_x64", True)
    yield
