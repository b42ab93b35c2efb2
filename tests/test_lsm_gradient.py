"""neurojax.lsm_gradient: the differentiable static liquid (BPTT through nj.simulate).

* forward: spike counts equal lsm.sample_features' counts for the same liquid and draws (exact);
* backward: the BPTT gradient (w_in, both log scales, readout) equals jax.grad of an
  independent dense plain-jnp transcription of the liquid with the same straight-through
  SuperSpike (float64, 1e-10), and is unchanged by checkpointing; the readout gradient equals
  central finite differences (the loss is smooth in W, b);
* training: Adam on the input weights alone (readout frozen) lowers the loss by a stated factor;
* bad input -> ValueError / TypeError naming the field.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax import lsm
from neurojax import lsm_gradient as lg
from tolerances import EXACT

GRID, N_IN, T_MS = (3, 3, 2), 5, 30


@pytest.fixture(scope="module")
def setup():
    jax.config.update("jax_enable_x64", True)
    liq = lsm.build_liquid(jax.random.PRNGKey(4), GRID, N_IN, lsm.LiquidConfig(model="lsm", w=2.0))
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 0.6, (6, N_IN))
    y = np.array([0, 1, 2, 0, 1, 2])
    return liq, x, y


def _readout(liq, k=3, seed=1):
    rng = np.random.default_rng(seed)
    gp = lg.init_params(liq, n_classes=k)
    return gp._replace(w_out=jnp.asarray(rng.normal(0, 1.0, (liq.n, k))),
                       b_out=jnp.asarray(rng.normal(0, 0.1, (k,))),
                       log_g_in=jnp.asarray(0.1), log_g_rec=jnp.asarray(-0.2))


def test_forward_counts_equal_sample_features(setup):
    liq, x, _ = setup
    key = jax.random.PRNGKey(7)
    gp = lg.init_params(liq, n_classes=3)
    ours = lg.liquid_counts(liq, gp, x, key, sample_ms=T_MS, batch_size=4)   # padded batches
    ref, _, _ = lsm.sample_features(liq, None, x, key, sample_ms=T_MS, batch_size=6,
                                    progress=False)
    assert ref.sum() > 20                      # the liquid is active
    np.testing.assert_array_equal(ours, ref)
    # trained weights enter the forward pass: sign-flipped inputs change the counts
    flipped = lg.liquid_counts(liq, gp._replace(w_in=-gp.w_in), x, key, sample_ms=T_MS,
                               batch_size=4)
    assert not np.array_equal(flipped, ref)


# --- an independent dense transcription of the static liquid ---------------------------------

def _dense(table, w_sparse, n_post):
    n_pre = table.shape[0]
    rows = np.repeat(np.arange(n_pre), table.shape[1])
    cols = np.asarray(table).ravel()
    ok = cols < n_post
    return jnp.zeros((n_pre, n_post), w_sparse.dtype).at[rows[ok], cols[ok]].add(
        w_sparse.ravel()[ok])


def _spike(v, beta=10.0):
    """Straight-through SuperSpike on (v - 20) / 20: forward [v >= 20]."""
    xs = (v - 20.0) / 20.0
    sur = xs / (1.0 + beta * jnp.abs(xs))            # d/dx = 1 / (1 + beta |x|)^2
    exact = (v >= 20.0).astype(v.dtype)
    return sur + jax.lax.stop_gradient(exact - sur)


def _ref_loss(gp, liq, x, y, key, n_steps, k):
    c = liq.conns
    w_in = _dense(np.asarray(c["inp->L"].post_idx), jnp.exp(gp.log_g_in) * gp.w_in, liq.n)
    w_rec = jnp.exp(gp.log_g_rec) * (
        _dense(np.asarray(c["E->L"].post_idx), jnp.asarray(liq.weights["E->L"]), liq.n)
        + _dense(np.asarray(c["I->L"].post_idx), jnp.asarray(liq.weights["I->L"]), liq.n))

    def lif(v, ref, i):
        v = v + (i - v / 64.0)
        s = _spike(v) * (1.0 - (ref > 0.5))
        v = (1.0 - s) * v
        ref = jnp.where(s > 0, 2.0, jnp.maximum(ref - 1.0, 0.0))
        return v, ref, s

    def sample(x_i, i):
        u = jax.random.uniform(jax.random.fold_in(key, i), (n_steps, N_IN))
        ext = 100.0 * (u < x_i[None, :])
        g0 = jnp.exp(-20.0)
        carry = (jnp.zeros(N_IN), jnp.zeros(N_IN), jnp.full(N_IN, 20.0), jnp.full(N_IN, g0),
                 jnp.zeros(liq.n), jnp.zeros(liq.n), jnp.full(liq.n, 20.0), jnp.full(liq.n, g0))

        def step(carry, e):
            vi, ri, di, gi, vl, rl, dl, gl = carry
            drive_l = gi @ w_in + gl @ w_rec             # delay 1: last step's kernels
            vi, ri, si = lif(vi, ri, e)
            vl, rl, sl = lif(vl, rl, drive_l)
            di = jnp.minimum(di + 1.0, 100.0) * (1.0 - si)
            dl = jnp.minimum(dl + 1.0, 100.0) * (1.0 - sl)
            return (vi, ri, di, jnp.exp(-di), vl, rl, dl, jnp.exp(-dl)), sl

        _, s = jax.lax.scan(step, carry, ext)
        return s.sum(axis=0)

    counts = jax.vmap(sample)(jnp.asarray(x), jnp.arange(len(y)))
    z = lg.count_features(counts)
    return lsm.readout_loss((gp.w_out, gp.b_out), z, lsm.soft_targets(y, k), 5e-10), counts


def test_bptt_gradient_equals_dense_transcription_and_checkpointing(setup):
    liq, x, y = setup
    key = jax.random.PRNGKey(3)
    gp = _readout(liq)
    loss, g = lg.loss_and_grad(liq, gp, x, y, np.arange(len(y)), key, sample_ms=T_MS)
    (ref_loss, counts), g_ref = jax.value_and_grad(_ref_loss, has_aux=True)(
        gp, liq, x, y, key, T_MS - 1, 3)
    assert counts.sum() > 20
    np.testing.assert_allclose(float(loss), float(ref_loss), **EXACT)
    mask = np.asarray(liq.conns["inp->L"].mask)
    assert np.abs(np.asarray(g.w_in)[mask]).max() > 1e-4          # gradient reaches the inputs
    assert abs(float(g.log_g_rec)) > 1e-6
    for field in lg.GradParams._fields:
        a, b = np.asarray(getattr(g, field)), np.asarray(getattr(g_ref, field))
        if field == "w_in":
            a, b = a[mask], b[mask]
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=field)
    _, g_ck = lg.loss_and_grad(liq, gp, x, y, np.arange(len(y)), key, sample_ms=T_MS,
                               checkpoint_every=29)
    for a, b in zip(g_ck, g):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **EXACT)


def test_readout_gradient_matches_central_differences(setup):
    liq, x, y = setup
    key = jax.random.PRNGKey(3)
    gp = _readout(liq)
    _, g = lg.loss_and_grad(liq, gp, x, y, np.arange(len(y)), key, sample_ms=T_MS)
    counts = lg.liquid_counts(liq, gp, x, key, sample_ms=T_MS, batch_size=4)
    z = lg.count_features(jnp.asarray(counts, jnp.float64))

    def f(w, b):
        return float(lsm.readout_loss((w, b), z, lsm.soft_targets(y, 3), 5e-10))

    h = 1e-5
    for (i, j) in [(0, 0), (3, 1), (liq.n - 1, 2)]:
        e = jnp.zeros_like(gp.w_out).at[i, j].set(h)
        fd = (f(gp.w_out + e, gp.b_out) - f(gp.w_out - e, gp.b_out)) / (2 * h)
        np.testing.assert_allclose(float(g.w_out[i, j]), fd, rtol=1e-7, atol=1e-10)
    e = jnp.zeros(3).at[1].set(h)
    fd = (f(gp.w_out, gp.b_out + e) - f(gp.w_out, gp.b_out - e)) / (2 * h)
    np.testing.assert_allclose(float(g.b_out[1]), fd, rtol=1e-7, atol=1e-10)


def test_training_input_weights_alone_lowers_the_loss(setup):
    liq, x, y = setup
    key = jax.random.PRNGKey(3)
    gp = _readout(liq, seed=5)._replace(log_g_in=jnp.asarray(0.0), log_g_rec=jnp.asarray(0.0))
    data = (x, y)
    cfg = lg.GradConfig(trainable=("w_in",), epochs=40, batch_size=6, lr_liquid=0.05,
                        sample_ms=T_MS, cosine=False, eval_batch=4)
    res = lg.fit(liq, data, data, data, key, key, key, cfg, gp=gp, n_classes=3)
    loss = res["curves"]["loss"]
    # epoch-1 loss is at the initial parameters (one full batch per epoch); the readout is
    # fixed, so only the input weights can lower it (measured: 5.83 -> 1.81 after 40 steps)
    assert min(loss[1:]) < 0.4 * loss[1] and loss[-1] < 0.5 * loss[1], loss
    bp = res["params"]
    np.testing.assert_array_equal(np.asarray(bp.w_out), np.asarray(gp.w_out))    # frozen
    assert res["steps"] == res["epochs_run"] == 40


def test_bad_input_raises(setup):
    liq, x, y = setup
    gp = lg.init_params(liq, 3)
    nalsm = lsm.build_liquid(jax.random.PRNGKey(0), (2, 2, 2), 3, lsm.LiquidConfig(model="nalsm"))
    with pytest.raises(ValueError, match="model='lsm'"):
        lg.init_params(nalsm)
    with pytest.raises(TypeError, match="Liquid"):
        lg.init_params("liquid")
    with pytest.raises(ValueError, match="n_in=5"):
        lg.liquid_counts(liq, gp, x[:, :3], jax.random.PRNGKey(0), sample_ms=10)
    with pytest.raises(ValueError, match="probabilities"):
        lg.liquid_counts(liq, gp, x + 1.0, jax.random.PRNGKey(0), sample_ms=10)
    with pytest.raises(ValueError, match="sample_ms"):
        lg.liquid_counts(liq, gp, x, jax.random.PRNGKey(0), sample_ms=1)
    with pytest.raises(ValueError, match="trainable"):
        lg.GradConfig(trainable=("w_rec",))
    with pytest.raises(ValueError, match="checkpoint_every"):
        lg.GradConfig(sample_ms=100, checkpoint_every=10)
    with pytest.raises(ValueError, match="n_classes"):
        lg.init_params(liq, 1)
    with pytest.raises(ValueError, match="labels"):
        lg.fit(liq, (x, y + 3), (x, y), (x, y), *[jax.random.PRNGKey(0)] * 3,
               lg.GradConfig(epochs=1, sample_ms=10), n_classes=3)
