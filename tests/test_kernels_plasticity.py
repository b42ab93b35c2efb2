"""Event-driven plasticity kernels (pre_events / post_events / pair_update) vs their dense references."""
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


# ---------------------------------------------------------------------------- pair_update
def _pair_draws(shape, seed, activity, dtype, w0_table=True, w0=None, binary=True):
    """Factors of one step, and a ``dw`` that puts every weight strictly inside the bounds
    [0.1, 0.9] (as after a step of a clipped rule: the precondition under which the kernel
    equals the reference)."""
    rng = np.random.default_rng(seed)
    if w0 is None:
        w0 = jnp.asarray(rng.uniform(0.0, 1.0, shape) if w0_table else 0.5, dtype)
    dw = jnp.asarray(rng.uniform(0.15, 0.85, shape), dtype) - w0
    scale = (lambda n: rng.uniform(0.5, 1.5, n)) if not binary else (lambda n: 1.0)
    s_pre = (rng.random(N_PRE) < activity) * scale(N_PRE)
    s_post = (rng.random(N_POST) < activity) * scale(N_POST)
    c_pre, a_post = rng.normal(0, 0.3, N_PRE), rng.normal(0, 0.3, N_POST)
    return [w0, dw] + [jnp.asarray(x, dtype) for x in (c_pre, s_post, a_post, s_pre)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activity", [0.0, 0.01, 0.1, 0.5, 1.0])
def test_pair_update_equals_the_reference(table, activity, dtype):
    """0/1 spikes: bit for bit (every product with a spike is exact, so the result does not
    depend on how XLA contracts ``c s + a s'``); graded spikes: to rounding. Capacity 4
    overflows at >= 10 % activity. Gradients w.r.t. every factor; table and scalar initial
    weights, per-synapse, scalar and no bounds."""
    post_idx, pull = table
    tol = KERNEL_F32 if dtype == "float32" else KERNEL_F64
    lo = jnp.full(post_idx.shape, 0.1, dtype)
    for w0_table, bounds, binary in ((True, (0.1, 0.9), True), (False, (lo, 0.9), True),
                                     (True, (0.1, 0.9), False), (True, (None, None), True)):
        args = _pair_draws(post_idx.shape, 3, activity, dtype, w0_table, binary=binary)
        fast = jax.jit(lambda *a: K.pair_update(pull, post_idx, *a, *bounds, N_POST, 4))
        ref = jax.jit(lambda *a: K.pair_update_reference(post_idx, *a, *bounds, N_POST))
        out = fast(*args)
        assert out.dtype == jnp.dtype(dtype)
        if binary:
            np.testing.assert_array_equal(out, ref(*args))
        else:
            np.testing.assert_allclose(out, ref(*args), **tol)
        if activity >= 0.1:     # not vacuous: the step changed weights
            assert not np.array_equal(out, args[1])
        g = jnp.asarray(np.random.default_rng(4).random(post_idx.shape), dtype)
        argnums = tuple(range(len(args)))
        for a, b in zip(jax.grad(lambda *a: jnp.sum(g * fast(*a)), argnums)(*args),
                        jax.grad(lambda *a: jnp.sum(g * ref(*a)), argnums)(*args)):
            np.testing.assert_allclose(a, b, **tol)


def test_pair_update_vmap_equals_a_loop(table):
    """Batched (one loop for the batch, via the kernel's vmap rule), fully and with shared
    initial weights, equals the reference per element; elements differ in their activity."""
    post_idx, pull = table
    w0 = _pair_draws(post_idx.shape, 0, 0.0, "float64")[0]
    batch = [_pair_draws(post_idx.shape, seed, act, "float64", w0=w0)
             for seed, act in ((1, 0.02), (2, 0.3), (3, 0.0))]
    stacked = [jnp.stack(x) for x in zip(*batch)]
    full = jax.vmap(lambda *a: K.pair_update(pull, post_idx, *a, 0.1, 0.9, N_POST, 3))(*stacked)
    shared = jax.vmap(lambda *a: K.pair_update(pull, post_idx, w0, *a, 0.1, 0.9, N_POST, 3))(
        *stacked[1:])
    for i, args in enumerate(batch):
        expected = K.pair_update_reference(post_idx, *args, 0.1, 0.9, N_POST)
        np.testing.assert_array_equal(full[i], expected)
        np.testing.assert_array_equal(shared[i], expected)


def test_pair_update_bad_shapes_raise(table):
    post_idx, pull = table
    w0, dw, c_pre, s_post, a_post, s_pre = _pair_draws(post_idx.shape, 0, 0.1, "float64")
    with pytest.raises(ValueError, match="c_pre"):
        K.pair_update(pull, post_idx, w0, dw, c_pre[1:], s_post, a_post, s_pre, 0.0, 1.0, N_POST, 4)
    with pytest.raises(ValueError, match="w_max"):
        K.pair_update(pull, post_idx, w0, dw, c_pre, s_post, a_post, s_pre, 0.0, jnp.ones(3),
                      N_POST, 4)
    with pytest.raises(ValueError, match="dw"):
        K.pair_update(pull, post_idx, w0, dw[1:], c_pre, s_post, a_post, s_pre, 0.0, 1.0, N_POST, 4)
    with pytest.raises(TypeError, match="PullTable"):
        K.pair_update(None, post_idx, w0, dw, c_pre, s_post, a_post, s_pre, 0.0, 1.0, N_POST, 4)
    with pytest.raises(ValueError, match="both bounds"):
        K.pair_update(pull, post_idx, w0, dw, c_pre, s_post, a_post, s_pre, 0.0, None, N_POST, 4)
    with pytest.raises(ValueError, match="max_events"):
        K.pair_update(pull, post_idx, w0, dw, c_pre, s_post, a_post, s_pre, 0.0, 1.0, N_POST, 0)
