"""Plasticity plumbing and pair STDP: closed-form windows, composition, jit/vmap, gradients."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import plasticity as pl
from tolerances import EXACT

DT = 1.0
KICK = 1e5        # pA: a one-step pulse that makes a LIF fire on that step
W_TINY = 1e-12    # a weight too small to influence the post neuron


def _pair_net(n_pre, rule, *, max_events=None, n_post=1, w=W_TINY, modulators=()):
    """``n_pre`` spike sources -> ``n_post`` LIF neurons (all-to-all), the LIF fired by pulses."""
    pre, post = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    conn = nj.from_edges(pre.ravel(), post.ravel(), n_pre, n_post)
    pops = {"pre": nj.Population(nj.SpikeSource(), n_pre), "post": nj.Population(nj.LIF(), n_post)}
    for name in modulators:
        pops[name] = nj.Population(nj.SpikeSource(), 1)
    proj = nj.Projection(conn, "pre", "post", receptor="i", plasticity=rule, max_events=max_events,
                         modulators=modulators)
    net = nj.Network(pops, {"syn": proj}, dt=DT, allow_large_dt=True)
    return net, nj.init_params(net, {"syn": w})


def _trains(T, n, times):
    """``(T, n)`` 0/1 array with a spike of neuron ``i`` at each step in ``times[i]``."""
    x = np.zeros((T, n))
    for i, ts in enumerate(times):
        x[list(ts), i] = 1.0
    return jnp.asarray(x)


def _run(net, params, pre, post_steps, **extra):
    post = KICK * _trains(pre.shape[0], 1, [post_steps])
    state = nj.init_state(net, params)
    final, rec = nj.simulate(net, params, state, {"pre": pre, "post": post, **extra})
    fired = np.nonzero(np.asarray(rec["post"][:, 0]))[0].tolist()
    assert fired == sorted(post_steps), "the post neuron must fire exactly at the pulses"
    return final


@pytest.mark.parametrize("traces", ["all_to_all", "nearest"])
def test_stdp_window_equals_closed_form(traces):
    """One post spike at step 60; pre neuron i fires once at 60 + lag_i: the learned change of
    every synapse is the exponential window a+ e^{-lag/tau+} / -a- e^{-lag/tau-}, 0 at lag 0."""
    lags = np.arange(-40, 41, 4)
    net, params = _pair_net(len(lags), pl.STDP(traces=traces))
    pre = _trains(130, len(lags), [[60 + lag] for lag in lags])
    final = _run(net, params, pre, [60])
    p = params["syn"].plast
    dt_ms = np.abs(lags) * DT
    expected = np.where(lags < 0, float(p.a_plus) * np.exp(-dt_ms / float(p.tau_plus)),
                        np.where(lags > 0, -float(p.a_minus) * np.exp(-dt_ms / float(p.tau_minus)), 0.0))
    np.testing.assert_allclose(np.asarray(final.projs["syn"].dw[:, 0]), expected, **EXACT)


def test_all_to_all_sums_every_earlier_spike_nearest_only_the_last():
    """Pre spikes at 10 and 14, post at 20: all-to-all pairs both, nearest only the one at 14."""
    tau, a = 20.0, 0.01
    out = {}
    for traces in ("all_to_all", "nearest"):
        net, params = _pair_net(1, pl.STDP(traces=traces))
        final = _run(net, params, _trains(30, 1, [[10, 14]]), [20])
        out[traces] = float(final.projs["syn"].dw[0, 0])
    np.testing.assert_allclose(out["all_to_all"], a * (np.exp(-10 / tau) + np.exp(-6 / tau)), rtol=1e-12)
    np.testing.assert_allclose(out["nearest"], a * np.exp(-6 / tau), rtol=1e-12)


def test_multiplicative_stdp_scales_with_distance_to_bounds():
    """Soft bounds: potentiation a+ (w_max - w) e^{-lag/tau}, depression a- w e^{-lag/tau}."""
    w0, w_max = 0.3, 1.0
    net, params = _pair_net(2, pl.STDP(weight_dependence="multiplicative"), w=w0)
    pre = _trains(60, 2, [[20], [35]])          # neuron 0 before the post spike, neuron 1 after
    final = _run(net, params, pre, [30])
    dw = np.asarray(final.projs["syn"].dw[:, 0])
    np.testing.assert_allclose(dw, [0.01 * (w_max - w0) * np.exp(-10 / 20),
                                    -0.0105 * w0 * np.exp(-5 / 20)], rtol=1e-12)


def test_clip_and_keep_sign_stages_bound_the_weights():
    """A strong rule chained with ClipWeights stays inside [w_min, w_max]; with KeepSign an
    excitatory weight stops at 0 and an inhibitory one at 0 from below."""
    strong = pl.STDPParams.default(a_plus=5.0, a_minus=5.0)
    lags = np.array([-2, 3])                    # one synapse potentiated, one depressed
    pre = _trains(40, 2, [[20 + lag] for lag in lags])
    net, params = _pair_net(2, pl.chain(pl.STDP(), pl.ClipWeights()), w=0.5)
    params["syn"] = params["syn"]._replace(plast=(strong, pl.ClipWeightsParams.default(w_min=0.1, w_max=0.9)))
    final = _run(net, params, pre, [20])
    np.testing.assert_allclose(0.5 + np.asarray(final.projs["syn"].dw[:, 0]), [0.9, 0.1], rtol=1e-12)

    w_signed = jnp.asarray([[0.5], [-0.5]])
    net, params = _pair_net(2, pl.chain(pl.STDP(), pl.KeepSign()), w=w_signed)
    params["syn"] = params["syn"]._replace(plast=(strong, None))
    pre = _trains(40, 2, [[23], [23]])          # both after the post spike: depression
    final = _run(net, params, pre, [20])
    np.testing.assert_allclose(np.asarray(w_signed[:, 0] + final.projs["syn"].dw[:, 0]),
                               [0.0, -0.5 - 5.0 * np.exp(-3 / 20)], atol=1e-12)


STDP_PARAMS = pl.STDPParams.default(a_plus=2.0, a_minus=2.1, w_max=60.0)
EVENT_RULES = {   # in-place pair updates (clipped / unclipped), and the dense fallback
    "stdp+clip": (pl.chain(pl.STDP(), pl.ClipWeights()),
                  (STDP_PARAMS, pl.ClipWeightsParams.default(w_max=60.0))),
    "stdp": (pl.STDP(), STDP_PARAMS),
    "multiplicative": (pl.STDP(weight_dependence="multiplicative"), STDP_PARAMS),
}


@pytest.mark.parametrize("rule", EVENT_RULES)
@pytest.mark.parametrize("max_events", [None, 4])
def test_event_driven_learning_gives_the_same_plastic_run(rule, max_events):
    """A recurrent plastic network: with ``learn_events=4`` (overflowing on busy steps), and
    dense or event-driven propagation, the spikes and every weight equal the all-dense run
    bit for bit, whether the rule updates ``dw`` in place (additive STDP, with or without
    ClipWeights) or falls back to the dense change (multiplicative)."""
    key = jax.random.PRNGKey(0)
    n = 40
    conn = nj.fixed_prob(key, n, n, 0.2, allow_autapses=False)
    drive = 300.0 + 300.0 * jax.random.uniform(jax.random.PRNGKey(1), (300, n))
    plasticity, plast_params = EVENT_RULES[rule]

    def run(learn_events, max_events=None):
        proj = nj.Projection(conn, "E", "E", receptor="i", plasticity=plasticity,
                             max_events=max_events, learn_events=learn_events)
        net = nj.Network({"E": nj.Population(nj.LIF(), n)}, {"EE": proj}, dt=0.5)
        params = nj.init_params(net, {"EE": {"w": 30.0, "plast": plast_params}})
        return nj.simulate(net, params, nj.init_state(net, params), {"E": drive})

    (fd, sd), (fe, se) = run(None), run(4, max_events)
    assert float(sd["E"].sum()) > 50, "the test needs activity"
    np.testing.assert_array_equal(np.asarray(sd["E"]), np.asarray(se["E"]))
    np.testing.assert_array_equal(np.asarray(fe.projs["EE"].dw), np.asarray(fd.projs["EE"].dw))
    assert float(jnp.abs(fd.projs["EE"].dw).max()) > 0


def test_vmap_over_trials_equals_a_loop():
    net, params = _pair_net(3, pl.STDP())
    T = 50
    rng = np.random.default_rng(0)
    pres = jnp.asarray((rng.random((2, T, 3)) < 0.1).astype(float))
    posts = KICK * jnp.asarray((rng.random((2, T, 1)) < 0.1).astype(float))
    state = nj.init_state(net, params)
    batched = jax.vmap(lambda a, b: nj.simulate(net, params, state, {"pre": a, "post": b})[0].projs["syn"].dw)
    dws = batched(pres, posts)
    for i in range(2):
        one = nj.simulate(net, params, state, {"pre": pres[i], "post": posts[i]})[0].projs["syn"].dw
        np.testing.assert_allclose(np.asarray(dws[i]), np.asarray(one), **EXACT)


def test_absorb_plasticity_continues_the_run_unchanged():
    """Transmission uses w + dw, so absorbing dw into w mid-run changes nothing downstream."""
    n = 20
    conn = nj.fixed_prob(jax.random.PRNGKey(3), n, n, 0.3)
    proj = nj.Projection(conn, "E", "E", receptor="i", plasticity=pl.STDP())
    net = nj.Network({"E": nj.Population(nj.LIF(), n)}, {"EE": proj}, dt=0.5)
    params = nj.init_params(net, {"EE": {"w": 40.0, "plast": pl.STDPParams.default(a_plus=5.0, a_minus=5.0)}})
    drive = 300.0 + 300.0 * jax.random.uniform(jax.random.PRNGKey(4), (200, n))
    state = nj.init_state(net, params)
    full, rec_full = nj.simulate(net, params, state, {"E": drive})
    assert float(rec_full["E"].sum()) > 50 and float(jnp.abs(full.projs["EE"].dw).max()) > 0
    half, rec_a = nj.simulate(net, params, state, {"E": drive[:100]})
    params2, half2 = nj.absorb_plasticity(net, params, half)
    assert float(jnp.abs(half2.projs["EE"].dw).max()) == 0.0
    rest, rec_b = nj.simulate(net, params2, half2, {"E": drive[100:]})
    np.testing.assert_array_equal(np.asarray(rec_full["E"]),
                                  np.concatenate([rec_a["E"], rec_b["E"]]))
    np.testing.assert_allclose(np.asarray(params2["EE"].w + rest.projs["EE"].dw),
                               np.asarray(params["EE"].w + full.projs["EE"].dw), rtol=1e-12)


def _assert_grad_equals_central_differences(loss, hyper, *, steps, min_grad):
    """``jax.grad(loss)`` at the tuple ``hyper`` equals central differences with step
    ``steps[i]`` in entry ``i`` (rtol 1e-6), and every entry matters (``|grad| > min_grad``)."""
    grad = jax.jit(jax.grad(loss))(hyper)
    f = jax.jit(loss)
    for i, h in enumerate(steps):
        up = tuple(x + h if j == i else x for j, x in enumerate(hyper))
        down = tuple(x - h if j == i else x for j, x in enumerate(hyper))
        fd = (f(up) - f(down)) / (2 * h)
        assert abs(float(grad[i])) > min_grad, "the hyper-parameter must matter"
        np.testing.assert_allclose(float(grad[i]), float(fd), rtol=1e-6)


def test_gradient_reaches_stdp_hyperparameters():
    """Learning to learn on a smooth variant: rate-based STDP (post field "r" of a LeakyTanh
    unit) from fixed spike trains; d loss / d (a_plus, tau_plus) through the closed loop
    (the weights change the rates that drive the rule) equals central finite differences."""
    n_pre, T = 6, 120
    conn = nj.from_edges(np.arange(n_pre), np.zeros(n_pre, int), n_pre, 1)
    rule = pl.STDP(post_field="r")
    proj = nj.Projection(conn, "pre", "out", receptor="i", plasticity=rule, synapse=nj.Exponential())
    net = nj.Network({"pre": nj.Population(nj.SpikeSource(), n_pre),
                      "out": nj.Population(nj.LeakyTanh(), 1)}, {"syn": proj}, dt=DT)
    params = nj.init_params(net, {"syn": 0.2, "out": {"tau": 10.0}})
    spikes_in = jnp.asarray((np.random.default_rng(1).random((T, n_pre)) < 0.15).astype(float))
    target = jnp.sin(jnp.linspace(0, 3, T))[:, None] * 0.5
    state = nj.init_state(net, params)

    def loss(hyper):
        a_plus, tau_plus = hyper
        p = dict(params)
        p["syn"] = p["syn"]._replace(plast=p["syn"].plast._replace(a_plus=a_plus, tau_plus=tau_plus))
        _, r = nj.simulate(net, p, state, {"pre": spikes_in}, record=nj.Record(("out", "r")))
        return jnp.mean((r["out"]["r"] - target) ** 2)

    _assert_grad_equals_central_differences(loss, (jnp.asarray(0.05), jnp.asarray(15.0)),
                                            steps=(1e-5, 1e-3), min_grad=1e-8)


def test_gate_multiplies_the_transmitted_signal():
    """Projection(gate=(pop, field)) scales what enters the delay line by the gate's value."""
    conn = nj.from_edges([0], [0], 1, 1)
    proj = nj.Projection(conn, "pre", "post", receptor="i", synapse=nj.Instant(), gate=("g", "spike"))
    net = nj.Network({"pre": nj.Population(nj.SpikeSource(), 1), "g": nj.Population(nj.SpikeSource(), 1),
                      "post": nj.Population(nj.LeakyTanh(), 1)}, {"syn": proj}, dt=DT)
    params = nj.init_params(net, {"syn": 2.0})
    pre = jnp.ones((3, 1))
    gate = jnp.asarray([[0.25], [0.5], [0.0]])
    _, rec = nj.simulate(net, params, nj.init_state(net, params), {"pre": pre, "g": gate},
                         record=nj.Record(("post", "r")))
    # The gated signal of step t arrives at step t + 1: drive 2 * 0.25, then 2 * 0.5.
    r = np.asarray(rec["post"]["r"][:, 0])
    np.testing.assert_allclose(r, [0.0, np.tanh(0.5), np.tanh(1.0)], rtol=1e-12)


def test_bad_plasticity_wiring_raises():
    conn = nj.from_edges([0], [0], 1, 1)
    pops = {"pre": nj.Population(nj.SpikeSource(), 1), "post": nj.Population(nj.LIF(), 1)}
    with pytest.raises(ValueError, match="modulator"):
        nj.Network(pops, {"s": nj.Projection(conn, "pre", "post", plasticity=pl.STDP(),
                                             modulators=("da",))}, dt=DT, allow_large_dt=True)
    with pytest.raises(ValueError, match="gate field"):
        nj.Network(pops, {"s": nj.Projection(conn, "pre", "post", gate=("pre", "v"))}, dt=DT,
                   allow_large_dt=True)
    with pytest.raises(TypeError, match="lacks"):
        nj.Projection(conn, "pre", "post", plasticity=object())
    with pytest.raises(ValueError, match="traces"):
        pl.STDP(traces="triplet")
    net = nj.Network(pops, {"s": nj.Projection(conn, "pre", "post", plasticity=pl.STDP())}, dt=DT,
                     allow_large_dt=True)
    with pytest.raises(ValueError, match="tau_plus"):
        nj.init_params(net, {"s": {"w": 1.0, "plast": pl.STDPParams.default(tau_plus=-1.0)}})
    rule = pl.chain(pl.STDP(), pl.ClipWeights())
    net2 = nj.Network(pops, {"s": nj.Projection(conn, "pre", "post", plasticity=rule)}, dt=DT,
                      allow_large_dt=True)
    with pytest.raises(ValueError, match="w_min"):
        nj.init_params(net2, {"s": {"w": 1.0, "plast": (pl.STDPParams.default(),
                                                        pl.ClipWeightsParams.default(w_min=2.0, w_max=1.0))}})


def test_gradient_reaches_the_astrocyte_gain_of_astrocyte_modulated_stdp():
    """Learning to learn through an astrocyte: d loss / d (astrocyte gain w_A, eta_0) of
    NALSM-style STDP equals central finite differences. Smooth variant: the spikes are fixed
    (sources, and post neurons fired by pulses), the weights stay inside their bounds, so the
    loss depends smoothly on A(t), which the astrocyte integrates from the spike counts. (The
    post neurons' surrogate is made negligibly steep so no pseudo-derivative of their fixed
    spikes enters the gradient.)"""
    n_pre, n_post, T = 3, 2, 80
    rng = np.random.default_rng(2)
    pre_spikes = jnp.asarray((rng.random((T, n_pre)) < 0.2).astype(float))
    post_kicks = 1e8 * jnp.asarray((rng.random((T, n_post)) < 0.2).astype(float))
    pre_ids, post_ids = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    to_astro = lambda n: nj.from_edges(np.arange(n), np.zeros(n, int), n, 1)  # noqa: E731
    net = nj.Network(
        {"in": nj.Population(nj.SpikeSource(), n_pre), "liq": nj.Population(nj.DiscreteLIF(spike_fn=nj.SuperSpike(beta=1e8)), n_post),
         "astro": nj.Population(nj.LeakyIntegratorAstrocyte(), 1)},
        {"in->liq": nj.Projection(nj.from_edges(pre_ids.ravel(), post_ids.ravel(), n_pre, n_post),
                                  "in", "liq", synapse=nj.Instant(), modulators=("astro",),
                                  plasticity=pl.AstrocyteSTDP(astrocyte="astro")),
         "in->astro": nj.Projection(to_astro(n_pre), "in", "astro", receptor="drive",
                                    synapse=nj.Instant()),
         "liq->astro": nj.Projection(to_astro(n_post), "liq", "astro", receptor="drive",
                                     synapse=nj.Instant())},
        dt=1.0)
    base = nj.init_params(net, {"in->liq": 1.0, "in->astro": -1.0, "liq->astro": 1.0,
                                "astro": {"w": 0.05}, "liq": {"theta": 1e6}})

    def loss(hyper):
        w_astro, eta0 = hyper
        p = dict(base)
        p["astro"] = p["astro"]._replace(w=w_astro)
        p["in->liq"] = p["in->liq"]._replace(plast=p["in->liq"].plast._replace(eta0=eta0))
        final, _ = nj.simulate(net, p, nj.init_state(net, p), {"in": pre_spikes, "liq": post_kicks})
        w = p["in->liq"].w + final.projs["in->liq"].dw
        return jnp.sum((w - 1.0) ** 2)

    _assert_grad_equals_central_differences(loss, (jnp.asarray(0.05), jnp.asarray(0.15)),
                                            steps=(1e-5, 1e-5), min_grad=1e-6)


def test_coba_with_plastic_exc_synapses_event_equals_dense():
    """``experiments/coba.py --stdp``: 400 neurons, 100 ms, every E synapse plastic (additive
    STDP + ClipWeights); in-place event-driven learning (``learn_events``, capacity 16 for
    ~1 active neuron per step) and dense learning give the same spikes and weights, and the
    weights moved."""
    import dataclasses
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "experiments"))
    import coba

    out = {}
    for mode in ("event", "dense"):
        cfg = dataclasses.replace(coba.Config(n=400, stdp_a_plus=0.6, stdp_a_minus=0.66), stdp=mode)
        net, params, state = coba.build(cfg)
        assert (net.projections["exc"].learn_events is None) == (mode == "dense")
        final, rec = jax.jit(lambda s: nj.simulate(net, params, s, n_steps=1000))(state)
        out[mode] = (np.asarray(rec["P"]), np.asarray(final.projs["exc"].dw))
    np.testing.assert_array_equal(out["event"][0], out["dense"][0])
    np.testing.assert_array_equal(out["event"][1], out["dense"][1])
    assert out["dense"][0].sum() > 500 and np.abs(out["dense"][1]).max() > 0.1
