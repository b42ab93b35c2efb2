r"""Connectivity: integer index tables built on the host, deterministic from a PRNG key.

A :class:`Connectivity` stores a projection's synapses as a padded-row table by presynaptic
neuron: ``post_idx[i, :]`` lists the targets of presynaptic neuron ``i``, and unused slots hold
the sentinel ``n_post``. Weights live in ``params`` with the same ``(n_pre, k)`` shape (or are a
scalar). The index table is a pytree *leaf* (traced under ``jit``, never a compile-time
constant) and is never differentiated.

Builders take a ``jax.random`` key and run on the host with NumPy (seeded from the key), so the
same key gives the same connectome on every backend.
"""
from typing import Optional

import jax
import numpy as np

from neurojax._params import check_int
from neurojax._tree import pytree_dataclass, static


@pytree_dataclass
class Connectivity:
    """Padded-row (ELL-by-presynaptic) synapse table.

    Attributes:
        post_idx: ``int32[n_pre, k]`` targets per presynaptic row; ``n_post`` marks padding.
        n_pre: number of presynaptic neurons (static).
        n_post: number of postsynaptic neurons (static).
        all_to_all: (static) the table is every pair in order, ``post_idx[i, j] = j`` (built by
            :func:`all_to_all`): the weights ``(n_pre, n_post)`` are then the dense matrix
            ``W[pre, post]`` and projections propagate with a matrix product instead of a
            scatter (one GEMM for a ``vmap``-ed batch).
    """

    post_idx: jax.Array
    n_pre: int = static()
    n_post: int = static()
    all_to_all: bool = static(default=False)

    @property
    def k(self) -> int:
        """Row width (maximum out-degree)."""
        return self.post_idx.shape[1]

    @property
    def mask(self):
        """Boolean ``(n_pre, k)``: True where a synapse exists."""
        return self.post_idx < self.n_post

    def n_synapses(self) -> int:
        """Number of stored synapses (host-side count)."""
        return int(np.sum(np.asarray(self.post_idx) < self.n_post))

    def validate(self, owner: str = "Connectivity"):
        """Check the table's shape, dtype and index range (outside jit)."""
        idx = np.asarray(self.post_idx)
        if idx.ndim != 2 or idx.shape[0] != self.n_pre:
            raise ValueError(f"{owner}.post_idx must have shape ({self.n_pre}, k), got {idx.shape}")
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"{owner}.post_idx must be an integer array, got {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() > self.n_post):
            raise ValueError(f"{owner}.post_idx has indices outside [0, {self.n_post}] "
                             f"(min {idx.min()}, max {idx.max()}; {self.n_post} is the padding)")
        if self.all_to_all and not np.array_equal(
                idx, np.broadcast_to(np.arange(self.n_post), (self.n_pre, self.n_post))):
            raise ValueError(f"{owner} is marked all_to_all but post_idx is not every target in "
                             f"order (row i must be 0..{self.n_post - 1}); build it with "
                             "neurojax.all_to_all")


def numpy_rng(key) -> np.random.Generator:
    """A NumPy generator seeded deterministically from a ``jax.random`` key."""
    data = np.asarray(jax.random.key_data(key) if jax.dtypes.issubdtype(
        getattr(key, "dtype", None), jax.dtypes.prng_key) else key).astype(np.uint32).ravel()
    return np.random.default_rng([int(x) for x in data])


def from_edges(pre, post, n_pre: int, n_post: int, weights=None, *, k: Optional[int] = None):
    """Build a table from edge lists ``pre[e] -> post[e]`` (optionally with ``weights[e]``).

    Returns ``conn`` or ``(conn, w)`` when ``weights`` is given, where ``w`` has the table's
    ``(n_pre, k)`` shape (zeros in padding). Edges keep their order within each row.

    Raises:
        ValueError: if lengths differ or an index is out of range, or if ``k`` is smaller
            than the largest out-degree.
    """
    pre = np.asarray(pre, dtype=np.int64).ravel()
    post = np.asarray(post, dtype=np.int64).ravel()
    if pre.shape != post.shape:
        raise ValueError(f"pre and post must have the same length, got {pre.size} and {post.size}")
    if pre.size and (pre.min() < 0 or pre.max() >= n_pre):
        raise ValueError(f"pre indices must lie in [0, {n_pre}), got [{pre.min()}, {pre.max()}]")
    if post.size and (post.min() < 0 or post.max() >= n_post):
        raise ValueError(f"post indices must lie in [0, {n_post}), got [{post.min()}, {post.max()}]")
    order = np.argsort(pre, kind="stable")
    pre, post = pre[order], post[order]
    counts = np.bincount(pre, minlength=n_pre)
    width = int(counts.max()) if counts.size and pre.size else 0
    if k is not None:
        if k < width:
            raise ValueError(f"k={k} is smaller than the largest out-degree {width}")
        width = k
    width = max(width, 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(pre.size) - starts[pre]
    table = np.full((n_pre, width), n_post, dtype=np.int32)
    table[pre, slot] = post
    conn = Connectivity(post_idx=jax.numpy.asarray(table), n_pre=n_pre, n_post=n_post)
    if weights is None:
        return conn
    weights = np.asarray(weights)
    if weights.shape != (order.size,):
        raise ValueError(f"weights must have shape ({order.size},), got {weights.shape}")
    w = np.zeros((n_pre, width), dtype=weights.dtype)
    w[pre, slot] = weights[order]
    return conn, jax.numpy.asarray(w)


def all_to_all(n_pre: int, n_post: int) -> Connectivity:
    r"""Every presynaptic neuron to every postsynaptic one, in order: ``post_idx[i, j] = j``.

    The weights of a projection on this table have shape ``(n_pre, n_post)`` (or are a scalar)
    and *are* the dense matrix $W_{ij}$ from pre $i$ to post $j$; the projection computes
    $y = W^\top s$ as a matrix product (``s @ W``: under ``vmap`` one GEMM for the whole
    batch) instead of a scatter over the table, which is what dense layers of trained networks
    want. Exclude synapses, e.g. autapses, by zeroing their weights (and keep them zero under
    training with a mask). With ``Projection(max_events=...)`` the event-driven kernel is used
    instead.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> conn = nj.all_to_all(2, 3)
        >>> conn.post_idx.tolist(), conn.all_to_all
        ([[0, 1, 2], [0, 1, 2]], True)
        >>> w = jnp.arange(6.0).reshape(2, 3)                     # W[pre, post]
        >>> bool((nj.to_dense(conn, w) == w).all())
        True
    """
    n_pre = check_int(n_pre, "n_pre")
    n_post = check_int(n_post, "n_post")
    table = np.broadcast_to(np.arange(n_post, dtype=np.int32), (n_pre, n_post))
    return Connectivity(post_idx=jax.numpy.asarray(table), n_pre=n_pre, n_post=n_post,
                        all_to_all=True)


def fixed_out_degree(key, n_pre: int, n_post: int, k: int, *, replace: bool = True,
                     allow_autapses: bool = True) -> Connectivity:
    """Each presynaptic neuron connects to exactly ``k`` targets drawn uniformly.

    Args:
        replace: draw targets with replacement (multapses possible, as BrainPy's
            ``EventFixedProb``/the COBA benchmark); ``False`` draws ``k`` distinct targets.
        allow_autapses: for recurrent projections (``n_pre == n_post``), whether ``i -> i`` is
            allowed; if not, self-targets are redrawn.
    """
    if k < 0 or (not replace and k > n_post - (0 if allow_autapses else 1)):
        raise ValueError(f"cannot draw k={k} targets from n_post={n_post} (replace={replace})")
    if not allow_autapses and k > 0 and n_post < 2:
        raise ValueError("allow_autapses=False needs n_post >= 2 (row 0 has no other target)")
    rng = numpy_rng(key)
    if replace:
        table = rng.integers(0, n_post, size=(n_pre, k))
        if not allow_autapses:
            rows = np.arange(n_pre)[:, None]
            bad = table == rows
            while bad.any():
                table[bad] = rng.integers(0, n_post, size=int(bad.sum()))
                bad = table == rows
    else:
        table = np.empty((n_pre, k), dtype=np.int64)
        for i in range(n_pre):
            pool = n_post if allow_autapses else n_post - 1
            draw = rng.choice(pool, size=k, replace=False)
            if not allow_autapses:
                draw = draw + (draw >= i)
            table[i] = draw
    return Connectivity(post_idx=jax.numpy.asarray(table.astype(np.int32)), n_pre=n_pre,
                        n_post=n_post)


# ---------------------------------------------------------------------------------------------
# Argument checks shared by the builders
# ---------------------------------------------------------------------------------------------


def _check_count(name: str, value, upper: int, what: str) -> int:
    value = check_int(value, name, minimum=0)
    if value > upper:
        raise ValueError(f"{name}={value} exceeds the {upper} {what}")
    return int(value)


def _check_prob(name: str, value) -> float:
    p = float(value)
    if not (0.0 <= p <= 1.0):   # also rejects NaN
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return p


def _table(rows, n_pre: int, n_post: int) -> Connectivity:
    """Padded table from a list of per-row target arrays (sentinel ``n_post``)."""
    width = max([len(r) for r in rows] + [1])
    table = np.full((n_pre, width), n_post, dtype=np.int32)
    for i, r in enumerate(rows):
        table[i, :len(r)] = r
    return Connectivity(post_idx=jax.numpy.asarray(table), n_pre=n_pre, n_post=n_post)


def _distinct_per_row(rng, n_rows: int, n_cols: int, counts, exclude_diag: bool):
    """Row ``r`` gets ``counts[r]`` distinct columns, a uniform subset of ``[0, n_cols)``
    (minus column ``r`` when ``exclude_diag``). Returns ``(rows, cols)`` sorted by (row, col).

    Vectorised over rows. Sparse rows: draw with replacement and redraw the repeated entries
    until all are distinct (the result is label-exchangeable, hence a uniform subset); dense
    rows (more than half the pool): the first ``counts[r]`` of a random permutation.
    """
    pools = np.full(n_rows, n_cols, dtype=np.int64)
    diag = np.arange(n_rows) < n_cols
    if exclude_diag:
        pools[diag] -= 1
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if (counts > pools // 2).any():
        block = max(1, (1 << 22) // n_cols)
        rows, cols = [], []
        for r0 in range(0, n_rows, block):
            r1 = min(r0 + block, n_rows)
            keys = rng.random((r1 - r0, n_cols))
            keys[np.arange(n_cols)[None, :] >= pools[r0:r1, None]] = np.inf
            order = np.argsort(keys, axis=1, kind="stable")
            take = np.arange(n_cols)[None, :] < counts[r0:r1, None]
            r, slot = np.nonzero(take)
            rows.append(r + r0)
            cols.append(order[r, slot])
        rows, cols = np.concatenate(rows), np.concatenate(cols)
    else:
        rows = np.repeat(np.arange(n_rows), counts)
        cols = rng.integers(0, pools[rows])
        while True:
            key = rows * n_cols + cols
            order = np.argsort(key, kind="stable")
            dup = np.zeros(total, bool)
            dup[order[1:]] = key[order[1:]] == key[order[:-1]]
            if not dup.any():
                break
            cols[dup] = rng.integers(0, pools[rows[dup]])
    if exclude_diag:
        cols = cols + ((cols >= rows) & diag[rows])
    order = np.lexsort((cols, rows))
    return rows[order], cols[order]


# ---------------------------------------------------------------------------------------------
# Random builders
# ---------------------------------------------------------------------------------------------


def fixed_prob(key, n_pre: int, n_post: int, p: float, *,
               allow_autapses: bool = True) -> Connectivity:
    r"""Each pair ``i -> j`` exists independently with probability ``p`` (Erdős–Rényi).

    Exact Bernoulli sampling without an ``n_pre x n_post`` array: row ``i`` draws its
    out-degree $K_i \sim \mathrm{Binomial}(m_i, p)$ and then $K_i$ distinct targets uniformly
    without replacement, which gives every pair an independent Bernoulli(``p``) indicator
    (for ``p >= 0.25`` the pairs are drawn directly in blocks of rows). Targets are sorted
    within each row; rows are padded with the sentinel ``n_post``. Cost
    $O(n_\mathrm{pre} + \text{synapses})$ for sparse ``p``.

    Args:
        key: ``jax.random`` key (the result is a deterministic function of it).
        n_pre, n_post: population sizes (positive).
        p: connection probability in ``[0, 1]``.
        allow_autapses: if False, ``i -> i`` is excluded (for recurrent projections, i.e.
            rows ``i < n_post``), so $m_i = n_\mathrm{post} - 1$ there.

    Returns:
        :class:`Connectivity` with ``int32`` table of width ``max_i K_i`` (at least 1).

    Examples:
        >>> import jax, neurojax as nj
        >>> conn = nj.fixed_prob(jax.random.PRNGKey(0), 100, 100, 0.1)
        >>> 800 < conn.n_synapses() < 1200
        True
    """
    n_pre, n_post = check_int(n_pre, "n_pre"), check_int(n_post, "n_post")
    p = _check_prob("p", p)
    rng = numpy_rng(key)
    if p >= 0.25:
        block = max(1, (1 << 22) // n_post)
        pre, post = [], []
        for r0 in range(0, n_pre, block):
            r1 = min(r0 + block, n_pre)
            hit = rng.random((r1 - r0, n_post)) < p
            if not allow_autapses:
                d = np.arange(r0, min(r1, n_post))
                hit[d - r0, d] = False
            r, c = np.nonzero(hit)
            pre.append(r + r0)
            post.append(c)
        return from_edges(np.concatenate(pre), np.concatenate(post), n_pre, n_post)
    pools = np.full(n_pre, n_post, dtype=np.int64)
    if not allow_autapses:
        pools[:min(n_pre, n_post)] -= 1
    counts = rng.binomial(pools, p)
    pre, post = _distinct_per_row(rng, n_pre, n_post, counts, not allow_autapses)
    return from_edges(pre, post, n_pre, n_post)


def fixed_in_degree(key, n_pre: int, n_post: int, k: int, *,
                    allow_autapses: bool = True) -> Connectivity:
    """Each postsynaptic neuron receives exactly ``k`` distinct presynaptic partners.

    Partners are drawn uniformly without replacement per postsynaptic neuron; with
    ``allow_autapses=False`` neuron ``j`` never draws itself (recurrent projections). The
    out-degrees are then random, so the table width is the largest out-degree.

    Raises:
        ValueError: if a size is not positive or ``k`` exceeds the available partners.

    Examples:
        >>> import jax, numpy as np, neurojax as nj
        >>> conn = nj.fixed_in_degree(jax.random.PRNGKey(0), 20, 5, k=3)
        >>> np.asarray(nj.to_dense(conn)).sum(axis=0).tolist()
        [3.0, 3.0, 3.0, 3.0, 3.0]
    """
    n_pre, n_post = check_int(n_pre, "n_pre"), check_int(n_post, "n_post")
    k = _check_count("k", k, n_pre - (0 if allow_autapses else 1),
                     "presynaptic partners available" + ("" if allow_autapses else
                                                         " (autapses excluded)"))
    rng = numpy_rng(key)
    post, pre = _distinct_per_row(rng, n_post, n_pre, np.full(n_post, k), not allow_autapses)
    return from_edges(pre, post, n_pre, n_post)


def fixed_total(key, n_pre: int, n_post: int, n_synapses: int) -> Connectivity:
    """Exactly ``n_synapses`` distinct pairs drawn uniformly without replacement.

    This is the NALSM input projection (``floor(N * N_in * 0.15)`` pairs; spec §1.3).

    Examples:
        >>> import jax, neurojax as nj
        >>> nj.fixed_total(jax.random.PRNGKey(0), 10, 20, 30).n_synapses()
        30
    """
    n_pre, n_post = check_int(n_pre, "n_pre"), check_int(n_post, "n_post")
    n_synapses = _check_count("n_synapses", n_synapses, n_pre * n_post, "possible pairs")
    rng = numpy_rng(key)
    flat = np.sort(rng.choice(n_pre * n_post, size=n_synapses, replace=False))
    return from_edges(flat // n_post, flat % n_post, n_pre, n_post)


# ---------------------------------------------------------------------------------------------
# Distance-dependent connectivity (Maass et al. 2002 / NALSM)
# ---------------------------------------------------------------------------------------------

#: NALSM's type-pair scale factors ``C[type_pre, type_post]`` with types (0 = E, 1 = I):
#: E->E 0.2, E->I 0.1, I->E 0.3, I->I 0.05 (spec nalsm_astro.md §1.3).
NALSM_C = ((0.2, 0.1), (0.3, 0.05))
#: Maass, Natschläger & Markram (2002): E->E 0.3, E->I 0.2, I->E 0.4, I->I 0.1 (use lam=2.0).
MAASS_C = ((0.3, 0.2), (0.4, 0.1))


def grid_positions(shape, key=None) -> np.ndarray:
    """Integer points of a ``d1 x d2 x ...`` grid (spacing 1) as an ``(N, len(shape))`` array.

    Row-major order by default; with ``key``, rows are randomly permuted (seeded from the key),
    which scatters neuron types over the grid when types are assigned by index (NALSM: E
    first, then I).

    Examples:
        >>> import neurojax as nj
        >>> nj.grid_positions((1, 2, 2)).tolist()
        [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]]
    """
    shape = tuple(shape)
    if not shape:
        raise ValueError("grid shape must have at least one dimension")
    for axis, d in enumerate(shape):
        check_int(d, f"grid shape[{axis}]")
    pos = np.stack(np.unravel_index(np.arange(int(np.prod(shape))), shape), axis=1).astype(np.float64)
    if key is not None:
        pos = pos[numpy_rng(key).permutation(len(pos))]
    return pos


def distance_based(key, positions, types=None, c_matrix=NALSM_C, lam: float = 3.0, *,
                   allow_autapses: bool = False, exc_fraction: float = 0.8) -> Connectivity:
    r"""Distance-dependent recurrent connectivity (Maass et al. 2002 / NALSM).

    $$ P(j \to i) = C[\mathrm{type}_j, \mathrm{type}_i]\, e^{-(D_{ij}/\lambda)^2} $$

    $D_{ij}$ is the Euclidean distance between the neurons' positions; each pair is sampled
    independently (Bernoulli), as in Maass, Natschläger & Markram (2002) and NALSM (spec
    §1.3). Defaults are NALSM's: $\lambda = 3$ grid units and
    $C_{EE} = 0.2$, $C_{EI} = 0.1$, $C_{IE} = 0.3$, $C_{II} = 0.05$ (``NALSM_C``; Maass
    et al. used $\lambda = 2$ and ``MAASS_C``), no autapses.

    Sampling is exact and runs over blocks of presynaptic rows, so memory stays
    $O(\text{block} \cdot N)$ while the work is $O(N^2)$ (fine up to ~10^4–10^5 neurons).

    Args:
        key: ``jax.random`` key; the connectome is a deterministic function of it.
        positions: ``(N, d)`` array of coordinates, or a grid shape such as ``(10, 10, 10)``.
            A grid shape means ``grid_positions(shape, jax.random.fold_in(key, 1))`` (integer
            grid points randomly assigned to neuron indices, as NALSM); call that yourself to
            get the positions.
        types: ``int[N]`` type index per neuron (rows/columns of ``c_matrix``). Default:
            the first ``round(exc_fraction * N)`` neurons are type 0 (E), the rest type 1 (I).
        c_matrix: ``(n_types, n_types)`` probabilities ``C[type_pre, type_post]`` in [0, 1].
        lam: length constant $\lambda$ (same units as ``positions``), > 0.
        allow_autapses: whether ``i -> i`` may be drawn (with probability ``C[t_i, t_i]``).
        exc_fraction: fraction of type-0 neurons when ``types`` is None.

    Returns:
        :class:`Connectivity` (``N x N``), targets sorted within each row.

    Examples:
        >>> import jax, neurojax as nj
        >>> conn = nj.distance_based(jax.random.PRNGKey(0), (4, 4, 4))
        >>> conn.n_pre, conn.n_post
        (64, 64)
    """
    if isinstance(positions, (tuple, list)) and all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in positions):
        positions = grid_positions(positions, jax.random.fold_in(key, 1))
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[0] < 1:
        raise ValueError(f"positions must be an (N, d) array or a grid shape, got shape {pos.shape}")
    if not np.isfinite(pos).all():
        raise ValueError("positions must be finite")
    n = pos.shape[0]
    c = np.asarray(c_matrix, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] < 1:
        raise ValueError(f"c_matrix must be a square (n_types, n_types) array, got shape {c.shape}")
    if not ((c >= 0) & (c <= 1)).all():
        raise ValueError(f"c_matrix entries must lie in [0, 1], got {c.tolist()}")
    lam = float(lam)
    if not lam > 0 or not np.isfinite(lam):
        raise ValueError(f"lam must be a positive finite length, got {lam!r}")
    if types is None:
        exc_fraction = _check_prob("exc_fraction", exc_fraction)
        types = (np.arange(n) >= int(round(exc_fraction * n))).astype(np.int64)
    types = np.asarray(types)
    if types.shape != (n,) or not np.issubdtype(types.dtype, np.integer):
        raise ValueError(f"types must be an int array of shape ({n},), got {types.dtype} {types.shape}")
    if types.min() < 0 or types.max() >= c.shape[0]:
        raise ValueError(f"types must lie in [0, {c.shape[0]}) (rows of c_matrix), "
                         f"got [{types.min()}, {types.max()}]")
    rng = numpy_rng(key)
    block = max(1, (1 << 20) // n)
    rows = []
    for i0 in range(0, n, block):
        i1 = min(i0 + block, n)
        d2 = np.zeros((i1 - i0, n))
        for axis in range(pos.shape[1]):
            d2 += np.subtract.outer(pos[i0:i1, axis], pos[:, axis]) ** 2
        prob = np.exp(d2 * (-1.0 / lam ** 2))
        prob *= c[types[i0:i1, None], types[None, :]]
        if not allow_autapses:
            prob[np.arange(i1 - i0), np.arange(i0, i1)] = 0.0
        hit = rng.random(prob.shape) < prob
        rows.extend(np.flatnonzero(h) for h in hit)
    return _table(rows, n, n)


def connection_probability(positions, types=None, c_matrix=NALSM_C, lam: float = 3.0, *,
                           allow_autapses: bool = False, exc_fraction: float = 0.8) -> np.ndarray:
    """The dense ``(N, N)`` matrix ``P[pre, post]`` that :func:`distance_based` samples from.

    For analysis and tests of small networks (``positions`` must be an array here).
    """
    pos = np.asarray(positions, dtype=np.float64)
    n = pos.shape[0]
    c = np.asarray(c_matrix, dtype=np.float64)
    if types is None:
        types = (np.arange(n) >= int(round(exc_fraction * n))).astype(np.int64)
    types = np.asarray(types)
    d2 = np.zeros((n, n))
    for axis in range(pos.shape[1]):
        d2 += np.subtract.outer(pos[:, axis], pos[:, axis]) ** 2
    prob = np.exp(d2 * (-1.0 / float(lam) ** 2)) * c[types[:, None], types[None, :]]
    if not allow_autapses:
        np.fill_diagonal(prob, 0.0)
    return prob


# ---------------------------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------------------------


def from_scipy(matrix):
    """``(conn, w)`` from a ``scipy.sparse`` matrix with rows = pre and columns = post.

    Every stored entry becomes a synapse (explicit zeros included; duplicate entries of a COO
    matrix become multapses, which :func:`to_dense` sums as scipy does).

    Raises:
        ImportError: if scipy is not installed.
        TypeError: if ``matrix`` is not a scipy sparse matrix/array.

    Examples:
        >>> import scipy.sparse as sp, neurojax as nj
        >>> conn, w = nj.from_scipy(sp.csr_matrix([[0.0, 2.0], [3.0, 0.0], [0.0, 0.0]]))
        >>> nj.to_dense(conn, w).tolist()
        [[0.0, 2.0], [3.0, 0.0], [0.0, 0.0]]
    """
    try:
        import scipy.sparse
    except ImportError as err:
        raise ImportError("from_scipy needs scipy: pip install scipy") from err
    if not scipy.sparse.issparse(matrix):
        raise TypeError(f"from_scipy expects a scipy.sparse matrix, got {type(matrix).__name__}")
    coo = matrix.tocoo()
    n_pre, n_post = coo.shape
    return from_edges(coo.row, coo.col, check_int(n_pre, "matrix.shape[0]"),
                      check_int(n_post, "matrix.shape[1]"), weights=np.asarray(coo.data))


def to_dense(conn: Connectivity, w=1.0):
    """Dense ``(n_pre, n_post)`` weight matrix ``W[pre, post]`` (multapses summed; for tests and
    small networks). Differentiable in ``w`` (scalar or ``(n_pre, k)``).

    Examples:
        >>> import neurojax as nj
        >>> nj.to_dense(nj.from_edges([0, 0, 1], [1, 1, 0], 2, 2)).tolist()
        [[0.0, 2.0], [1.0, 0.0]]
    """
    jnp = jax.numpy
    idx = conn.post_idx
    w = jnp.broadcast_to(jnp.asarray(w, dtype=jnp.result_type(float, w)), idx.shape)
    rows = jnp.broadcast_to(jnp.arange(conn.n_pre)[:, None], idx.shape)
    out = jnp.zeros((conn.n_pre, conn.n_post), w.dtype)
    return out.at[rows, idx].add(w, mode="drop")


# ---------------------------------------------------------------------------------------------
# Dale's law
# ---------------------------------------------------------------------------------------------


def dale_signs(n_exc: int, n_inh: int):
    """Per-presynaptic sign vector: ``+1`` for the first ``n_exc`` neurons, ``-1`` for the next
    ``n_inh`` (E first, then I, as NALSM's index layout).

    Examples:
        >>> import neurojax as nj
        >>> nj.dale_signs(2, 1).tolist()
        [1.0, 1.0, -1.0]
    """
    for name, v in (("n_exc", n_exc), ("n_inh", n_inh)):
        check_int(v, name, minimum=0)
    if n_exc + n_inh < 1:
        raise ValueError("dale_signs needs n_exc + n_inh >= 1")
    jnp = jax.numpy
    return jnp.concatenate([jnp.ones((n_exc,), float), -jnp.ones((n_inh,), float)])


_DALE_TRANSFORMS = ("abs", "softplus", "relu", "identity")


def apply_dale(magnitude, signs, transform: str = "abs"):
    r"""Signed weights $w_{ik} = \sigma_i\, f(m_{ik})$ from magnitudes and per-pre signs.

    Use it inside the loss to keep Dale's law during gradient training: store the
    *magnitudes* $m$ as the trainable parameter and build ``params[proj].w`` with this
    function, so no gradient step can flip a sign. Choices of $f \geq 0$:

    | transform   | $f(m)$            | notes |
    |-------------|-------------------|-------|
    | ``abs``     | $\lvert m\rvert$  | weight can shrink to 0 and regrow with the same sign |
    | ``softplus``| $\log(1 + e^m)$   | smooth, strictly positive (store $m = \log(e^{|w|} - 1)$) |
    | ``relu``    | $\max(m, 0)$      | a magnitude pushed below 0 is pruned (zero gradient) |
    | ``identity``| $m$               | caller keeps $m \ge 0$ (see below) |

    With ``identity``, project after every optimizer update, e.g. chain
    ``optax.keep_params_nonnegative()`` into the optimizer or apply
    ``optax.projections.projection_non_negative`` to the magnitudes.

    Args:
        magnitude: ``(n_pre, k)`` magnitudes (padding entries are ignored by the kernels).
        signs: ``(n_pre,)`` of ±1, e.g. :func:`dale_signs` (a constant, not a parameter).
        transform: one of the names above.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> nj.apply_dale(jnp.array([[1.0, -2.0], [3.0, 0.5]]), nj.dale_signs(1, 1)).tolist()
        [[1.0, 2.0], [-3.0, -0.5]]
    """
    jnp = jax.numpy
    if transform not in _DALE_TRANSFORMS:
        raise ValueError(f"transform must be one of {_DALE_TRANSFORMS}, got {transform!r}")
    magnitude = jnp.asarray(magnitude)
    signs = jnp.asarray(signs)
    if magnitude.ndim != 2 or signs.shape != (magnitude.shape[0],):
        raise ValueError(f"apply_dale needs magnitude of shape (n_pre, k) and signs of shape "
                         f"(n_pre,), got {magnitude.shape} and {signs.shape}; broadcast a scalar "
                         "magnitude with jnp.full(conn.post_idx.shape, m)")
    f = {"abs": jnp.abs, "softplus": jax.nn.softplus, "relu": jax.nn.relu,
         "identity": lambda m: m}[transform]
    return signs[:, None].astype(magnitude.dtype) * f(magnitude)
