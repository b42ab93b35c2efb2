"""Three-factor plasticity: eligibility x modulator (closed forms), the gated error-Hebbian
readout rule (numpy reference, learning, offline consolidation) and FORCE/RLS (numpy parity)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import plasticity as pl
from neurojax.plasticity.three_factor import (Eligibility, EligibilityParams, GatedErrorHebbian,
                                              GatedErrorHebbianParams, RLSReadout, RLSReadoutParams,
                                              ScaleByModulator, ScaleByModulatorParams, consolidate,
                                              reset_rule_state)
from tolerances import EXACT

DT = 1.0
KICK = 1e5        # pA: a one-step pulse that makes a LIF fire on that step
W_TINY = 1e-12    # a weight too small to influence the post neuron


# ---------------------------------------------------------------------------------------------
# STDP -> Eligibility -> ScaleByModulator
# ---------------------------------------------------------------------------------------------

def _trains(T, n, times):
    """``(T, n)`` 0/1 array with a spike of neuron ``i`` at each step in ``times[i]``."""
    x = np.zeros((T, n))
    for i, ts in enumerate(times):
        x[list(ts), i] = 1.0
    return x


def _da_net(edges, n_pre, n_post, n_da=1, lr=0.5, tau_e=50.0):
    """Spike sources -> LIF neurons fired by pulses; chain(STDP, Eligibility, ScaleByModulator)
    reading population "da" (a SpikeSource whose "spike" carries the reward given as input)."""
    conn = nj.from_edges(edges[:, 0], edges[:, 1], n_pre, n_post)
    rule = pl.chain(pl.STDP(), Eligibility(), ScaleByModulator("da", "spike"))
    pops = {"pre": nj.Population(nj.SpikeSource(), n_pre), "post": nj.Population(nj.LIF(), n_post),
            "da": nj.Population(nj.SpikeSource(), n_da)}
    proj = nj.Projection(conn, "pre", "post", receptor="i", plasticity=rule, modulators=("da",))
    net = nj.Network(pops, {"syn": proj}, dt=DT, allow_large_dt=True)
    params = nj.init_params(net, {"syn": {"w": W_TINY, "plast": (
        pl.STDPParams.default(), EligibilityParams.default(tau_e=tau_e),
        ScaleByModulatorParams.default(lr=lr))}})
    return net, params


def _run_da(net, params, pre, post_steps, reward):
    post = KICK * _trains(pre.shape[0], len(post_steps), post_steps)
    final, rec = nj.simulate(net, params, nj.init_state(net, params),
                             {"pre": pre, "post": post, "da": reward})
    fired = [np.nonzero(np.asarray(rec["post"][:, i]))[0].tolist() for i in range(len(post_steps))]
    assert fired == [sorted(s) for s in post_steps], "the post neurons must fire exactly at the pulses"
    return final, np.asarray(rec["post"])


def _stdp_eligibility_reference(s_pre, s_post, p, tau_e, dt):
    """Eligibility e(t) (T, n_pre, n_post) from the pair sums (no trace recursion):
    inc(t) = a+ s_i(t) sum_{t'<t} s_j(t') e^{-(t-t')dt/tau+} - a- s_j(t) sum_{t'<t} s_i(t') e^{...},
    e(t) = sum_{t' <= t} e^{-(t-t')dt/tau_e} inc(t')."""
    T = s_pre.shape[0]
    lag = np.arange(T)[:, None] - np.arange(T)[None, :]
    k_plus = np.where(lag > 0, np.exp(-np.maximum(lag, 0) * dt / float(p.tau_plus)), 0.0)
    k_minus = np.where(lag > 0, np.exp(-np.maximum(lag, 0) * dt / float(p.tau_minus)), 0.0)
    k_e = np.where(lag >= 0, np.exp(-np.maximum(lag, 0) * dt / tau_e), 0.0)
    x_pre, x_post = k_plus @ s_pre, k_minus @ s_post
    inc = (float(p.a_plus) * x_pre[:, :, None] * s_post[:, None, :]
           - float(p.a_minus) * s_pre[:, :, None] * x_post[:, None, :])
    return np.einsum("ts,sji->tji", k_e, inc)


def _on_table(dense, post_idx):
    """A dense (n_pre, n_post) matrix on the padded (n_pre, k) layout (0 on padding)."""
    idx = np.asarray(post_idx)
    padded = np.concatenate([dense, np.zeros((dense.shape[0], 1))], axis=1)
    return np.take_along_axis(padded, idx, axis=1)


# every pair except 0->2 and 3->0 (rows 0 and 3 padded), targets listed in a shuffled order
EDGES = np.array([(0, 1), (0, 0), (1, 2), (1, 0), (1, 1), (2, 0), (2, 2), (2, 1), (3, 2), (3, 1)])
POST_STEPS = [[20, 50, 90, 130], [35, 70, 110], [15, 60, 100, 140]]
T_A = 150


def _pre_spikes(T, n, p, seed):
    return (np.random.default_rng(seed).random((T, n)) < p).astype(float)


@pytest.mark.parametrize("per_post", [False, True], ids=["scalar_M", "per_post_M"])
def test_modulator_zero_freezes_and_constant_modulator_equals_closed_form(per_post):
    """M = 0: pairings fill the eligibility trace but the weights do not move (exactly 0).
    Constant M (scalar, or one value per post neuron): dw = lr * M_i * sum_t e_ij(t), e from the
    pair sums in numpy."""
    lr, tau_e = 0.5, 50.0
    m = np.array([0.7, 0.0, -1.3]) if per_post else np.array([0.7])
    net, params = _da_net(EDGES, 4, 3, n_da=m.size, lr=lr, tau_e=tau_e)
    pre = _pre_spikes(T_A, 4, 0.08, seed=0)

    zero, _ = _run_da(net, params, pre, POST_STEPS, np.zeros((T_A, m.size)))
    assert float(jnp.abs(zero.projs["syn"].plast[1].e).max()) > 1e-3, "pairings must have happened"
    np.testing.assert_array_equal(np.asarray(zero.projs["syn"].dw), 0.0)

    final, s_post = _run_da(net, params, pre, POST_STEPS, np.tile(m, (T_A, 1)))
    e = _stdp_eligibility_reference(pre, s_post, params["syn"].plast[0], tau_e, DT)
    expected = _on_table(lr * m[None, :] * e.sum(axis=0), net.projections["syn"].conn.post_idx)
    assert np.abs(expected).max() > 1e-2
    np.testing.assert_allclose(np.asarray(final.projs["syn"].dw), expected, rtol=1e-10, atol=1e-14)
    if per_post:                                     # M_1 = 0: synapses onto post 1 never change
        onto_1 = np.asarray(net.projections["syn"].conn.post_idx) == 1
        assert (np.asarray(final.projs["syn"].dw)[onto_1] == 0.0).all()


def test_single_pairing_then_delayed_reward_closed_form():
    """Pre at step 10, post at step 15 (lag 5 steps), reward R at step 15 + D:
    dw = lr R a+ e^{-5 dt/tau+} e^{-D dt/tau_e}. The pairing step's increment is in the trace
    the same step (D = 0 counts fully); a reward before the pairing does nothing."""
    lr, tau_e, R, T = 0.5, 40.0, 2.0, 80
    net, params = _da_net(np.array([(0, 0)]), 1, 1, lr=lr, tau_e=tau_e)
    pre = _trains(T, 1, [[10]])
    p = params["syn"].plast[0]
    pair = float(p.a_plus) * np.exp(-5 * DT / float(p.tau_plus))
    for D in (-3, 0, 7, 30):
        reward = _trains(T, 1, [[15 + D]]) * R
        final, _ = _run_da(net, params, pre, [[15]], reward)
        expected = lr * R * pair * np.exp(-D * DT / tau_e) if D >= 0 else 0.0
        np.testing.assert_allclose(float(final.projs["syn"].dw[0, 0]), expected, rtol=1e-12, atol=0)


# ---------------------------------------------------------------------------------------------
# GatedErrorHebbian: 20 fixed Poisson trains -> 1 linear readout learns a teacher trace
# ---------------------------------------------------------------------------------------------

N_IN, T_TRIAL, TAU_S = 20, 200, 20.0


def _task(n_trials, seed=0):
    """Fixed spike pattern repeated ``n_trials`` times, what the readout receives through an
    Exponential(tau_s) synapse with delay 1 (g(t) = g(t-1) e^{-dt/tau_s} + x(t-1)), and a
    realisable teacher d = g @ w_star in (0, 1)."""
    rng = np.random.default_rng(seed)
    x = np.tile((rng.random((T_TRIAL, N_IN)) < 0.05).astype(float), (n_trials, 1))
    g = np.zeros_like(x)
    for t in range(1, x.shape[0]):
        g[t] = g[t - 1] * np.exp(-DT / TAU_S) + x[t - 1]
    w_star = rng.uniform(0.0, 0.05, N_IN)
    return x, g, np.clip(g @ w_star, 0.0, 1.0)


def _readout_net(rule, **plast):
    conn = nj.from_edges(np.arange(N_IN), np.zeros(N_IN, int), N_IN, 1)
    proj = nj.Projection(conn, "in", "out", receptor="i", synapse=nj.Exponential(),
                         plasticity=rule, modulators=("d", "g"))
    pops = {"in": nj.Population(nj.SpikeSource(), N_IN), "out": nj.Population(nj.ClippedLinear(), 1),
            "d": nj.Population(nj.SpikeSource(), 1), "g": nj.Population(nj.SpikeSource(), 1)}
    net = nj.Network(pops, {"ro": proj}, dt=DT)
    w0 = np.random.default_rng(1).uniform(0.0, 0.02, (N_IN, 1))
    params = nj.init_params(net, {"ro": {"w": w0, "syn": nj.ExponentialParams.default(tau=TAU_S),
                                         "plast": GatedErrorHebbianParams.default(**plast)}})
    return net, params


REC_Y = nj.Record(("out", "r"))


def _trial_mse(y, d, n_trials):
    return ((y - d) ** 2).reshape(n_trials, T_TRIAL).mean(axis=1)


def test_gated_error_hebbian_learns_the_teacher_online_and_gate_zero_freezes():
    """eta = 1e-4, tau_e = 5 ms, 20 trials of 200 ms online: the last trial's MSE falls below
    20 % of the untrained one (measured: 1.7e-3 of it); G = 0 leaves the weights exactly
    unchanged."""
    n = 20
    x, _, d = _task(n)
    net, params = _readout_net(GatedErrorHebbian(teacher="d", gate="g"), eta=1e-4, tau_s=TAU_S, tau_e=5.0)
    state = nj.init_state(net, params)
    mse = {}
    for gate in (0.0, 1.0):
        final, rec = nj.simulate(net, params, state, {"in": x, "d": d[:, None],
                                                      "g": np.full((x.shape[0], 1), gate)}, record=REC_Y)
        mse[gate] = _trial_mse(np.asarray(rec["out"]["r"][:, 0]), d, n)
        if gate == 0.0:
            np.testing.assert_array_equal(np.asarray(final.projs["ro"].dw), 0.0)
    initial, trained = mse[0.0][-1], mse[1.0][-1]
    assert initial > 0.05
    assert trained < 0.2 * initial, (initial, trained)
    assert trained < 0.01 * initial, (initial, trained)          # measured 1.7e-3


def test_gated_error_hebbian_offline_accumulates_the_numpy_sum_and_consolidates():
    """offline=True: during a trial dw stays 0 and the rule state holds
    eta sum_t G(t) (d(t) - y(t)) e_j(t) with s_j = e^{-dt/tau_s} g_j (the readout's input trace),
    e_j(t) = e_j(t-1) e^{-dt/tau_e} + s_j(t), y = clip(w0 . g); the gate is 1 in steps
    [50, 150) and 0.25 elsewhere. consolidate moves it into dw; trial-by-trial consolidation
    then learns the teacher (10th trial's MSE < 20 % of the untrained one; measured 0.85 %)."""
    eta, tau_e = 1e-4, 5.0
    x, g, d = _task(1)
    gate = np.where((np.arange(T_TRIAL) >= 50) & (np.arange(T_TRIAL) < 150), 1.0, 0.25)
    net, params = _readout_net(GatedErrorHebbian(teacher="d", gate="g", offline=True),
                               eta=eta, tau_s=TAU_S, tau_e=tau_e)
    w0 = np.asarray(params["ro"].w)[:, 0]
    inputs = {"in": x, "d": d[:, None], "g": gate[:, None]}
    final, rec = nj.simulate(net, params, nj.init_state(net, params), inputs, record=REC_Y)

    y = np.clip(g @ w0, 0.0, 1.0)
    np.testing.assert_allclose(np.asarray(rec["out"]["r"][:, 0]), y, **EXACT)
    s = np.exp(-DT / TAU_S) * g
    e = np.zeros(N_IN)
    acc = np.zeros(N_IN)
    for t in range(T_TRIAL):
        e = e * np.exp(-DT / tau_e) + s[t]
        acc += eta * gate[t] * (d[t] - y[t]) * e
    np.testing.assert_array_equal(np.asarray(final.projs["ro"].dw), 0.0)
    np.testing.assert_allclose(np.asarray(final.projs["ro"].plast.acc[:, 0]), acc, rtol=1e-12)

    after = consolidate(net, final, "ro")
    np.testing.assert_allclose(np.asarray(after.projs["ro"].dw[:, 0]), acc, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(after.projs["ro"].plast.acc), 0.0)

    # Trial-by-trial learning (eta = 5e-5): a silent warm-up trial (G = 0) brings the synapse to
    # the periodic regime of the repeated pattern; then 10 trials, each consolidated after it.
    x2, _, d2 = _task(2)
    x, d = x2[T_TRIAL:], d2[T_TRIAL:]                # the teacher of the periodic regime
    net, params = _readout_net(GatedErrorHebbian(teacher="d", gate="g", offline=True),
                               eta=5e-5, tau_s=TAU_S, tau_e=tau_e)
    state, _ = nj.simulate(net, params, nj.init_state(net, params),
                           {"in": x, "d": d[:, None], "g": 0.0 * gate[:, None]}, record=REC_Y)
    errors = []
    for _ in range(10):
        state, rec = nj.simulate(net, params, state, {"in": x, "d": d[:, None], "g": gate[:, None]},
                                 record=REC_Y)
        errors.append(float(np.mean((np.asarray(rec["out"]["r"][:, 0]) - d) ** 2)))
        state = consolidate(net, state, "ro")
    assert errors[0] > 0.05
    assert errors[-1] < 0.2 * errors[0], errors
    assert errors[-1] < 0.05 * errors[0], errors                # measured 0.0085


def test_consolidate_finds_the_offline_stage_in_a_chain_and_jits():
    """consolidate adds the offline stage's acc (masked to real synapses) to dw and zeroes it,
    also inside chain(GatedErrorHebbian(offline=True), ClipWeights()) and under jit."""
    conn = nj.from_edges([0, 1, 1], [1, 0, 1], 2, 2)               # row 0 has a padding slot
    rule = pl.chain(GatedErrorHebbian(teacher="d", offline=True), pl.ClipWeights())
    proj = nj.Projection(conn, "in", "out", receptor="i", plasticity=rule, modulators=("d",))
    net = nj.Network({"in": nj.Population(nj.SpikeSource(), 2), "out": nj.Population(nj.ClippedLinear(), 2),
                      "d": nj.Population(nj.SpikeSource(), 2)}, {"ro": proj}, dt=DT)
    params = nj.init_params(net, {"ro": 0.5})
    state = nj.init_state(net, params)
    acc = jnp.asarray([[0.25, 7.0], [-0.5, 0.125]])                 # 7.0 sits in the padding slot
    plast = (state.projs["ro"].plast[0]._replace(acc=acc), None)
    state = state._replace(projs={"ro": state.projs["ro"]._replace(dw=jnp.full((2, 2), 0.5), plast=plast)})
    for fn in (consolidate, jax.jit(consolidate, static_argnums=2)):
        out = fn(net, state, "ro")
        np.testing.assert_array_equal(np.asarray(out.projs["ro"].dw), [[0.75, 0.5], [0.0, 0.625]])
        np.testing.assert_array_equal(np.asarray(out.projs["ro"].plast[0].acc), 0.0)


# ---------------------------------------------------------------------------------------------
# RLSReadout (FORCE): numpy parity and learning
# ---------------------------------------------------------------------------------------------

def _rls_net(every, alpha, n_post=2):
    """20 rate units (ClippedLinear, r = the input) -> n_post ClippedLinear readouts, Instant
    synapse, delay 1, all-to-all with the readouts listed in alternating order per row."""
    rows = [(j, k) for j in range(N_IN) for k in (range(n_post) if j % 2 else reversed(range(n_post)))]
    edges = np.array(rows)
    conn = nj.from_edges(edges[:, 0], edges[:, 1], N_IN, n_post)
    proj = nj.Projection(conn, "in", "out", receptor="i", synapse=nj.Instant(), source="r",
                         plasticity=RLSReadout(teacher="d", every=every), modulators=("d",))
    pops = {"in": nj.Population(nj.ClippedLinear(), N_IN), "out": nj.Population(nj.ClippedLinear(), n_post),
            "d": nj.Population(nj.SpikeSource(), n_post)}
    net = nj.Network(pops, {"ro": proj}, dt=DT)
    w0 = np.random.default_rng(2).uniform(-0.05, 0.05, conn.post_idx.shape)
    params = nj.init_params(net, {"ro": {"w": w0, "plast": RLSReadoutParams.default(alpha=alpha)}})
    return net, params


def _rls_reference(r, d, w0_dense, alpha, every):
    """FORCE in numpy: y(t) = clip(W(t-1)^T r(t-1)); every `every` steps
    P <- P - P r r^T P / (1 + r^T P r), W <- W + (P r) E^T with the updated P."""
    W, P, r_prev, ys = w0_dense.copy(), np.eye(r.shape[1]) / alpha, np.zeros(r.shape[1]), []
    for t in range(r.shape[0]):
        y = np.clip(W.T @ r_prev, 0.0, 1.0)
        ys.append(y)
        if t % every == 0:
            Pr = P @ r_prev
            gain = Pr / (1.0 + r_prev @ Pr)
            P = P - np.outer(gain, Pr)
            W = W + np.outer(gain, d[t] - y)
        r_prev = r[t]
    return W, P, np.array(ys)


@pytest.mark.parametrize("every", [1, 3])
def test_rls_readout_equals_numpy_force_and_learns(every):
    """Inputs: the filtered spike trains of the readout task scaled into [0, 1]; teacher: a
    realisable 2-d target. Weights, P and outputs equal the numpy recursion to 1e-10. With
    alpha = 0.01 the third trial's MSE is < 1e-4 of the teacher's variance (measured 4e-7 for
    every = 1, 3e-6 for every = 3), while the untrained readout's is ~19 times it."""
    n_trials, alpha = 3, 0.01
    _, g, _ = _task(n_trials)
    r = np.clip(g / 3.0, 0.0, 1.0)
    w_star = np.random.default_rng(3).uniform(0.0, 0.1, (N_IN, 2))
    d = np.zeros_like(r[:, :2])
    d[1:] = r[:-1] @ w_star                          # y(t) reads r(t - 1): realisable exactly
    net, params = _rls_net(every, alpha)
    post_idx = np.asarray(net.projections["ro"].conn.post_idx)
    w0 = np.asarray(params["ro"].w)
    w0_dense = np.zeros((N_IN, 2))
    np.put_along_axis(w0_dense, post_idx, w0, axis=1)
    final, rec = nj.simulate(net, params, nj.init_state(net, params), {"in": r, "d": d}, record=REC_Y)

    W_ref, P_ref, y_ref = _rls_reference(r, d, w0_dense, alpha, every)
    y = np.asarray(rec["out"]["r"])
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(w0 + np.asarray(final.projs["ro"].dw), _on_table(W_ref, post_idx),
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(final.projs["ro"].plast.P), P_ref, rtol=0, atol=1e-10)
    last = slice(-T_TRIAL, None)
    untrained = np.clip(np.concatenate([np.zeros((1, N_IN)), r[:-1]]) @ w0_dense, 0.0, 1.0)
    var = np.var(d[last])
    before = np.mean((untrained[last] - d[last]) ** 2) / var
    after = np.mean((y[last] - d[last]) ** 2) / var
    assert before > 1.0 and after < 1e-4, (before, after)

    reset = reset_rule_state(net, params, final, "ro")       # FORCE reset: P <- I / alpha
    np.testing.assert_array_equal(np.asarray(reset.projs["ro"].plast.P), np.eye(N_IN) / alpha)
    np.testing.assert_array_equal(np.asarray(reset.projs["ro"].dw), np.asarray(final.projs["ro"].dw))


# ---------------------------------------------------------------------------------------------
# jit / vmap, bad input
# ---------------------------------------------------------------------------------------------

def test_vmap_over_trials_equals_a_loop():
    """A batch of 2 reward traces through chain(STDP, Eligibility, ScaleByModulator) and of 2
    teachers through GatedErrorHebbian: vmap equals a Python loop of the jitted simulate."""
    net, params = _da_net(EDGES, 4, 3)
    pre = _pre_spikes(T_A, 4, 0.08, seed=1)
    post = KICK * _trains(T_A, 3, POST_STEPS)
    rewards = jnp.asarray(np.random.default_rng(4).normal(size=(2, T_A, 1)))
    state = nj.init_state(net, params)
    run = jax.jit(jax.vmap(lambda r: nj.simulate(net, params, state, {"pre": pre, "post": post, "da": r})[0]
                           .projs["syn"].dw))
    batched = run(rewards)
    for i in range(2):
        one = nj.simulate(net, params, state, {"pre": pre, "post": post, "da": rewards[i]})[0]
        assert float(jnp.abs(one.projs["syn"].dw).max()) > 1e-3
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(one.projs["syn"].dw), **EXACT)

    x, _, d = _task(1)
    net, params = _readout_net(GatedErrorHebbian(teacher="d", gate="g"), eta=1e-4, tau_s=TAU_S, tau_e=5.0)
    state = nj.init_state(net, params)
    gate = np.ones((T_TRIAL, 1))
    teachers = jnp.asarray(np.stack([d, 0.5 * d])[:, :, None])
    batched = jax.vmap(lambda dd: nj.simulate(net, params, state, {"in": x, "d": dd, "g": gate})[0]
                       .projs["ro"].dw)(teachers)
    for i in range(2):
        one = nj.simulate(net, params, state, {"in": x, "d": teachers[i], "g": gate})[0].projs["ro"].dw
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(one), **EXACT)


def test_bad_parameters_raise_clear_errors():
    edges = np.array([(0, 0)])
    net, _ = _da_net(edges, 1, 1)
    stdp, elig, scale = pl.STDPParams.default(), EligibilityParams.default(), ScaleByModulatorParams.default()
    with pytest.raises(ValueError, match="tau_e"):
        nj.init_params(net, {"syn": {"w": 0.0, "plast": (stdp, elig._replace(tau_e=0.0), scale)}})
    with pytest.raises(ValueError, match="lr"):
        nj.init_params(net, {"syn": {"w": 0.0, "plast": (stdp, elig, scale._replace(lr=np.nan))}})
    with pytest.raises(TypeError, match="name"):
        ScaleByModulator(3)

    rule = GatedErrorHebbian(teacher="d", gate="g")
    with pytest.raises(ValueError, match="tau_s"):
        _readout_net(rule, tau_s=-1.0)
    with pytest.raises(ValueError, match="eta"):
        _readout_net(rule, eta=-1.0)
    with pytest.raises(TypeError, match="teacher"):
        GatedErrorHebbian(teacher=None)
    with pytest.raises(TypeError, match="offline"):
        GatedErrorHebbian(offline="yes")
    online_net, _ = _readout_net(rule)
    with pytest.raises(ValueError, match="offline"):
        consolidate(online_net, None, "ro")
    with pytest.raises(ValueError, match="unknown projection"):
        consolidate(online_net, None, "nope")

    with pytest.raises(ValueError, match="every"):
        RLSReadout(every=0)
    with pytest.raises(ValueError, match="lag"):
        RLSReadout(lag=-1)
    with pytest.raises(ValueError, match="alpha"):
        nj.init_params(_rls_net(1, 1.0)[0], {"ro": {"w": 0.0, "plast": RLSReadoutParams.default(alpha=0.0)}})
    sparse = nj.from_edges([0, 1, 1], [0, 0, 1], 2, 2)            # row 0 misses readout 1
    proj = nj.Projection(sparse, "a", "b", receptor="i", source="r", plasticity=RLSReadout(teacher="d"),
                         modulators=("d",))
    pops = {"a": nj.Population(nj.ClippedLinear(), 2), "b": nj.Population(nj.ClippedLinear(), 2),
            "d": nj.Population(nj.SpikeSource(), 2)}
    rls_net = nj.Network(pops, {"p": proj}, dt=DT)
    with pytest.raises(ValueError, match="all-to-all"):
        nj.init_params(rls_net, {"p": 0.0})

    # a modulator population that is neither size 1 nor n_post is refused when tracing
    net3, params3 = _da_net(EDGES, 4, 3, n_da=2)
    with pytest.raises(ValueError, match="n_post = 3"):
        nj.simulate(net3, params3, nj.init_state(net3, params3),
                    {"pre": np.zeros((5, 4)), "post": np.zeros((5, 3)), "da": np.zeros((5, 2))})
