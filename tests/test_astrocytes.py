"""Calcium astrocytes (Li–Rinzel, G-ChI) and the tripartite Tsodyks–Markram synapse.

Reference checks: brainpy.state's NEST-compatible ``astrocyte_lr_1994`` (an adaptive RKF45
integrator) for :class:`LiRinzel`; ``scipy.integrate.solve_ivp`` at rtol 1e-10 for
:class:`GChI`; closed forms for the SIC, the LIF response, the gliotransmitter pools and the
presynaptic receptor occupancy; :class:`neurojax.TsodyksMarkram` for the gate-free synapse.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq
from scipy.signal import find_peaks

import neurojax as nj
from neurojax.astrocytes import (GChI, GChIParams, LiRinzel, LiRinzelParams, TripartiteTM,
                                 TripartiteTMParams, li_rinzel_sic)
from tolerances import EXACT

#: Two integrators of the same ODE agree to this (µM) when both are converged.
ODE_PARITY_UM = 1e-9
#: Oscillation period / amplitude agreement between two simulators (relative).
PERIOD_RTOL = 0.02
AMPLITUDE_RTOL = 0.02


def _oscillation(trace, dt, skip):
    """Mean period (ms), peak and trough (µM) of the oscillation after ``skip`` samples."""
    x = np.asarray(trace)[skip:]
    peaks, _ = find_peaks(x, prominence=0.05)
    troughs, _ = find_peaks(-x, prominence=0.05)
    assert len(peaks) >= 2 and len(troughs) >= 1, "no sustained oscillation"
    return np.diff(peaks).mean() * dt, x[peaks].mean(), x[troughs].mean(), peaks + skip


# ---------------------------------------------------------------------------------------------
# Li–Rinzel
# ---------------------------------------------------------------------------------------------

def _lr_scan(model, params, state, drive_ip3, drive_ca, dt):
    """Standalone scan; records (ip3, ca, sic) after every step."""
    def body(s, x):
        s = model.step(params, s, {"ip3": x[0], "i_ca": x[1]}, dt)
        return s, (s.ip3, s.ca, s.sic)
    return jax.lax.scan(body, state, (drive_ip3, drive_ca))


@pytest.mark.reference
def test_li_rinzel_matches_brainpy_state_astrocyte_lr_1994():
    """IP3 spike train (weight 2.4 every 10 ms: IP3 ~ 0.5 µM) plus a 200 ms Ca current pulse.

    brainpy.state integrates with adaptive RKF45 and applies a current one step late (NEST
    semantics), so it is fed the current one step early. Measured (dt = 1 ms, 50 s): max
    |dCa| 1.3e-13 µM, |dIP3| 1.1e-16 µM, |dSIC| 3.4e-11 pA; period 11.475 s in both,
    peaks 0.4480 µM, troughs 0.1079 µM.
    """
    bps = pytest.importorskip("brainpy").state
    import brainstate
    import brainunit as u

    dt, T = 1.0, 50_000
    w = np.zeros(T)
    w[9::10] = 2.4                                      # summed spike weight arriving per step
    j = np.zeros(T)
    j[1000:1200] = 0.002                                # µM/ms

    with brainstate.environ.context(dt=dt * u.ms, precision=64):
        ref = bps.astrocyte_lr_1994(1, IP3_initializer=0.5)
        ref.init_state()

        def ref_body(x):
            ref.update(spike_weights=x[0], J_ext=x[1])
            return ref.IP3.value, ref.Ca.value, ref.SIC.value

        j_early = np.r_[j[1:], 0.0]
        r_ip3, r_ca, r_sic = (np.asarray(a)[:, 0] for a in brainstate.transform.for_loop(
            ref_body, (jnp.asarray(w), jnp.asarray(j_early))))
    jax.config.update("jax_enable_x64", True)          # brainpy / brainstate switch it off

    model = LiRinzel()
    p = LiRinzelParams.default()
    s0 = model.init(p, 1)._replace(ip3=jnp.array([0.5]))
    run = jax.jit(lambda s, a, b: _lr_scan(model, p, s, a, b, dt)[1])
    ip3, ca, sic = (np.asarray(a)[:, 0] for a in run(s0, jnp.asarray(w)[:, None],
                                                     jnp.asarray(j)[:, None]))

    np.testing.assert_allclose(ca, r_ca, rtol=0, atol=ODE_PARITY_UM)
    np.testing.assert_allclose(ip3, r_ip3, rtol=0, atol=ODE_PARITY_UM)
    np.testing.assert_allclose(sic, r_sic, rtol=0, atol=1e-8)        # pA (ln amplifies dCa)
    period, peak, trough, _ = _oscillation(ca, dt, skip=12_000)
    r_period, r_peak, r_trough, _ = _oscillation(r_ca, dt, skip=12_000)
    assert period == pytest.approx(r_period, rel=PERIOD_RTOL)
    assert peak - trough == pytest.approx(r_peak - r_trough, rel=AMPLITUDE_RTOL)
    assert 10_000 < period < 13_000 and 0.3 < peak - trough < 0.4   # the regime we meant
    assert sic.max() > 5.0                                            # ln(1000 (0.45 - 0.197))


def test_li_rinzel_calcium_stays_within_bounds():
    """Ca in [0, Ca_tot] for: huge IP3 drive, none, +/- huge current, strong noise current."""
    model = LiRinzel()
    p = LiRinzelParams.default()
    T, n = 20_000, 5
    rng = np.random.default_rng(0)
    ip3_drive = np.zeros((T, n))
    ip3_drive[:, 0] = 1e5                               # IP3 += 20 µM per ms
    ca_drive = np.zeros((T, n))
    ca_drive[:, 2] = 1.0                                # µM/ms, far beyond every flux
    ca_drive[:, 3] = -1.0
    ca_drive[:, 4] = 0.05 * rng.standard_normal(T)
    run = jax.jit(lambda a, b: _lr_scan(model, p, model.init(p, n), a, b, 1.0)[1])
    ip3, ca, sic = (np.asarray(a) for a in run(jnp.asarray(ip3_drive), jnp.asarray(ca_drive)))
    assert np.isfinite(ca).all() and np.isfinite(sic).all()
    assert ca.min() >= 0.0 and ca.max() <= 2.0
    assert ca[-1, 2] == 2.0 and ca[-1, 3] == 0.0        # pinned at the clamps
    assert ca[:, 4].max() == 2.0 and ca[:, 4].min() == 0.0
    assert ip3[-1, 0] > 1e5 * 2e-4 * 1000               # IP3 really was driven hard
    np.testing.assert_allclose(sic[-1, 2], np.log((2.0 - 0.19669) * 1000.0), **EXACT)
    assert 0.05 < ca[-1, 1] < 0.1                        # undriven unit near rest


def test_li_rinzel_resting_state_is_stable():
    """From a perturbation the state returns to the fixed point at the slowest eigenvalue rate."""
    model = LiRinzel()
    p = LiRinzelParams.default()
    ip3 = 0.16
    a_h = 2e-4 * 1.049 * (ip3 + 0.13) / (ip3 + 0.9434)
    h_star = lambda c: a_h / (a_h + 2e-4 * c)           # noqa: E731  (dh/dt = 0)

    def dca(c):
        m, n_, er = ip3 / (ip3 + 0.13), c / (c + 0.08234), (2.0 - c) / 0.185
        return (0.185 * 0.006 * (m * n_ * h_star(c)) ** 3 * (er - c) + 0.185 * 0.00011 * (er - c)
                - 0.0009 * c * c / (0.01 + c * c))

    ca_star = brentq(dca, 1e-6, 1.9, xtol=1e-15)
    from neurojax.astrocytes import _lr_rhs
    jac = jax.jit(jax.jacfwd(lambda y: jnp.stack(_lr_rhs(p, 0.0)((y[0], y[1], y[2])))))(
        jnp.array([ip3, ca_star, h_star(ca_star)]))
    eig = np.linalg.eigvals(np.asarray(jac))
    assert (eig.real < 0).all()
    slow = eig.real[np.argsort(-eig.real)][0]           # -8.6e-5 /ms (11.6 s)

    s0 = model.init(p, 1)._replace(ca=jnp.array([ca_star + 0.05]), h=jnp.array([h_star(ca_star)]))
    T = 80_000
    zeros = jnp.zeros((T, 1))
    _, (_, ca, _) = jax.jit(lambda s, z: _lr_scan(model, p, s, z, z, 1.0))(s0, zeros)
    dev = np.abs(np.asarray(ca)[:, 0] - ca_star)
    rate = np.log(dev[79_999] / dev[40_000]) / 40_000.0
    assert dev[-1] < 5e-5 * dev[0]
    assert rate == pytest.approx(slow, rel=0.01)


def test_li_rinzel_sic_closed_form_and_gradient():
    p = LiRinzelParams.default(sic_scale=2.0)
    ca = jnp.array([0.0, 0.19669, 0.19769, 0.5, 2.0])   # below, at, 1 nM above, above, max
    expected = np.where((np.asarray(ca) - 0.19669) * 1000 > 1,
                        2.0 * np.log(np.maximum((np.asarray(ca) - 0.19669) * 1000, 1.0)), 0.0)
    np.testing.assert_allclose(li_rinzel_sic(p, ca), expected, **EXACT)
    grad = jax.jit(jax.vmap(jax.grad(lambda c: li_rinzel_sic(p, c))))(ca)
    assert np.isfinite(np.asarray(grad)).all()
    np.testing.assert_allclose(grad[3:], 2.0 / (np.asarray(ca[3:]) - 0.19669), **EXACT)
    np.testing.assert_allclose(grad[:2], 0.0, **EXACT)
    # gradient of a whole step w.r.t. the initial Ca, from a sub-threshold state: finite
    model = LiRinzel()
    g = jax.jit(jax.grad(lambda c: model.step(p, model.init(p, 1)._replace(ca=c),
                                      {"ip3": jnp.zeros(1), "i_ca": jnp.zeros(1)}, 1.0).sic.sum()))
    assert np.isfinite(np.asarray(g(jnp.array([0.1])))).all()


def test_li_rinzel_sic_depolarises_lif_through_projection():
    """Ca frozen at 0.5 µM (all fluxes off): SIC = ln(303.31) pA; with w = 10,
    V = V_rest + R w SIC (1 - e^{-t/tau_m})."""
    net = nj.Network(
        populations={"astro": nj.Population(LiRinzel(), 1), "E": nj.Population(nj.LIF(), 2)},
        projections={"sic": nj.Projection(nj.from_edges([0, 0], [0, 1], 1, 2), pre="astro",
                                          post="E", source="sic", receptor="i",
                                          synapse=nj.Instant())},
        dt=0.1)
    frozen = dict(ca0=0.5, k_ip3r=0.0, rate_ip3r=0.0, rate_l=0.0, rate_serca=0.0)
    params = nj.init_params(net, {"astro": frozen, "sic": 10.0})
    state = nj.init_state(net, params)
    T = 400
    _, rec = nj.simulate(net, params, state, n_steps=T,
                         record=nj.Record(("astro", "sic"), ("E", "v"), ("E", "spike")))
    sic = np.log((0.5 - 0.19669) * 1000.0)
    np.testing.assert_allclose(rec["astro"]["sic"], sic, **EXACT)
    # the SIC of step k reaches the LIF at step k + 1 (delay 1); the first step has none
    k = np.arange(1, T + 1) - 1                          # steps of current so far
    v = -65.0 + (10.0 / 250.0) * 10.0 * sic * (1.0 - np.exp(-k * 0.1 / 10.0))
    np.testing.assert_allclose(rec["E"]["v"], np.stack([v, v], 1), **EXACT)
    assert rec["E"]["spike"].sum() == 0 and v[-1] > -65.0 + 2.2   # ~2.29 mV depolarisation


def test_li_rinzel_validation():
    model = LiRinzel()
    with pytest.raises(ValueError, match="LiRinzelParams.ca0"):
        model.validate(LiRinzelParams.default(ca0=3.0), 1, 1.0)
    with pytest.raises(ValueError, match="LiRinzelParams.tau_ip3"):
        model.validate(LiRinzelParams.default(tau_ip3=-1.0), 1, 1.0)
    with pytest.raises(ValueError, match="LiRinzelParams.h0"):
        model.validate(LiRinzelParams.default(h0=1.5), 1, 1.0)
    with pytest.raises(ValueError, match="LiRinzel.substeps"):
        LiRinzel(substeps=0)
    model.validate(LiRinzelParams.default(), 3, 1.0)


# ---------------------------------------------------------------------------------------------
# G-ChI
# ---------------------------------------------------------------------------------------------

def _gchi_rhs_np(p, y_s):
    p = {k: float(v) for k, v in p._asdict().items()}

    def f(t, y):
        g, i, c, h = y
        dg = p["o_n"] * y_s * (1 - g) - p["omega_n"] * (1 + p["zeta"] * c / (c + p["k_kc"])) * g
        dev = i - p["i_bias"]
        j_ex = (-p["f_ex"] / 2 * (1 + np.tanh((abs(dev) - p["i_theta"]) / p["omega_i"]))
                * np.sign(dev))
        di = (p["o_beta"] * g
              + p["o_delta"] / (1 + i / p["kappa_delta"]) * c**2 / (c**2 + p["k_delta"]**2)
              - p["o_3k"] * c**4 / (c**4 + p["k_d"]**4) * i / (i + p["k_3k"])
              - p["omega_5p"] * i + j_ex)
        m = i / (i + p["d_1"]) * c / (c + p["d_5"])
        q2 = p["d_2"] * (i + p["d_1"]) / (i + p["d_3"])
        tau_h = 1 / (p["o_2"] * (q2 + c))
        dc = ((p["omega_c"] * m**3 * h**3 + p["omega_l"]) * (p["c_t"] - (1 + p["rho_a"]) * c)
              - p["o_p"] * c**2 / (c**2 + p["k_p"]**2))
        return [dg, di, dc, (q2 / (q2 + c) - h) / tau_h]
    return f


def test_gchi_oscillates_and_releases_at_upward_crossings():
    """Fig. 2 astrocyte, constant glutamate Y_S = 0.5 µM, C_Theta = 0.3 µM, 30 s at dt = 1 ms.

    (With Fig. 2's Ca parameters the limit cycle peaks at ~0.48 µM, below the default
    C_Theta = 0.5 µM, so only the initial transient would release; hence 0.3 µM.) After the
    first Ca spike the oscillation grows slowly towards that limit cycle (period 4.7 -> 4.9 s,
    peaks 0.34 -> 0.48 µM over 60 s). Measured over 10–30 s: period ~ 4.7 s, peaks ~ 0.35 µM,
    troughs ~ 0.27 µM; max |dCa| vs solve_ivp ~ 1e-9 µM.
    """
    dt, T, y_s = 1.0, 30_000, 0.5
    net = nj.Network(populations={"astro": nj.Population(GChI(), 1)}, projections={}, dt=dt)
    params = nj.init_params(net, {"astro": {"c_theta": 0.3}})
    rec_fields = nj.Record(*(("astro", f) for f in ("ca", "release", "g_a", "x_a", "ip3")))
    _, rec = nj.simulate(net, params, nj.init_state(net, params),
                         {"astro": jnp.full((T, 1), y_s)}, record=rec_fields)
    rec = {k: np.asarray(v)[:, 0] for k, v in rec["astro"].items()}
    ca = rec["ca"]

    t = dt * np.arange(1, T + 1)
    ref = solve_ivp(_gchi_rhs_np(params["astro"], y_s), (0.0, T * dt), [0.0, 0.0, 0.0, 0.9],
                    method="DOP853", rtol=1e-10, atol=1e-13, t_eval=t)
    np.testing.assert_allclose(ca, ref.y[2], rtol=0, atol=10 * ODE_PARITY_UM)
    np.testing.assert_allclose(rec["ip3"], ref.y[1], rtol=0, atol=10 * ODE_PARITY_UM)
    period, peak, trough, _ = _oscillation(ca, dt, skip=10_000)
    r_period, r_peak, r_trough, _ = _oscillation(ref.y[2], dt, skip=10_000)
    assert period == pytest.approx(r_period, rel=0.01)
    assert peak - trough == pytest.approx(r_peak - r_trough, rel=0.01)
    assert 4_500 < period < 5_000 and 0.33 < peak < 0.38 and 0.25 < trough < 0.29

    # releases: exactly at the numpy upward crossings of C_Theta (C(0) = 0)
    prev = np.r_[0.0, ca[:-1]]
    crossings = np.flatnonzero((prev <= 0.3) & (ca > 0.3))
    np.testing.assert_array_equal(np.flatnonzero(rec["release"]), crossings)
    assert len(crossings) == 6                        # rise of the first Ca spike, then cycles
    # gliotransmitter pools follow their exact recursions
    x_a, g_a = 1.0, 0.0
    x_rec, g_rec = [], []
    for r in rec["release"]:
        x_a = 1.0 - (1.0 - x_a) * np.exp(-6e-4 * dt)
        g_a = g_a * np.exp(-0.06 * dt)
        g_a += 6.5e-4 * 2e5 * 0.6 * x_a * r
        x_a -= 0.6 * x_a * r
        x_rec.append(x_a)
        g_rec.append(g_a)
    np.testing.assert_allclose(rec["x_a"], x_rec, **EXACT)
    np.testing.assert_allclose(rec["g_a"], g_rec, **EXACT)
    assert rec["g_a"].max() == pytest.approx(78.0, rel=1e-12)       # first release, x_A = 1


def test_gchi_validation():
    model = GChI()
    with pytest.raises(ValueError, match="GChIParams.omega_e"):
        model.validate(GChIParams.default(omega_e=60.0), 1, 1.0)     # /s instead of /ms
    with pytest.raises(ValueError, match="GChIParams.u_a"):
        model.validate(GChIParams.default(u_a=1.5), 1, 1.0)
    with pytest.raises(ValueError, match="GChIParams.c_theta"):
        model.validate(GChIParams.default(c_theta=0.0), 1, 1.0)
    model.validate(GChIParams.fig4(), 2, 1.0)


# ---------------------------------------------------------------------------------------------
# Tripartite Tsodyks–Markram
# ---------------------------------------------------------------------------------------------

def test_tripartite_without_gliotransmitter_equals_tsodyks_markram():
    rng = np.random.default_rng(1)
    T, n, dt = 600, 3, 1.0
    spikes = jnp.asarray((rng.random((T, n)) < 0.05).astype(float))
    tri, tm = TripartiteTM(), nj.TsodyksMarkram()
    p_tri = TripartiteTMParams.default(U0=0.3, alpha=1.0, tau_f=200.0, tau_d=300.0)
    p_tm = nj.TsodyksMarkramParams.default(U=0.3, tau_f=200.0, tau_d=300.0)

    @jax.jit
    def run(spikes):
        def body(c, s):
            a, b, z = c
            a, ra = tri.step(p_tri, a, s, dt)                          # no gate
            z, rz = tri.step(p_tri, z, s, dt, gate=jnp.zeros(1))       # gate of size 1, zero
            b, rb = tm.step(p_tm, b, s, dt)
            return (a, b, z), (ra, rz, rb)
        return jax.lax.scan(body, (tri.init(p_tri, n), tm.init(p_tm, n), tri.init(p_tri, n)),
                            spikes)[1]

    ra, rz, rb = run(spikes)
    assert float(rb.sum()) > 5.0
    np.testing.assert_allclose(ra, rb, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rz, rb, rtol=0, atol=1e-12)


def test_sustained_gliotransmitter_shifts_release_probability():
    """G_A = 2 µM for 3 s, then one spike from rest: efficacy = (1 - Gamma) U0* + alpha Gamma,
    Gamma = Gamma_inf (1 - e^{-k t}), Gamma_inf = O_G G / (O_G G + Omega_G) ~ 0.99723."""
    dt, T, G = 1.0, 3000, 2.0
    tri = TripartiteTM()
    p = TripartiteTMParams.default(alpha=jnp.array([0.0, 1.0]))       # per-synapse alpha
    spikes = jnp.zeros((T + 1, 2)).at[T].set(1.0)

    @jax.jit
    def run(spikes):
        def body(s, x):
            s, r = tri.step(p, s, x, dt, gate=jnp.full((2,), G))
            return s, r
        return jax.lax.scan(body, tri.init(p, 2), spikes)

    state, r = run(spikes)
    k = 1.5e-3 * G + 1.0 / 120000.0
    gamma = 1.5e-3 * G / k * (1.0 - np.exp(-k * dt * (T + 1)))
    np.testing.assert_allclose(state.gamma_s, gamma, **EXACT)
    u0 = (1.0 - gamma) * 0.6 + np.array([0.0, 1.0]) * gamma
    np.testing.assert_allclose(r[-1], u0, **EXACT)
    assert float(r[-1, 1]) > 0.998 > 0.6 > 0.01 > float(r[-1, 0])    # facilitated / depressed


def test_tripartite_gate_from_gchi_population_in_network():
    """SpikeSource -> LIF with TripartiteTM gated by a releasing GChI astrocyte's g_a."""
    dt, T = 1.0, 4000
    conn = nj.from_edges([0, 1], [0, 0], 2, 1)
    net = nj.Network(
        populations={"pre": nj.Population(nj.SpikeSource(), 2),
                     "astro": nj.Population(GChI(), 1),
                     "post": nj.Population(nj.LIF(), 1)},
        projections={"syn": nj.Projection(conn, pre="pre", post="post", receptor="i",
                                          synapse=nj.Instant(), stp=TripartiteTM(),
                                          gate=("astro", "g_a"))},
        dt=dt)
    p_syn = TripartiteTMParams.default(alpha=1.0)
    params = nj.init_params(net, {"astro": {"c_theta": 0.3},
                                  "syn": {"w": 1.0, "stp": p_syn}})
    rng = np.random.default_rng(2)
    pre = (rng.random((T, 2)) < 0.02).astype(float)
    inputs = {"pre": jnp.asarray(pre), "astro": jnp.full((T, 1), 0.5)}
    final, rec = nj.simulate(net, params, nj.init_state(net, params), inputs,
                             record=nj.Record(("astro", "g_a")))
    g_a = np.asarray(rec["astro"]["g_a"])[:, 0]
    assert g_a.max() > 50.0                                            # it released

    gamma, u, x = np.zeros(2), np.zeros(2), np.ones(2)
    for s, g in zip(pre, g_a):
        k = 1.5e-3 * g + 1.0 / 120000.0
        g_inf = 1.5e-3 * g / k
        gamma = g_inf + (gamma - g_inf) * np.exp(-k * dt)
        U = (1.0 - gamma) * 0.6 + gamma
        u = u * np.exp(-dt / (1000.0 / 3.33))
        x = 1.0 + (x - 1.0) * np.exp(-dt / 500.0)
        u = u + s * U * (1.0 - u)
        x = x - s * u * x
    stp = final.projs["syn"].stp
    np.testing.assert_allclose(stp.gamma_s, gamma, **EXACT)
    np.testing.assert_allclose(stp.u, u, **EXACT)
    np.testing.assert_allclose(stp.x, x, **EXACT)
    assert gamma.min() > 0.5


def test_tripartite_validation():
    tri = TripartiteTM()
    with pytest.raises(ValueError, match="TripartiteTMParams.U0"):
        tri.validate(TripartiteTMParams.default(U0=1.2), 1, 1.0)
    with pytest.raises(ValueError, match="TripartiteTMParams.alpha"):
        tri.validate(TripartiteTMParams.default(alpha=2.0), 1, 1.0)
    with pytest.raises(ValueError, match="TripartiteTMParams.tau_f"):
        tri.validate(TripartiteTMParams.default(tau_f=0.5), 1, 1.0)
    with pytest.raises(ValueError, match="TripartiteTMParams.omega_g"):
        tri.validate(TripartiteTMParams.default(omega_g=0.0), 1, 1.0)
    tri.validate(TripartiteTMParams.default(tau_f=0.0), 4, 1.0)
