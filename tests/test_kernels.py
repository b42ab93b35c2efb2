"""Event-driven propagation kernels vs the dense reference (T4), overflow, and the T10 guard.

Every kernel must equal ``event_scatter_reference`` in value and in ``jax.grad`` w.r.t. the
weights *and* the spikes, at 0 % .. 100 % activity, under ``jit`` and ``vmap``, in float32 and
float64, for scalar and per-synapse weights, with padded rows. One jitted function per test
computes everything (compile time dominates on small CPUs).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.kernels import (PULL_ABOVE, PullTable, event_gather, event_scatter,
                              event_scatter_reference, event_scatter_with_info, propagate,
                              pull_table)
import tolerances

N_PRE, N_POST, K = 200, 150, 12
ACTIVITY = (0.0, 0.01, 0.10, 0.50, 1.00)
MAX_EVENTS = 30          # 15 % of N_PRE: 50 % and 100 % activity overflow the buffer


def _table(seed=0):
    """Padded-row table with variable out-degree (0..K), duplicates allowed, and weights."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, N_POST, size=(N_PRE, K)).astype(np.int32)
    degree = rng.integers(0, K + 1, size=N_PRE)
    degree[:3] = (0, K, K // 2)                      # an empty row, a full row, a half row
    pad = np.arange(K)[None, :] >= degree[:, None]
    idx[pad] = N_POST
    w = rng.standard_normal((N_PRE, K))
    w[pad] = 0.0
    return idx, w


def _spike_batch(dtype, seed=1):
    """One spike vector per activity level; values are STP-like efficacies in [0.2, 1]."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(ACTIVITY), N_PRE))
    for b, p in enumerate(ACTIVITY):
        on = rng.permutation(N_PRE)[:int(round(p * N_PRE))]
        out[b, on] = rng.uniform(0.2, 1.0, size=on.size)
    out[1:, 0] = 1.0                                 # the empty row spikes (delivers nothing)
    return jnp.asarray(out, dtype)


def _cotangent(dtype, seed=2):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(N_POST), dtype)


def _values_and_grads(kernel, idx, w, s, c):
    """(y, dL/dw, dL/ds) for L = <kernel(w, s), c>."""
    def loss(w, s):
        return jnp.dot(kernel(idx, w, s), c)
    return (kernel(idx, w, s),) + jax.grad(loss, argnums=(0, 1))(w, s)


def _kernels(pull):
    return {
        "reference": lambda idx, w, s: event_scatter_reference(idx, w, s, N_POST),
        "scatter": lambda idx, w, s: event_scatter(idx, w, s, N_POST, MAX_EVENTS),
        "gather": lambda idx, w, s: event_gather(pull, idx, w, s, N_POST),
    }


@pytest.mark.parametrize("dtype, tol", [(jnp.float32, tolerances.KERNEL_F32),
                                        (jnp.float64, tolerances.KERNEL_F64)],
                         ids=["f32", "f64"])
@pytest.mark.parametrize("scalar_w", [False, True], ids=["w_per_synapse", "w_scalar"])
def test_values_and_grads_match_reference(dtype, tol, scalar_w):
    """T4: values, d/dw and d/dspikes equal the reference at every activity, jit and vmap."""
    idx_np, w_np = _table()
    idx = jnp.asarray(idx_np)
    w = jnp.asarray(0.7, dtype) if scalar_w else jnp.asarray(w_np, dtype)
    spikes, c = _spike_batch(dtype), _cotangent(dtype)
    kernels = _kernels(pull_table(idx_np, N_POST))

    def all_kernels(idx, w, s):
        return {name: _values_and_grads(f, idx, w, s, c) for name, f in kernels.items()}

    batched = jax.jit(jax.vmap(all_kernels, in_axes=(None, None, 0)))(idx, w, spikes)
    single = jax.jit(all_kernels)
    for b, p in enumerate(ACTIVITY):
        unbatched = single(idx, w, spikes[b])
        ref = unbatched["reference"]
        assert ref[0].dtype == dtype
        # the backward is dense: even at 0 % activity every row with synapses has dL/ds != 0
        assert np.count_nonzero(np.asarray(ref[2])) > N_PRE // 2
        for name in ("scatter", "gather"):
            for got, label in ((unbatched[name], "jit"),
                               (jax.tree.map(lambda a: a[b], batched[name]), "vmap")):
                for what, x, r in zip(("y", "d_w", "d_spikes"), got, ref):
                    assert x.dtype == r.dtype and x.shape == r.shape, (name, label, what)
                    np.testing.assert_allclose(np.asarray(x), np.asarray(r), **tol,
                                               err_msg=f"{name} {label} {what} at p={p}")
        # and the vmapped reference equals the unbatched one
        for x, r in zip(jax.tree.map(lambda a: a[b], batched["reference"]), ref):
            np.testing.assert_allclose(np.asarray(x), np.asarray(r), **tol)


@pytest.mark.parametrize("scalar_w", [False, True], ids=["w_per_synapse", "w_scalar"])
def test_plastic_change_dw_is_added_on_the_active_rows(scalar_w):
    """``event_scatter(..., dw=dw)`` (a plastic projection: w + dw, never summed densely)
    equals the reference on ``w + dw`` bit for bit, and its gradients w.r.t. ``w``, ``dw`` and
    the spikes equal the reference's; overflowing capacity, jit and vmap."""
    idx_np, w_np = _table()
    idx = jnp.asarray(idx_np)
    w = jnp.asarray(0.7) if scalar_w else jnp.asarray(w_np)
    dw = jnp.asarray(np.where(idx_np < N_POST, np.random.default_rng(5).normal(0, 0.1, idx_np.shape), 0))
    spikes, c = _spike_batch(jnp.float64), _cotangent(jnp.float64)

    def both(w, dw, s):
        fast = lambda w_, dw_, s_: event_scatter(idx, w_, s_, N_POST, MAX_EVENTS, dw=dw_)  # noqa: E731
        ref = lambda w_, dw_, s_: event_scatter_reference(idx, w_ + dw_, s_, N_POST)  # noqa: E731
        return [(f(w, dw, s), jax.grad(lambda *a: jnp.dot(f(*a), c), argnums=(0, 1, 2))(w, dw, s))
                for f in (fast, ref)]

    for (y, g), (y_ref, g_ref) in (jax.jit(jax.vmap(both, in_axes=(None, None, 0)))(w, dw, spikes),):
        assert np.abs(np.asarray(y_ref)).max() > 0
        np.testing.assert_array_equal(np.asarray(y), np.asarray(y_ref))
        for a, b in zip(g, g_ref):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), **tolerances.KERNEL_F64)
    with pytest.raises(ValueError, match="dw"):
        event_scatter(idx, w, spikes[0], N_POST, MAX_EVENTS, dw=dw[1:])


def test_overflow_is_exact_and_reported():
    """Active rows > max_events: exact result (extra loop iterations), count reported."""
    idx_np, w_np = _table()
    idx, w = jnp.asarray(idx_np), jnp.asarray(w_np)
    spikes = _spike_batch(jnp.float64)
    f = jax.jit(jax.vmap(lambda s: event_scatter_with_info(idx, w, s, N_POST, 7)))
    y, n_active = f(spikes)
    expected_counts = np.count_nonzero(np.asarray(spikes), axis=1)
    np.testing.assert_array_equal(np.asarray(n_active), expected_counts)
    assert expected_counts.max() > 7 * 20             # >= 20 chunks of 7 rows at 100 %
    ref = jax.vmap(lambda s: event_scatter_reference(idx, w, s, N_POST))(spikes)
    np.testing.assert_allclose(np.asarray(y), np.asarray(ref), **tolerances.KERNEL_F64)


@pytest.mark.parametrize("n_rows, block", [(1, 8), (13, 8), (100, 16), (257, 32), (257, 8)])
def test_blocked_compaction_lists_active_rows_in_order(n_rows, block):
    """The two-level compaction (running count over bitmask words, then the rank's bit inside
    its word) returns the active rows in increasing order, chunk after chunk, padded with the
    sentinel ``n_rows``; ragged last words, dense runs, full words and empty signals
    included."""
    from neurojax.kernels.event import _active_rows, _chunk_rows
    rng = np.random.default_rng(n_rows + block)
    patterns = np.zeros((6, n_rows))
    patterns[1, rng.permutation(n_rows)[: max(1, n_rows // 10)]] = 0.5
    patterns[2, : min(n_rows, block + 3)] = 1.0           # a run across a block boundary
    patterns[3, n_rows - 1] = -2.0                        # only the last (ragged) row
    patterns[4] = rng.random(n_rows) < 0.6
    patterns[5] = 1.0                                     # every bit of every word set
    chunk = 5

    @jax.jit
    def rows_of(s, start):
        return _chunk_rows(_active_rows(s, block), start, chunk, n_rows)

    for s in patterns:
        expected = np.flatnonzero(s)
        n_chunks = -(-expected.size // chunk) + 1        # one chunk past the end: all sentinel
        got = np.concatenate([np.asarray(rows_of(jnp.asarray(s), jnp.int32(c * chunk)))
                              for c in range(n_chunks)])
        padded = np.full(n_chunks * chunk, n_rows)
        padded[: expected.size] = expected
        np.testing.assert_array_equal(got, padded)


def test_naive_autodiff_through_compaction_is_wrong():
    """T10: plain autodiff through the nonzero/gather compaction drops d/dspikes of silent
    neurons, so the custom VJP is necessary (its d/dspikes equals the reference)."""
    idx_np, w_np = _table()
    idx, w = jnp.asarray(idx_np), jnp.asarray(w_np)
    spikes = _spike_batch(jnp.float64)[2]                 # 10 % activity
    c = _cotangent(jnp.float64)

    def naive(idx, w, s):
        rows = jnp.nonzero(s, size=MAX_EVENTS, fill_value=N_PRE)[0]
        targets = idx.at[rows].get(mode="fill", fill_value=N_POST)
        vals = w.at[rows].get(mode="fill", fill_value=0.0) * s.at[rows].get(
            mode="fill", fill_value=0.0)[:, None]
        out = jnp.zeros((N_POST,), vals.dtype)
        return out.at[targets.reshape(-1)].add(vals.reshape(-1), mode="drop")

    kernels = {"naive": naive, **_kernels(pull_table(idx_np, N_POST))}
    res = jax.jit(lambda idx, w, s: {name: _values_and_grads(f, idx, w, s, c)
                                     for name, f in kernels.items()})(idx, w, spikes)
    ref = res["reference"]
    silent = np.asarray(spikes) == 0
    # the naive forward and weight gradient are right ...
    np.testing.assert_allclose(np.asarray(res["naive"][0]), np.asarray(ref[0]),
                               **tolerances.KERNEL_F64)
    np.testing.assert_allclose(np.asarray(res["naive"][1]), np.asarray(ref[1]),
                               **tolerances.KERNEL_F64)
    # ... but silent neurons get zero spike gradient where the reference's is large
    naive_ds, ref_ds = np.asarray(res["naive"][2]), np.asarray(ref[2])
    assert np.all(naive_ds[silent] == 0.0)
    assert np.max(np.abs(ref_ds[silent])) > 1.0
    assert not np.allclose(naive_ds, ref_ds, **tolerances.KERNEL_F32)
    # the custom-VJP kernels are right
    for name in ("scatter", "gather"):
        np.testing.assert_allclose(np.asarray(res[name][2]), ref_ds, **tolerances.KERNEL_F64)


def test_grad_under_checkpoint_with_constant_scalar_weight():
    """Residuals that become literals under jax.checkpoint (a constant scalar w) still work."""
    idx = jnp.array([[0, 1], [1, 2]])                 # 2 = padding for n_post = 2
    g = jax.jit(jax.grad(lambda s: jnp.dot(jax.checkpoint(
        lambda s: event_scatter(idx, 2.0, s, 2, 1))(s), jnp.array([1.0, 3.0]))))
    # d/ds_i = 2 * sum_k c[post_idx[i, k]]: row 0 -> 2 * (1 + 3), row 1 -> 2 * 3 (padding: 0)
    np.testing.assert_allclose(np.asarray(g(jnp.array([0.0, 0.0]))), [8.0, 6.0],
                               **tolerances.KERNEL_F64)


def test_pull_table_lists_every_synapse_once():
    """The by-post table is a permutation of the stored synapses (padding excluded)."""
    idx_np, _ = _table()
    pull = pull_table(idx_np, N_POST)
    pre, slot = np.asarray(pull.pre_idx), np.asarray(pull.slot)
    valid = slot < N_PRE * K
    np.testing.assert_array_equal(valid, pre < N_PRE)
    np.testing.assert_array_equal(np.sort(slot[valid]),
                                  np.flatnonzero(idx_np.reshape(-1) < N_POST))
    rows_post = np.broadcast_to(np.arange(N_POST)[:, None], slot.shape)
    np.testing.assert_array_equal(idx_np.reshape(-1)[slot[valid]], rows_post[valid])
    np.testing.assert_array_equal(slot[valid] // K, pre[valid])
    assert pull.pre_idx.shape[1] == np.bincount(idx_np[idx_np < N_POST]).max()


def test_propagate_chooses_path_statically():
    """propagate: pull for a large capacity with a table, push otherwise (no cond/select)."""
    idx_np, w_np = _table()
    idx, w, pull = jnp.asarray(idx_np), jnp.asarray(w_np), pull_table(idx_np, N_POST)
    s = jnp.zeros((N_PRE,))

    def prims(max_events, table):
        jaxpr = jax.make_jaxpr(lambda s: propagate(idx, w, s, N_POST, max_events, table))(s)
        return str(jaxpr)

    big = int(np.ceil(PULL_ABOVE * N_PRE))
    assert "while" in prims(big - 1, pull)          # low capacity: event-driven push
    assert "while" not in prims(big, pull)          # high capacity: scatter-free pull
    assert "scatter" not in prims(big, pull)
    assert "while" in prims(big, None)              # no table: push


@pytest.mark.parametrize("args, err, match", [
    ((np.zeros((4,), np.int32), 1.0, np.zeros(4), 3, 2), ValueError, "post_idx"),
    ((np.zeros((4, 2), np.float32), 1.0, np.zeros(4), 3, 2), TypeError, "post_idx"),
    ((np.zeros((4, 2), np.int32), np.ones((4, 3)), np.zeros(4), 3, 2), ValueError, "w must"),
    ((np.zeros((4, 2), np.int32), 1.0, np.zeros(5), 3, 2), ValueError, "spikes"),
    ((np.zeros((4, 2), np.int32), 1.0, np.zeros(4), 3.0, 2), TypeError, "n_post"),
    ((np.zeros((4, 2), np.int32), 1.0, np.zeros(4), 3, 0), ValueError, "max_events"),
    ((np.zeros((4, 2), np.int32), 1.0, np.zeros(4), 3, 2.5), TypeError, "max_events"),
])
def test_bad_input_raises(args, err, match):
    with pytest.raises(err, match=match):
        event_scatter(*args)


def test_bad_pull_table_raises():
    idx = np.zeros((4, 2), np.int32)
    with pytest.raises(TypeError, match="pull"):
        event_gather((idx, idx), idx, 1.0, np.zeros(4), 3)
    with pytest.raises(ValueError, match="pull"):
        event_gather(pull_table(idx, 5), idx, 1.0, np.zeros(4), 3)
    with pytest.raises(ValueError, match="post_idx"):
        pull_table(np.full((4, 2), 9), 3)
    assert isinstance(pull_table(idx, 3), PullTable)
