"""Procedural (just-in-time) connectivity: the hash, the connectome's statistics, determinism
across jit / vmap / chunking / max_events, values and gradients against the dense reference.

The dense reference ``jit_connectivity_dense`` evaluates the same hash on the full grid of
pairs with plain ``jnp``; its gradients come from ordinary autodiff. The hash itself is checked
against ``jax.extend.random.threefry_2x32`` (an independent implementation of the same
Threefry-2x32-20) and the Random123 known-answer vector.
"""
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend.random import threefry_2x32

import tolerances
from neurojax.kernels import event_scatter, event_scatter_reference
from neurojax.kernels.procedural import (jit_connectivity_dense, jit_event_scatter, pair_bits,
                                         to_connectivity, uniform01)

N_PRE, N_POST, P, SEED = 120, 90, 0.15, 12345
ACTIVITY = (0.0, 0.01, 0.10, 0.50, 1.00)
MAX_EVENTS = 16          # 50 % and 100 % activity (60, 120 rows) overflow the buffer
WEIGHTS = {"scalar": dict(weight=0.7),
           "uniform": dict(w_loc=0.3, w_scale=0.5, dist="uniform"),
           "normal": dict(w_loc=-0.2, w_scale=0.4, dist="normal")}


def _spike_batch(dtype, seed=1):
    """One spike vector per activity level; values are STP-like efficacies in [0.2, 1]."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(ACTIVITY), N_PRE))
    for b, p in enumerate(ACTIVITY):
        on = rng.permutation(N_PRE)[:int(round(p * N_PRE))]
        out[b, on] = rng.uniform(0.2, 1.0, size=on.size)
    return jnp.asarray(out, dtype)


def _params(kw, dtype):
    """The differentiable weight parameters of a WEIGHTS entry, as ``dtype`` scalars."""
    return {k: jnp.asarray(v, dtype) for k, v in kw.items() if k != "dist"}


def _with(kw, params):
    return {**kw, **params}


# --------------------------------------------------------------------------------------------
# the hash
# --------------------------------------------------------------------------------------------
def test_hash_is_threefry2x32_keyed_by_seed_pre_post():
    """pair_bits(seed, i, j) = Threefry-2x32-20(key=(0, seed), counter=(i, j)), word for word
    equal to JAX's own implementation; Random123 known-answer vector for the zero key."""
    assert [int(h) for h in pair_bits(0, 0, 0)] == [0x6B200159, 0x99BA4EFE]
    rng = np.random.default_rng(0)
    pre = rng.integers(0, 2 ** 32, size=257, dtype=np.uint64).astype(np.uint32)
    post = rng.integers(0, 2 ** 32, size=257, dtype=np.uint64).astype(np.uint32)
    for seed in (0, 1, 2 ** 32 - 1, 987654321):
        h0, h1 = pair_bits(seed, pre, post)
        ref = np.asarray(threefry_2x32((jnp.uint32(0), jnp.uint32(seed)),
                                       jnp.concatenate([jnp.asarray(pre), jnp.asarray(post)])))
        np.testing.assert_array_equal(np.asarray(h0), ref[:257])
        np.testing.assert_array_equal(np.asarray(h1), ref[257:])
    # traced and vmapped seeds give the same words as Python ints
    seeds = jnp.array([0, 1, 987654321], jnp.uint32)
    batched = jax.jit(jax.vmap(lambda s: pair_bits(s, pre, post)[0]))(seeds)
    for b, seed in enumerate((0, 1, 987654321)):
        np.testing.assert_array_equal(np.asarray(batched[b]), np.asarray(pair_bits(seed, pre, post)[0]))


def test_connectome_statistics():
    """Realised connection fraction and out-degrees match Bernoulli(p) / Binomial(n_post, p);
    neighbouring pairs and the connection and weight words are uncorrelated; weights have the
    distribution's moments; c_ij = [uniform01 < p] exactly; p = 0 and p = 1."""
    n_pre, n_post, p = 400, 500, 0.1
    h0, h1 = pair_bits(SEED, jnp.arange(n_pre)[:, None], jnp.arange(n_post)[None, :])
    conn = np.asarray(jit_connectivity_dense(SEED, p, n_pre, n_post, weight=1.0)) != 0
    n = conn.size
    # fraction: binomial standard error sqrt(p (1 - p) / n) = 6.7e-4; 5 sigma
    assert abs(conn.mean() - p) < 5 * np.sqrt(p * (1 - p) / n), conn.mean()
    # out-degree variance n_post p (1 - p) = 45; sample variance of 400 rows: 5 sigma ~ 0.35 rel.
    deg = conn.sum(axis=1)
    assert abs(deg.mean() - n_post * p) < 5 * np.sqrt(n_post * p * (1 - p) / n_pre)
    assert abs(deg.var(ddof=1) / (n_post * p * (1 - p)) - 1) < 5 * np.sqrt(2 / (n_pre - 1))
    # in-degrees too
    indeg = conn.sum(axis=0)
    assert abs(indeg.var(ddof=1) / (n_pre * p * (1 - p)) - 1) < 5 * np.sqrt(2 / (n_post - 1))
    # neighbours along rows, columns and the diagonal are uncorrelated (corr s.e. 1/sqrt(n))
    x = conn.astype(float)
    for a, b in ((x[:, 1:], x[:, :-1]), (x[1:], x[:-1]), (x[1:, 1:], x[:-1, :-1])):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 5 / np.sqrt(a.size)
    # the weight word is independent of the connection word
    u1 = np.asarray(h1, np.float64) / 2 ** 32
    assert abs(u1[conn].mean() - 0.5) < 5 * np.sqrt(1 / 12 / conn.sum())
    # the rule is exactly u < p in float64, for an awkward p too
    for q in (p, 1 / 3):
        u = np.asarray(uniform01(SEED, jnp.arange(n_pre)[:, None], jnp.arange(n_post)[None, :],
                                 dtype=jnp.float64))
        c = np.asarray(jit_connectivity_dense(SEED, q, n_pre, n_post, weight=1.0)) != 0
        np.testing.assert_array_equal(c, u < q)
    assert not np.asarray(jit_connectivity_dense(SEED, 0.0, 30, 20, weight=1.0)).any()
    assert np.asarray(jit_connectivity_dense(SEED, 1.0, 30, 20, weight=1.0)).all()
    # weights: moments of U[loc - scale, loc + scale] and N(loc, scale^2) over the synapses
    for dist, var in (("uniform", 1 / 3), ("normal", 1.0)):
        w = np.asarray(jit_connectivity_dense(SEED, p, n_pre, n_post, w_loc=2.0, w_scale=0.5,
                                              dist=dist))[conn]
        m = w.size
        assert abs(w.mean() - 2.0) < 5 * 0.5 * np.sqrt(var / m)
        assert abs(w.var() / (0.25 * var) - 1) < 5 * np.sqrt((2 if dist == "normal" else 0.8) / m)
        if dist == "uniform":
            assert w.min() > 1.5 and w.max() < 2.5
        else:   # standard-normal quantiles at 2.5 / 50 / 97.5 %, s.e. < 0.02
            z = (w - 2.0) / 0.5
            np.testing.assert_allclose(np.quantile(z, [0.025, 0.5, 0.975]), [-1.96, 0.0, 1.96],
                                       atol=0.08)


# --------------------------------------------------------------------------------------------
# values and gradients against the dense reference
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype, tol, dists", [
    (jnp.float32, tolerances.KERNEL_F32, ("normal",)),
    (jnp.float64, tolerances.KERNEL_F64, tuple(WEIGHTS))], ids=["f32", "f64"])
def test_values_and_grads_match_dense_reference(dtype, tol, dists):
    """y = s W, dL/ds = W g (every row, silent ones included) and dL/d(weight params) equal
    the dense reference's at 0/1/10/50/100 % activity (overflowing max_events at 50/100 %),
    under vmap over the spike batch, for scalar, uniform and normal weights (float32: normal
    only, to bound compile time); the weight-only gradient (event-driven path) equals the
    reference's too."""
    spikes = _spike_batch(dtype)
    c = jnp.asarray(np.random.default_rng(2).standard_normal(N_POST), dtype)

    def kernel(kw, params, s):
        return jit_event_scatter(SEED, P, s, N_POST, MAX_EVENTS, **_with(kw, params))

    def reference(kw, params, s):
        return s @ jit_connectivity_dense(SEED, P, N_PRE, N_POST, **_with(kw, params))

    def results(params, s):
        out = {}
        for name in dists:
            for label, f in (("kernel", kernel), ("ref", reference)):
                y, vjp = jax.vjp(partial(f, WEIGHTS[name]), params[name], s)
                d_par, d_s = vjp(c)
                # the weight-only gradient takes the event-driven path (uniform: same code as
                # normal but for the variate, skipped to bound compile time)
                d_par_only = d_par if name == "uniform" else jax.grad(
                    lambda q: jnp.dot(f(WEIGHTS[name], q, s), c))(params[name])
                out[name, label] = (y, d_s, d_par, d_par_only)
        return out

    params = {name: _params(WEIGHTS[name], dtype) for name in dists}
    res = jax.jit(jax.vmap(results, in_axes=(None, 0)))(params, spikes)
    for name in dists:
        got, ref = res[name, "kernel"], res[name, "ref"]
        for b, p in enumerate(ACTIVITY):
            y, d_s, d_par, d_par_only = jax.tree.map(lambda a: np.asarray(a[b]), got)
            y_r, d_s_r, d_par_r, d_par_only_r = jax.tree.map(lambda a: np.asarray(a[b]), ref)
            assert y.dtype == d_s.dtype == dtype
            # absolute tolerances scale with the largest entry (sums of up to ~20 terms)
            scale = max(1.0, np.abs(y_r).max())
            np.testing.assert_allclose(y, y_r, rtol=tol["rtol"], atol=tol["atol"] * scale,
                                       err_msg=f"{name} y at {p}")
            np.testing.assert_allclose(d_s, d_s_r, rtol=tol["rtol"],
                                       atol=tol["atol"] * max(1.0, np.abs(d_s_r).max()),
                                       err_msg=f"{name} d_spikes at {p}")
            # dense backward: every row with a synapse has a nonzero spike gradient
            assert np.count_nonzero(d_s) > 0.9 * N_PRE
            for k in d_par_r:
                np.testing.assert_allclose(d_par_only_r[k], d_par_r[k], **tol)
                for val, what in ((d_par[k], "with spikes"), (d_par_only[k], "alone")):
                    assert val.dtype == dtype
                    np.testing.assert_allclose(val, d_par_r[k], rtol=tol["rtol"],
                                               atol=tol["atol"] * scale,
                                               err_msg=f"{name} d_{k} ({what}) at {p}")
            if p == 0.0:     # nothing spiked: y and the weight gradients are exactly 0
                assert not y.any() and not any(v for v in d_par_only.values())


def test_same_connectome_across_jit_vmap_chunking_and_max_events():
    """One-hot spikes read out rows of W exactly (one term per output): every max_events /
    col_chunk, under vmap, gives the dense reference bit for bit; one-hot cotangents read out
    its columns through the dense backward for every row_chunk / col_chunk (same sparsity
    pattern exactly; values as mu * c + sigma * (c xi), equal to W within rounding). A batch
    of seeds under vmap equals the per-seed matrices."""
    n_pre, n_post, p = 37, 29, 0.3
    kw = dict(w_loc=0.5, w_scale=0.25, dist="normal")
    eye_pre, eye_post = jnp.eye(n_pre), jnp.eye(n_post)
    configs = [dict(max_events=1, col_chunk=5, row_chunk=3), dict(max_events=37, col_chunk=29)]

    def rows_and_cols(seed):
        out = []
        for cfg in configs:
            def f(s, cfg=cfg):
                return jit_event_scatter(seed, p, s, n_post, **cfg, **kw)
            rows = jax.vmap(f)(eye_pre)                                   # W[i, :]
            cols = jax.vmap(lambda g: jax.vjp(f, jnp.zeros(n_pre))[1](g)[0])(eye_post)  # W[:, j]
            out.append((rows, cols))
        return out

    results = jax.jit(rows_and_cols)(SEED)
    w_ref = np.asarray(jit_connectivity_dense(SEED, p, n_pre, n_post, **kw))
    assert 0.2 < np.mean(w_ref != 0) < 0.4
    for rows, cols in results:
        np.testing.assert_array_equal(np.asarray(rows), w_ref)
        np.testing.assert_array_equal(np.asarray(cols).T != 0, w_ref != 0)
        np.testing.assert_allclose(np.asarray(cols).T, w_ref, **tolerances.KERNEL_F64)
    # a batch of seeds under vmap: each equals its own dense matrix, and they differ
    seeds = jnp.array([0, 1, 2], jnp.uint32)
    batched = jax.jit(jax.vmap(lambda sd: jax.vmap(
        lambda s: jit_event_scatter(sd, p, s, n_post, 5, **kw))(eye_pre)))(seeds)
    for b in range(3):
        np.testing.assert_array_equal(np.asarray(batched[b]), np.asarray(
            jit_connectivity_dense(b, p, n_pre, n_post, **kw)))
    assert not np.array_equal(np.asarray(batched[0]) != 0, np.asarray(batched[1]) != 0)


def test_to_connectivity_interoperates_with_stored_table_kernels():
    """The materialised table holds exactly the dense reference's synapses and weights (any
    row_chunk; the same synapses for every weight distribution); the stored-table kernels
    then equal the procedural one; allow_autapses=False removes exactly the diagonal."""
    def stored_dense(conn, w):               # the table as a matrix, in NumPy (multapses summed)
        idx = np.asarray(conn.post_idx)
        out = np.zeros((conn.n_pre, conn.n_post + 1))
        np.add.at(out, (np.arange(conn.n_pre)[:, None].repeat(idx.shape[1], 1), idx),
                  np.broadcast_to(np.asarray(w), idx.shape))
        return out[:, :-1]

    tables = {name: to_connectivity(SEED, P, N_PRE, N_POST, **kw) for name, kw in WEIGHTS.items()}
    idx = np.asarray(tables["scalar"][0].post_idx)
    for name, kw in WEIGHTS.items():
        conn, w = tables[name]
        np.testing.assert_array_equal(np.asarray(conn.post_idx), idx)
        w_dense = np.asarray(jit_connectivity_dense(SEED, P, N_PRE, N_POST, **kw))
        np.testing.assert_array_equal(stored_dense(conn, w), w_dense)
        assert conn.n_synapses() == np.count_nonzero(w_dense)
    kw = WEIGHTS["normal"]
    conn, w = tables["normal"]
    conn7, w7 = to_connectivity(SEED, P, N_PRE, N_POST, row_chunk=7, **kw)
    np.testing.assert_array_equal(np.asarray(conn7.post_idx), idx)
    np.testing.assert_array_equal(np.asarray(w7), np.asarray(w))
    # allow_autapses=False removes exactly the diagonal of the same matrix
    full = np.asarray(jit_connectivity_dense(SEED, 0.5, 40, 40, **kw))
    no_aut = np.asarray(jit_connectivity_dense(SEED, 0.5, 40, 40, allow_autapses=False, **kw))
    np.testing.assert_array_equal(no_aut, full - np.diag(np.diag(full)))
    assert np.count_nonzero(np.diag(full)) > 10
    np.testing.assert_array_equal(
        stored_dense(*to_connectivity(SEED, 0.5, 40, 40, allow_autapses=False, **kw)), no_aut)
    # the stored-table kernels on the materialised table equal the procedural kernel
    s = _spike_batch(jnp.float64)[2]
    s40 = jnp.asarray(np.random.default_rng(3).uniform(size=40) > 0.5, jnp.float64)
    y = jax.jit(lambda s, s40: (
        jit_event_scatter(SEED, P, s, N_POST, MAX_EVENTS, **kw),
        event_scatter(conn.post_idx, w, s, N_POST, MAX_EVENTS),
        event_scatter_reference(conn.post_idx, w, s, N_POST),
        jit_event_scatter(SEED, 0.5, s40, 40, 6, allow_autapses=False, **kw)))(s, s40)
    for got in y[1:3]:
        np.testing.assert_allclose(np.asarray(got), np.asarray(y[0]), **tolerances.KERNEL_F64)
    np.testing.assert_allclose(np.asarray(y[3]), np.asarray(s40) @ no_aut, **tolerances.KERNEL_F64)


@pytest.mark.parametrize("call, err, match", [
    (lambda: jit_event_scatter(-1, 0.1, jnp.zeros(4), 3, weight=1.0), ValueError, "seed"),
    (lambda: jit_event_scatter(2 ** 32, 0.1, jnp.zeros(4), 3, weight=1.0), ValueError, "seed"),
    (lambda: jit_event_scatter(1.5, 0.1, jnp.zeros(4), 3, weight=1.0), TypeError, "seed"),
    (lambda: jit_event_scatter(jnp.arange(2), 0.1, jnp.zeros(4), 3, weight=1.0), TypeError, "seed"),
    (lambda: jit_event_scatter(0, 1.5, jnp.zeros(4), 3, weight=1.0), ValueError, "p must"),
    (lambda: jit_event_scatter(0, float("nan"), jnp.zeros(4), 3, weight=1.0), ValueError, "p must"),
    (lambda: jit_event_scatter(0, jnp.array(0.1), jnp.zeros(4), 3, weight=1.0), TypeError, "p must"),
    (lambda: jit_event_scatter(0, 0.1, jnp.zeros((4, 2)), 3, weight=1.0), ValueError, "spikes"),
    (lambda: jit_event_scatter(0, 0.1, jnp.zeros(4), 3.0, weight=1.0), TypeError, "n_post"),
    (lambda: jit_event_scatter(0, 0.1, jnp.zeros(4), 3, 0, weight=1.0), ValueError, "max_events"),
    (lambda: jit_event_scatter(0, 0.1, jnp.zeros(4), 3), ValueError, "weight="),
    (lambda: jit_event_scatter(0, 0.1, jnp.zeros(4), 3, w_loc=1.0, w_scale=1.0), ValueError,
     "weight="),
    (lambda: jit_event_scatter(0, 0.1, jnp.zeros(4), 3, w_loc=1.0, dist="normal"), ValueError,
     "w_scale"),
    (lambda: jit_event_scatter(0, 0.1, jnp.zeros(4), 3, weight=1.0, dist="gamma"), ValueError,
     "dist"),
    (lambda: jit_event_scatter(0, 0.1, jnp.zeros(4), 3, weight=jnp.ones(2)), ValueError, "weight"),
    (lambda: jit_event_scatter(0, 0.1, jnp.zeros(4), 3, weight=1.0, col_chunk=0), ValueError,
     "col_chunk"),
    (lambda: jit_event_scatter(0, 0.1, jnp.zeros(4), 3, weight=1.0, allow_autapses=1), TypeError,
     "allow_autapses"),
    (lambda: to_connectivity(0, 0.1, -1, 3, weight=1.0), ValueError, "n_pre"),
])
def test_bad_arguments_raise(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_empty_shapes():
    """n_post = 0, n_pre = 0: empty or zero outputs and zero gradients, no errors."""
    assert jit_event_scatter(0, 0.5, jnp.ones(3), 0, weight=1.0).shape == (0,)
    y = jit_event_scatter(0, 0.5, jnp.zeros(0), 4, weight=1.0)
    np.testing.assert_array_equal(np.asarray(y), np.zeros(4))
    conn, _ = to_connectivity(0, 0.5, 0, 4, weight=1.0)
    assert conn.n_synapses() == 0
