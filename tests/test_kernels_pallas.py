"""The Pallas (Triton) push kernel (kernels/pallas_gpu.py) against the dense reference (T4).

On CPU the kernel runs in Pallas interpret mode: values, d/dw and d/dspikes equal
``event_scatter_reference`` at 0 .. 100 % activity, float32 and float64, scalar and
per-synapse weights, with overflow (more active rows than ``max_events``), unbatched and under
``vmap`` (pallas_call's batching rule adds a grid axis; it works in interpret mode), both
through ``event_scatter_pallas`` and through the public ``event_scatter`` with the Pallas
forward forced (``PALLAS_MODE = "interpret"``). The compiled (non-interpret) kernel cannot run
here, but it can be *lowered* for CUDA without a GPU. That shows every primitive has a Triton
rule and every block is a power of two, and the Triton IR it emits is checked too. Tests marked
``gpu`` run the compiled kernel; they need ``JAX_PLATFORMS=cuda pytest -m gpu ...`` on a
machine with a GPU and skip elsewhere.

Interpret mode compiles slowly (~2 s per kernel configuration), so sizes are tiny and each test
jits one function.
"""
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tolerances
from neurojax.kernels import event as event_mod
from neurojax.kernels import event_scatter, event_scatter_pallas, event_scatter_reference
from neurojax.kernels import event_scatter_with_info

N_PRE, N_POST, K = 100, 60, 6
ACTIVITY = (0.0, 0.01, 0.10, 0.50, 1.00)
MAX_EVENTS = 16          # 50 % and 100 % activity overflow the buffer

on_gpu = pytest.mark.skipif(jax.default_backend() != "gpu",
                            reason="needs a GPU (run with JAX_PLATFORMS=cuda)")


def _table(seed=0, n_pre=N_PRE, n_post=N_POST, k=K):
    """Padded-row table with variable out-degree (0..k), duplicates allowed, and weights."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_post, size=(n_pre, k)).astype(np.int32)
    degree = rng.integers(0, k + 1, size=n_pre)
    degree[:3] = (0, k, k // 2)                      # an empty row, a full row, a half row
    pad = np.arange(k)[None, :] >= degree[:, None]
    idx[pad] = n_post
    w = rng.standard_normal((n_pre, k))
    w[pad] = 0.0
    return idx, w


def _spikes(dtype, activity=ACTIVITY, n_pre=N_PRE, seed=1):
    """One spike vector per activity level; values are STP-like efficacies in [0.2, 1]."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(activity), n_pre))
    for b, p in enumerate(activity):
        on = rng.permutation(n_pre)[:int(round(p * n_pre))]
        out[b, on] = rng.uniform(0.2, 1.0, size=on.size)
    out[np.asarray(activity) > 0, 0] = 1.0           # the empty row spikes (delivers nothing)
    return jnp.asarray(out, dtype)


def _cotangent(dtype, n=N_POST, seed=2):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(n), dtype)


def _y_and_grads(kernel, w, s, c):
    """(y, dL/dw, dL/ds) for L = <kernel(w, s), c>, from one forward (jax.vjp)."""
    y, vjp = jax.vjp(kernel, w, s)
    return (y,) + vjp(c)


def _assert_close(got, ref, tol, label):
    for what, x, r in zip(("y", "d_w", "d_spikes"), got, ref):
        assert x.dtype == r.dtype and x.shape == r.shape, (label, what)
        np.testing.assert_allclose(np.asarray(x), np.asarray(r), **tol, err_msg=f"{label} {what}")


@pytest.fixture
def pallas_mode(monkeypatch):
    """Set ``kernels.event.PALLAS_MODE`` for one test (restored afterwards)."""
    return lambda mode: monkeypatch.setattr(event_mod, "PALLAS_MODE", mode)


@pytest.mark.parametrize("dtype, tol", [(jnp.float32, tolerances.KERNEL_F32),
                                        (jnp.float64, tolerances.KERNEL_F64)],
                         ids=["f32", "f64"])
def test_forced_pallas_forward_matches_reference_under_vmap(pallas_mode, dtype, tol):
    """T4: event_scatter with the Pallas forward forced (interpret mode): values, d/dw and
    d/dspikes equal the reference at 0..100 % activity (vmap over the activity levels), for
    per-synapse and (float32) scalar weights; 50 % and 100 % overflow max_events."""
    pallas_mode("interpret")
    idx_np, w_np = _table()
    idx = jnp.asarray(idx_np)
    w = {"w_array": jnp.asarray(w_np, dtype), "w_scalar": jnp.asarray(0.7, dtype)}
    if dtype == jnp.float64:          # the scalar weight is folded in before the kernel: once
        del w["w_scalar"]
    spikes, c = _spikes(dtype), _cotangent(dtype)

    def one(s):
        return {(name, wk): _y_and_grads(f, w[wk], s, c)
                for wk in w
                for name, f in (("pallas", lambda w_, s_: event_scatter(idx, w_, s_, N_POST,
                                                                        MAX_EVENTS)),
                                ("reference", lambda w_, s_: event_scatter_reference(
                                    idx, w_, s_, N_POST)))}

    batched = jax.vmap(one)
    assert "pallas_call" in str(jax.make_jaxpr(batched)(spikes))   # the forced path is taken
    res = jax.jit(batched)(spikes)
    for wk in w:
        ref = res[("reference", wk)]
        for b, p in enumerate(ACTIVITY):
            _assert_close([x[b] for x in res[("pallas", wk)]], [x[b] for x in ref], tol,
                          f"{wk} p={p}")
        # the backward is dense: even at 0 % activity silent rows get d/dspikes != 0
        assert np.count_nonzero(np.asarray(ref[2][0])) > N_PRE // 2


def test_direct_call_unbatched_with_overflow_and_row_chunks():
    """event_scatter_pallas unbatched (jit, no vmap): capacity 5 << 50 active rows (exact
    while-loop chunks), rows wider than block_k (two lane chunks, the second half padding),
    and its own custom_vjp gives the reference's gradients."""
    idx_np, w_np = _table(seed=3)
    idx = jnp.asarray(idx_np)
    s = _spikes(jnp.float64, activity=(0.5,), seed=4)[0]
    c = _cotangent(jnp.float64, seed=5)

    def run(w, s):
        return (_y_and_grads(lambda a, b: event_scatter_pallas(
                    idx, a, b, N_POST, 5, interpret=True, block_rows=4, block_k=4), w, s, c),
                _y_and_grads(lambda a, b: event_scatter_reference(idx, a, b, N_POST), w, s, c))

    got, ref = jax.jit(run)(jnp.asarray(w_np), s)
    _assert_close(got, ref, tolerances.KERNEL_F64, "direct")
    assert np.count_nonzero(np.asarray(s)) == 50              # 50 rows in chunks of 8


def test_vector_atomics_in_interpret_mode_on_duplicate_free_table():
    """atomics='vector' (the GPU form: one atomic_add per (rows, lanes) tile) in interpret
    mode. Interpret mode applies a vector atomic as ``y[idx] = y[idx] + v``, which is exact
    only when no target repeats inside a tile, so the table has every target at most once
    (padding lanes all go to the dump slot, with value 0)."""
    n_pre, k, n_post = 12, 5, 64
    rng = np.random.default_rng(6)
    idx = rng.permutation(n_post)[:n_pre * k].reshape(n_pre, k).astype(np.int32)
    idx[rng.random((n_pre, k)) < 0.3] = n_post                 # padding anywhere in the row
    idx = jnp.asarray(idx)
    w = jnp.asarray(rng.standard_normal((n_pre, k)))
    spikes = _spikes(jnp.float64, activity=(0.0, 0.25, 1.0), n_pre=n_pre, seed=7)
    f = jax.jit(jax.vmap(lambda s: (
        event_scatter_pallas(idx, w, s, n_post, 4, interpret=True, block_rows=4,
                             atomics="vector"),
        event_scatter_reference(idx, w, s, n_post))))
    got, ref = f(spikes)
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), **tolerances.KERNEL_F64)
    assert np.count_nonzero(np.asarray(ref[2])) > 20


def _triton_kernels(lowered_text):
    """(grid_x, grid_y, num_warps, num_stages) of every Triton custom call in a lowered module,
    split into unbatched (grid_y = 1: the last three) and batched ones."""
    calls = [line for line in lowered_text.splitlines() if "__gpu$xla.gpu.triton" in line]
    plain, batched = [], []
    for line in calls:
        get = {key: int(re.search(rf"{key} = (\d+) : i32", line).group(1))
               for key in ("grid_x", "grid_y", "num_warps", "num_stages")}
        if get["grid_y"] == 1:
            plain.append((get["grid_x"], get["num_warps"], get["num_stages"]))
        else:
            batched.append((get["grid_x"], get["grid_y"], get["num_warps"], get["num_stages"]))
    return plain, batched


def _ttir(lowered):
    """Text of the Triton IR modules inside a lowered computation (jax internals)."""
    from jax._src.lib import triton
    from jax._src.lib.mlir import ir
    found = []

    def walk(op):
        for region in op.regions:
            for block in region.blocks:
                for o in block.operations:
                    if o.operation.name == "stablehlo.custom_call":
                        found.append(o.operation)
                    walk(o.operation)
    walk(lowered.compiler_ir().operation)
    texts = []
    for op in found:
        data = bytes(ir.StringAttr(op.attributes["mhlo.backend_config"]["ir"]).value_bytes)
        with ir.Context() as ctx:
            triton.dialect.register_dialect(ctx)
            texts.append(str(ir.Module.parse(data)))
    return texts


def test_compiled_kernel_lowers_to_triton_for_cuda(pallas_mode):
    """Without a GPU: the non-interpret kernel lowers for CUDA to the Triton custom call with
    the requested compiler parameters, for f32/f64, scalar/array weights, under vmap, and
    under grad through the dispatch (PALLAS_MODE='on'). The Triton IR has the early exit and
    one masked vector fadd atomic per tile."""
    pallas_mode("on")
    idx = jnp.asarray(_table()[0])
    w32 = jnp.ones((N_PRE, K), jnp.float32)
    s32, s64 = jnp.ones((N_PRE,), jnp.float32), jnp.ones((N_PRE,), jnp.float64)

    def f(w32, s32, s64):
        a = event_scatter_pallas(idx, w32, s32, N_POST, 13, block_rows=4, num_warps=2,
                                 num_stages=2)
        b = event_scatter_pallas(idx, 0.5, s32, N_POST, 13, block_rows=4, num_warps=2,
                                 num_stages=2)
        g = jax.grad(lambda s: jnp.tanh(event_scatter(idx, 2.0, s, N_POST, 40)).sum())(s64)
        v = jax.vmap(lambda s: event_scatter_pallas(idx, w32, s, N_POST, 13, block_rows=4,
                                                    num_warps=2, num_stages=2))(
            jnp.stack([s32, s32, s32]))
        return a, b, g, v

    lowered = jax.jit(f).trace(w32, s32, s64).lower(lowering_platforms=("cuda",))
    kernels, batched = _triton_kernels(lowered.as_text())
    # capacity 13 -> 16 rows / 4 per program; 40 -> 40 / 8 (default block_rows, num_warps)
    assert sorted(kernels) == [(4, 2, 2), (4, 2, 2), (5, 4, 1)]
    # vmap: the batching rule puts the batch of 3 on a second grid axis
    assert len(batched) == 1 and sorted(batched[0][:2]) == [3, 4], batched
    tiles = []
    for text in _ttir(lowered):
        assert "scf.if" in text                                     # sentinel blocks exit
        atomics = re.findall(r"tt\.atomic_rmw fadd, .*\((.*)\) ->", text)
        assert len(atomics) == 1, atomics                           # one vector atomic ...
        tiles.append(re.sub(r"!tt\.ptr<\w+>", "ptr", atomics[0]))  # ... masked (i1 operand)
    # (rows, lanes) tiles: block_rows x next_pow2(K = 6)
    assert sorted(tiles) == sorted(3 * ["tensor<4x8xptr>, tensor<4x8xf32>, tensor<4x8xi1>"]
                                   + ["tensor<8x8xptr>, tensor<8x8xf64>, tensor<8x8xi1>"]), tiles


def test_dispatch_follows_pallas_mode(pallas_mode):
    """'auto' uses Pallas only on a GPU backend; 'off' never; 'on' / 'interpret' always (the
    second in interpret mode); anything else raises. Read when tracing."""
    # set from $NEUROJAX_PALLAS at import (default "off" until validated on a GPU)
    assert event_mod.PALLAS_MODE == os.environ.get("NEUROJAX_PALLAS", "off")
    idx = jnp.asarray(_table()[0])
    s = jnp.ones((N_PRE,))

    def pallas_calls(mode):
        pallas_mode(mode)
        jaxpr = str(jax.make_jaxpr(lambda s: event_scatter_with_info(idx, 1.0, s, N_POST, 8))(s))
        return re.findall(r"interpret=(\w+)", jaxpr) if "pallas_call" in jaxpr else []

    assert pallas_calls("auto") == (["False"] if jax.default_backend() == "gpu" else [])
    assert pallas_calls("off") == []
    assert pallas_calls("on") == ["False"]
    assert pallas_calls("interpret") == ["True"]
    pallas_mode("sometimes")
    with pytest.raises(ValueError, match="NEUROJAX_PALLAS"):
        event_scatter(idx, 1.0, s, N_POST, 8)


def test_empty_tables_and_bad_options():
    s = jnp.array([1.0, 0.0, 2.0])
    y = event_scatter_pallas(jnp.zeros((3, 0), jnp.int32), 1.0, s, 2, 2, interpret=True)
    np.testing.assert_array_equal(np.asarray(y), [0.0, 0.0])
    idx = jnp.array([[0, 1], [1, 2], [2, 0]])
    for kwargs, match in (({"block_rows": 3}, "block_rows must be a power of two"),
                          ({"block_k": 0}, "block_k must be a power of two"),
                          ({"num_warps": 6}, "num_warps must be a power of two"),
                          ({"num_stages": 0}, "num_stages"),
                          ({"atomics": "scalar"}, "interpret=True"),
                          ({"atomics": "sometimes", "interpret": True}, "atomics must be")):
        with pytest.raises(ValueError, match=match):
            event_scatter_pallas(idx, 1.0, s, 3, 2, **kwargs)
    with pytest.raises(ValueError, match="spikes must have shape"):
        event_scatter_pallas(idx, 1.0, s[:2], 3, 2, interpret=True)
    with pytest.raises(TypeError, match="float32 or float64"):
        event_scatter_pallas(idx, jnp.bfloat16(1.0), s.astype(jnp.bfloat16), 3, 2, interpret=True)


# ----------------------------------------------------------------------- on a real GPU
@pytest.mark.gpu
@on_gpu
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["f32", "f64"])
def test_gpu_kernel_matches_reference(dtype):
    """Compiled Triton kernel (real atomics, duplicate synapses allowed) vs the reference,
    N = 4000, in-degree 80, 0.1 .. 100 % activity, values and gradients, jit and vmap, and
    the auto dispatch takes it."""
    import neurojax as nj
    n, p_list = 4000, (0.001, 0.01, 0.1, 1.0)
    conn = nj.fixed_in_degree(jax.random.PRNGKey(0), n, n, 80)
    idx = jnp.asarray(conn.post_idx)
    rng = np.random.default_rng(0)
    w = jnp.asarray(rng.standard_normal(idx.shape) / 9.0, dtype)
    spikes = _spikes(dtype, activity=p_list, n_pre=n)
    c = _cotangent(dtype, n=n)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == jnp.float32 else tolerances.KERNEL_F64

    def one(s):
        return (_y_and_grads(lambda a, b: event_scatter_pallas(idx, a, b, n, 200), w, s, c),
                _y_and_grads(lambda a, b: event_scatter(idx, a, b, n, 200), w, s, c),
                _y_and_grads(lambda a, b: event_scatter_reference(idx, a, b, n), w, s, c))

    assert "pallas_call" in str(jax.make_jaxpr(lambda s: event_scatter(idx, w, s, n, 200))(
        spikes[0]))
    batched = jax.jit(jax.vmap(one))(spikes)
    single = jax.jit(one)
    for b, p in enumerate(p_list):
        direct, dispatched, ref = single(spikes[b])
        _assert_close(direct, ref, tol, f"direct p={p}")
        _assert_close(dispatched, ref, tol, f"dispatch p={p}")
        _assert_close([x[b] for x in batched[0]], ref, tol, f"vmap p={p}")
