"""Connectivity builders: exact degrees, binomial statistics, the distance rule, conversions.

Statistical checks use a 5-sigma band from the binomial (or Poisson-binomial) standard
deviation, so a correct builder fails with probability < 1e-6 per check; each uses a fixed key,
so the tests are deterministic.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.connectivity import numpy_rng

sp = pytest.importorskip("scipy.sparse")

Z = 5.0   # sigma band of the statistical checks


def _edges(conn):
    idx = np.asarray(conn.post_idx)
    pre, slot = np.nonzero(idx < conn.n_post)
    return pre, idx[pre, slot]


def _check_table(conn, n_pre, n_post):
    """int32 table of shape (n_pre, k) with the n_post sentinel as padding."""
    idx = np.asarray(conn.post_idx)
    assert idx.dtype == np.int32 and idx.shape[0] == n_pre
    assert (conn.n_pre, conn.n_post) == (n_pre, n_post)
    assert idx.min() >= 0 and idx.max() <= n_post
    conn.validate()


def _dense_counts(conn):
    """Host-side dense count matrix (multapses summed), independent of nj.to_dense."""
    pre, post = _edges(conn)
    out = np.zeros((conn.n_pre, conn.n_post))
    np.add.at(out, (pre, post), 1.0)
    return out


def _check_rows_sorted_and_padded_at_end(conn):
    idx = np.asarray(conn.post_idx)
    valid = idx < conn.n_post
    assert (np.diff(valid.astype(int), axis=1) <= 0).all()           # padding only at the end
    both = valid[:, 1:] & valid[:, :-1]
    assert (np.diff(idx, axis=1)[both] > 0).all()                    # strictly increasing


# ---------------------------------------------------------------------------------------------
# fixed_prob / fixed_in_degree / fixed_out_degree / fixed_total
# ---------------------------------------------------------------------------------------------


def test_fixed_prob_statistics():
    n_pre, n_post, p = 300, 200, 0.05
    conn = nj.fixed_prob(jax.random.PRNGKey(1), n_pre, n_post, p)
    _check_table(conn, n_pre, n_post)
    dense = _dense_counts(conn)
    assert dense.max() <= 1.0                                     # no multapses
    m = n_pre * n_post
    assert abs(dense.sum() - m * p) < Z * np.sqrt(m * p * (1 - p))
    # out-degrees ~ Binomial(n_post, p): mean and variance
    out = dense.sum(1)
    assert abs(out.mean() - n_post * p) < Z * np.sqrt(n_post * p * (1 - p) / n_pre)
    assert 0.7 < out.var(ddof=1) / (n_post * p * (1 - p)) < 1.3
    # targets uniform over post neurons: in-degrees ~ Binomial(n_pre, p)
    indeg = dense.sum(0)
    assert abs(indeg.mean() - n_pre * p) < Z * np.sqrt(n_pre * p * (1 - p) / n_post)
    assert 0.7 < indeg.var(ddof=1) / (n_pre * p * (1 - p)) < 1.3
    # row width is the max out-degree; padding only at the end of rows, targets sorted
    assert conn.k == out.max()
    _check_rows_sorted_and_padded_at_end(conn)


@pytest.mark.parametrize("p", [0.1, 0.5])     # sparse (binomial + rejection) and dense paths
def test_fixed_prob_autapses_and_edge_cases(p):
    n = 80
    conn = nj.fixed_prob(jax.random.PRNGKey(2), n, n, p, allow_autapses=False)
    _check_rows_sorted_and_padded_at_end(conn)
    dense = _dense_counts(conn)
    assert np.trace(dense) == 0 and dense.max() == 1.0
    m = n * (n - 1)
    assert abs(dense.sum() - m * p) < Z * np.sqrt(m * p * (1 - p))
    # 3 x 2 rectangular, no autapses: rows 0, 1 skip their own column; row 2 has the full pool
    rect = _dense_counts(nj.fixed_prob(jax.random.PRNGKey(2), 3, 2, 1.0, allow_autapses=False))
    np.testing.assert_array_equal(rect, [[0, 1], [1, 0], [1, 1]])
    with_auto = _dense_counts(nj.fixed_prob(jax.random.PRNGKey(2), n, n, 1.0))
    np.testing.assert_array_equal(with_auto, np.ones((n, n)))
    no_auto = _dense_counts(nj.fixed_prob(jax.random.PRNGKey(2), n, n, 1.0, allow_autapses=False))
    np.testing.assert_array_equal(no_auto, 1.0 - np.eye(n))
    empty = nj.fixed_prob(jax.random.PRNGKey(2), 5, 7, 0.0)
    _check_table(empty, 5, 7)
    assert empty.n_synapses() == 0 and empty.k == 1


def test_fixed_prob_large_sparse_without_dense():
    """100k x 100k at p = 1e-4 (10^10 pairs) builds without an n_pre x n_post array."""
    n, p = 100_000, 1e-4
    conn = nj.fixed_prob(jax.random.PRNGKey(3), n, n, p)
    m = n * n
    assert abs(conn.n_synapses() - m * p) < Z * np.sqrt(m * p)
    assert conn.k < 40


def test_fixed_in_degree_exact():
    n_pre, n_post, k = 200, 300, 10
    conn = nj.fixed_in_degree(jax.random.PRNGKey(4), n_pre, n_post, k)
    _check_table(conn, n_pre, n_post)
    _check_rows_sorted_and_padded_at_end(conn)
    dense = _dense_counts(conn)
    np.testing.assert_array_equal(dense.sum(0), k)                # exact in-degree
    assert dense.max() == 1.0                                      # distinct partners
    # partners uniform: out-degree ~ Binomial(n_post, k / n_pre) (mean exact, variance 4 sigma)
    q = k / n_pre
    assert 0.6 < dense.sum(1).var(ddof=1) / (n_post * q * (1 - q)) < 1.4
    dense_path = _dense_counts(nj.fixed_in_degree(jax.random.PRNGKey(4), 12, 50, 9,
                                                  allow_autapses=False))
    np.testing.assert_array_equal(dense_path.sum(0), 9)
    assert np.trace(dense_path) == 0 and dense_path.max() == 1.0
    rec = _dense_counts(nj.fixed_in_degree(jax.random.PRNGKey(4), 20, 20, 19, allow_autapses=False))
    np.testing.assert_array_equal(rec, 1.0 - np.eye(20))


def test_fixed_out_degree_exact():
    n_pre, n_post, k = 25, 50, 6
    for replace in (True, False):
        conn = nj.fixed_out_degree(jax.random.PRNGKey(5), n_pre, n_post, k, replace=replace,
                                   allow_autapses=False)
        dense = _dense_counts(conn)
        np.testing.assert_array_equal(dense.sum(1), k)
        assert np.trace(dense[:, :n_pre]) == 0
        if not replace:
            assert dense.max() == 1.0


def test_fixed_total_exact_count_and_uniform():
    n_pre, n_post, n = 40, 25, 150
    conn = nj.fixed_total(jax.random.PRNGKey(6), n_pre, n_post, n)
    _check_table(conn, n_pre, n_post)
    dense = _dense_counts(conn)
    assert dense.sum() == n and dense.max() == 1.0
    q = n / (n_pre * n_post)          # hypergeometric marginals, var <= binomial
    assert abs(dense.sum(1).mean() - n_post * q) < 1e-12
    assert dense.sum(1).max() <= n_post


def test_determinism_same_key_same_table():
    k1, k2 = jax.random.PRNGKey(7), jax.random.PRNGKey(8)
    builders = [
        lambda k: nj.fixed_prob(k, 50, 60, 0.1),
        lambda k: nj.fixed_in_degree(k, 50, 60, 5),
        lambda k: nj.fixed_out_degree(k, 50, 60, 5),
        lambda k: nj.fixed_total(k, 50, 60, 100),
        lambda k: nj.distance_based(k, (4, 4, 4)),
    ]
    for build in builders:
        a, b, c = build(k1), build(k1), build(k2)
        np.testing.assert_array_equal(np.asarray(a.post_idx), np.asarray(b.post_idx))
        assert not np.array_equal(_dense_counts(a), _dense_counts(c))
    # new-style typed keys give the same result as the raw key data
    typed = jax.random.wrap_key_data(jax.random.key_data(k1))
    np.testing.assert_array_equal(np.asarray(nj.fixed_prob(typed, 50, 60, 0.1).post_idx),
                                  np.asarray(nj.fixed_prob(k1, 50, 60, 0.1).post_idx))


@pytest.mark.parametrize("call, match", [
    (lambda k: nj.fixed_prob(k, 10, 10, 1.5), r"p must lie in \[0, 1\]"),
    (lambda k: nj.fixed_prob(k, 10, 10, -0.1), r"p must lie in \[0, 1\]"),
    (lambda k: nj.fixed_prob(k, 10, 10, float("nan")), r"p must lie in \[0, 1\]"),
    (lambda k: nj.fixed_prob(k, 0, 10, 0.1), "n_pre must be a positive int"),
    (lambda k: nj.fixed_prob(k, 10, 2.5, 0.1), "n_post must be a positive int"),
    (lambda k: nj.fixed_in_degree(k, 10, 5, 11), "k=11 exceeds the 10 presynaptic"),
    (lambda k: nj.fixed_in_degree(k, 10, 5, 10, allow_autapses=False), "autapses excluded"),
    (lambda k: nj.fixed_in_degree(k, 10, 5, -1), "k must be a non-negative int"),
    (lambda k: nj.fixed_out_degree(k, 10, 5, 6, replace=False), "cannot draw k=6"),
    (lambda k: nj.fixed_out_degree(k, 3, 1, 2, allow_autapses=False), "needs n_post >= 2"),
    (lambda k: nj.fixed_total(k, 3, 3, 10), "n_synapses=10 exceeds the 9 possible"),
    (lambda k: nj.distance_based(k, (3, 0, 3)), r"grid shape\[1\] must be a positive int"),
    (lambda k: nj.distance_based(k, (3, 3, 3), lam=0.0), "lam must be a positive"),
    (lambda k: nj.distance_based(k, (3, 3, 3), c_matrix=[[0.2, 1.2], [0.1, 0.1]]),
     r"c_matrix entries must lie in \[0, 1\]"),
    (lambda k: nj.distance_based(k, np.zeros((4, 3)), types=np.array([0, 1, 2, 0])),
     r"types must lie in \[0, 2\)"),
    (lambda k: nj.distance_based(k, np.zeros((4, 3)), types=np.zeros(3, int)),
     r"types must be an int array of shape \(4,\)"),
])
def test_builder_argument_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call(jax.random.PRNGKey(0))


# ---------------------------------------------------------------------------------------------
# distance_based (spec nalsm_astro.md §1.3)
# ---------------------------------------------------------------------------------------------


def test_distance_based_matches_formula_per_distance_bin():
    """NALSM 10x10x10: per type pair and distance bin, the number of synapses agrees with
    sum P (Poisson-binomial mean) within 5 sigma, P = C[type_pre, type_post] exp(-(D/3)^2)."""
    key = jax.random.PRNGKey(11)
    shape = (10, 10, 10)
    conn = nj.distance_based(key, shape)
    _check_table(conn, 1000, 1000)
    pos = nj.grid_positions(shape, jax.random.fold_in(key, 1))
    types = (np.arange(1000) >= 800).astype(int)
    prob = nj.connection_probability(pos, types)
    # the formula, spelled out independently for a few pairs
    d = np.linalg.norm(pos[3] - pos[900])
    assert prob[3, 900] == pytest.approx(0.1 * np.exp(-(d / 3.0) ** 2))
    d = np.linalg.norm(pos[900] - pos[5])
    assert prob[900, 5] == pytest.approx(0.3 * np.exp(-(d / 3.0) ** 2))
    dense = _dense_counts(conn)
    assert dense.max() == 1.0 and np.trace(dense) == 0
    dist = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    edges = [0.5, 1.5, 2.5, 3.5, 5.0, 8.0, 20.0]
    for tp in (0, 1):
        for tq in (0, 1):
            block = (types[:, None] == tp) & (types[None, :] == tq)
            for lo, hi in zip(edges[:-1], edges[1:]):
                sel = block & (dist >= lo) & (dist < hi)
                mean = prob[sel].sum()
                sd = np.sqrt((prob[sel] * (1 - prob[sel])).sum())
                assert abs(dense[sel].sum() - mean) <= Z * sd + 1e-9, (tp, tq, lo, hi)
    # spec sanity number: ~16.7k recurrent synapses for 10x10x10
    assert abs(dense.sum() - prob.sum()) < Z * np.sqrt((prob * (1 - prob)).sum())
    assert 16_000 < prob.sum() < 17_500
    # mean E->E in-degree per E post ~ 13.8 (spec)
    assert 13.0 < dense[:800, :800].sum() / 800 < 14.6


def test_distance_based_positions_and_custom_types():
    """Explicit positions; grid shape == grid_positions with fold_in(key, 1); autapses."""
    key = jax.random.PRNGKey(12)
    pos = nj.grid_positions((3, 3, 3), jax.random.fold_in(key, 1))
    a = nj.distance_based(key, (3, 3, 3))
    b = nj.distance_based(key, pos)
    np.testing.assert_array_equal(np.asarray(a.post_idx), np.asarray(b.post_idx))
    # all C = 1 and huge lambda: everything connects (except autapses unless allowed)
    ones = np.ones((1, 1))
    full = _dense_counts(nj.distance_based(key, pos, np.zeros(27, int), ones, lam=1e6))
    np.testing.assert_array_equal(full, 1.0 - np.eye(27))
    full = _dense_counts(nj.distance_based(key, pos, np.zeros(27, int), ones, lam=1e6,
                                           allow_autapses=True))
    np.testing.assert_array_equal(full, np.ones((27, 27)))
    # C = 0 for a type pair removes exactly those connections
    types = np.arange(27) % 3
    c = np.ones((3, 3))
    c[1, 2] = 0.0
    dense = _dense_counts(nj.distance_based(key, pos, types, c, lam=1e6))
    assert dense[np.ix_(types == 1, types == 2)].sum() == 0
    assert dense[np.ix_(types == 2, types == 1)].sum() == 9 * 9


def test_grid_positions():
    pos = nj.grid_positions((2, 3, 4))
    assert pos.shape == (24, 3)
    np.testing.assert_array_equal(pos[5], [0, 1, 1])
    perm = nj.grid_positions((2, 3, 4), jax.random.PRNGKey(0))
    assert sorted(map(tuple, perm)) == sorted(map(tuple, pos)) and not np.array_equal(perm, pos)


# ---------------------------------------------------------------------------------------------
# from_edges / from_scipy / to_dense
# ---------------------------------------------------------------------------------------------


def test_from_edges_and_from_scipy_vs_dense():
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(7, 9)) * (rng.random((7, 9)) < 0.3)
    pre, post = np.nonzero(dense)
    conn, w = nj.from_edges(pre, post, 7, 9, weights=dense[pre, post])
    _check_table(conn, 7, 9)
    np.testing.assert_array_equal(np.asarray(nj.to_dense(conn, w)), dense)
    for fmt in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.lil_matrix, sp.csr_array):
        c2, w2 = nj.from_scipy(fmt(dense))
        _check_table(c2, 7, 9)
        np.testing.assert_array_equal(np.asarray(nj.to_dense(c2, w2)), dense)
    # duplicate COO entries are multapses, summed as scipy sums them
    m = sp.coo_matrix(([1.0, 2.0, 4.0], ([0, 0, 1], [1, 1, 0])), shape=(2, 3))
    c3, w3 = nj.from_scipy(m)
    assert c3.n_synapses() == 3
    np.testing.assert_array_equal(np.asarray(nj.to_dense(c3, w3)), m.toarray())
    # the kernel sees the same matrix: y = W^T s
    s = jnp.asarray(rng.random(7))
    from neurojax.kernels import event_scatter_reference
    y = event_scatter_reference(conn.post_idx, w, s, 9)
    np.testing.assert_allclose(np.asarray(y), dense.T @ np.asarray(s), rtol=1e-12, atol=1e-12)


def test_from_edges_and_from_scipy_errors():
    with pytest.raises(ValueError, match="post indices must lie in"):
        nj.from_edges([0, 1], [0, 3], 2, 3)
    with pytest.raises(ValueError, match="pre indices must lie in"):
        nj.from_edges([-1], [0], 2, 3)
    with pytest.raises(ValueError, match="same length"):
        nj.from_edges([0, 1], [0], 2, 3)
    with pytest.raises(ValueError, match="smaller than the largest out-degree"):
        nj.from_edges([0, 0], [0, 1], 2, 3, k=1)
    with pytest.raises(TypeError, match="scipy.sparse"):
        nj.from_scipy(np.eye(3))


def test_from_scipy_without_scipy(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError("no scipy")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="from_scipy needs scipy"):
        nj.from_scipy(None)


def test_to_dense_is_differentiable_in_w():
    conn = nj.from_edges([0, 0, 1], [1, 1, 0], 2, 2)
    w = jnp.array([[1.0, 2.0], [3.0, 0.0]])
    g = jax.grad(lambda w: (nj.to_dense(conn, w) * jnp.array([[1.0, 10.0], [100.0, 1000.0]])).sum())(w)
    np.testing.assert_array_equal(np.asarray(g), [[10.0, 10.0], [100.0, 0.0]])


# ---------------------------------------------------------------------------------------------
# Dale's law
# ---------------------------------------------------------------------------------------------


def test_dale_signs_fixed_under_gradient_training():
    """Signs come from the presynaptic neuron and survive any number of gradient steps."""
    signs = nj.dale_signs(3, 2)
    np.testing.assert_array_equal(np.asarray(signs), [1, 1, 1, -1, -1])
    conn = nj.fixed_out_degree(jax.random.PRNGKey(0), 5, 4, 3)
    mag = jnp.asarray(numpy_rng(jax.random.PRNGKey(1)).normal(size=(5, 3)))
    target = jnp.asarray(numpy_rng(jax.random.PRNGKey(2)).normal(size=(5, 4)) * 3)

    for transform in ("abs", "softplus", "relu"):
        def loss(m):
            return ((nj.to_dense(conn, nj.apply_dale(m, signs, transform)) - target) ** 2).sum()

        @jax.jit
        def train(m):
            return jax.lax.fori_loop(0, 50, lambda _, m: m - 0.05 * jax.grad(loss)(m), m)

        m = train(mag)
        w = np.asarray(nj.apply_dale(m, signs, transform))
        assert (w[:3] >= 0).all() and (w[3:] <= 0).all(), transform
        assert float(loss(m)) < float(loss(mag))
    np.testing.assert_allclose(np.asarray(nj.apply_dale(mag, signs, "softplus")),
                               np.asarray(signs)[:, None] * np.log1p(np.exp(np.asarray(mag))),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="transform must be one of"):
        nj.apply_dale(mag, signs, "exp")
    with pytest.raises(ValueError, match=r"magnitude of shape \(n_pre, k\)"):
        nj.apply_dale(1.0, signs)
    with pytest.raises(ValueError, match="n_inh must be a non-negative int"):
        nj.dale_signs(3, -1)


@pytest.mark.parametrize("k", [2, 3])     # rejection path (k <= pool/2) and permutation path
def test_distinct_subsets_are_uniform(k):
    """Every k-subset of 5 presynaptic neurons is equally likely (chi-square-like 5-sigma band)."""
    n_post = 20_000
    conn = nj.fixed_in_degree(jax.random.PRNGKey(13), 5, n_post, k)
    dense = _dense_counts(conn).T                          # (post, pre) indicator rows
    codes = dense @ (2 ** np.arange(5))
    values, counts = np.unique(codes, return_counts=True)
    n_subsets = {2: 10, 3: 10}[k]
    assert len(values) == n_subsets
    q = 1.0 / n_subsets
    assert np.abs(counts - n_post * q).max() < Z * np.sqrt(n_post * q * (1 - q))
