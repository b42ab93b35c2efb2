"""neurojax.lsm_encoder: the frozen random liquid, event pre-processing, heads, loss, retrieval.

Numbers checked: the liquid (neurojax.simulate + DiscreteLIF + dense Instant projection)
against a plain NumPy loop of v <- decay v + W_in x + W_rec s; spikes at v >= V_th; reset to 0;
crop/binning against index arithmetic; cochleagram rates against the closed form and its
Bernoulli events against the rates; the CLIP loss against a hand computation and its
regular-simplex minimum; retrieval accuracy and chance on constructed embeddings; the probe and
the contrastive heads on separable toy sets.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax import lsm_encoder as le
from tolerances import DISTRIBUTIONAL, EXACT


def _numpy_liquid(w_in, w_rec, decay, threshold, x):
    """Reference loop of the spec-§3 liquid for one sample x (T, n_in) -> spikes (T, n)."""
    n = w_in.shape[0]
    v, s = np.zeros(n), np.zeros(n)
    out = np.zeros((x.shape[0], n), bool)
    for t in range(x.shape[0]):
        v = decay * v + w_in @ x[t] + w_rec @ s
        s = (v >= threshold).astype(float)
        v = v * (1.0 - s)
        out[t] = s > 0
    return out


def test_liquid_matches_numpy_loop():
    liq = le.random_liquid(jax.random.PRNGKey(3), n_in=6, n=9, decay=0.8, threshold=1.0,
                           weight_scale=0.7)
    rng = np.random.default_rng(0)
    x = (rng.random((5, 40, 6)) < 0.3).astype(np.uint8)
    w_in, w_rec = np.asarray(liq.w_in), np.asarray(liq.w_rec)
    ref = np.stack([_numpy_liquid(w_in, w_rec, 0.8, 1.0, xi) for xi in x])
    assert 0.05 < ref.mean() < 0.6                        # a non-trivial regime
    # recurrence matters here: the loop without W_rec differs
    assert (np.stack([_numpy_liquid(w_in, 0 * w_rec, 0.8, 1.0, xi) for xi in x]) != ref).any()
    np.testing.assert_array_equal(le.run_liquid(liq, x[2]), ref[2])
    counts = le.encode(liq, x, batch_size=2)              # 3 chunks, the last one padded
    np.testing.assert_array_equal(counts, ref.sum(axis=1))
    # the weights are c * N(0, 1): scale check on the draw (200 x 256 entries)
    big = le.random_liquid(jax.random.PRNGKey(0), n_in=256)
    assert abs(float(jnp.std(big.w_in)) / 0.07 - 1) < DISTRIBUTIONAL
    ff = le.random_liquid(jax.random.PRNGKey(0), n_in=3, n=4, recurrent=False)
    assert float(jnp.abs(ff.w_rec).max()) == 0.0


def test_center_crop_and_bin_time():
    rng = np.random.default_rng(1)
    ev = (rng.random((2, 7, 2 * 34 * 34)) < 0.2).astype(np.uint8)
    full = ev.reshape(2, 7, 2, 34, 34)
    for pol, ps in (("on", [1]), ("off", [0]), ("both", [0, 1])):
        c = le.center_crop(ev, 16, polarity=pol)
        assert c.shape == (2, 7, 256 * len(ps))
        for k, p in enumerate(ps):
            for y, x in ((0, 0), (3, 11), (15, 15)):
                np.testing.assert_array_equal(c[:, :, k * 256 + y * 16 + x],
                                              full[:, :, p, 9 + y, 9 + x])
    ev = rng.integers(0, 3, (2, 10, 3))
    edges = [0, 3, 6, 10]                                 # floor(k * 10 / 3)
    want = np.stack([ev[:, a:b].sum(axis=1) for a, b in zip(edges[:-1], edges[1:])], axis=1)
    np.testing.assert_array_equal(le.bin_time(ev, 3, reduce="sum"), want)
    np.testing.assert_array_equal(le.bin_time(ev, 3), (want > 0).astype(np.uint8))


def test_cochleagram_rates_and_events():
    sig = np.array([[0.3, -1.1, 2.0]])
    r = le.cochleagram_events(sig, None, n_steps=5, n_channels=8, lo=-2.0, hi=2.0, width=1.5,
                              p_max=0.8)
    u = np.array([0.3, -0.4, -1.1, 0.45, 2.0])            # linear resampling at 0, .5, 1, 1.5, 2
    centres = -2.0 + (np.arange(8) + 0.5) * 0.5
    want = 0.8 * np.exp(-0.5 * ((u[:, None] - centres) / 0.75) ** 2)
    np.testing.assert_allclose(r[0], want, **EXACT)
    sig = np.random.default_rng(2).normal(size=(300, 40))
    rates = le.cochleagram_events(sig, None, n_steps=30, width=3.0)
    ev = le.cochleagram_events(sig, 7, n_steps=30, width=3.0)
    assert ev.dtype == np.uint8 and set(np.unique(ev)) <= {0, 1}
    assert abs(ev.mean() / rates.mean() - 1) < DISTRIBUTIONAL
    np.testing.assert_array_equal(ev, le.cochleagram_events(sig, 7, n_steps=30, width=3.0))


def test_clip_loss_hand_value_and_minimum():
    za = np.array([[2.0, 0.0], [0.0, 1.0]])
    zb = np.array([[1.0, 0.0], [1.0, 1.0]])
    # normalised: a = e1, e2; b = e1, (e1 + e2)/sqrt 2; tau = 0.5
    c = 1 / math.sqrt(2)
    L = np.array([[1.0, c], [0.0, c]]) / 0.5
    row = [-(L[i, i] - math.log(math.exp(L[i, 0]) + math.exp(L[i, 1]))) for i in range(2)]
    col = [-(L[i, i] - math.log(math.exp(L[0, i]) + math.exp(L[1, i]))) for i in range(2)]
    want = 0.5 * (sum(row) / 2 + sum(col) / 2)
    assert float(le.clip_loss(za, zb, 0.5)) == pytest.approx(want, rel=1e-12)
    assert float(le.clip_loss(zb, za, 0.5)) == pytest.approx(want, rel=1e-12)   # symmetric
    # unnormalised logits: za @ zb.T = [[2, 2], [0, 1]], tau = 1
    L = np.array([[2.0, 2.0], [0.0, 1.0]])
    row = [math.log(math.exp(L[0, 0]) + math.exp(L[0, 1])) - 2.0,
           math.log(math.exp(L[1, 0]) + math.exp(L[1, 1])) - 1.0]
    col = [math.log(math.exp(L[0, 0]) + math.exp(L[1, 0])) - 2.0,
           math.log(math.exp(L[0, 1]) + math.exp(L[1, 1])) - 1.0]
    assert float(le.clip_loss(za, zb, normalize=False)) == pytest.approx(
        0.25 * (sum(row) + sum(col)), rel=1e-12)
    # regular simplex of B = 4 unit vectors in 3-D: the closed-form minimum ...
    B, tau = 4, 0.7
    simplex = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / math.sqrt(3)
    l_min = math.log1p((B - 1) * math.exp(-B / ((B - 1) * tau)))
    assert float(le.clip_loss(simplex, simplex, tau)) == pytest.approx(l_min, rel=1e-12)
    # ... is stationary and no random perturbation goes below it
    g = jax.grad(lambda a, b: le.clip_loss(a, b, tau), argnums=(0, 1))(
        jnp.asarray(simplex), jnp.asarray(simplex))
    assert max(float(jnp.abs(x).max()) for x in g) < 1e-12
    rng = np.random.default_rng(3)
    pa = simplex + 0.3 * rng.normal(size=(20,) + simplex.shape)
    pb = simplex + 0.3 * rng.normal(size=(20,) + simplex.shape)
    losses = jax.jit(jax.vmap(lambda a, b: le.clip_loss(a, b, tau)))(pa, pb)
    assert float(losses.min()) > l_min


def test_retrieval_accuracy_and_chance():
    gallery = np.eye(3)[[0, 0, 1, 2]]                     # labels 0 0 1 2
    gl = [0, 0, 1, 2]
    q = np.array([[1.0, 0.1, 0.0], [0.0, 0.9, 0.2], [0.1, 0.0, 1.0], [0.0, 1.0, 0.0],
                  [0.3, 0.2, 0.1]])
    ql = [0, 1, 2, 2, 1]                                  # hits: 1, 1, 1, 0, 0
    assert le.retrieval_accuracy(q, ql, gallery, gl) == pytest.approx(3 / 5)
    # dot product vs cosine: a long off-class gallery vector wins only without normalisation
    g2 = np.array([[1.0, 0.0], [3.0, 3.0]])
    assert le.retrieval_accuracy([[1.0, 0.2]], [0], g2, [0, 1]) == 0.0
    assert le.retrieval_accuracy([[1.0, 0.2]], [0], g2, [0, 1], normalize=True) == 1.0
    assert le.retrieval_chance([0, 1, 2, 3] * 5, [0, 1, 2, 3] * 2) == pytest.approx(0.25)
    # queries 0,0,1 ; gallery 0,1,1,1: 2/3 * 1/4 + 1/3 * 3/4
    assert le.retrieval_chance([0, 0, 1], [0, 1, 1, 1]) == pytest.approx(2 / 12 + 3 / 12)


def test_probe_learns_separable_set():
    rng = np.random.default_rng(4)
    w = rng.normal(size=(5, 3))
    x = rng.normal(size=(300, 5))
    y = np.argmax(x @ w, axis=1)
    logits = x @ w
    top2 = np.sort(logits, axis=1)
    keep = top2[:, -1] - top2[:, -2] > 0.3                # a margin: linearly separable
    x, y = x[keep], y[keep]
    r = le.train_linear_probe((x[:150], y[:150]), (x[150:], y[150:]), val=(x[150:], y[150:]),
                              n_classes=3, key=jax.random.PRNGKey(0), lr=0.05, batch_size=25,
                              epochs=150)
    assert r.train_accuracy == 1.0 and r.test_accuracy >= 0.97
    assert r.test_curve.shape == (150,) and 1 <= r.epoch <= 150


def test_contrastive_heads_align_classes():
    rng = np.random.default_rng(5)
    ya = rng.integers(0, 3, 240)
    ma, mb = rng.normal(size=(3, 6)), rng.normal(size=(3, 4))      # class means per modality
    xa = ma[ya] + 0.2 * rng.normal(size=(240, 6))
    xb = mb[ya] + 0.2 * rng.normal(size=(240, 4))                  # same-class partners
    ha, hb, losses = le.train_contrastive(xa[:180], xb[:180], jax.random.PRNGKey(1), dim=8,
                                          lr=1e-2, epochs=15)
    assert losses.shape == (15,) and losses[-1] < losses[0]
    za, zb = np.asarray(le.project(ha, xa[180:])), np.asarray(le.project(hb, xb[180:]))
    assert le.retrieval_accuracy(za, ya[180:], zb, ya[180:], normalize=True) == 1.0


def test_bad_inputs():
    key = jax.random.PRNGKey(0)
    with pytest.raises(ValueError, match="decay"):
        le.random_liquid(key, 4, decay=1.0)
    with pytest.raises(ValueError, match="threshold"):
        le.random_liquid(key, 4, threshold=0.0)
    with pytest.raises(ValueError, match="n_in"):
        le.random_liquid(key, 0)
    with pytest.raises(TypeError, match="n"):
        le.random_liquid(key, 4, n=2.5)
    liq = le.random_liquid(key, 4, n=3)
    with pytest.raises(ValueError, match="n_in=4"):
        le.encode(liq, np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="finite"):
        le.encode(liq, np.full((1, 5, 4), np.nan))
    with pytest.raises(ValueError, match="polarity"):
        le.center_crop(np.zeros((1, 2, 2312)), polarity="up")
    with pytest.raises(ValueError, match="2312"):
        le.center_crop(np.zeros((1, 2, 100)))
    with pytest.raises(ValueError, match="n_bins"):
        le.bin_time(np.zeros((1, 5, 2)), 6)
    with pytest.raises(ValueError, match="hi must be > lo"):
        le.cochleagram_events(np.zeros((1, 4)), lo=1.0, hi=1.0)
    with pytest.raises(ValueError, match="same shape"):
        le.clip_loss(np.zeros((3, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="temperature"):
        le.clip_loss(np.ones((2, 2)), np.ones((2, 2)), 0.0)
    with pytest.raises(ValueError, match="batch_size"):
        le.train_contrastive(np.ones((4, 2)), np.ones((4, 2)), key, batch_size=8)
    with pytest.raises(ValueError, match="same number of pairs"):
        le.train_contrastive(np.ones((4, 2)), np.ones((5, 2)), key)
    with pytest.raises(ValueError, match="train y"):
        le.train_linear_probe((np.ones((3, 2)), [0, 1, 5]), (np.ones((1, 2)), [0]),
                              n_classes=2, key=key)
    with pytest.raises(ValueError, match="query dim"):
        le.retrieval_accuracy(np.ones((2, 3)), [0, 1], np.ones((2, 2)), [0, 1])
