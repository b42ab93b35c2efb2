r"""Event-driven spike propagation with exact gradients.

A projection from ``n_pre`` to ``n_post`` neurons is the padded-row table of
:mod:`neurojax.kernels.reference`: ``post_idx: int32[n_pre, k]`` (sentinel ``n_post`` marks
padding), weights ``w`` of shape ``(n_pre, k)`` or a scalar, and a presynaptic signal ``s`` of
shape ``(n_pre,)``. Every function here computes

$$ y_j = \sum_{i,k:\ \mathrm{post\_idx}[i,k] = j} w_{ik}\, s_i , $$

exactly as :func:`~neurojax.kernels.event_scatter_reference`, but with work proportional to
the number of *active* rows (``s_i != 0``) instead of the number of synapses.

Forward (:func:`event_scatter`, the "push" path)
    1. two-level compaction into a static-size buffer of ``max_events`` row indices, padded
       with the sentinel row ``n_pre`` (gathers of the sentinel read the fill values
       ``n_post`` / ``0``, so padding writes nothing): the active flags are packed into one
       ``uint32`` bitmask word per 32 rows (one pass over ``s``), a running count of the
       words' popcounts (``lax.associative_scan``, ``n_pre / 32`` entries) and
       ``searchsorted`` find the word of each active rank, and the rank's bit inside its word
       is the number of bits whose inclusive popcount (word masked to bits ``<= j``, 32
       constant masks) is below the rank within the word. Work $O(n_\mathrm{pre} +
       \mathrm{max\_events} \cdot (\log(n_\mathrm{pre}/32) + 32))$ with only
       ``n_pre / 32`` words materialised, instead of a prefix sum over all ``n_pre`` rows,
       whose cost dominated the push at large N on XLA:CPU (an earlier variant with
       materialised int32 flags, blocks of 8-32 rows and a running count inside each gathered
       block took 1.3-1.4x longer for the whole push in the COBA regime);
    2. gather those rows of ``post_idx`` and ``w``, scale by ``s_i`` (any float, e.g. an STP
       efficacy), one scatter-add.

    **Overflow is exact.** If more than ``max_events`` rows are active, a ``lax.while_loop``
    processes the next ``max_events`` active rows, and so on, until all are delivered (one
    iteration, the normal case; zero when nothing spiked). A ``lax.cond`` fallback to the
    dense path was measured too and rejected: under ``vmap`` its predicate is batched, so
    ``cond`` becomes ``select`` and *both* branches run on every step: 12x (N=4000) and
    16x (N=16000) slower for a batch of 4 at 1 % activity (``experiments/bench_kernels.py``).
    The batched while-loop only runs extra iterations when some trial overflowed.
    :func:`event_scatter_with_info` also returns the active count, so a simulator can report
    ``n_active > max_events`` (the steps that needed extra iterations).

    On a GPU, steps 2-3 can be one Pallas (Triton) kernel with atomic adds
    (:mod:`neurojax.kernels.pallas_gpu`); :data:`PALLAS_MODE` chooses, at trace time. It is
    off by default until it has been run and timed on GPU hardware (it is tested in
    interpret mode and its CUDA lowering is checked on CPU): ``NEUROJAX_PALLAS=auto``.

Forward (:func:`event_gather`, the "pull" path)
    Scatter-free: ``y_j = \sum_m w[\mathrm{slot}_{jm}]\, s[\mathrm{pre}_{jm}]`` over a by-post
    table built once on the host by :func:`pull_table`. It touches every synapse (not
    event-driven) but has no scatter, and on this CPU it beats the push from about 10 %
    activity on (in-degree 80, N = 4000 and 16000: 1.5-1.6x faster at 10 %, 4-5x at 50 %;
    1.3-6x slower at 0.1-3 %).
    :func:`propagate` chooses between the two statically from ``max_events / n_pre``.

Backward (both paths, ``jax.custom_vjp``)
    With ``g = \partial L / \partial y`` and ``G_{ik} = g[\mathrm{post\_idx}_{ik}]`` (0 on
    padding), a row-wise gather on the *same* by-pre table (no scatter, no second index):

    * $\partial L/\partial s_i = \sum_k w_{ik} G_{ik}$ for **every** presynaptic neuron, silent
      ones included: this is where a surrogate gradient enters. Plain autodiff through the
      compaction gives 0 for silent rows (the integer row indices carry no gradient), which
      is wrong; ``tests/test_kernels.py`` keeps a regression test for it.
    * $\partial L/\partial w_{ik} = s_i G_{ik}$ (0 on padding; summed for a scalar ``w``),
      computed densely from the same ``G``. An event-driven variant (zero buffer plus a
      scatter of the active rows) was measured inside a 1000-step ``lax.scan`` and was no
      faster (x0.7-1.2 of the dense one's time at N = 4000/16000, 0.1-5 % activity): there the
      per-step weight-sized cotangent accumulation dominates either way.

    Only the cotangents that are needed are computed (``symbolic_zeros``); the residuals are
    the inputs themselves (no extra per-step memory beyond the spike vector).

    Each active row delivers ``w * s_i``, so $y$ is exactly linear in ``s`` (the compaction
    only skips zero terms) and these are its exact derivatives, equal to the reference's.
    ``post_idx`` (and the pull table) are integer inputs and get no gradient; ``n_post`` and
    ``max_events`` are static Python ints.

All functions work under ``jit``, ``vmap`` (e.g. a batch of spike vectors sharing the table)
and ``grad``, in float32 and float64.
"""
import os
from functools import partial
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from neurojax._params import check_int

Array = jax.Array

#: :func:`propagate` uses the pull path when ``max_events >= PULL_ABOVE * n_pre`` (measured
#: crossover between 5 % and 10 % activity at in-degree 80 on a 2-core CPU).
PULL_ABOVE = 0.1

#: Forward of the push path, read when tracing: ``"auto"`` (the Pallas/Triton kernel of
#: :mod:`neurojax.kernels.pallas_gpu` when ``jax.default_backend() == "gpu"``, else ``jnp``),
#: ``"off"`` (always ``jnp``), ``"on"`` (always Pallas; GPU only) or ``"interpret"`` (Pallas in
#: interpret mode, any backend: for tests). Set from ``$NEUROJAX_PALLAS`` at import (default
#: ``"off"`` until the kernel has been validated on a GPU); functions already jitted keep the
#: forward they were traced with.
PALLAS_MODE = os.environ.get("NEUROJAX_PALLAS", "off")


class PullTable(NamedTuple):
    """By-postsynaptic view of a padded-row table, for the scatter-free :func:`event_gather`.

    Built once on the host by :func:`pull_table`; both arrays are ``int32[n_post, d]`` with
    ``d`` the largest in-degree.

    Attributes:
        pre_idx: presynaptic source of each incoming synapse; padding holds ``n_pre``.
        slot: flat position ``i * k + m`` of that synapse in ``post_idx`` / ``w``; padding
            holds ``n_pre * k``.
    """

    pre_idx: Array
    slot: Array


def pull_table(post_idx, n_post: int) -> PullTable:
    """Build the by-post :class:`PullTable` of a padded-row table (host-side, NumPy).

    Call it once, outside ``jit``, when the connectivity is built; it is a pytree of integer
    arrays that can be passed to jitted functions.

    Args:
        post_idx: ``int[n_pre, k]`` target table (sentinel ``n_post``).
        n_post: number of postsynaptic neurons.

    Examples:
        >>> import numpy as np
        >>> from neurojax.kernels import pull_table
        >>> t = pull_table(np.array([[0, 1], [1, 2]]), 2)   # 2 = padding
        >>> np.asarray(t.pre_idx).tolist(), np.asarray(t.slot).tolist()
        ([[0, 2], [0, 1]], [[0, 4], [1, 2]])
    """
    idx = np.asarray(post_idx)
    n_post = check_int(n_post, "n_post", minimum=0)
    if idx.ndim != 2:
        raise ValueError(f"post_idx must be 2-D (n_pre, k), got shape {idx.shape}")
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"post_idx must be an integer array, got {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() > n_post):
        raise ValueError(f"post_idx has indices outside [0, {n_post}] ({n_post} is the padding)")
    n_pre, k = idx.shape
    flat = idx.reshape(-1)
    slot = np.nonzero(flat < n_post)[0]
    tgt = flat[slot]
    order = np.argsort(tgt, kind="stable")
    slot, tgt = slot[order], tgt[order]
    counts = np.bincount(tgt, minlength=n_post)
    d = int(counts.max()) if counts.size else 0
    start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    pos = np.arange(tgt.size) - start[tgt]
    pre_tab = np.full((n_post, d), n_pre, np.int32)
    slot_tab = np.full((n_post, d), n_pre * k, np.int32)
    pre_tab[tgt, pos] = slot // max(k, 1)
    slot_tab[tgt, pos] = slot
    return PullTable(jnp.asarray(pre_tab), jnp.asarray(slot_tab))


# --------------------------------------------------------------------------------------------
# argument checks (trace time: shapes, dtypes and static ints only)
# --------------------------------------------------------------------------------------------
def _check(post_idx, w, spikes, n_post, max_events, dw=None):
    n_post = check_int(n_post, "n_post", minimum=0)
    post_idx, w, spikes = jnp.asarray(post_idx), jnp.asarray(w), jnp.asarray(spikes)
    if dw is not None:
        dw = jnp.asarray(dw)
        if dw.shape != post_idx.shape:
            raise ValueError(f"dw must have post_idx's shape {post_idx.shape}, got {dw.shape}")
    if post_idx.ndim != 2:
        raise ValueError(f"post_idx must be 2-D (n_pre, k), got shape {post_idx.shape}")
    if not jnp.issubdtype(post_idx.dtype, jnp.integer):
        raise TypeError(f"post_idx must be an integer array, got {post_idx.dtype}")
    n_pre = post_idx.shape[0]
    if w.ndim != 0 and w.shape != post_idx.shape:
        raise ValueError(f"w must be a scalar or have post_idx's shape {post_idx.shape}, "
                         f"got {w.shape}")
    if spikes.shape != (n_pre,):
        raise ValueError(f"spikes must have shape (n_pre,) = ({n_pre},), got {spikes.shape}")
    if max_events is None:
        max_events = max(n_pre, 1)
    max_events = min(check_int(max_events, "max_events", minimum=1), max(n_pre, 1))
    return post_idx, w, spikes, n_post, max_events, dw


def _check_pull(pull, n_pre, n_post):
    if not isinstance(pull, PullTable):
        raise TypeError(f"pull must be a PullTable (see pull_table), got {type(pull).__name__}")
    if pull.pre_idx.ndim != 2 or pull.pre_idx.shape[0] != n_post \
            or pull.slot.shape != pull.pre_idx.shape:
        raise ValueError(f"pull tables must both have shape (n_post, d) with n_post = {n_post}, "
                         f"got {pull.pre_idx.shape} and {pull.slot.shape}")


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------
#: Rows per bitmask word of :func:`_active_rows`.
_WORD = 32


class ActiveRows(NamedTuple):
    """Bitmask index of the active rows of a signal, for :func:`_chunk_rows` (see
    :func:`_active_rows`)."""

    words: Array         # uint32[n_blocks], bit j of word m set iff row m * block + j is active
    block_count: Array   # int32[n_blocks], inclusive running count of active rows per block
    block: int           # rows per block (bits used per word), static


def _active_rows(spikes, block: int = _WORD) -> ActiveRows:
    """Active-row flags packed into one ``uint32`` word per ``block`` (<= 32) rows, and the
    running count of active rows over the words (their popcounts)."""
    n = spikes.shape[0]
    active = jnp.pad(spikes != 0, (0, -n % block)).reshape(-1, block)
    bits = jnp.asarray(1 << np.arange(block), jnp.uint32)
    words = jnp.sum(jnp.where(active, bits, jnp.uint32(0)), axis=1, dtype=jnp.uint32)
    counts = lax.population_count(words).astype(jnp.int32)
    return ActiveRows(words, lax.associative_scan(jnp.add, counts), block)


def _chunk_rows(index: ActiveRows, start, size: int, n_rows: int):
    """Rows of the active spikes number ``start+1 .. start+size`` (1-based), padded with the
    sentinel row ``n_rows`` past the last active row."""
    n_blocks, block = index.words.shape[0], index.block
    ranks = start + jnp.arange(1, size + 1, dtype=jnp.int32)
    blk = jnp.searchsorted(index.block_count, ranks, side="left").astype(jnp.int32)
    before = jnp.where(blk > 0, index.block_count.at[blk - 1].get(mode="clip"), 0)
    word = index.words.at[blk].get(mode="fill", fill_value=0)
    # bit of the (ranks - before)-th set bit = number of bits whose inclusive popcount is lower
    masks = jnp.asarray((2 << np.arange(block, dtype=np.uint64)) - 1, jnp.uint32)
    inclusive = lax.population_count(word[:, None] & masks[None, :]).astype(jnp.int32)
    offset = jnp.sum(inclusive < (ranks - before)[:, None], axis=1, dtype=jnp.int32)
    return jnp.where(blk < n_blocks, blk * block + offset, n_rows)


def _over_active_chunks(spikes, max_events, body, init):
    """``carry = body(rows, carry)`` for successive chunks of ``max_events`` active rows.

    Runs ceil(n_active / max_events) iterations (usually one; none when silent).
    Returns ``(carry, n_active)``.
    """
    n_rows = spikes.shape[0]
    if n_rows == 0:
        return init, jnp.int32(0)
    index = _active_rows(spikes)
    n_active = index.block_count[-1]

    def step(state):
        start, carry = state
        return start + max_events, body(_chunk_rows(index, start, max_events, n_rows), carry)

    _, carry = lax.while_loop(lambda state: state[0] < n_active, step, (jnp.int32(0), init))
    return carry, n_active


def _gather_rows(x, rows, fill):
    return x.at[rows].get(mode="fill", fill_value=fill)


def _push(post_idx, w, spikes, n_post, max_events, dtype, dw=None):
    """Event-driven forward: returns ``(y, n_active)``. With ``dw`` the weights are
    ``w + dw``, added on the active rows only."""
    def body(rows, y):
        targets = _gather_rows(post_idx, rows, n_post)                  # (K, k)
        s_rows = _gather_rows(spikes, rows, 0).astype(dtype)[:, None]   # (K, 1)
        w_rows = w if w.ndim == 0 else _gather_rows(w, rows, 0)
        if dw is not None:
            w_rows = w_rows + _gather_rows(dw, rows, 0)
        if jnp.ndim(w_rows) == 0:
            vals = jnp.broadcast_to(w_rows.astype(dtype) * s_rows, targets.shape)
        else:
            vals = w_rows.astype(dtype) * s_rows
        return y.at[targets.reshape(-1)].add(vals.reshape(-1), mode="drop")

    if post_idx.shape[0] == 0:
        return jnp.zeros((n_post,), dtype), jnp.int32(0)
    interpret = _pallas_interpret(dtype)
    if interpret is not None:
        from neurojax.kernels.pallas_gpu import PallasOptions, _push_pallas  # imports this module
        return _push_pallas(post_idx, w if dw is None else w + dw, spikes, n_post, max_events,
                            dtype, PallasOptions(interpret=interpret))
    return _over_active_chunks(spikes, max_events, body, jnp.zeros((n_post,), dtype))


def _pallas_interpret(dtype):
    """``None``: the ``jnp`` push; else the ``interpret`` flag of the Pallas push
    (from :data:`PALLAS_MODE`, at trace time; "auto" keeps ``jnp`` for dtypes other than
    float32/float64, which the kernel does not take)."""
    mode = PALLAS_MODE
    if mode == "auto":
        return False if jax.default_backend() == "gpu" and \
            dtype in (jnp.float32, jnp.float64) else None
    if mode in ("off", "on", "interpret"):
        return {"off": None, "on": False, "interpret": True}[mode]
    raise ValueError(f"PALLAS_MODE / $NEUROJAX_PALLAS must be 'auto', 'off', 'on' or "
                     f"'interpret', got {mode!r}")


def _pull(pull, w, spikes, dtype):
    """Scatter-free forward over the by-post table: ``(y, n_active)``."""
    s_in = _gather_rows(spikes, pull.pre_idx, 0).astype(dtype)           # (n_post, d)
    if w.ndim == 0:
        y = w.astype(dtype) * jnp.sum(s_in, axis=1)
    else:
        w_in = _gather_rows(w.reshape(-1), pull.slot, 0).astype(dtype)
        y = jnp.sum(w_in * s_in, axis=1)
    return y, jnp.sum(spikes != 0, dtype=jnp.int32)


# --------------------------------------------------------------------------------------------
# the differentiable op: one custom_vjp shared by the push and pull forwards
# --------------------------------------------------------------------------------------------
@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _propagate(n_post, max_events, post_idx, w, spikes, pull, dw):
    dtype = jnp.result_type(w, spikes) if dw is None else jnp.result_type(w, spikes, dw)
    if pull is None:
        return _push(post_idx, w, spikes, n_post, max_events, dtype, dw)
    return _pull(pull, w if dw is None else w + dw, spikes, dtype)


def _propagate_fwd(n_post, max_events, post_idx, w, spikes, pull, dw):
    values = jax.custom_derivatives.custom_vjp_primal_tree_values
    out = _propagate(n_post, max_events, *values((post_idx, w, spikes, pull, dw)))
    # which cotangents are needed is static: encode it in the residuals' tree structure
    need = tuple(None if x is None or not x.perturbed else () for x in (spikes, w, dw))
    return out, (post_idx.value, w.value, spikes.value, None if dw is None else dw.value, need)


def _propagate_bwd(n_post, max_events, res, cts):
    """Dense backward; cotangents ``(post_idx, w, spikes, pull, dw)``."""
    post_idx, w, spikes, dw, (need_ds, need_dw, need_ddw) = res
    # residuals can come back as Python-scalar literals (e.g. a constant w under jax.checkpoint)
    post_idx, w, spikes = jnp.asarray(post_idx), jnp.asarray(w), jnp.asarray(spikes)
    g = cts[0]
    if isinstance(g, jax.custom_derivatives.SymbolicZero) or \
            (need_ds is None and need_dw is None and need_ddw is None):
        return None, None, None, None, None
    # G[i, k] = g[post_idx[i, k]] (0 on padding): one gather on the by-pre table, no scatter
    big_g = _gather_rows(g, post_idx, 0)                                       # (n_pre, k)
    w_eff = w if dw is None else w + jnp.asarray(dw)
    d_spikes = d_w = d_dw = None
    if need_ds is not None:
        d_spikes = (w_eff.astype(g.dtype) * jnp.sum(big_g, axis=1) if w_eff.ndim == 0
                    else jnp.sum(w_eff.astype(g.dtype) * big_g, axis=1)).astype(spikes.dtype)
    if need_dw is not None or need_ddw is not None:
        d_table = spikes.astype(g.dtype)[:, None] * big_g                       # dL/dW_ik
        if need_dw is not None:
            d_w = (jnp.sum(d_table) if w.ndim == 0 else d_table).astype(w.dtype)
        if need_ddw is not None:
            d_dw = d_table.astype(jnp.asarray(dw).dtype)
    return None, d_w, d_spikes, None, d_dw


_propagate.defvjp(_propagate_fwd, _propagate_bwd, symbolic_zeros=True)


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def event_scatter_with_info(post_idx, w, spikes, n_post: int, max_events: Optional[int], *,
                            dw=None):
    r""":func:`event_scatter` that also returns the number of active rows.

    Returns:
        ``(y, n_active)``: ``y`` as :func:`event_scatter`; ``n_active`` (int32 scalar) counts
        the rows with ``spikes != 0``. ``n_active > max_events`` means the step overflowed the
        capacity: the result is still exact, but it took extra loop iterations.

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax.kernels import event_scatter_with_info
        >>> idx = jnp.array([[0, 1], [1, 2], [0, 2]])      # 2 = padding for n_post = 2
        >>> y, n = event_scatter_with_info(idx, 1.0, jnp.array([1.0, 1.0, 1.0]), 2, 2)
        >>> y.tolist(), int(n)                              # 3 active rows > capacity 2: exact
        ([2.0, 2.0], 3)
    """
    post_idx, w, spikes, n_post, max_events, dw = _check(post_idx, w, spikes, n_post, max_events,
                                                         dw)
    return _propagate(n_post, max_events, post_idx, w, spikes, None, dw)


def event_scatter(post_idx, w, spikes, n_post: int, max_events: Optional[int], *,
                  dw=None) -> Array:
    r"""Event-driven $y_j = \sum_{i,k:\ \mathrm{post\_idx}[i,k]=j} w_{ik}\, s_i$ (push path).

    Same values as :func:`~neurojax.kernels.event_scatter_reference`, work proportional to
    the active rows. Differentiable in ``w`` and ``spikes`` through a ``custom_vjp`` whose
    ``spikes`` gradient is dense (every presynaptic neuron, silent ones included); see the
    module docstring.

    Args:
        post_idx: ``int[n_pre, k]`` target table; ``n_post`` marks padding.
        w: weights, ``[n_pre, k]`` or a scalar.
        spikes: ``[n_pre]`` signal; a row is active iff its value is nonzero, and its
            synapses deliver ``w * spikes[i]`` (so non-binary values, e.g. STP efficacies,
            are exact).
        n_post: number of postsynaptic neurons (static Python int).
        max_events: static capacity of the active-row buffer per call (``None``: ``n_pre``).
            Choose it from the expected activity plus a margin; exceeding it costs extra
            loop iterations, never accuracy.
        dw: optional ``[n_pre, k]`` plastic change: the synapses transmit ``w + dw``, added
            on the active rows only (the sum is never materialised; differentiable in both).

    Returns:
        ``[n_post]`` input, dtype ``result_type(w, spikes)``.

    Raises:
        ValueError, TypeError: on inconsistent shapes, non-integer ``post_idx`` or
            non-int ``n_post`` / ``max_events``.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from neurojax.kernels import event_scatter
        >>> idx = jnp.array([[0, 1], [1, 2]])          # 2 = padding for n_post = 2
        >>> w = jnp.array([[0.5, 1.0], [2.0, 0.0]])
        >>> event_scatter(idx, w, jnp.array([1.0, 0.0]), 2, 1).tolist()
        [0.5, 1.0]
        >>> # the silent neuron 1 still gets d/ds_1 = sum_k w[1,k] g[post_idx[1,k]] = 2.0
        >>> jax.grad(lambda s: event_scatter(idx, w, s, 2, 1).sum())(jnp.array([1.0, 0.0])).tolist()
        [1.5, 2.0]
    """
    return event_scatter_with_info(post_idx, w, spikes, n_post, max_events, dw=dw)[0]


def event_gather(pull: PullTable, post_idx, w, spikes, n_post: int) -> Array:
    r"""Scatter-free (pull) $y = W^\top s$ over the by-post table ``pull``.

    Touches every synapse (work $\propto$ nnz whatever the activity) but needs no scatter;
    faster than :func:`event_scatter` from about 10 % activity on this CPU. Same values and
    same ``custom_vjp`` backward as :func:`event_scatter`; ``post_idx`` is needed for it.

    Args:
        pull: :class:`PullTable` of ``post_idx`` (from :func:`pull_table`).
        post_idx, w, spikes, n_post: as :func:`event_scatter`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax.kernels import event_gather, pull_table
        >>> idx = jnp.array([[0, 1], [1, 2]])
        >>> w = jnp.array([[0.5, 1.0], [2.0, 0.0]])
        >>> event_gather(pull_table(idx, 2), idx, w, jnp.array([1.0, 1.0]), 2).tolist()
        [0.5, 3.0]
    """
    post_idx, w, spikes, n_post, _, _ = _check(post_idx, w, spikes, n_post, None)
    _check_pull(pull, post_idx.shape[0], n_post)
    return _propagate(n_post, max(post_idx.shape[0], 1), post_idx, w, spikes, pull, None)[0]


def propagate(post_idx, w, spikes, n_post: int, max_events: Optional[int],
              pull: Optional[PullTable] = None, pull_above: float = PULL_ABOVE) -> Array:
    r"""Choose the push or pull path statically, then propagate (same values and gradients).

    With a :class:`PullTable` and a capacity ``max_events >= pull_above * n_pre`` (i.e. high
    expected activity), uses :func:`event_gather`; otherwise :func:`event_scatter`. The
    choice is made at trace time (no ``lax.cond``, so it stays cheap under ``vmap``).

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax.kernels import propagate, pull_table
        >>> idx = jnp.array([[0, 1], [1, 2]])
        >>> s = jnp.array([1.0, 1.0])
        >>> propagate(idx, 1.0, s, 2, 2, pull=pull_table(idx, 2)).tolist()   # pull path
        [1.0, 2.0]
    """
    n_pre = jnp.shape(post_idx)[0]
    cap = n_pre if max_events is None else max_events
    if pull is not None and cap >= pull_above * n_pre:
        return event_gather(pull, post_idx, w, spikes, n_post)
    return event_scatter(post_idx, w, spikes, n_post, max_events)
