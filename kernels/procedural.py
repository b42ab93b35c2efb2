r"""Procedural ("just-in-time") connectivity: random projections regenerated, never stored.

A fixed Erdős–Rényi projection from ``n_pre`` to ``n_post`` neurons is defined by a seed and
a connection probability ``p`` alone. Every pair's connection and weight is a pure function
of ``(seed, pre, post)``, recomputed whenever it is needed:

$$ c_{ij} = [\,u_{ij} < p\,], \qquad
   w_{ij} = \begin{cases} w & \text{scalar}\\ \mu + \sigma\,\xi_{ij} & \text{distribution}
   \end{cases}, \qquad y_j = \sum_i s_i\, c_{ij}\, w_{ij}, $$

so nothing of size ``n_pre * n_post`` or ``nnz`` is ever held in memory, and every kernel,
chunk size, ``max_events``, ``vmap`` batch and backend sees the *same* connectome (the
synapses bit for bit; ``"normal"`` weights to the float rounding of ``erf_inv``).

The hash: Threefry-2x32, 20 rounds
    $(h^0_{ij}, h^1_{ij}) = \mathrm{Threefry2x32_{20}}(\mathrm{key} = (0, \mathrm{seed}),\
    \mathrm{counter} = (i, j))$, the counter-based generator of Salmon et al. (2011), written
    here in plain ``jnp`` uint32 arithmetic (adds, rotations, xors: bit-exact on every
    backend, no float in the connectivity decision). The key ``(0, seed)`` is what
    ``jax.random.PRNGKey(seed)`` holds for a 32-bit seed, and the words equal
    ``jax.extend.random.threefry_2x32`` on the same key and counter (checked in the tests,
    with the Random123 known-answer vector). Chosen over a cheaper 32-bit integer mixer
    (a murmur3-finaliser construction measured 2-3x cheaper per pair on this CPU, 1.7-2.9
    vs 6-9 ns) because a weak mixer's flaws would show up as *structure* in the connectome
    (correlated rows or columns), while Threefry-2x32-20 is a published counter-based
    generator, JAX's own default, keyed by the full 64-bit ``(pre, post)`` counter; one
    call gives the two words needed (connection and weight).

    * connection: $c_{ij} = [h^0_{ij} < \lceil p\, 2^{32}\rceil]$, i.e. $u_{ij} < p$ with
      $u_{ij} = h^0_{ij} / 2^{32}$ (:func:`uniform01`), exactly, for any float ``p``;
      ``p = 1`` connects every pair.
    * weight variate from the other word, $k = h^1_{ij} \gg 9 \in [0, 2^{23})$:
      $v_{ij} = (2k + 1 - 2^{23})\, 2^{-23}$, a symmetric grid on $(-1, 1)$ that is exact in
      float32 (so float32 and float64 use the same numbers); ``"uniform"``:
      $\xi = v \sim U(-1, 1)$, i.e. $w \sim U[\mu - \sigma, \mu + \sigma]$;
      ``"normal"``: $\xi = \sqrt 2\, \mathrm{erfinv}(v) \sim N(0, 1)$ (inverse CDF,
      $|\xi| < 5.4$).

Forward (:func:`jit_event_scatter`)
    Active rows are compacted exactly as in :func:`neurojax.kernels.event_scatter`
    (running count, ``searchsorted``, a ``while_loop`` over chunks of ``max_events`` rows,
    so overflow is exact); here ``max_events`` is best small (default
    :data:`ROWS_PER_ITER`), as padding rows cost as much as active ones. For each chunk of
    rows the ``n_post`` columns are visited in blocks of ``col_chunk``: hash, compare,
    weight and the sum over the chunk's rows fuse into one loop, with no scatter (each
    block of columns is owned by one iteration).
    Work $\propto$ active rows $\times$ ``n_post`` hashes, **not** active rows
    $\times$ out-degree: every pair must be asked whether it exists (see Cost below).

Backward (``jax.custom_vjp``, dense-correct)
    With $g = \partial L/\partial y$, $r_i = \sum_j c_{ij} g_j$ and
    $q_i = \sum_j c_{ij} \xi_{ij} g_j$ (both regenerated procedurally):

    * $\partial L/\partial s_i = w\, r_i$ (scalar) or $\mu r_i + \sigma q_i$ for **every**
      presynaptic neuron, silent ones included (where a surrogate gradient enters); computed
      in blocks of ``row_chunk`` rows $\times$ ``col_chunk`` columns, memory bounded by one
      block;
    * $\partial L/\partial w = \sum_i s_i r_i$, $\partial L/\partial \mu = \sum_i s_i r_i$,
      $\partial L/\partial \sigma = \sum_i s_i q_i$: only active rows contribute, so when the
      spikes are not differentiated these come from the same event-driven compaction as the
      forward.

    Only the cotangents that are needed are computed (``symbolic_zeros``). The seed is an
    integer input and gets no gradient; per-synapse weights cannot be learned (they do not
    exist as parameters), only the scalar or the distribution's $\mu$, $\sigma$.

Cost (why this is for networks too large to store)
    The forward hashes ``n_active * n_post`` pairs per step, the spike gradient
    ``n_pre * n_post``: a factor $1/p$ more work than a stored table, which touches only the
    ``nnz`` synapses. In exchange no ``int32[n_pre, k]`` table and no weight table exist
    (``experiments/bench_procedural.py`` measures both sides).

References:
    J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw (2011), "Parallel random numbers: as
    easy as 1, 2, 3", SC'11 (Threefry, Random123).
    J. C. Knight, T. Nowotny (2021), "Larger GPU-accelerated brain simulations with
    procedural connectivity", Nature Computational Science 1, 136-142.
"""
import math
from functools import partial
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from neurojax._params import check_int
from neurojax.connectivity import from_edges
from neurojax.kernels.event import _gather_rows, _over_active_chunks

Array = jax.Array

#: Weight distributions: ``"scalar"`` (one weight), ``"uniform"`` (U[loc - scale, loc + scale])
#: and ``"normal"`` (N(loc, scale^2)).
DISTS = ("scalar", "uniform", "normal")

#: Default block size (pairs hashed per loop iteration) used to pick ``col_chunk`` and
#: ``row_chunk`` when they are not given.
BLOCK = 1 << 18

#: Default ``max_events`` (rows hashed per loop iteration) of :func:`jit_event_scatter`.
ROWS_PER_ITER = 32

_U32 = np.uint32
_PARITY = _U32(0x1BD11BDA)                        # Threefry key-schedule parity constant
_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)      # Threefry-2x32 rotation schedule
_ROUNDS = 20


# --------------------------------------------------------------------------------------------
# the counter-based hash
# --------------------------------------------------------------------------------------------
def _rotl(x, r):
    return (x << _U32(r)) | (x >> _U32(32 - r))


def _threefry2x32(k0, k1, x0, x1):
    """Threefry-2x32 with 20 rounds on uint32 arrays (broadcasting), plain jnp."""
    ks = (k0, k1, k0 ^ k1 ^ _PARITY)
    x0 = x0 + ks[0]
    x1 = x1 + ks[1]
    for r in range(_ROUNDS):
        x0 = x0 + x1
        x1 = _rotl(x1, _ROTATIONS[r % 8])
        x1 = x1 ^ x0
        if r % 4 == 3:                               # key injection every 4 rounds
            s = r // 4 + 1
            x0 = x0 + ks[s % 3]
            x1 = x1 + ks[(s + 1) % 3] + _U32(s)
    return x0, x1


def _seed_u32(seed):
    """The seed as a uint32 scalar (Python ints checked; integer arrays taken mod 2^32)."""
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    if isinstance(seed, (int, np.integer)):
        if not 0 <= int(seed) < 2 ** 32:
            raise ValueError(f"seed must lie in [0, 2**32), got {seed}")
        return jnp.asarray(_U32(int(seed)))
    seed = jnp.asarray(seed)
    if seed.shape != () or not jnp.issubdtype(seed.dtype, jnp.integer):
        raise TypeError(f"seed must be an integer scalar, got {seed.dtype}{list(seed.shape)}")
    return seed.astype(jnp.uint32)


def pair_bits(seed, pre, post):
    r"""The two 32-bit words $(h^0, h^1)$ of the pair ``pre -> post`` (broadcasting).

    Threefry-2x32-20 with key ``(0, seed)`` and counter ``(pre, post)``; $h^0$ decides the
    connection, $h^1$ gives the weight variate (see the module docstring).

    Args:
        seed: integer scalar in ``[0, 2**32)`` (Python int or integer array; traceable).
        pre, post: non-negative integer arrays (broadcast against each other).

    Returns:
        ``(h0, h1)``, two ``uint32`` arrays of the broadcast shape.

    Examples:
        >>> from neurojax.kernels import pair_bits
        >>> [hex(int(h)) for h in pair_bits(0, 0, 0)]      # Random123 known-answer vector
        ['0x6b200159', '0x99ba4efe']
    """
    return _pair_bits(_seed_u32(seed), jnp.asarray(pre), jnp.asarray(post))


@jax.jit
def _pair_bits(seed, pre, post):
    return _threefry2x32(_U32(0), seed, pre.astype(jnp.uint32), post.astype(jnp.uint32))


def uniform01(seed, pre, post, dtype=None):
    r"""The connection uniform $u_{ij} = h^0_{ij} / 2^{32} \in [0, 1)$ of ``pre -> post``.

    The pair is connected iff $u_{ij} < p$; in float64 this comparison is exact (float32
    keeps the top 24 bits of $h^0$, so the comparison can differ within $2^{-24}$ of ``p``;
    the kernels compare the integers, never these floats).

    Args:
        seed, pre, post: as :func:`pair_bits`.
        dtype: float dtype (default: float64 with ``jax_enable_x64``, else float32).

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax.kernels import uniform01
        >>> u = uniform01(7, jnp.arange(100)[:, None], jnp.arange(100)[None, :])
        >>> bool(abs(float(u.mean()) - 0.5) < 0.01), bool((u >= 0).all() and (u < 1).all())
        (True, True)
    """
    dtype = jnp.dtype(jnp.result_type(float) if dtype is None else dtype)
    h0 = pair_bits(seed, pre, post)[0]
    if dtype.itemsize >= 8:
        return h0.astype(dtype) * dtype.type(2.0 ** -32)
    return (h0 >> _U32(8)).astype(dtype) * dtype.type(2.0 ** -24)


def _variate(h1, dist, dtype):
    """Standard weight variate xi from the second word (uniform on (-1, 1) or N(0, 1))."""
    k = (h1 >> _U32(9)).astype(jnp.int32)                   # [0, 2^23)
    v = (2 * k + (1 - 2 ** 23)).astype(dtype) * dtype.type(2.0 ** -23)
    if dist == "uniform":
        return v
    return dtype.type(math.sqrt(2.0)) * lax.erf_inv(v)


# --------------------------------------------------------------------------------------------
# static configuration and argument checks
# --------------------------------------------------------------------------------------------
class _Cfg(NamedTuple):
    n_pre: int
    n_post: int
    max_events: int
    thr: Optional[int]        # connect iff h0 < thr; None: every pair (p = 1)
    dist: str
    autapses: bool
    col_chunk: int            # columns per block (forward and event-driven backward)
    bwd_cols: int             # columns per block in the dense spike gradient
    row_chunk: int            # rows per block in the dense spike gradient


def _check_p(p):
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"p must be a Python float (static), got {p!r}")
    p = float(p)
    if not 0.0 <= p <= 1.0:                                  # also rejects NaN
        raise ValueError(f"p must lie in [0, 1], got {p!r}")
    return p


def _threshold(p):
    """``ceil(p 2^32)``: ``h0 < thr`` iff ``h0 / 2^32 < p`` (None for thresholds >= 2^32)."""
    thr = math.ceil(p * 2.0 ** 32)                           # exact: scaling by a power of 2
    return None if thr >= 2 ** 32 else thr


def _weight_params(weight, w_loc, w_scale, dist):
    if dist not in DISTS:
        raise ValueError(f"dist must be one of {DISTS}, got {dist!r}")
    if dist == "scalar":
        if weight is None or w_loc is not None or w_scale is not None:
            raise ValueError("dist='scalar' needs weight= (and no w_loc / w_scale)")
        params = (weight,)
        names = ("weight",)
    else:
        if weight is not None or w_loc is None or w_scale is None:
            raise ValueError(f"dist={dist!r} needs w_loc= and w_scale= (and no weight=)")
        params = (w_loc, w_scale)
        names = ("w_loc", "w_scale")
    out = []
    for name, x in zip(names, params):
        if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
            x = float(x)                       # a Python int weight stays weakly typed
        x = jnp.asarray(x)
        if x.shape != ():
            raise ValueError(f"{name} must be a scalar, got shape {x.shape}")
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        out.append(x)
    return tuple(out)


def _auto_chunks(n_pre, n_post, rows, col_chunk, row_chunk):
    """Static block sizes: ``col_chunk`` for blocks of ``rows`` rows, and the dense backward's
    ``(bwd_cols, row_chunk)``."""
    n_post1 = max(n_post, 1)
    if col_chunk is None:
        col_chunk = min(n_post1, max(BLOCK // max(rows, 1), 256))
        bwd_cols = min(n_post1, 4096)
    else:
        col_chunk = min(check_int(col_chunk, "col_chunk", minimum=1), n_post1)
        bwd_cols = col_chunk
    if row_chunk is None:
        row_chunk = max(1, BLOCK // bwd_cols)
    row_chunk = min(check_int(row_chunk, "row_chunk", minimum=1), max(n_pre, 1))
    return col_chunk, bwd_cols, row_chunk


def _make_cfg(p, n_pre, n_post, max_events, dist, allow_autapses, col_chunk, row_chunk):
    p = _check_p(p)
    n_post = check_int(n_post, "n_post", minimum=0)
    if max_events is None:
        max_events = ROWS_PER_ITER
    max_events = min(check_int(max_events, "max_events", minimum=1), max(n_pre, 1))
    if not isinstance(allow_autapses, (bool, np.bool_)):
        raise TypeError(f"allow_autapses must be a bool, got {allow_autapses!r}")
    cols, bwd_cols, rows = _auto_chunks(n_pre, n_post, max_events, col_chunk, row_chunk)
    return _Cfg(n_pre=n_pre, n_post=n_post, max_events=max_events, thr=_threshold(p),
                dist=dist, autapses=bool(allow_autapses), col_chunk=cols, bwd_cols=bwd_cols,
                row_chunk=rows)


# --------------------------------------------------------------------------------------------
# blocks
# --------------------------------------------------------------------------------------------
def _block(cfg, seed, rows, c0, width, dtype, need_xi):
    """``(conn, xi)`` for rows ``rows`` (R,) and columns ``c0 .. c0+width-1``.

    ``conn`` is boolean (R, width); ``xi`` the standard variates (None if not needed).
    Columns past ``n_post`` are not masked: callers pad ``g`` with zeros or slice ``y``.
    """
    cols = (c0 + jnp.arange(width, dtype=jnp.int32)).astype(jnp.uint32)[None, :]
    r = rows.astype(jnp.uint32)[:, None]
    h0, h1 = _threefry2x32(_U32(0), seed, r, cols)
    conn = jnp.ones(h0.shape, bool) if cfg.thr is None else h0 < _U32(cfg.thr)
    if not cfg.autapses:
        conn = conn & (r != cols)
    xi = _variate(h1, cfg.dist, dtype) if need_xi else None
    return conn, xi


def _n_blocks(n, width):
    return max(1, -(-n // width))


def _rows_forward(cfg, seed, wparams, rows, s_rows, dtype):
    """``sum_r s_r W[rows_r, :]`` over all columns, as a padded ``(n_blocks * col_chunk,)``."""
    width = cfg.col_chunk
    scalar = cfg.dist == "scalar"

    def one(c0):
        conn, xi = _block(cfg, seed, rows, c0, width, dtype, not scalar)
        if scalar:
            return wparams[0] * jnp.sum(jnp.where(conn, s_rows[:, None], 0), axis=0)
        w = wparams[0] + wparams[1] * xi
        return jnp.sum(jnp.where(conn, s_rows[:, None] * w, 0), axis=0)

    starts = jnp.arange(_n_blocks(cfg.n_post, width), dtype=jnp.int32) * width
    return lax.map(one, starts).reshape(-1)


def _row_sums(cfg, seed, rows, g_pad, width, dtype):
    """``r = C[rows] g`` and ``q = (C * Xi)[rows] g`` (q None for a scalar weight)."""
    scalar = cfg.dist == "scalar"

    def step(carry, c0):
        conn, xi = _block(cfg, seed, rows, c0, width, dtype, not scalar)
        gc = lax.dynamic_slice(g_pad, (c0,), (width,))[None, :]
        r = carry[0] + jnp.sum(jnp.where(conn, gc, 0), axis=1)
        if scalar:
            return (r,), None
        return (r, carry[1] + jnp.sum(jnp.where(conn, xi * gc, 0), axis=1)), None

    zeros = jnp.zeros(rows.shape, dtype)
    init = (zeros,) if scalar else (zeros, zeros)
    starts = jnp.arange(_n_blocks(cfg.n_post, width), dtype=jnp.int32) * width
    out = lax.scan(step, init, starts)[0]
    return out if not scalar else (out[0], None)


def _pad(x, size):
    return jnp.zeros((size,), x.dtype).at[:x.shape[0]].set(x)


# --------------------------------------------------------------------------------------------
# the differentiable op
# --------------------------------------------------------------------------------------------
def _forward(cfg, seed, wparams, spikes):
    dtype = jnp.result_type(*wparams, spikes)
    wparams = tuple(x.astype(dtype) for x in wparams)
    size = _n_blocks(cfg.n_post, cfg.col_chunk) * cfg.col_chunk
    if cfg.n_pre == 0 or cfg.n_post == 0:
        return jnp.zeros((cfg.n_post,), dtype)

    def body(rows, y):
        s_rows = _gather_rows(spikes, rows, 0).astype(dtype)
        return y + _rows_forward(cfg, seed, wparams, rows, s_rows, dtype)

    y, _ = _over_active_chunks(spikes, cfg.max_events, body, jnp.zeros((size,), dtype))
    return y[:cfg.n_post]


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def _procedural(cfg, seed, wparams, spikes):
    return _forward(cfg, seed, wparams, spikes)


def _procedural_fwd(cfg, seed, wparams, spikes):
    values = jax.custom_derivatives.custom_vjp_primal_tree_values
    seed_v, wparams_v, spikes_v = values((seed, wparams, spikes))
    out = _forward(cfg, seed_v, wparams_v, spikes_v)
    need_ds = () if spikes.perturbed else None
    need_dw = () if any(x.perturbed for x in wparams) else None
    return out, (seed_v, wparams_v, spikes_v, need_ds, need_dw)


def _procedural_bwd(cfg, res, g):
    seed, wparams, spikes, need_ds, need_dw = res
    seed, spikes = jnp.asarray(seed), jnp.asarray(spikes)
    wparams = tuple(jnp.asarray(x) for x in wparams)
    none = (None, tuple(None for _ in wparams), None)
    if isinstance(g, jax.custom_derivatives.SymbolicZero) or (need_ds is None and need_dw is None) \
            or cfg.n_pre == 0 or cfg.n_post == 0:
        return none
    dtype = g.dtype
    w = tuple(x.astype(dtype) for x in wparams)
    scalar = cfg.dist == "scalar"
    s = spikes.astype(dtype)
    d_spikes = None
    if need_ds is not None:
        # dense: every presynaptic row, in blocks of row_chunk x bwd_cols pairs
        width, rows_per = cfg.bwd_cols, cfg.row_chunk
        g_pad = _pad(g, _n_blocks(cfg.n_post, width) * width)
        n_rb = _n_blocks(cfg.n_pre, rows_per)
        starts = jnp.arange(n_rb, dtype=jnp.int32) * rows_per
        r, q = lax.map(lambda r0: _row_sums(cfg, seed, r0 + jnp.arange(rows_per, dtype=jnp.int32),
                                            g_pad, width, dtype), starts)
        r = r.reshape(-1)[:cfg.n_pre]
        q = None if scalar else q.reshape(-1)[:cfg.n_pre]
        d_spikes = (w[0] * r if scalar else w[0] * r + w[1] * q).astype(spikes.dtype)
        sums = (jnp.dot(s, r),) if scalar else (jnp.dot(s, r), jnp.dot(s, q))
    elif need_dw is not None:
        # weight parameters only: active rows contribute, event-driven like the forward
        width = cfg.col_chunk
        g_pad = _pad(g, _n_blocks(cfg.n_post, width) * width)

        def body(rows, acc):
            r, q = _row_sums(cfg, seed, rows, g_pad, width, dtype)
            s_rows = _gather_rows(s, rows, 0)
            if scalar:
                return (acc[0] + jnp.dot(s_rows, r),)
            return (acc[0] + jnp.dot(s_rows, r), acc[1] + jnp.dot(s_rows, q))

        init = tuple(jnp.zeros((), dtype) for _ in wparams)
        sums, _ = _over_active_chunks(spikes, cfg.max_events, body, init)
    d_w = tuple(None for _ in wparams)
    if need_dw is not None:
        d_w = tuple(d.astype(x.dtype) for d, x in zip(sums, wparams))
    return None, d_w, d_spikes


_procedural.defvjp(_procedural_fwd, _procedural_bwd, symbolic_zeros=True)
# jitted once per static configuration: eager calls compile once, jitted callers inline it
_procedural_jit = jax.jit(_procedural, static_argnums=(0,))


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def jit_event_scatter(seed, p: float, spikes, n_post: int, max_events: Optional[int] = None, *,
                      weight=None, w_loc=None, w_scale=None, dist: str = "scalar",
                      allow_autapses: bool = True, col_chunk: Optional[int] = None,
                      row_chunk: Optional[int] = None) -> Array:
    r"""Event-driven $y_j = \sum_i s_i\, c_{ij}\, w_{ij}$ over a procedural random projection.

    $c_{ij} = [u_{ij} < p]$ and $w_{ij}$ are regenerated from ``(seed, i, j)`` (module
    docstring); no table is stored. The same synapses and weights, to the bit, for every
    ``max_events``, ``col_chunk``, ``row_chunk`` and ``vmap`` batch (tested); the synapses
    are integer arithmetic, hence bit-identical on every backend too (the weights of
    ``"normal"`` go through ``erf_inv``, equal across backends to float rounding).
    :func:`jit_connectivity_dense` and :func:`to_connectivity` materialise the projection.

    | argument | symbol | meaning |
    |---|---|---|
    | ``seed`` | | integer scalar in ``[0, 2**32)``; may be traced (e.g. vmapped) |
    | ``p`` | $p$ | connection probability, static float in ``[0, 1]`` |
    | ``weight`` | $w$ | ``dist="scalar"``: the weight of every synapse |
    | ``w_loc`` | $\mu$ | ``"uniform"`` / ``"normal"``: centre / mean |
    | ``w_scale`` | $\sigma$ | ``"uniform"``: half-width; ``"normal"``: standard deviation |

    Args:
        seed: the connectome's seed (see table).
        p: connection probability (static).
        spikes: ``[n_pre]`` signal; a row is active iff nonzero and delivers
            ``w_ij * spikes[i]`` (non-binary values are exact).
        n_post: number of postsynaptic neurons (static int).
        max_events: active rows hashed per loop iteration (static; ``None``:
            :data:`ROWS_PER_ITER`). The loop runs ``ceil(n_active / max_events)`` times
            (exact for any activity). Unlike the stored-table kernels, keep it small: the
            padding rows of the last iteration cost ``n_post`` hashes each (measured at
            N = 16000, 1 % activity: 16-32 rows per iteration ~2x cheaper than one
            iteration of 253 rows).
        weight, w_loc, w_scale: float scalars (see table), differentiable.
        dist: ``"scalar"``, ``"uniform"`` or ``"normal"`` (static).
        allow_autapses: if False, ``i -> i`` never connects (recurrent projections).
        col_chunk: columns hashed per block (static; default from :data:`BLOCK`); changes
            speed and memory, never the result.
        row_chunk: rows per block of the dense spike gradient (static; default from
            :data:`BLOCK`).

    Returns:
        ``[n_post]`` input, dtype ``result_type(weight params, spikes)``.

    Raises:
        ValueError, TypeError: naming the offending argument.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from neurojax.kernels import jit_event_scatter, jit_connectivity_dense
        >>> s = jnp.zeros(50).at[3].set(1.0)
        >>> y = jit_event_scatter(1, 0.2, s, 40, 8, weight=0.5)
        >>> W = jit_connectivity_dense(1, 0.2, 50, 40, weight=0.5)
        >>> bool(jnp.allclose(y, s @ W))
        True
        >>> # the spike gradient is dense: silent neuron 0 gets sum_j W[0, j]
        >>> ds = jax.grad(lambda s: jit_event_scatter(1, 0.2, s, 40, 8, weight=0.5).sum())(s)
        >>> bool(jnp.allclose(ds, W.sum(axis=1)))
        True
    """
    spikes = jnp.asarray(spikes)
    if spikes.ndim != 1:
        raise ValueError(f"spikes must have shape (n_pre,), got {spikes.shape}")
    seed = _seed_u32(seed)
    wparams = _weight_params(weight, w_loc, w_scale, dist)
    cfg = _make_cfg(p, spikes.shape[0], n_post, max_events, dist, allow_autapses, col_chunk,
                    row_chunk)
    return _procedural_jit(cfg, seed, wparams, spikes)


def jit_connectivity_dense(seed, p: float, n_pre: int, n_post: int, *, weight=None, w_loc=None,
                           w_scale=None, dist: str = "scalar", allow_autapses: bool = True,
                           dtype=None) -> Array:
    r"""The dense ``(n_pre, n_post)`` matrix $W_{ij} = c_{ij} w_{ij}$ of the procedural
    projection (tests and small networks only: O(``n_pre * n_post``) memory).

    Plain ``jnp`` on the full grid of pairs, differentiable in the weight parameters by
    ordinary autodiff; the reference that :func:`jit_event_scatter` is tested against.
    Arguments as :func:`jit_event_scatter`; ``dtype`` defaults to the weight's float dtype.

    Examples:
        >>> from neurojax.kernels import jit_connectivity_dense
        >>> W = jit_connectivity_dense(0, 0.1, 200, 300, weight=1.0)
        >>> 0.09 < float(W.mean()) < 0.11
        True
    """
    n_pre = check_int(n_pre, "n_pre", minimum=0)
    n_post = check_int(n_post, "n_post", minimum=0)
    p = _check_p(p)
    wparams = _weight_params(weight, w_loc, w_scale, dist)
    dtype = jnp.dtype(jnp.result_type(*wparams) if dtype is None else dtype)
    if not isinstance(allow_autapses, (bool, np.bool_)):
        raise TypeError(f"allow_autapses must be a bool, got {allow_autapses!r}")
    return _dense(_threshold(p), n_pre, n_post, dist, bool(allow_autapses), dtype,
                  _seed_u32(seed), wparams)


@partial(jax.jit, static_argnums=(0, 1, 2, 3, 4, 5))
def _dense(thr, n_pre, n_post, dist, autapses, dtype, seed, wparams):
    conn, w = _pairs(thr, n_pre, n_post, dist, autapses, dtype, seed, wparams, jnp.int32(0))
    return jnp.where(conn, w, jnp.zeros((), dtype))


@partial(jax.jit, static_argnums=(0, 1, 2, 3, 4, 5))
def _pairs(thr, n_rows, n_post, dist, autapses, dtype, seed, wparams, r0):
    """``(conn, w)`` on rows ``r0 .. r0 + n_rows - 1`` and all columns (plain jnp)."""
    rows = r0 + jnp.arange(n_rows, dtype=jnp.int32)[:, None]
    cols = jnp.arange(n_post, dtype=jnp.int32)[None, :]
    h0, h1 = pair_bits(seed, rows, cols)
    conn = jnp.ones(h0.shape, bool) if thr is None else h0 < _U32(thr)
    if not autapses:
        conn = conn & (rows != cols)
    if dist == "scalar":
        w = jnp.broadcast_to(wparams[0].astype(dtype), h0.shape)
    else:
        w = wparams[0].astype(dtype) + wparams[1].astype(dtype) * _variate(h1, dist, dtype)
    return conn, w


def to_connectivity(seed, p: float, n_pre: int, n_post: int, *, weight=None, w_loc=None,
                    w_scale=None, dist: str = "scalar", allow_autapses: bool = True,
                    row_chunk: Optional[int] = None):
    r"""Materialise the procedural projection as a stored padded-row table.

    For interoperability with the stored-table kernels (:func:`event_scatter`,
    plasticity, ...): ``event_scatter(conn.post_idx, w, s, n_post, K)`` equals
    :func:`jit_event_scatter` with the same arguments. Runs outside ``jit`` (the table's
    width depends on the draw); pairs are hashed in jitted blocks of ``row_chunk`` rows, so
    memory stays O(``row_chunk * n_post + nnz``).

    Returns:
        ``(conn, w)``: a :class:`~neurojax.connectivity.Connectivity` (targets sorted
        within each row) and the weights: the scalar ``weight``, or an ``(n_pre, k)``
        array ``w_loc + w_scale * xi`` (0 on padding). Pass ``w_loc=0.0, w_scale=1.0`` to
        get the standard variates $\xi$ themselves, e.g. to train $\mu, \sigma$ through a
        stored table.

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax.kernels import (event_scatter_reference, jit_connectivity_dense,
        ...                               to_connectivity)
        >>> kw = dict(w_loc=1.0, w_scale=0.2, dist="normal")
        >>> conn, w = to_connectivity(3, 0.1, 60, 50, **kw)
        >>> s = jnp.ones(60)
        >>> y = event_scatter_reference(conn.post_idx, w, s, 50)    # stored-table kernel
        >>> bool(jnp.allclose(y, s @ jit_connectivity_dense(3, 0.1, 60, 50, **kw), rtol=1e-5))
        True
    """
    n_pre = check_int(n_pre, "n_pre", minimum=0)
    n_post = check_int(n_post, "n_post", minimum=0)
    p = _check_p(p)
    wparams = _weight_params(weight, w_loc, w_scale, dist)
    dtype = jnp.dtype(jnp.result_type(*wparams))
    if not isinstance(allow_autapses, (bool, np.bool_)):
        raise TypeError(f"allow_autapses must be a bool, got {allow_autapses!r}")
    if row_chunk is None:
        row_chunk = (1 << 22) // max(n_post, 1)
    rows_per = max(1, min(check_int(row_chunk, "row_chunk", minimum=1), n_pre))
    seed, thr = _seed_u32(seed), _threshold(p)
    pre, post, ws = [], [], []
    for r0 in range(0, n_pre if n_post else 0, rows_per):
        conn, w = _pairs(thr, rows_per, n_post, dist, bool(allow_autapses), dtype, seed,
                         wparams, jnp.int32(r0))
        r, c = np.nonzero(np.asarray(conn)[:n_pre - r0])
        pre.append(r + r0)
        post.append(c)
        if dist != "scalar":
            ws.append(np.asarray(w)[r, c])
    pre = np.concatenate(pre) if pre else np.zeros(0, np.int64)
    post = np.concatenate(post) if post else np.zeros(0, np.int64)
    if dist == "scalar":
        return from_edges(pre, post, n_pre, n_post), wparams[0]
    return from_edges(pre, post, n_pre, n_post,
                      weights=np.concatenate(ws) if ws else np.zeros(0, dtype))


__all__ = ["BLOCK", "DISTS", "ROWS_PER_ITER", "jit_connectivity_dense", "jit_event_scatter", "pair_bits",
           "to_connectivity", "uniform01"]
