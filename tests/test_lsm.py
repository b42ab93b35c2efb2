"""neurojax.lsm: the NALSM-family liquid, its two phases, criticality, kernel quality and readout.

* builder: E/I counts, exact input synapse count, signs and magnitudes per model, no autapses,
  astrocyte density, and the connection probability per (type pair, distance) against the
  closed form C exp(-(D/lambda)^2) within 4.5 binomial standard deviations;
* phase 1 (snapshots with resets, weights carried over) and phase 2 (per-sample reset to
  W_INI, in-sample plasticity with x0.99 decays) equal a NumPy transcription of the spec's loop
  (nalsm_astro.md §1.4-1.8) to 1e-10: every weight after the snapshots, the spike counts;
  NALSM with Bernoulli inputs and half the neurons on the astrocyte, AP-STDP with event inputs;
* phase 2 vmapped over a batch == one sample at a time (exact), independent of batching;
* branching factor on hand-built rasters (known answers) and against a direct loop;
* kernel rank of constructed low-rank matrices;
* readout: normalisation, soft targets, loss and its gradient in closed form, Adadelta's
  first step, and a separable problem learned to 100 %.
"""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax import lsm
from neurojax.plasticity.nalsm import NALSM_TRACE_DECAY
from tolerances import EXACT

D_TRACE = NALSM_TRACE_DECAY


# ---------------------------------------------------------------------------------------------
# builder
# ---------------------------------------------------------------------------------------------


def _edges(conn):
    idx = np.asarray(conn.post_idx)
    pre, slot = np.nonzero(idx < conn.n_post)
    return pre, idx[pre, slot]


def test_builder_counts_signs_and_magnitudes():
    """8x8x8 liquid, 30 inputs: N_E = round(0.8 N); E rows only in E->L, I rows only in I->L; no
    autapses; exactly floor(N n_in 0.15) distinct input pairs; signs +, -, +-; input sign
    fraction 1/2 within 4 sigma; positions a permutation of the grid; magnitudes per model;
    astrocyte density -> round(d N) liquid and round(d n_in) input neurons, distinct."""
    grid, n_in = (8, 8, 8), 30
    key = jax.random.PRNGKey(4)
    liq = lsm.build_liquid(key, grid, n_in, lsm.LiquidConfig(astro_density=0.4))
    n = 512
    assert (liq.n, liq.n_e, liq.n_in) == (n, 410, n_in)
    grid_points = {tuple(p) for p in itertools.product(range(8), range(8), range(8))}
    assert {tuple(p) for p in liq.positions.astype(int)} == grid_points
    pre_e, post_e = _edges(liq.conns["E->L"])
    pre_i, post_i = _edges(liq.conns["I->L"])
    assert pre_e.max() < liq.n_e and pre_i.min() >= liq.n_e
    assert not np.any(pre_e == post_e) and not np.any(pre_i == post_i)
    pre, post = _edges(liq.conns["inp->L"])
    assert len(pre) == int(np.floor(n * n_in * 0.15)) == 2304
    assert len(set(zip(pre.tolist(), post.tolist()))) == len(pre)
    for name, sign in (("E->L", 1.0), ("I->L", -1.0)):
        mask = np.asarray(liq.conns[name].mask)
        np.testing.assert_array_equal(liq.weights[name][mask], sign * 3.0)
        np.testing.assert_array_equal(liq.weights[name][~mask], 0.0)
    w_in = liq.weights["inp->L"][np.asarray(liq.conns["inp->L"].mask)]
    assert set(np.unique(w_in).tolist()) == {-3.0, 3.0}
    frac = np.mean(w_in > 0)
    assert abs(frac - 0.5) < 4 * np.sqrt(0.25 / len(w_in))
    # astrocyte subsets
    for name, size in (("L->astro", 512), ("inp->astro", 30)):
        pre_a, post_a = _edges(liq.conns[name])
        assert len(np.unique(pre_a)) == len(pre_a) == round(0.4 * size) and (post_a == 0).all()
    # magnitudes per model (same key: same connectome)
    for model, w, mag in (("lsm", 0.7, 0.7), ("lsm", None, 1.0), ("lsm_apstdp", None, 1.0),
                          ("lsm_stdp", None, 3.0)):
        other = lsm.build_liquid(key, grid, n_in, lsm.LiquidConfig(model=model, w=w))
        np.testing.assert_array_equal(other.conns["E->L"].post_idx, liq.conns["E->L"].post_idx)
        np.testing.assert_allclose(other.weights["inp->L"], liq.weights["inp->L"] * mag / 3, **EXACT)
        assert (other.net_warmup is None) == (model == "lsm")
        plastic = [p.plasticity is not None for p in other.net_sample.projections.values()]
        assert any(plastic) == (model == "lsm_stdp")
    with pytest.raises(ValueError, match="model"):
        lsm.LiquidConfig(model="esn")
    with pytest.raises(ValueError, match="astro_density"):
        lsm.LiquidConfig(astro_density=1.5)
    with pytest.raises(ValueError, match="learn_events"):
        lsm.LiquidConfig(learn_events=0)


def test_connection_probability_matches_the_closed_form():
    """Observed fraction of connected (pre, post) pairs per type pair and squared distance
    d^2 in {1, ..., 6}, pooled over two 8x8x8 liquids, equals C[t_pre, t_post] exp(-d^2/9)
    within 4.5 binomial standard deviations (24 bins); and the total count matches the sum of
    the closed-form probabilities within 4.5 sigma."""
    C = np.array(lsm.LiquidConfig().c_matrix)
    hits, pairs, expected, var = np.zeros((2, 2, 7)), np.zeros((2, 2, 7)), 0.0, 0.0
    total = 0
    for seed in (0, 1):
        liq = lsm.build_liquid(jax.random.PRNGKey(seed), (8, 8, 8), 1)
        pos = liq.positions
        types = (np.arange(liq.n) >= liq.n_e).astype(int)
        d2 = ((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1).round().astype(int)   # [pre, post]
        adj = lsm.recurrent_adjacency(liq)
        prob = C[types[:, None], types[None, :]] * np.exp(-d2 / 9.0)
        np.fill_diagonal(prob, 0.0)
        expected += prob.sum()
        var += (prob * (1 - prob)).sum()
        total += adj.sum()
        for tp, tq, d in itertools.product((0, 1), (0, 1), range(1, 7)):
            sel = (types[:, None] == tp) & (types[None, :] == tq) & (d2 == d)
            hits[tp, tq, d] += adj[sel].sum()
            pairs[tp, tq, d] += sel.sum()
    assert abs(total - expected) < 4.5 * np.sqrt(var), (total, expected)
    for tp, tq, d in itertools.product((0, 1), (0, 1), range(1, 7)):
        p = C[tp, tq] * np.exp(-d / 9.0)
        m = pairs[tp, tq, d]
        z = (hits[tp, tq, d] - m * p) / np.sqrt(m * p * (1 - p))
        assert abs(z) < 4.5, (tp, tq, d, hits[tp, tq, d], m * p)


# ---------------------------------------------------------------------------------------------
# phase 1 and phase 2 against the spec's loop
# ---------------------------------------------------------------------------------------------

THETA, TAU_V, T_REF, TAU_A, W_MAX, ETA0 = 20.0, 64.0, 2, 100.0, 3.0, 0.15


def _dense(liq, weights):
    """``W[post, pre]`` over liquid then input columns, and the column kinds (0 E, 1 I, 2 input)."""
    out = np.zeros((liq.n, liq.n + liq.n_in))
    for name, col0 in (("E->L", 0), ("I->L", 0), ("inp->L", liq.n)):
        pre, post = _edges(liq.conns[name])
        idx = np.asarray(liq.conns[name].post_idx)
        slot = np.nonzero(idx < liq.n)[1]
        out[post, col0 + pre] += np.asarray(weights[name])[pre, slot]
    kind = np.concatenate([np.zeros(liq.n_e), np.ones(liq.n - liq.n_e), np.full(liq.n_in, 2)])
    return out, kind


def reference_run(W, kind, drives, *, rule, decay, astro_w=0.0, astro_cols=None, c_theta=37.0,
                  delta_c=22.0, tau_c=1000.0, x=None, C=None):
    """NumPy transcription of spec §1.4-1.8 for a sequence of runs (snapshots or samples):
    every run resets v, r, Delta (20), A, w_A, b_A, eta; W, the traces x and AP-STDP's C carry
    over. rule: None (static), "astro", "sym" (A = eta) or "ap". Returns W, spike counts per
    run and neuron, x, C."""
    N, M = W.shape
    mask = W != 0
    lo = np.where(kind == 0, 0.0, -W_MAX)
    hi = np.where(kind == 1, 0.0, W_MAX)
    x = np.zeros(M) if x is None else x
    C = np.zeros(M) if C is None else C
    astro_cols = np.concatenate([np.ones(N), -np.ones(M - N)]) if astro_cols is None else astro_cols
    counts = []
    for drive in drives:
        v, r, delta = np.zeros(M), np.zeros(M), np.full(M, 20.0)
        A, wA, bA, eta = ETA0, astro_w, ETA0, ETA0
        cnt = np.zeros(N)
        for t in range(len(drive)):
            s = ((v >= THETA) & (r <= 0)).astype(float)
            v = v * (1 - s)
            cnt += s[:N]
            C = C - C / tau_c + s
            delta = np.where(s > 0, 0.0, delta)
            v = v + np.concatenate([W @ np.exp(-delta), drive[t]]) - v / TAU_V
            delta = np.minimum(delta + 1, 100.0)
            r = np.where(s > 0, T_REF, r - 1)
            causal = x[None, :] * s[:N, None]          # pre-before-post, [post, pre]
            anti = x[:N, None] * s[None, :]            # post-before-pre
            inh = (kind == 1)[None, :]
            if rule in ("astro", "sym"):
                dep = A if rule == "astro" else eta
                dW = np.where(inh, -dep, eta) * causal + np.where(inh, eta, -dep) * anti
            elif rule == "ap":
                up = ((C[:N] > c_theta) & (C[:N] < c_theta + delta_c))[:, None]
                down = ((C[:N] > c_theta - delta_c) & (C[:N] < c_theta))[:, None]
                dW = np.where(inh, -eta * causal * down + eta * anti * up,
                              eta * causal * up - eta * anti * down)
            else:
                dW = 0.0
            W = np.where(mask, np.clip(W + dW, lo[None, :], hi[None, :]), 0.0)
            x = D_TRACE * (x + 0.1 * s)
            A = A + (wA * (s @ astro_cols) + bA - A) / TAU_A
            eta, A, wA, bA = eta * decay, A * decay, wA * decay, bA * decay
        counts.append(cnt)
    return W, np.array(counts), x, C


def _drives(liq, x, key, n_steps):
    """The input currents lsm draws for sample i (fold_in(key, i)), one zero row appended (the
    reference's last step only affects the spike after the window)."""
    out = []
    for i in range(len(x)):
        d = np.asarray(lsm._drive(jnp.asarray(x[i]), jax.random.fold_in(key, i), n_steps, 100.0))
        out.append(np.concatenate([d, np.zeros((1, liq.n_in))]))
    return out


def _astro_cols(liq):
    cols = np.zeros(liq.n + liq.n_in)
    cols[_edges(liq.conns["L->astro"])[0]] = 1.0
    cols[liq.n + _edges(liq.conns["inp->astro"])[0]] = -1.0
    return cols


N_IN, N_SNAP, SNAP_MS = 10, 7, 20


def test_phase1_nalsm_equals_the_reference_snapshots():
    """NALSM (astrocyte on half of the neurons), 7 snapshots of 20 ms in chunks of 3: every
    weight after the last snapshot and the liquid spike count of every snapshot equal the
    reference (traces carried over); the weights really moved."""
    cfg = lsm.LiquidConfig(input_density=0.5, astro_density=0.5)
    liq = lsm.build_liquid(jax.random.PRNGKey(11), (3, 3, 3), N_IN, cfg)
    rng = np.random.default_rng(0)
    x = rng.random((N_SNAP, N_IN)) * 0.6
    key = jax.random.PRNGKey(5)
    w_ini, diag = lsm.warmup(liq, x, key, snapshot_ms=SNAP_MS, chunk=3, progress=False)
    W0, kind = _dense(liq, liq.weights)
    W_ref, counts, _, _ = reference_run(W0, kind, _drives(liq, x, key, SNAP_MS - 1), rule="astro",
                                        decay=1.0, astro_w=0.015, astro_cols=_astro_cols(liq))
    W_ours, _ = _dense(liq, w_ini)
    np.testing.assert_allclose(W_ours, W_ref, **EXACT)
    np.testing.assert_array_equal(diag["liquid_spikes"], counts.sum(axis=1))
    assert counts.sum() > 100 and np.abs(W_ref - W0).max() > 0.05
    # the simulator's I projection runs over the I rows only; W_INI comes back on the full table
    inh = liq.network("warmup").projections["I->L"]
    assert inh.pre_rows == (liq.n_e, liq.n)
    np.testing.assert_array_equal(inh.conn.post_idx, np.asarray(liq.conns["I->L"].post_idx)[liq.n_e:])
    assert np.shape(w_ini["I->L"]) == liq.conns["I->L"].post_idx.shape
    assert not np.asarray(w_ini["I->L"])[:liq.n_e].any()
    # the carried traces matter: resetting them per snapshot gives other weights
    W_reset = W0
    for d in _drives(liq, x, key, SNAP_MS - 1):
        W_reset = reference_run(W_reset, kind, [d], rule="astro", decay=1.0, astro_w=0.015,
                                astro_cols=_astro_cols(liq))[0]
    assert np.abs(W_reset - W_ref).max() > 1e-6


@pytest.mark.parametrize("learn_events", [None, 3])
def test_phase1_apstdp_with_event_inputs_equals_the_reference(learn_events):
    """AP-STDP (gate C_theta = 3, Delta C = 2.5 so that 140 ms open it), event inputs
    (n_snap, 20, n_in): weights equal the reference, whose activity C carries over; also with
    event-driven, in-place updates (capacity 3: extra passes on busy steps)."""
    cfg = lsm.LiquidConfig(model="lsm_apstdp", input_density=0.5, c_theta=3.0, delta_c=2.5,
                           learn_events=learn_events)
    liq = lsm.build_liquid(jax.random.PRNGKey(12), (3, 3, 3), N_IN, cfg)
    events = (np.random.default_rng(1).random((N_SNAP, SNAP_MS, N_IN)) < 0.3).astype(float)
    w_ini, diag = lsm.warmup(liq, events, jax.random.PRNGKey(0), snapshot_ms=SNAP_MS, chunk=4,
                             progress=False)
    W0, kind = _dense(liq, liq.weights)
    drives = [100.0 * np.concatenate([e[:SNAP_MS - 1], np.zeros((1, N_IN))]) for e in events]
    W_ref, counts, _, _ = reference_run(W0, kind, drives, rule="ap", decay=1.0, c_theta=3.0,
                                        delta_c=2.5)
    np.testing.assert_allclose(_dense(liq, w_ini)[0], W_ref, **EXACT)
    np.testing.assert_array_equal(diag["liquid_spikes"], counts.sum(axis=1))
    assert np.abs(W_ref - W0).max() > 0.05


def test_phase2_batched_equals_sequential_and_the_reference():
    """NALSM phase 2 from a moved W_INI, 5 samples of 60 ms: vmapped batches of 2 (last one
    padded) == one sample at a time, bit for bit (counts and rasters); both equal the
    reference, which resets W to W_INI, the traces and the astrocyte for every sample and
    decays the rates by 0.99 per ms. The raster is in reference time (row 0 empty)."""
    cfg = lsm.LiquidConfig(input_density=0.5)
    liq = lsm.build_liquid(jax.random.PRNGKey(13), (3, 3, 3), N_IN, cfg)
    w_ini = {name: np.where(np.asarray(liq.conns[name].mask),
                            w * np.random.default_rng(2).uniform(0.3, 1.0, w.shape), 0.0)
             for name, w in liq.weights.items()}
    x = np.random.default_rng(3).random((5, N_IN)) * 0.6
    key, T = jax.random.PRNGKey(8), 60
    batched, r_b, _ = lsm.sample_features(liq, w_ini, x, key, sample_ms=T, batch_size=2,
                                          raster_indices=[1, 4], progress=False)
    single, r_s, _ = lsm.sample_features(liq, w_ini, x, key, sample_ms=T, batch_size=1,
                                         raster_indices=[1, 4], progress=False)
    np.testing.assert_array_equal(batched, single)
    np.testing.assert_array_equal(r_b, r_s)
    np.testing.assert_array_equal(r_b.sum(axis=1), batched[[1, 4]])
    assert r_b[:, 0].sum() == 0
    W0, kind = _dense(liq, w_ini)
    drives = _drives(liq, x, key, T - 1)
    counts = np.array([reference_run(W0, kind, [d], rule="astro", decay=0.99, astro_w=0.015)[1][0]
                       for d in drives])
    np.testing.assert_array_equal(batched, counts)
    assert counts.sum() > 100


def test_bernoulli_drive_rate():
    """Input neuron k receives 100 with probability p_k per step (4 sigma over 4000 steps)."""
    p = jnp.array([0.0, 0.1, 0.5, 1.0])
    d = np.asarray(lsm._drive(p, jax.random.PRNGKey(0), 4000, 100.0))
    assert set(np.unique(d).tolist()) <= {0.0, 100.0}
    rate = (d > 0).mean(axis=0)
    sd = np.sqrt(np.asarray(p) * (1 - np.asarray(p)) / 4000)
    assert (np.abs(rate - np.asarray(p)) <= 4 * sd + 1e-12).all(), rate


# ---------------------------------------------------------------------------------------------
# branching factor
# ---------------------------------------------------------------------------------------------


def _bf_loop(raster, adj, buffer=25, window=4):
    """Direct transcription of spec §1.10 for one sample (loops over neurons and spikes)."""
    T, N = raster.shape
    s = raster.copy()
    s[:buffer] = 0
    s[T - buffer:] = 0
    neuron_bf = []
    for n in range(N):
        pres, posts = np.flatnonzero(adj[:, n]), np.flatnonzero(adj[n])
        ratios = []
        for t in range(buffer + window, T - buffer - window):
            if s[t, n]:
                pre = s[t - window:t, pres].sum()
                post = s[t + 1:t + window + 1, posts].sum()
                ratios.append(post / max(pre, 1))
        neuron_bf.append(np.mean(ratios) if ratios else np.nan)
    return np.nanmean(neuron_bf)


def test_branching_factor_hand_built():
    """Chain 0 -> 1 -> 2 and 0 -> 2. Spikes: 0 at 40; 1 at 42; 2 at 43, 44; also 0 at 27 (not a
    trigger, t < 29, and outside every window) and 1 at 20 (dropped, t < 25).
    Neuron 0 at 40: pre = 0 -> 1, post = 1 (42) + 2 (43, 44) = 3 -> 3.
    Neuron 1 at 42: pre = 1 (0 at 40), post = 2 -> 2.
    Neuron 2 at 43: pre = 0@40 + 1@42 = 2, post = 0 -> 0; at 44: pre = 2 (0@40, 1@42) -> 0.
    Sample BF = mean(3, 2, 0) = 5/3; a second sample with only neuron 0 firing at 100 and 2 at
    102: 0 -> 1 (post 1 / max(0, 1)), 2 -> 0 (pre 1): BF 1/2; the mean is 13/12."""
    adj = np.zeros((3, 3), int)
    adj[0, 1] = adj[1, 2] = adj[0, 2] = 1
    s = np.zeros((2, 250, 3))
    s[0, 40, 0] = s[0, 27, 0] = s[0, 42, 1] = s[0, 20, 1] = s[0, 43, 2] = s[0, 44, 2] = 1
    s[1, 100, 0] = s[1, 102, 2] = 1
    bf, per = lsm.branching_factor(s, adj)
    np.testing.assert_allclose(per, [5 / 3, 1 / 2], **EXACT)
    np.testing.assert_allclose(bf, 13 / 12, **EXACT)
    # spikes only at the edges (t >= 221 or t < 29) are not triggers: silent sample -> NaN
    edge = np.zeros((250, 3))
    edge[[10, 28, 221, 240], 0] = 1
    assert np.isnan(lsm.branching_factor(edge, adj)[0])


def test_branching_factor_equals_the_direct_loop():
    """Random 40-neuron network and rasters (3 samples): vectorised == the loop, to 1e-12."""
    rng = np.random.default_rng(0)
    adj = rng.random((40, 40)) < 0.15
    np.fill_diagonal(adj, False)
    rasters = (rng.random((3, 250, 40)) < 0.05).astype(np.uint8)
    bf, per = lsm.branching_factor(rasters, adj)
    ref = [_bf_loop(r.astype(float), adj) for r in rasters]
    np.testing.assert_allclose(per, ref, rtol=1e-12)
    np.testing.assert_allclose(bf, np.mean(ref), rtol=1e-12)
    # random activity with mean in-degree ~ out-degree: BF ~ (rate*4*k_out) / max(rate*4*k_in, 1)
    assert 0.2 < bf < 2.0


# ---------------------------------------------------------------------------------------------
# kernel quality
# ---------------------------------------------------------------------------------------------


def test_kernel_rank_of_constructed_matrices():
    """Responses spanning an r-dimensional space have rank r whatever the draw (r = 7 < 40
    samples); generic responses are full rank min(N, n_classes * per_class); identical responses
    within each class give rank n_classes; too few samples of a class raise."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 25)
    low = rng.random((100, 7)) @ rng.random((7, 60))
    assert lsm.kernel_rank(low, labels, per_class=10, n_draws=5) == (7.0, 0.0)
    full = rng.random((100, 60))
    assert lsm.kernel_rank(full, labels, per_class=10, n_draws=5) == (40.0, 0.0)
    assert lsm.kernel_rank(full[:, :30], labels, per_class=10, n_draws=5) == (30.0, 0.0)
    proto = rng.random((4, 60))
    assert lsm.kernel_rank(proto[labels] * 3, labels, per_class=10, n_draws=5) == (4.0, 0.0)
    with pytest.raises(ValueError, match="per_class"):
        lsm.kernel_rank(full, labels, per_class=26)


# ---------------------------------------------------------------------------------------------
# readout
# ---------------------------------------------------------------------------------------------


def test_readout_normalisation_targets_loss_and_first_step():
    """z = c/|c|_1 then / batch max (zero rows stay 0); soft targets e^2/(e^2+9) and 1/(e^2+9);
    at W = 0 the loss is log 10 + 0 and its gradient is (z^T (1/10 - q)/B, mean(1/10 - q));
    with W != 0 the L2 term adds 5e-10 W; Adadelta's first step is
    -0.1 sqrt(eps) g / sqrt((1 - rho) g^2 + eps)."""
    c = np.array([[2.0, 6.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 2.0]])
    z = np.asarray(lsm.normalize_counts(c))
    np.testing.assert_allclose(z, [[1 / 3, 1.0, 0.0], [0, 0, 0], [1 / 3, 1 / 3, 2 / 3]], **EXACT)
    np.testing.assert_array_equal(lsm.normalize_counts(np.zeros((2, 3))), 0.0)
    e2 = np.exp(2.0)
    q = np.asarray(lsm.soft_targets([1, 0, 3], 4))
    np.testing.assert_allclose(q[0], [1, e2, 1, 1] / (e2 + 3), **EXACT)
    q10 = np.asarray(lsm.soft_targets([0], 10))[0]
    np.testing.assert_allclose(q10[:2], [e2 / (e2 + 9), 1 / (e2 + 9)], **EXACT)
    np.testing.assert_allclose(q10[:2], [0.4509, 0.0610], atol=5e-5)
    zero = (jnp.zeros((3, 4)), jnp.zeros(4))
    tx = lsm._adadelta(0.1, 0.95, 1e-8)

    @jax.jit
    def closed_forms(params, z, q):
        loss, grads = jax.value_and_grad(lsm.readout_loss)(params, z, q)
        l2 = jax.grad(lsm.readout_loss)((jnp.ones((3, 4)), jnp.zeros(4)), jnp.zeros((3, 3)), q)[0]
        return loss, grads, l2, tx.update(grads, tx.init(params), params)[0]

    loss, (gw, gb), l2, upd = closed_forms(zero, jnp.asarray(z), jnp.asarray(q))
    np.testing.assert_allclose(loss, np.log(4.0), **EXACT)
    np.testing.assert_allclose(gw, z.T @ (0.25 - q) / 3, **EXACT)
    np.testing.assert_allclose(gb, (0.25 - q).mean(axis=0), **EXACT)
    np.testing.assert_allclose(l2, 5e-10 * np.ones((3, 4)), rtol=1e-10, atol=1e-20)
    g = np.asarray(gw)
    np.testing.assert_allclose(upd[0], -0.1 * np.sqrt(1e-8) * g / np.sqrt(0.05 * g ** 2 + 1e-8),
                               **EXACT)


def test_readout_learns_a_separable_problem_and_reports_the_best_validation_epoch():
    """Counts of class k concentrate on feature block k (3 classes, 12 features): the readout
    reaches 100 % on all splits; the reported numbers are the curves at the first epoch of
    maximal validation accuracy."""
    rng = np.random.default_rng(0)

    def split(n):
        y = rng.integers(0, 3, n)
        c = rng.poisson(1.0, (n, 12)).astype(float)
        c[np.arange(n)[:, None], 4 * y[:, None] + np.arange(4)] += 6
        return c, y

    res = lsm.train_readout(split(90), split(30), split(30), n_classes=3, epochs=60,
                            batch_size=25, chunk=25, progress=False)
    curves = res["curves"]
    assert len(curves["val"]) == 60
    best = int(np.argmax(curves["val"]))
    assert res["best_epoch"] == best + 1
    assert res["val_accuracy"] == max(curves["val"]) == 1.0
    assert res["test_accuracy"] == curves["test"][best] == 1.0
    assert curves["train"][-1] == 1.0
