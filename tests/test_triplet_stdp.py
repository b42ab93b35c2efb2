r"""Triplet STDP (Pfister & Gerstner 2006): event-based closed forms, Sjöström frequency dependence.

Every check is numeric. The rule is driven directly (``rule.update`` in a ``lax.scan`` with a
hand-built :class:`PlasticityContext` whose pre/post states are ``SpikeSource.State``) and once
inside ``nj.simulate`` (post = LIF neurons forced to fire by current pulses). The reference is an
independent event-based formula in NumPy: sums over spikes of exactly decayed trace sums,
e.g. $r_1(t) = \sum_{t_j < t} e^{-(t - t_j)/\tau_+}$ (all-to-all) or the latest earlier spike
only (nearest).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.plasticity.base import PlasticityContext
from neurojax.plasticity.triplet import TripletSTDP, TripletSTDPParams

RTOL = dict(rtol=1e-12, atol=1e-13)   # step-grid recursion vs exact exponentials, float64

# Pfister & Gerstner (2006) Table 4, visual cortex, all-to-all: the full model (NEST defaults).
FULL = dict(a2_plus=5e-10, a3_plus=6.2e-3, a2_minus=7e-3, a3_minus=2.3e-4, tau_y=125.0)
# All four terms of comparable size (so a wrong term cannot hide behind a tiny amplitude).
BALANCED = dict(a2_plus=4e-3, a3_plus=6.2e-3, a2_minus=7e-3, a3_minus=2.3e-3, tau_y=125.0)


# ---------------------------------------------------------------------------------------------
# Independent reference: event-based sums in NumPy
# ---------------------------------------------------------------------------------------------

def _seen(t_eval, t_src, tau, nearest):
    """Trace of spikes ``t_src`` seen at each ``t_eval`` (strictly earlier spikes only)."""
    lag = t_eval[:, None] - t_src[None, :]
    earlier = lag > 0
    if nearest:
        return np.exp(-np.where(earlier, lag, np.inf).min(axis=1, initial=np.inf) / tau)
    return np.where(earlier, np.exp(-np.where(earlier, lag, 0.0) / tau), 0.0).sum(axis=1)


def _terms(pre_t, post_t, p, nearest):
    """The four sums that multiply A2+, A3+, -A2-, -A3-: ``(ltp2, ltp3, ltd2, ltd3)``."""
    pre_t, post_t = np.asarray(pre_t, float), np.asarray(post_t, float)
    tau_plus, tau_minus, tau_x, tau_y = (float(p.tau_plus), float(p.tau_minus),
                                         float(p.tau_x), float(p.tau_y))
    r1 = _seen(post_t, pre_t, tau_plus, nearest)      # at each post spike
    o2 = _seen(post_t, post_t, tau_y, nearest)        # o2(t - eps): own spike excluded
    o1 = _seen(pre_t, post_t, tau_minus, nearest)     # at each pre spike
    r2 = _seen(pre_t, pre_t, tau_x, nearest)          # r2(t - eps)
    return np.array([r1.sum(), (r1 * o2).sum(), o1.sum(), (o1 * r2).sum()])


def closed_form_dw(pre_t, post_t, p, nearest=False):
    """Total weight change of one synapse from its pre and post spike times (ms)."""
    ltp2, ltp3, ltd2, ltd3 = _terms(pre_t, post_t, p, nearest)
    return (float(p.a2_plus) * ltp2 + float(p.a3_plus) * ltp3
            - float(p.a2_minus) * ltd2 - float(p.a3_minus) * ltd3)


def closed_form_table(post_idx, pre_spikes, post_spikes, times, p, nearest=False):
    """Expected ``(n_pre, k)`` dw on the padded synapse table (0 on padding)."""
    post_idx = np.asarray(post_idx)
    n_post = post_spikes.shape[1]
    out = np.zeros(post_idx.shape)
    for j in range(post_idx.shape[0]):
        for slot, i in enumerate(post_idx[j]):
            if i < n_post:
                out[j, slot] = closed_form_dw(times[pre_spikes[:, j] > 0],
                                              times[post_spikes[:, i] > 0], p, nearest)
    return out


def pairing(n_pairs, freq_hz, dt_pair, start=100.0):
    """``n_pairs`` pre spikes at ``freq_hz``; each post spike ``dt_pair`` ms after its pre."""
    pre = start + np.arange(n_pairs) * 1000.0 / freq_hz
    return pre, pre + dt_pair


# ---------------------------------------------------------------------------------------------
# Driver: rule.update in a scan with a hand-built context
# ---------------------------------------------------------------------------------------------

@functools.partial(jax.jit, static_argnums=0)
def run_rule(rule, params, post_idx, pre, post, dts):
    """Accumulated dw ``(n_pre, k)`` for spikes ``pre (T, n_pre)``, ``post (T, n_post)``.

    ``dts[k]`` is the time from step k-1 to step k (a constant ``dt`` on the step grid; the gaps
    between events for an event-driven drive).
    """
    n_pre, n_post = pre.shape[1], post.shape[1]
    conn = nj.Connectivity(post_idx=post_idx, n_pre=n_pre, n_post=n_post)
    zeros = jnp.zeros(post_idx.shape, pre.dtype)

    def body(carry, x):
        acc, pstate = carry
        s_pre, s_post, dt, t = x
        ctx = PlasticityContext(post_idx=post_idx, n_post=n_post, w=zeros, w_init=zeros,
                                pre=nj.SpikeSource.State(spike=s_pre),
                                post=nj.SpikeSource.State(spike=s_post),
                                modulators={}, dt=dt, t=t)
        dw, pstate = rule.update(params, jnp.zeros_like(acc), pstate, ctx)
        return (acc + jnp.where(ctx.mask, dw, 0.0), pstate), None

    steps = jnp.arange(pre.shape[0], dtype=jnp.int32)
    (acc, _), _ = jax.lax.scan(body, (zeros, rule.init(params, conn)), (pre, post, dts, steps))
    return acc


def _grid(T, steps_by_neuron):
    """``(T, n)`` 0/1 spikes from per-neuron lists of step indices."""
    s = np.zeros((T, len(steps_by_neuron)))
    for n, steps in enumerate(steps_by_neuron):
        s[np.asarray(steps, int), n] = 1.0
    return s


def _events(pre_t, post_t):
    """Event-driven drive of one synapse: a step per distinct spike time, ``dts`` = the gaps."""
    times = np.union1d(pre_t, post_t)
    pre = np.isin(times, pre_t).astype(float)[:, None]
    post = np.isin(times, post_t).astype(float)[:, None]
    dts = np.diff(times, prepend=times[0] - 1.0)
    return pre, post, dts


def _basis_params(**overrides):
    """Five parameter sets stacked on a leading axis: unit amplitudes e1..e4, then ``overrides``."""
    base = TripletSTDPParams.default(**overrides)
    amps = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
                     [float(base.a2_plus), float(base.a3_plus), float(base.a2_minus),
                      float(base.a3_minus)]], float)
    taus = {k: jnp.full((5,), getattr(base, k)) for k in ("tau_plus", "tau_minus", "tau_x", "tau_y")}
    return base, TripletSTDPParams(a2_plus=jnp.asarray(amps[:, 0]), a3_plus=jnp.asarray(amps[:, 1]),
                                   a2_minus=jnp.asarray(amps[:, 2]), a3_minus=jnp.asarray(amps[:, 3]),
                                   **taus)


# ---------------------------------------------------------------------------------------------
# (a) + (c): closed forms, term by term, on a padded 2 x 3 synapse table
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("traces", ["all_to_all", "nearest"])
def test_each_term_equals_event_based_closed_form(traces):
    """Every synapse of a padded table: the four terms (unit amplitudes) and a full parameter set.

    Pre 0 / post 0 run the pairing protocol (60 pairs at 20 Hz, +10 ms); the other trains are
    random (~40 Hz), so traces overlap and triplets occur. dt = 1 ms, spike times k * dt.
    """
    nearest = traces == "nearest"
    dt, T = 1.0, 3200
    rng = np.random.default_rng(7)
    pre_t, post_t = pairing(60, 20.0, 10.0)
    pre = rng.random((T, 2)) < 0.04
    post = rng.random((T, 3)) < 0.04
    pre[:, 0], post[:, 0] = False, False
    pre[(pre_t / dt).astype(int), 0] = True
    post[(post_t / dt).astype(int), 0] = True
    pre, post = pre.astype(float), post.astype(float)
    conn = nj.from_edges([0, 0, 0, 1, 1], [0, 1, 2, 2, 0], 2, 3)    # complete, row order mixed
    conn1 = nj.from_edges([0, 0, 1], [0, 2, 1], 2, 3, k=2)          # row 1 padded
    base, stacked = _basis_params(**BALANCED)
    rule = TripletSTDP(traces=traces)
    times = np.arange(T) * dt
    dts = jnp.full((T,), dt)

    run = jax.vmap(run_rule, in_axes=(None, 0, None, None, None, None))
    for c in (conn, conn1):
        got = np.asarray(run(rule, stacked, c.post_idx, jnp.asarray(pre), jnp.asarray(post), dts))
        unit = TripletSTDPParams.default(a2_plus=1.0, a3_plus=1.0, a2_minus=1.0, a3_minus=1.0,
                                         tau_y=base.tau_y)
        idx = np.asarray(c.post_idx)
        expected_terms = np.zeros((4,) + idx.shape)
        for j in range(2):
            for slot, i in enumerate(idx[j]):
                if i < 3:
                    expected_terms[:, j, slot] = _terms(times[pre[:, j] > 0], times[post[:, i] > 0],
                                                        unit, nearest)
        sign = np.array([1.0, 1.0, -1.0, -1.0])[:, None, None]
        np.testing.assert_allclose(got[:4], sign * expected_terms, **RTOL)
        np.testing.assert_allclose(got[4], closed_form_table(idx, pre, post, times, base, nearest),
                                   **RTOL)
        assert (expected_terms[:, idx < 3] > 1.0).all()   # every term is exercised
    # The pairing synapse 0 -> 0 with the full visual-cortex set: the protocol's closed form.
    full = TripletSTDPParams.default(**FULL)
    one = nj.from_edges([0], [0], 1, 1)
    got = float(run_rule(rule, full, one.post_idx, jnp.asarray(_grid(T, [pre_t / dt])),
                         jnp.asarray(_grid(T, [post_t / dt])), dts)[0, 0])
    np.testing.assert_allclose(got, closed_form_dw(pre_t, post_t, full, nearest), **RTOL)
    # 20 Hz pre-before-post pairing potentiates: all-to-all 0.247, nearest 0.0067 (the full set
    # was fitted with all-to-all traces; nearest traces drop the earlier spikes' triplet terms).
    assert got > (0.001 if nearest else 0.1)


def test_nearest_spike_differs_from_all_to_all():
    """Bursts (pre, 3 post at 6-ms intervals, pre) at 10 Hz: each variant equals its own closed
    form, and they differ (nearest keeps only the latest spike in every trace)."""
    dt, T = 1.0, 1000
    starts = np.arange(10) * 100 + 20
    pre_steps = np.concatenate([starts, starts + 24])
    post_steps = np.concatenate([starts + 6, starts + 12, starts + 18])
    pre, post = _grid(T, [pre_steps]), _grid(T, [post_steps])
    p = TripletSTDPParams.default(**BALANCED)
    conn = nj.from_edges([0], [0], 1, 1)
    out = {}
    for traces in ("all_to_all", "nearest"):
        out[traces] = float(run_rule(TripletSTDP(traces=traces), p, conn.post_idx, jnp.asarray(pre),
                                     jnp.asarray(post), jnp.full((T,), dt))[0, 0])
        expected = closed_form_dw(pre_steps * dt, post_steps * dt, p, traces == "nearest")
        np.testing.assert_allclose(out[traces], expected, **RTOL)
    # all-to-all 0.0638, nearest 0.0496: the earlier spikes of each burst add 29 % more.
    assert out["all_to_all"] > 1.2 * out["nearest"] > 0.0


# ---------------------------------------------------------------------------------------------
# (b) Sjöström et al. (2001) frequency dependence
# ---------------------------------------------------------------------------------------------

FREQS = (0.1, 1.0, 10.0, 20.0, 30.0, 40.0, 50.0)


@jax.jit
def _protocol_sweep(params, pre, post, dts):
    """dw of one synapse for a batch of event-driven protocols (vmapped over the batch)."""
    post_idx = jnp.zeros((1, 1), jnp.int32)
    return jax.vmap(lambda a, b, c: run_rule(TripletSTDP(), params, post_idx, a, b, c)[0, 0])(
        pre, post, dts)


@pytest.mark.parametrize("set_name", ["minimal", "full"])
def test_sjostrom_frequency_dependence(set_name):
    """60 pairings at 0.1–50 Hz, post 10 ms after (+10) or before (-10) pre.

    Sjöström et al. (2001): at 0.1 Hz pre-before-post does not potentiate while post-before-pre
    depresses; LTP grows with the pairing frequency; at 40–50 Hz both orders potentiate. The
    rule is driven on the event grid (one step per spike), so each value is also checked against
    the closed form.
    """
    p = TripletSTDPParams.default(**({} if set_name == "minimal" else FULL))
    protocols = [pairing(60, f, d) for f in FREQS for d in (10.0, -10.0)]
    drives = [_events(*pp) for pp in protocols]
    pre, post, dts = (jnp.asarray(np.stack(x)) for x in zip(*drives))
    dw = np.asarray(_protocol_sweep(p, pre, post, dts))
    for got, pp in zip(dw, protocols):
        np.testing.assert_allclose(got, closed_form_dw(*pp, p), rtol=1e-12, atol=1e-300)
    ltp, ltd = dw[0::2], dw[1::2]          # +10 ms and -10 ms, by frequency
    # 0.1 Hz: independent pairs. -10 ms: 60 * A2- * exp(-10/tau_-) exactly; +10 ms: ~0 (>= 0).
    np.testing.assert_allclose(ltd[0], -60 * float(p.a2_minus) * np.exp(-10.0 / 33.7), rtol=1e-12)
    assert 0.0 <= ltp[0] < 1e-6 * abs(ltd[0])
    assert (np.diff(ltp) > 0).all()                            # LTP grows with frequency
    assert ltp[FREQS.index(10.0)] > 0.1                        # ...and is clear from 10 Hz on
    assert (ltd[:FREQS.index(20.0) + 1] < 0).all()             # post-pre: LTD up to 20 Hz
    assert (ltd[FREQS.index(40.0):] > 0).all()                 # ...LTP at 40 and 50 Hz
    assert (ltp[FREQS.index(40.0):] > 0).all()
    # At 50 Hz both orders are the same periodic train up to the first and last pair.
    np.testing.assert_allclose(ltd[-1], ltp[-1], rtol=0.05)


# ---------------------------------------------------------------------------------------------
# (d) jit + vmap over a batch of spike trains
# ---------------------------------------------------------------------------------------------

def test_vmap_over_spike_trains_equals_loop_of_single_runs():
    B, T, dt = 4, 400, 1.0
    rng = np.random.default_rng(3)
    pre = (rng.random((B, T, 2)) < 0.05).astype(float)
    post = (rng.random((B, T, 2)) < 0.05).astype(float)
    conn = nj.from_edges([0, 0, 1], [0, 1, 1], 2, 2)
    p = TripletSTDPParams.default(**BALANCED)
    rule = TripletSTDP()
    dts = jnp.full((T,), dt)
    batched = np.asarray(jax.vmap(run_rule, in_axes=(None, None, None, 0, 0, None))(
        rule, p, conn.post_idx, jnp.asarray(pre), jnp.asarray(post), dts))
    looped = np.stack([np.asarray(run_rule(rule, p, conn.post_idx, jnp.asarray(pre[b]),
                                           jnp.asarray(post[b]), dts)) for b in range(B)])
    np.testing.assert_allclose(batched, looped, rtol=1e-14, atol=1e-15)
    times = np.arange(T) * dt
    for b in range(B):
        np.testing.assert_allclose(
            looped[b], closed_form_table(conn.post_idx, pre[b], post[b], times, p), **RTOL)
    assert np.ptp(looped[:, 0, 0]) > 1e-3     # the trains give different numbers


# ---------------------------------------------------------------------------------------------
# Inside nj.simulate: SpikeSource pre, LIF post forced to fire by current pulses
# ---------------------------------------------------------------------------------------------

def test_simulate_matches_closed_form():
    """2 SpikeSource -> 2 LIF (all-to-all). Posts fire exactly at 1e5 pA pulses; w = 1e-9 pA
    (plus dw < 1 pA) cannot make them fire. ``state.projs['syn'].dw`` equals the closed form."""
    dt, T = 1.0, 600
    pre_steps = [[20, 60, 100, 103, 250, 300, 420, 500], [35, 70, 71, 180, 260, 400, 590]]
    post_steps = [[30, 64, 90, 110, 113, 240, 305, 430, 505], [10, 40, 75, 80, 200, 262, 265, 410]]
    pre, post = _grid(T, pre_steps), _grid(T, post_steps)
    conn = nj.from_edges([0, 0, 1, 1], [0, 1, 0, 1], 2, 2)
    rule = TripletSTDP()
    net = nj.Network({"pre": nj.Population(nj.SpikeSource(), 2), "post": nj.Population(nj.LIF(), 2)},
                     {"syn": nj.Projection(conn, "pre", "post", plasticity=rule)},
                     dt=dt, allow_large_dt=True)
    p = TripletSTDPParams.default(**BALANCED)
    params = nj.init_params(net, {"syn": {"w": 1e-9, "plast": p}})
    state = nj.init_state(net, params)
    final, rec = nj.simulate(net, params, state, {"pre": jnp.asarray(pre),
                                                  "post": jnp.asarray(1e5 * post)})
    np.testing.assert_array_equal(np.asarray(rec["post"]), post)
    np.testing.assert_array_equal(np.asarray(rec["pre"]), pre)
    expected = closed_form_table(conn.post_idx, pre, post, np.arange(T) * dt, p)
    np.testing.assert_allclose(np.asarray(final.projs["syn"].dw), expected, **RTOL)
    assert np.abs(expected).min() > 1e-3


# ---------------------------------------------------------------------------------------------
# (e) validation
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, message", [
    ("tau_x", -5.0, "TripletSTDPParams.tau_x must be > 0"),
    ("tau_plus", 0.0, "TripletSTDPParams.tau_plus must be > 0"),
    ("tau_y", np.nan, "TripletSTDPParams.tau_y contains NaN"),
    ("a3_minus", -1e-3, "TripletSTDPParams.a3_minus must be >= 0"),
    ("a2_plus", np.nan, "TripletSTDPParams.a2_plus contains NaN"),
])
def test_validate_names_the_field(field, value, message):
    bad = TripletSTDPParams.default(**{field: value})
    conn = nj.from_edges([0], [0], 1, 1)
    with pytest.raises(ValueError, match=message):
        TripletSTDP().validate(bad, conn)
    net = nj.Network({"a": nj.Population(nj.SpikeSource(), 1), "b": nj.Population(nj.LIF(), 1)},
                     {"ab": nj.Projection(conn, "a", "b", plasticity=TripletSTDP())}, dt=0.1)
    with pytest.raises(ValueError, match=message):
        nj.init_params(net, {"ab": {"w": 1.0, "plast": bad}})
    TripletSTDP().validate(TripletSTDPParams.default(), conn)     # defaults pass


def test_bad_static_choices_raise():
    with pytest.raises(ValueError, match="TripletSTDP.traces"):
        TripletSTDP(traces="nearest_pair")
    with pytest.raises(TypeError, match="TripletSTDPParams"):
        TripletSTDP().validate(nj.plasticity.STDPParams.default(), nj.from_edges([0], [0], 1, 1))
    with pytest.raises(TypeError, match="no field"):
        TripletSTDPParams.default(tau_z=3.0)
