"""Synapse models and short-term plasticity: closed forms, linearity, gradients, wiring.

Every check is numeric: analytic kernels sampled at the step boundaries (EXACT, float64),
the Tsodyks–Markram recursion and its closed forms, and the step at which a delayed spike
reaches the postsynaptic synapse inside ``nj.simulate``.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import neurojax as nj
from tolerances import EXACT

DT = 0.1


def _impulse_response(syn, p, n_steps, w=1.0, dt=DT):
    """Outputs after an event of weight ``w`` at step 0 (index k <-> t = k * dt)."""
    x = jnp.zeros((n_steps, 1)).at[0, 0].set(w)

    def body(s, x_t):
        s = syn.step(p, s, x_t, dt)
        return s, syn.output(p, s)[0]

    return jax.lax.scan(body, syn.init(p, 1), x)[1]


# ---------------------------------------------------------------------------------------------
# Post-synaptic kernels vs closed forms
# ---------------------------------------------------------------------------------------------


def _dual_exp_closed(t, w, tr, td):
    tp = tr * td / (td - tr) * np.log(td / tr)
    return w * (np.exp(-t / td) - np.exp(-t / tr)) / (np.exp(-tp / td) - np.exp(-tp / tr))


CASES = {
    "exponential": (nj.Exponential(), nj.ExponentialParams.default(tau=5.0),
                    lambda t, w: w * np.exp(-t / 5.0)),
    "dual_exp": (nj.DualExponential(), nj.DualExponentialParams.default(tau_rise=0.7, tau_decay=6.0),
                 lambda t, w: _dual_exp_closed(t, w, 0.7, 6.0)),
    "alpha": (nj.Alpha(), nj.AlphaParams.default(tau=2.0),
              lambda t, w: w * (t / 2.0) * np.exp(1.0 - t / 2.0)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_impulse_response_closed_form_and_linearity(name):
    """g(k dt) equals the closed form; two events superpose (time-shifted sum)."""
    syn, p, closed = CASES[name]
    n, w1, w2, shift = 300, 1.7, -0.6, 37
    t = np.arange(n) * DT

    @jax.jit
    def run(x):
        def body(s, x_t):
            s = syn.step(p, s, x_t, DT)
            return s, syn.output(p, s)
        return jax.lax.scan(body, syn.init(p, 2), x)[1]

    x = jnp.zeros((n, 2)).at[0, 0].set(w1).at[0, 1].set(w1).at[shift, 1].set(w2)
    g = np.asarray(run(x))
    np.testing.assert_allclose(g[:, 0], closed(t, w1), **EXACT)
    later = np.where(t >= shift * DT, closed(np.maximum(t - shift * DT, 0.0), w2), 0.0)
    np.testing.assert_allclose(g[:, 1], closed(t, w1) + later, **EXACT)
    # zero input stays at rest (T8)
    np.testing.assert_array_equal(np.asarray(run(jnp.zeros((5, 2)))), 0.0)


def test_dual_exponential_peak_is_w():
    """One exact step of length t_peak after the event lands on the peak: g = w; the sampled
    response never exceeds w."""
    syn = nj.DualExponential()
    w = 2.5
    for tr, td in [(1.0, 10.0), (0.2, 2.0), (3.0, 3.5)]:
        p = nj.DualExponentialParams.default(tau_rise=tr, tau_decay=td)
        tp = tr * td / (td - tr) * np.log(td / tr)
        s = syn.step(p, syn.init(p, 1), jnp.array([w]), DT)
        np.testing.assert_allclose(float(syn.output(p, syn.step(p, s, jnp.zeros(1), tp))[0]), w,
                                   **EXACT)
        # derivative of the closed form vanishes at t_peak (it is the maximum)
        eps = 1e-6
        assert _dual_exp_closed(tp + eps, w, tr, td) < w and _dual_exp_closed(tp - eps, w, tr, td) < w
    g = np.asarray(_impulse_response(syn, nj.DualExponentialParams.default(), 400, w=w))
    assert g.max() <= w * (1 + 1e-12) and g.max() > 0.999 * w


def test_alpha_peak_at_tau_and_dual_exp_limit():
    """Alpha peaks at exactly w at t = tau; the dual exponential tends to it as tau_r -> tau_d."""
    syn, tau, w = nj.Alpha(), 2.0, 3.0
    g = np.asarray(_impulse_response(syn, nj.AlphaParams.default(tau=tau), 60, w=w))
    k_peak = int(round(tau / DT))
    np.testing.assert_allclose(g[k_peak], w, **EXACT)
    assert int(np.argmax(g)) == k_peak
    t = np.arange(60) * DT
    near = _dual_exp_closed(t, w, tau * (1 - 1e-5), tau)
    np.testing.assert_allclose(g, near, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_grads_synapse_step(name):
    """Smooth plumbing (T5): step + output w.r.t. params, state and input, order 2."""
    syn, p, _ = CASES[name]
    s0 = jax.tree.map(lambda z: z + jnp.array([0.3, 1.1]), syn.init(p, 2))

    def f(p, s, x):
        return syn.output(p, syn.step(p, s, x, DT))

    check_grads(f, (p, s0, jnp.array([0.4, -0.2])), order=2, modes=("fwd", "rev"))


def test_synapse_validation_errors():
    syn = nj.DualExponential()
    with pytest.raises(ValueError, match="tau_rise must be < tau_decay"):
        syn.validate(nj.DualExponentialParams.default(tau_rise=5.0, tau_decay=5.0), 3, DT)
    with pytest.raises(ValueError, match="DualExponentialParams.tau_rise"):
        syn.validate(nj.DualExponentialParams.default(tau_rise=0.05), 3, DT)
    syn.validate(nj.DualExponentialParams.default(tau_rise=0.05), 3, DT, allow_large_dt=True)
    with pytest.raises(ValueError, match="AlphaParams.tau"):
        nj.Alpha().validate(nj.AlphaParams.default(tau=-1.0), 3, DT)
    with pytest.raises(ValueError, match=r"AlphaParams.tau must be a scalar or have shape \(3,\)"):
        nj.Alpha().validate(nj.AlphaParams.default(tau=jnp.ones(2)), 3, DT)
    with pytest.raises(TypeError, match="no field"):
        nj.AlphaParams.default(tau_decay=1.0)


# ---------------------------------------------------------------------------------------------
# Tsodyks–Markram short-term plasticity
# ---------------------------------------------------------------------------------------------


def _tm_recursion(U, tau_f, tau_d, isi, n_spikes):
    """Efficacies u+ x- of a regular train from rest (plain Python, the textbook recursion)."""
    F = 0.0 if tau_f == 0 else np.exp(-isi / tau_f)
    D = np.exp(-isi / tau_d)
    u_minus, x_minus, out, us = 0.0, 1.0, [], []
    for _ in range(n_spikes):
        u_plus = u_minus + U * (1.0 - u_minus)
        r = u_plus * x_minus
        out.append(r)
        us.append(u_plus)
        x_plus = x_minus - r
        u_minus, x_minus = u_plus * F, 1.0 - (1.0 - x_plus) * D
    return np.array(out), np.array(us)


@functools.partial(jax.jit, static_argnames=("stp", "n_steps", "every"))
def _run_stp(stp, p, n_steps, every, dt):
    spikes = (jnp.arange(n_steps) % every == 0).astype(float)[:, None]

    def body(s, sp):
        s, sig = stp.step(p, s, sp, dt)
        return s, (sig[0], s.u[0], s.x[0])

    return jax.lax.scan(body, stp.init(p, 1), spikes)[1]


@pytest.mark.parametrize("regime", ["depressing", "facilitating"])
def test_stp_regular_train_vs_recursion_and_steady_state(regime):
    p = getattr(nj.TsodyksMarkramParams, regime)()
    U, tau_f, tau_d = (float(v) for v in p)
    dt, every, n_spikes = 1.0, 20, 500            # 50 Hz
    isi = every * dt
    sig, u, _ = (np.asarray(a) for a in _run_stp(nj.TsodyksMarkram(), p, n_spikes * every, every, dt))
    eff = sig[::every]
    ref, ref_u = _tm_recursion(U, tau_f, tau_d, isi, n_spikes)
    np.testing.assert_allclose(eff, ref, **EXACT)
    np.testing.assert_allclose(u[::every], ref_u, **EXACT)
    np.testing.assert_array_equal(np.delete(sig, np.arange(0, sig.size, every)), 0.0)
    assert eff[0] == pytest.approx(U, abs=1e-15)            # first spike from rest: r = U
    # steady state (closed form); both regimes have converged after 500 spikes
    F = 0.0 if tau_f == 0 else np.exp(-isi / tau_f)
    D = np.exp(-isi / tau_d)
    u_inf = U / (1.0 - (1.0 - U) * F)
    x_inf = (1.0 - D) / (1.0 - (1.0 - u_inf) * D)
    np.testing.assert_allclose(eff[-1], u_inf * x_inf, rtol=1e-9)
    if regime == "depressing":                               # monotone depression
        assert np.all(np.diff(eff[:20]) < 0) and eff[-1] < 0.1 * U
    else:                                                    # facilitation, then depression
        assert eff[1] > eff[0] and eff.max() > 3 * U


def test_stp_depression_closed_form():
    """tau_f = 0: x-_n = x* + (1 - x*) ((1-U) D)^(n-1), efficacy U x-_n, exactly."""
    U, tau_d, dt, every, n_spikes = 0.4, 300.0, 0.5, 50, 40
    p = nj.TsodyksMarkramParams.depressing(U=U, tau_d=tau_d)
    sig = np.asarray(_run_stp(nj.TsodyksMarkram(), p, n_spikes * every, every, dt)[0])
    D = np.exp(-every * dt / tau_d)
    x_star = (1 - D) / (1 - (1 - U) * D)
    n = np.arange(n_spikes)
    np.testing.assert_allclose(sig[::every], U * (x_star + (1 - x_star) * ((1 - U) * D) ** n), **EXACT)


def test_stp_relative_normalisation_and_recovery():
    """relative=True divides by U (first spike transmits 1); after a long pause the synapse
    has recovered exactly as exp(-T/tau_d), exp(-T/tau_f)."""
    p = nj.TsodyksMarkramParams.facilitating()
    U, tau_f, tau_d = (float(v) for v in p)
    stp_abs, stp_rel = nj.TsodyksMarkram(), nj.TsodyksMarkram(relative=True)
    s_a, r_a = stp_abs.step(p, stp_abs.init(p, 1), jnp.ones(1), 1.0)
    s_r, r_r = stp_rel.step(p, stp_rel.init(p, 1), jnp.ones(1), 1.0)
    assert float(r_r[0]) == pytest.approx(1.0, abs=1e-15) and float(r_a[0]) == pytest.approx(U)
    s_a2, r_a2 = stp_abs.step(p, s_a, jnp.ones(1), 7.0)
    _, r_r2 = stp_rel.step(p, s_r, jnp.ones(1), 7.0)
    np.testing.assert_allclose(float(r_r2[0]), float(r_a2[0]) / U, **EXACT)
    T = 150.0
    s_quiet, r0 = stp_abs.step(p, s_a2, jnp.zeros(1), T)
    assert float(r0[0]) == 0.0
    np.testing.assert_allclose(float(s_quiet.u[0]), float(s_a2.u[0]) * np.exp(-T / tau_f), **EXACT)
    np.testing.assert_allclose(float(s_quiet.x[0]), 1 - (1 - float(s_a2.x[0])) * np.exp(-T / tau_d),
                               **EXACT)


def test_stp_check_grads():
    """The STP step is smooth in its params, state and the spike value (order 2)."""
    stp = nj.TsodyksMarkram(relative=True)
    p = nj.TsodyksMarkramParams.facilitating(U=jnp.array([0.2, 0.5]))
    s0 = nj.TsodyksMarkramState(u=jnp.array([0.1, 0.3]), x=jnp.array([0.8, 0.6]))

    def f(p, s, spike):
        s, sig = stp.step(p, s, spike, 2.0)
        return sig + s.u * s.x

    check_grads(f, (p, s0, jnp.array([1.0, 0.7])), order=2, modes=("fwd", "rev"), eps=1e-6)
    # tau_f = 0 (facilitation off) keeps finite gradients (double-where guard)
    g = jax.grad(lambda tf: f(p._replace(tau_f=tf), s0, jnp.ones(2)).sum())(jnp.zeros(2))
    assert np.isfinite(np.asarray(g)).all()


def test_stp_validation_errors():
    stp = nj.TsodyksMarkram()
    with pytest.raises(ValueError, match=r"TsodyksMarkramParams.U must lie in \(0, 1\]"):
        stp.validate(nj.TsodyksMarkramParams.default(U=1.5), 2, 0.1)
    with pytest.raises(ValueError, match="TsodyksMarkramParams.U must be > 0"):
        stp.validate(nj.TsodyksMarkramParams.default(U=0.0), 2, 0.1)
    with pytest.raises(ValueError, match="TsodyksMarkramParams.tau_f must be >= 0"):
        stp.validate(nj.TsodyksMarkramParams.default(tau_f=-1.0), 2, 0.1)
    with pytest.raises(ValueError, match="TsodyksMarkramParams.tau_f = 0.05 ms"):
        stp.validate(nj.TsodyksMarkramParams.default(tau_f=0.05), 2, 0.1)
    stp.validate(nj.TsodyksMarkramParams.default(tau_f=0.0), 2, 0.1)       # 0 = off is fine


# ---------------------------------------------------------------------------------------------
# Wiring inside nj.simulate: delays and STP
# ---------------------------------------------------------------------------------------------


def record_syn_g(state):
    """Module-level recorder (hashable): the projection's synapse state and the post v."""
    return {"g": state.projs["in"].syn.g, "v": state.pops["post"].v}


def _net(delay_steps, stp=None, n_pre=2, dt=0.5):
    conn = nj.from_edges([0, 1], [0, 1], n_pre, 2)      # pre i -> post i
    return nj.Network(
        populations={"pre": nj.Population(nj.SpikeSource(), n_pre),
                     "post": nj.Population(nj.LIF(), 2)},
        projections={"in": nj.Projection(conn, "pre", "post", delay_steps=delay_steps, stp=stp)},
        dt=dt)


@pytest.mark.parametrize("delay_steps", [1, 3])
def test_delay_spike_reaches_post_at_t_plus_delay(delay_steps):
    """A SpikeSource spike at step t0 first shows in the post synapse state and v at t0 + D."""
    net = _net(delay_steps)
    tau, w, T, t0 = 5.0, 40.0, 30, 4
    params = nj.init_params(net, {"in": {"w": w, "syn": nj.ExponentialParams.default(tau=tau)}})
    state = nj.init_state(net, params)
    spikes = np.zeros((T, 2))
    spikes[t0, 0] = 1.0
    _, rec = nj.simulate(net, params, state, {"pre": jnp.asarray(spikes)}, record=record_syn_g)
    g, v = np.asarray(rec["g"]), np.asarray(rec["v"])
    k = np.arange(T)
    expect = np.where(k >= t0 + delay_steps, w * np.exp(-(k - t0 - delay_steps) * net.dt / tau), 0.0)
    np.testing.assert_allclose(g[:, 0], expect, **EXACT)
    np.testing.assert_array_equal(g[:, 1], 0.0)
    moved = np.flatnonzero(np.abs(v[:, 0] - v[0, 1]) > 0)
    assert moved[0] == t0 + delay_steps


def test_stp_in_simulate_scales_post_input_and_voltage():
    """SpikeSource (regular train) -> TM-STP -> Exponential -> LIF: the jumps of g equal
    w * efficacy_n of the closed-form recursion, and v follows the LIF propagator of that g."""
    dt, every, n_sp, delay = 0.5, 40, 8, 2
    T = n_sp * every
    p_stp = nj.TsodyksMarkramParams.depressing(U=0.45, tau_d=300.0)
    net = _net(delay, stp=nj.TsodyksMarkram(), n_pre=2, dt=dt)
    tau, w = 2.0, 60.0
    params = nj.init_params(net, {"in": {"w": w, "syn": nj.ExponentialParams.default(tau=tau),
                                         "stp": p_stp}})
    state = nj.init_state(net, params)
    spikes = np.zeros((T, 2))
    spikes[::every, 0] = 1.0                   # neuron 0 regular; neuron 1 silent
    _, rec = nj.simulate(net, params, state, {"pre": jnp.asarray(spikes)}, record=record_syn_g)
    g, v = np.asarray(rec["g"])[:, 0], np.asarray(rec["v"])[:, 0]
    eff, _ = _tm_recursion(0.45, 0.0, 300.0, every * dt, n_sp)
    jumps = g[1:] - g[:-1] * np.exp(-dt / tau)
    arrive = np.arange(n_sp) * every + delay
    np.testing.assert_allclose(jumps[arrive - 1], w * eff, **EXACT)
    np.testing.assert_allclose(np.delete(jumps, arrive - 1), 0.0, atol=1e-10)
    # LIF subthreshold response to exactly this current (exact propagator, per step)
    lif = nj.LIFParams.default()
    tau_m, c_m, v_rest = float(lif.tau_m), float(lif.c_m), float(lif.v_rest)
    vv, ref = v_rest, []
    for k in range(T):
        v_inf = v_rest + g[k] * tau_m / c_m
        vv = v_inf + (vv - v_inf) * np.exp(-dt / tau_m)
        ref.append(vv)
    assert np.max(v) < float(lif.v_th)          # stays subthreshold: no reset involved
    np.testing.assert_allclose(v, ref, **EXACT)
    # depression is visible in the post input: later PSC jumps are smaller
    assert jumps[arrive[-1] - 1] < 0.5 * jumps[arrive[0] - 1]
