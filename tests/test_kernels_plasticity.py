"""Event-driven plasticity terms (kernels.pre_events / post_events) vs their dense references."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import kernels as K
from tolerances import KERNEL_F32, KERNEL_F64

N_PRE, N_POST = 60, 45


@pytest.fixture(scope="module")
def table():
    conn = nj.fixed_prob(jax.random.PRNGKey(0), N_PRE, N_POST, 0.15)
    return conn.post_idx, K.pull_table(np.asarray(conn.post_idx), N_POST)


def _draws(seed, activity, dtype):
    rng = np.random.default_rng(seed)
    s_pre = (rng.random(N_PRE) < activity) * rng.uniform(0.5, 1.5, N_PRE)   # non-binary: exact too
    s_post = (rng.random(N_POST) < activity) * rng.uniform(0.5, 1.5, N_POST)
    return [jnp.asarray(a, dtype) for a in (s_pre, s_post, rng.random(N_POST), rng.random(N_PRE))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activity", [0.0, 0.01, 0.1, 0.5, 1.0])
def test_values_and_gradients_equal_the_dense_reference(table, activity, dtype):
    """Capacity 4 is exceeded at >= 10 % activity: the extra passes keep it exact."""
    post_idx, pull = table
    tol = KERNEL_F32 if dtype == "float32" else KERNEL_F64
    s_pre, s_post, y, x = _draws(1, activity, dtype)
    g = jnp.asarray(np.random.default_rng(2).random(post_idx.shape), dtype)

    pre = jax.jit(lambda s, v: K.pre_events(post_idx, s, v, N_POST, 4))
    post = jax.jit(lambda s, v: K.post_events(pull, post_idx, s, v, N_POST, 4))
    np.testing.assert_allclose(pre(s_pre, y), K.pre_events_reference(post_idx, s_pre, y, N_POST), **tol)
    np.testing.assert_allclose(post(s_post, x), K.post_events_reference(post_idx, s_post, x, N_POST), **tol)

    def grads(f, *args):
        return jax.grad(lambda a, b: jnp.sum(g * f(a, b)), argnums=(0, 1))(*args)

    for fast, ref, args in (
            (pre, lambda s, v: K.pre_events_reference(post_idx, s, v, N_POST), (s_pre, y)),
            (post, lambda s, v: K.post_events_reference(post_idx, s, v, N_POST), (s_post, x))):
        for a, b in zip(grads(fast, *args), grads(ref, *args)):
            np.testing.assert_allclose(a, b, **tol)


def test_vmap_equals_a_loop(table):
    post_idx, pull = table
    batch = [_draws(seed, 0.1, "float64") for seed in range(3)]
    s_post = jnp.stack([b[1] for b in batch])
    x = jnp.stack([b[3] for b in batch])
    out = jax.vmap(lambda s, v: K.post_events(pull, post_idx, s, v, N_POST, 2))(s_post, x)
    for i in range(3):
        np.testing.assert_allclose(out[i], K.post_events_reference(post_idx, s_post[i], x[i], N_POST),
                                   **KERNEL_F64)


def test_bad_shapes_raise(table):
    post_idx, pull = table
    with pytest.raises(ValueError, match="s_pre"):
        K.pre_events(post_idx, jnp.zeros(N_PRE + 1), jnp.zeros(N_POST), N_POST, 4)
    with pytest.raises(ValueError, match="pre_values"):
        K.post_events(pull, post_idx, jnp.zeros(N_POST), jnp.zeros(3), N_POST, 4)
    with pytest.raises(TypeError, match="PullTable"):
        K.post_events(None, post_idx, jnp.zeros(N_POST), jnp.zeros(N_PRE), N_POST, 4)
