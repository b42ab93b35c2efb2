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

from neurojax._tree import pytree_dataclass, static


@pytree_dataclass
class Connectivity:
    """Padded-row (ELL-by-presynaptic) synapse table.

    Attributes:
        post_idx: ``int32[n_pre, k]`` targets per presynaptic row; ``n_post`` marks padding.
        n_pre: number of presynaptic neurons (static).
        n_post: number of postsynaptic neurons (static).
    """

    post_idx: jax.Array
    n_pre: int = static()
    n_post: int = static()

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
