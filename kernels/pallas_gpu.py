r"""Pallas (Triton) GPU forward of the event-driven push, with the dense ``custom_vjp`` backward.

Same op as :func:`~neurojax.kernels.event_scatter`,

$$ y_j = \sum_{i,m:\ \mathrm{post\_idx}[i,m] = j} w_{im}\, s_i , $$

with the gather, scaling and scatter of the active rows fused into one GPU kernel that
``atomic_add``\ s straight into ``y``.

Algorithm (per call)
    1. Compaction, shared with the ``jnp`` push (:mod:`neurojax.kernels.event`): running count
       of active rows (``s_i != 0``) and ``searchsorted`` into a static buffer of ``K`` row
       indices padded with the sentinel row ``n_pre``. ``K`` is ``max_events`` rounded up to
       a multiple of ``block_rows``. More than ``K`` active rows: a ``lax.while_loop`` runs
       the kernel on the next ``K``, and so on (exact, as the ``jnp`` push; none when silent).
    2. ``s_rows = s[rows]`` (times ``w`` when ``w`` is a scalar): a ``K``-element gather.
    3. One ``pallas_call`` with grid ``K / block_rows``. Program ``b`` reads rows
       ``b R .. b R + R - 1`` (``R = block_rows``) and returns at once if the first one is the
       sentinel (rows are sorted, so the whole block is padding). Otherwise it loops over the
       row width in ``block_k``-lane chunks. Each chunk loads an ``(R, block_k)`` tile of
       ``post_idx`` and ``w`` (row and lane indices clamped into range, so every load is in
       bounds) and scales it by ``s_rows``. Padding lanes (``post_idx == n_post``, lanes past
       ``k``, sentinel rows) get target ``n_post``, a dump slot of the ``(n_post + 1)``-long
       accumulator, and value 0. The tile then goes out as one vector ``atomic_add`` whose
       mask switches the padding lanes off, so they issue no atomics (on a GPU every padding
       lane would otherwise hit the same dump address).
       The accumulator is an input aliased to the output (a zeros vector, then the
       while-loop carry), so the kernel accumulates in place.
    4. ``y = acc[:n_post]``.

    Under ``vmap`` (e.g. a batch of trials sharing the table), ``pallas_call``'s batching rule
    adds a grid axis over the batch. It runs in interpret mode and lowers for CUDA (both
    tested on CPU); the overflow loop then runs as many iterations as the busiest trial needs.

Backward
    The dense ``custom_vjp`` backward of :mod:`neurojax.kernels.event` (``_propagate_bwd``),
    unchanged: $\partial L/\partial s_i = \sum_m w_{im} g_{\mathrm{post\_idx}[i,m]}$ for every
    presynaptic neuron (silent ones included), $\partial L/\partial w_{im} = s_i
    g_{\mathrm{post\_idx}[i,m]}$. The Pallas kernel itself is never differentiated.

Backend
    Triton, requested explicitly with ``compiler_params=plt.CompilerParams(num_warps,
    num_stages)``. In jax 0.10 a ``pallas_call`` with no compiler parameters goes to Mosaic
    GPU, which is Hopper-only and has no vector scatter-atomics. The Triton backend runs on
    Ampere and newer (and ROCm). All block shapes are powers of two, as the Triton lowering
    requires. The kernel also lowers for CUDA on a machine without a GPU (``jax.export`` with
    ``platforms=["cuda"]``), which ``tests/test_kernels_pallas.py`` checks. On a GPU, float
    atomics make the last bits of ``y`` depend on the order of the updates. Use the pull path
    (:func:`~neurojax.kernels.event_gather`) where bitwise reproducibility matters.

Interpret mode (CPU tests)
    ``interpret=True`` runs the kernel as a jitted scan over the grid on any backend. It
    applies a *vector* ``atomic_add`` as ``y.at[idx].set(y[idx] + val)``, so two lanes of one
    tile that hit the same target lose an update (real atomics do not). Two active rows with
    a common target are the rule, not the exception, so by default (``atomics=None``)
    interpret mode issues one scalar ``atomic_add`` per lane (``atomics="scalar"``, exact).
    ``atomics="vector"`` forces the GPU form: in interpret mode it is exact only when no
    target repeats within a tile (tested with such a table). Masked Triton atomics
    (``mask=``) have no interpret rule in jax 0.10.2, so in interpret mode the padding lanes
    reach the dump slot unmasked (value 0). Interpret mode is a correctness harness, ~5x or
    more slower than the ``jnp`` push on CPU, not a CPU backend.

Dispatch
    :func:`~neurojax.kernels.event_scatter` (and so every projection with ``max_events``)
    uses this forward when :data:`neurojax.kernels.event.PALLAS_MODE` says so. ``"auto"``
    means: when ``jax.default_backend() == "gpu"`` at trace time; the default is ``"off"``
    until the kernel has been run on a GPU. The environment
    variable ``NEUROJAX_PALLAS`` (``auto`` / ``off`` / ``on`` / ``interpret``) sets it at
    import. :func:`event_scatter_pallas` calls the kernel directly, with its tuning knobs.

Not measured yet: GPU speed (this module was written on a machine without a GPU);
``experiments/bench_pallas.py`` does it when one is available.
"""
from functools import partial
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt

from neurojax.kernels.event import _check, _gather_rows, _over_active_chunks, _propagate_bwd

Array = jax.Array

#: Defaults of :func:`event_scatter_pallas` (also used by the ``event_scatter`` dispatch).
#: Not tuned on a GPU yet: ``experiments/bench_pallas.py`` sweeps ``block_rows``.
BLOCK_ROWS = 8
BLOCK_K = 128
NUM_WARPS = 4
NUM_STAGES = 1


class PallasOptions(NamedTuple):
    """Static (hashable) settings of the Pallas forward; see :func:`event_scatter_pallas`."""

    interpret: bool = False
    block_rows: int = BLOCK_ROWS
    block_k: int = BLOCK_K
    num_warps: int = NUM_WARPS
    num_stages: int = NUM_STAGES
    atomics: Optional[str] = None


def _pow2(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 \
            or value & (value - 1):
        raise ValueError(f"{name} must be a power of two (Triton block shapes), got {value!r}")
    return value


def _check_options(opts: PallasOptions) -> PallasOptions:
    if not isinstance(opts.interpret, bool):
        raise TypeError(f"interpret must be a bool, got {opts.interpret!r}")
    for name in ("block_rows", "block_k", "num_warps"):
        _pow2(name, getattr(opts, name))
    if isinstance(opts.num_stages, bool) or not isinstance(opts.num_stages, int) \
            or opts.num_stages < 1:
        raise ValueError(f"num_stages must be an int >= 1, got {opts.num_stages!r}")
    if opts.atomics not in (None, "vector", "scalar"):
        raise ValueError(f"atomics must be None, 'vector' or 'scalar', got {opts.atomics!r}")
    if opts.atomics == "scalar" and not opts.interpret:
        raise ValueError("atomics='scalar' is the interpret-mode emulation; it needs "
                         "interpret=True (on a GPU the tile goes out as one vector atomic)")
    return opts


def _next_pow2(n):
    return 1 << max(n - 1, 0).bit_length()


def _scatter_call(n_pre, k, n_post, n_rows, dtype, has_w, opts: PallasOptions):
    """The ``pallas_call``: ``acc += scatter(rows, s_rows)`` for ``n_rows`` buffered rows."""
    r = opts.block_rows
    bk = min(opts.block_k, _next_pow2(k))
    n_chunks = -(-k // bk)
    atomics = opts.atomics or ("scalar" if opts.interpret else "vector")

    def kernel(*refs):
        if has_w:
            rows_ref, s_ref, idx_ref, w_ref, _acc_in, acc_ref = refs
        else:
            rows_ref, s_ref, idx_ref, _acc_in, acc_ref = refs
        base = pl.program_id(0) * r

        @pl.when(rows_ref[base] < n_pre)            # rows are sorted: else all padding
        def _():
            rows = rows_ref[pl.ds(base, r)]
            s = s_ref[pl.ds(base, r)]
            live = (rows < n_pre)[:, None]
            row2 = jnp.broadcast_to(jnp.minimum(rows, n_pre - 1)[:, None], (r, bk))
            lane0 = lax.broadcasted_iota(jnp.int32, (r, bk), 1)

            def chunk(c, carry):
                lanes = c * bk + lane0
                lane2 = jnp.minimum(lanes, k - 1)
                tgt = idx_ref[row2, lane2]
                ok = live & (lanes < k) & (tgt >= 0) & (tgt < n_post)
                tgt = jnp.where(ok, tgt, n_post).astype(jnp.int32)
                if has_w:
                    val = w_ref[row2, lane2].astype(dtype) * s[:, None]
                else:
                    val = jnp.broadcast_to(s[:, None], (r, bk))
                val = jnp.where(ok, val, jnp.zeros((), dtype))
                if atomics == "vector" and not opts.interpret:
                    plt.atomic_add(acc_ref, tgt, val, mask=ok)   # padding lanes issue nothing
                elif atomics == "vector":                # interpret mode has no masked atomics
                    plt.atomic_add(acc_ref, tgt, val)
                else:                               # interpret mode: one exact update per lane
                    tgt_f, val_f = tgt.reshape(-1), val.reshape(-1)

                    def one(i, c_):
                        plt.atomic_add(acc_ref, tgt_f[i], val_f[i])
                        return c_
                    lax.fori_loop(0, r * bk, one, 0)
                return carry

            if n_chunks == 1:
                chunk(0, 0)
            else:
                lax.fori_loop(0, n_chunks, chunk, 0)

    return pl.pallas_call(
        kernel,
        grid=(n_rows // r,),
        out_shape=jax.ShapeDtypeStruct((n_post + 1,), dtype),
        input_output_aliases={4 if has_w else 3: 0},
        interpret=opts.interpret,
        compiler_params=plt.CompilerParams(num_warps=opts.num_warps,
                                           num_stages=opts.num_stages),
        name="event_scatter_push",
    )


def _push_pallas(post_idx, w, spikes, n_post, max_events, dtype, opts=PallasOptions()):
    """Pallas forward with :func:`neurojax.kernels.event._push`'s contract: ``(y, n_active)``.

    Arguments are already checked (``_check``); ``opts`` is a :class:`PallasOptions`.
    """
    opts = _check_options(opts)
    if jnp.dtype(dtype) not in (jnp.float32, jnp.float64):
        raise TypeError(f"the Pallas push takes float32 or float64 weights/spikes, got {dtype} "
                        "(use the jnp push: PALLAS_MODE = 'off')")
    n_pre, k = post_idx.shape
    if n_pre == 0 or k == 0:
        return jnp.zeros((n_post,), dtype), jnp.sum(spikes != 0, dtype=jnp.int32)
    r = opts.block_rows
    n_rows = -(-max_events // r) * r                # chunk size: max_events rounded up to R
    call = _scatter_call(n_pre, k, n_post, n_rows, dtype, w.ndim != 0, opts)

    def body(rows, acc):
        s_rows = _gather_rows(spikes, rows, 0).astype(dtype)
        if w.ndim == 0:
            return call(rows, s_rows * w.astype(dtype), post_idx, acc)
        return call(rows, s_rows, post_idx, w, acc)

    acc, n_active = _over_active_chunks(spikes, n_rows, body, jnp.zeros((n_post + 1,), dtype))
    return acc[:n_post], n_active


# ------------------------------------------------------------------------------------------
# differentiable wrapper: the dense backward of kernels/event.py
# ------------------------------------------------------------------------------------------
@partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2))
def _propagate_pallas(n_post, max_events, opts, post_idx, w, spikes):
    return _push_pallas(post_idx, w, spikes, n_post, max_events,
                        jnp.result_type(w, spikes), opts)


def _propagate_pallas_fwd(n_post, max_events, opts, post_idx, w, spikes):
    values = jax.custom_derivatives.custom_vjp_primal_tree_values
    out = _propagate_pallas(n_post, max_events, opts, *values((post_idx, w, spikes)))
    need = tuple(None if not x.perturbed else () for x in (spikes, w)) + (None,)
    return out, (post_idx.value, w.value, spikes.value, None, need)


def _propagate_pallas_bwd(n_post, max_events, opts, res, cts):
    _, d_w, d_spikes, _, _ = _propagate_bwd(n_post, max_events, res, cts)
    return None, d_w, d_spikes


_propagate_pallas.defvjp(_propagate_pallas_fwd, _propagate_pallas_bwd, symbolic_zeros=True)


def event_scatter_pallas(post_idx, w, spikes, n_post: int, max_events: Optional[int], *,
                         interpret: bool = False, block_rows: int = BLOCK_ROWS,
                         block_k: int = BLOCK_K, num_warps: int = NUM_WARPS,
                         num_stages: int = NUM_STAGES, atomics: Optional[str] = None) -> Array:
    r""":func:`~neurojax.kernels.event_scatter` with the Pallas (Triton) GPU forward.

    Same values (up to the order of float additions), same exact overflow handling and the
    same dense ``custom_vjp`` backward as :func:`~neurojax.kernels.event_scatter`; see the
    module docstring for the kernel.

    Args:
        post_idx, w, spikes, n_post, max_events: as :func:`~neurojax.kernels.event_scatter`.
        interpret: run the kernel in Pallas interpret mode (any backend; for tests). Without
            it the kernel needs a GPU (CUDA Ampere+ or ROCm).
        block_rows: active rows per program (power of two).
        block_k: most lanes of a row handled at once (power of two). A row of width ``k``
            goes in ``ceil(k / min(block_k, next_pow2(k)))`` chunks.
        num_warps, num_stages: Triton compiler parameters.
        atomics: ``"vector"`` (one ``atomic_add`` per ``(block_rows, block_k)`` tile, the GPU
            form) or ``"scalar"`` (one per lane; interpret mode only, exact there). ``None``:
            ``"scalar"`` when interpreting, else ``"vector"``.

    Returns:
        ``[n_post]`` input, dtype ``result_type(w, spikes)``.

    Raises:
        ValueError, TypeError: as :func:`~neurojax.kernels.event_scatter`, and for block
            sizes that are not powers of two.

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax.kernels import event_scatter_pallas
        >>> idx = jnp.array([[0, 1], [1, 2]])          # 2 = padding for n_post = 2
        >>> w = jnp.array([[0.5, 1.0], [2.0, 0.0]])
        >>> event_scatter_pallas(idx, w, jnp.array([1.0, 1.0]), 2, 1, interpret=True,
        ...                      block_rows=1).tolist()
        [0.5, 3.0]
    """
    post_idx, w, spikes, n_post, max_events, _ = _check(post_idx, w, spikes, n_post, max_events)
    opts = _check_options(PallasOptions(interpret, block_rows, block_k, num_warps, num_stages,
                                        atomics))
    return _propagate_pallas(n_post, max_events, opts, post_idx, w, spikes)[0]
