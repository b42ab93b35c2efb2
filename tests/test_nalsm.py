"""NALSM pieces against the spec's numbers and its reference loop (spec nalsm_astro.md §1.4–1.9, §1.13).

* ``ResetKernel`` + ``Instant``: one presynaptic spike adds W, W e^-1, W e^-2, ... (reset, not sum);
* ``DiscreteLIF``: fires every 3rd step under strong drive (t_ref = 2 ms);
* ``AstrocyteSTDP``: symmetric pair schedules cancel when A = eta; the trace is the spec's;
* ``LeakyIntegratorAstrocyte``: fixed point w_A D + b_A, in-sample decays;
* the whole pipeline reproduces a NumPy transcription of the spec's loop (steps 1–8 with STDP,
  traces, astrocyte and decays): spikes identical after the one-step shift, v, A and every
  weight at every step to 1e-10 (float64), for plastic, decaying and static liquids (vmapped);
* ``ActivityDependentSTDP``: gating windows on a hand-built case; bad params raise.
"""
import collections
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.neurons import DiscreteLIF, DiscreteLIFParams
from neurojax.plasticity.base import PlasticityContext
from neurojax.plasticity.nalsm import (NALSM_TRACE_DECAY, ActivityDependentSTDP,
                                       AstrocyteSTDP, AstrocyteSTDPParams)
from neurojax.plasticity.stdp import decay_and_bump
from neurojax.synapses import ResetKernel, ResetKernelParams
from tolerances import EXACT

ETA0, A_TRACE, D_TRACE = 0.15, 0.1, NALSM_TRACE_DECAY


def _to_all(n_pre, n_post=1):
    """Every pre neuron to every post neuron."""
    pre, post = np.divmod(np.arange(n_pre * n_post), n_post)
    return nj.from_edges(pre, post, n_pre, n_post)


# ---------------------------------------------------------------------------------------------
# (1) the reset-not-sum kernel
# ---------------------------------------------------------------------------------------------


def test_reset_kernel_adds_w_e1_e2_to_the_membrane():
    """A spike of weight W adds W, W e^-1, W e^-2, ... to v on consecutive steps (delay 1); a new
    spike *resets* the kernel (W again, not W + W e^-k); before the first spike the background
    is the kernel of Delta_0 = 20 ms advanced by the elapsed time."""
    T, W = 40, 1.7
    spikes_at = (5, 12, 14)
    net = nj.Network({"pre": nj.Population(nj.SpikeSource(), 1),
                      "post": nj.Population(DiscreteLIF(), 1)},
                     {"syn": nj.Projection(_to_all(1), "pre", "post", stp=ResetKernel(),
                                           synapse=nj.Instant())}, dt=1.0)
    params = nj.init_params(net, {"syn": W, "post": {"theta": 1e9}})
    x = np.zeros((T, 1))
    x[list(spikes_at), 0] = 1.0
    _, rec = nj.simulate(net, params, nj.init_state(net, params), {"pre": x},
                         record=nj.Record(("post", "v")))
    v = np.asarray(rec["post"]["v"][:, 0])
    increment = v - np.concatenate([[0.0], v[:-1]]) * (1.0 - 1.0 / 64.0)   # leak removed exactly
    expected = np.zeros(T)
    for n in range(1, T):                      # emitted at n - 1, delivered at n
        last = max([-21] + [t for t in spikes_at if t <= n - 1])   # Delta_0 = 20 at reference step 0
        expected[n] = W * np.exp(-min(n - 1 - last, 100))
    np.testing.assert_allclose(increment, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(increment[6:10], W * np.exp(-np.arange(4.0)), rtol=1e-12)
    np.testing.assert_allclose(increment[13:17], W * np.exp(-np.array([0.0, 1.0, 0.0, 1.0])),
                               rtol=1e-12)


def test_reset_kernel_clip_and_initial_signal():
    """Delta saturates at delta_max; the kernel scales with 1/tau_u; initial_signal is g(Delta_0)."""
    k = ResetKernel()
    p = ResetKernelParams.default(tau_u=2.0, delta0=1.0, delta_max=3.0)
    s, out = k.init(p, 2), []
    for spike in ([1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 0.0]):
        s, g = k.step(p, s, jnp.array(spike), 1.0)
        out.append(np.asarray(g))
    delta = np.array([[0, 2], [1, 3], [2, 3], [3, 3], [3, 3], [0, 3]], float)
    np.testing.assert_allclose(np.array(out), np.exp(-delta / 2.0) / 2.0, **EXACT)
    np.testing.assert_allclose(k.initial_signal(p, 2), np.exp(-0.5) / 2.0, **EXACT)


# ---------------------------------------------------------------------------------------------
# (2) refractoriness
# ---------------------------------------------------------------------------------------------


def test_discrete_lif_strong_drive_fires_every_third_step():
    """I = 1000 mV/ms >> theta: spikes at 0, 3, 6, ... with t_ref = 2 ms (dt = 1 ms); t_ref = 0
    fires every step, t_ref = 4 every 5th. v keeps integrating while refractory."""
    T = 30
    net = nj.Network({"n": nj.Population(DiscreteLIF(), 1)}, {}, dt=1.0)
    for t_ref, period in ((2.0, 3), (0.0, 1), (4.0, 5)):
        params = nj.init_params(net, {"n": {"t_ref": t_ref}})
        _, rec = nj.simulate(net, params, nj.init_state(net, params), {"n": jnp.full((T, 1), 1000.0)},
                             record=nj.Record(("n", "spike"), ("n", "v")))
        spike = np.asarray(rec["n"]["spike"][:, 0])
        np.testing.assert_array_equal(np.flatnonzero(spike), np.arange(0, T, period))
        if period == 3:                        # refractory step 1 after a spike: v = 0 + 1000
            np.testing.assert_allclose(rec["n"]["v"][1, 0], 1000.0, **EXACT)


# ---------------------------------------------------------------------------------------------
# (3) STDP: trace identity and symmetric pair schedules
# ---------------------------------------------------------------------------------------------


def test_trace_is_the_reference_recursion():
    """decay_and_bump with bump a*s: the 'seen' trace obeys the reference x <- d (x + a s) bit
    for bit (seen_{t+1} = d (seen_t + a s_t)), so the spec's trace-after-update convention and
    neurojax's "decay, use, add" are the same recursion."""
    s = np.random.default_rng(0).random(200) < 0.3
    x_ref, y, seen = 0.0, jnp.zeros(()), []
    ref = []
    for t in range(200):
        ref.append(x_ref)                      # reference uses x before this step's update
        seen_t, y = decay_and_bump(y, A_TRACE * float(s[t]), D_TRACE, False)
        seen.append(float(seen_t))
        x_ref = D_TRACE * (x_ref + A_TRACE * float(s[t]))
    np.testing.assert_array_equal(seen, ref)                  # same float operations


PAIR_GAP, PAIR_LAGS = 300, (1, 3, 7)


def _pair_schedule():
    """For every lag L: a pre->post pair (+L), later a post->pre pair (-L), 300 steps apart."""
    pre, post, t = [], [], 10
    for lag in PAIR_LAGS:
        pre.append(t), post.append(t + lag)
        t += PAIR_GAP
        post.append(t), pre.append(t + lag)
        t += PAIR_GAP
    return pre, post, t


def _record_dw(state):
    return {name: s.dw for name, s in state.projs.items() if s.dw is not None}


def test_symmetric_pairs_cancel_when_depression_equals_eta():
    """A = eta: +L and -L pairings cancel for E and I conventions (to 1e-12); the intermediate
    change is eta a d^L. With a constant astrocyte A = 0.3 the net change is (eta - A) sum a d^L."""
    pre_t, post_t, T = _pair_schedule()
    A_CONST = 0.3
    rules = {"E": AstrocyteSTDP(), "I": AstrocyteSTDP(pre_inhibitory=True),
             "E_astro": AstrocyteSTDP("astro"), "I_astro": AstrocyteSTDP("astro", pre_inhibitory=True)}
    w0 = {"E": 1.5, "I": -1.5, "E_astro": 1.5, "I_astro": -1.5}
    net = nj.Network(
        {"pre": nj.Population(nj.SpikeSource(), 1), "post": nj.Population(DiscreteLIF(), 1),
         "astro": nj.Population(nj.LeakyIntegratorAstrocyte(), 1)},
        {name: nj.Projection(_to_all(1), "pre", "post", stp=ResetKernel(), synapse=nj.Instant(),
                             plasticity=rule, modulators=("astro",))
         for name, rule in rules.items()}, dt=1.0)
    params = nj.init_params(net, {**w0, "astro": {"w": 0.0, "b": A_CONST, "a0": A_CONST}})
    x_pre, i_post = np.zeros((T, 1)), np.zeros((T, 1))
    x_pre[pre_t] = 1.0
    i_post[post_t] = 1000.0                    # post spikes exactly at these steps
    _, rec = nj.simulate(net, params, nj.init_state(net, params), {"pre": x_pre, "post": i_post},
                         record=_record_dw)
    dw = {k: np.asarray(v[:, 0, 0]) for k, v in rec.items()}
    pair = A_TRACE * D_TRACE ** np.array(PAIR_LAGS, float)
    for name in ("E", "I"):
        np.testing.assert_allclose(dw[name][-1], 0.0, atol=1e-12)
        # after the first (+1) pairing and before the -1 pairing: +eta a d (E), -eta a d (I)
        sign = 1.0 if name == "E" else -1.0
        np.testing.assert_allclose(dw[name][10 + PAIR_GAP - 5], sign * ETA0 * pair[0], rtol=1e-12)
    for name in ("E_astro", "I_astro"):
        np.testing.assert_allclose(dw[name][-1], (ETA0 - A_CONST) * pair.sum(), rtol=1e-10)
    # the first change lands one step after the pairing step (held for one step, spec order)
    first = 10 + PAIR_LAGS[0]
    assert dw["E"][first] == 0.0 and dw["E"][first + 1] != 0.0


# ---------------------------------------------------------------------------------------------
# (4, 5) astrocyte fixed point and in-sample decays
# ---------------------------------------------------------------------------------------------


def test_astrocyte_fixed_point_and_decay():
    """liquid (+1) and input (-1) spike counts through Instant synapses, D = 5 - 2 = 3 from step 1:
    A(n) = A* + (A0 - A*)(1 - 1/tau)^n -> A* = w_A D + b_A. With decay 0.99 and no drive
    A(n) = A0 0.99^(n+1) and the gain on w_A, b_A is 0.99^(n+1) (A(250 ms) = 0.15 * 0.99^250)."""
    T, w_a, b_a, tau = 2000, 0.015, 0.15, 100.0
    net = nj.Network(
        {"liq": nj.Population(nj.SpikeSource(), 5), "inp": nj.Population(nj.SpikeSource(), 2),
         "astro": nj.Population(nj.LeakyIntegratorAstrocyte(), 1)},
        {"liq->astro": nj.Projection(_to_all(5), "liq", "astro", receptor="drive", synapse=nj.Instant()),
         "inp->astro": nj.Projection(_to_all(2), "inp", "astro", receptor="drive", synapse=nj.Instant())},
        dt=1.0)
    rec_a = nj.Record(("astro", "a"), ("astro", "gain"))

    def run(decay, drive):
        params = nj.init_params(net, {"liq->astro": 1.0, "inp->astro": -1.0, "astro": {
            "w": w_a, "b": b_a, "a0": b_a, "tau": tau, "decay": decay}})
        x = {"liq": jnp.full((T, 5), drive), "inp": jnp.full((T, 2), drive)}
        _, rec = nj.simulate(net, params, nj.init_state(net, params), x, record=rec_a)
        return np.asarray(rec["astro"]["a"][:, 0]), np.asarray(rec["astro"]["gain"][:, 0])

    n = np.arange(T)
    a, _ = run(1.0, 1.0)
    a_star = w_a * 3 + b_a
    np.testing.assert_allclose(a, a_star + (b_a - a_star) * (1 - 1 / tau) ** n, rtol=1e-12)
    np.testing.assert_allclose(a[-1], 0.195, atol=1e-9)
    a, gain = run(0.99, 0.0)
    np.testing.assert_allclose(a, b_a * 0.99 ** (n + 1), rtol=1e-12)
    np.testing.assert_allclose(gain, 0.99 ** (n + 1), rtol=1e-12)
    np.testing.assert_allclose(a[249], 0.15 * 0.99 ** 250, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# (6) the whole pipeline against the spec's loop
# ---------------------------------------------------------------------------------------------

N_GRID, N_IN, T_RUN = (3, 3, 3), 10, 250
THETA, TAU_V, T_REF, TAU_A, W_MAX = 20.0, 64.0, 2, 100.0, 3.0


def reference_loop(W, kind, i_ext, *, eta0, decay, a0, w_a, b_a):
    """Direct NumPy transcription of spec §1.4 steps 1–8 (with §1.6–1.7), dt = 1 ms.

    W: ``(N, N + n_in)`` dense ``W[post, pre]`` (liquid posts only); kind: per column 0 = E,
    1 = I, 2 = input; i_ext: ``(T, n_in)``. Returns per step s(t), v after the reset, W and A
    after step 8.
    """
    N, M = W.shape
    mask = W != 0
    lo = np.where(kind == 0, 0.0, -W_MAX)
    hi = np.where(kind == 1, 0.0, W_MAX)
    v, r, delta, x = np.zeros(M), np.zeros(M), np.full(M, 20.0), np.zeros(M)
    A, wA, bA, eta = a0, w_a, b_a, eta0
    out = collections.defaultdict(list)
    for t in range(len(i_ext)):
        s = ((v >= THETA) & (r <= 0)).astype(float)              # 1 spike
        v = v * (1 - s)                                          # 2 reset
        out["s"].append(s), out["v"].append(v.copy())            # 3 record
        delta = np.where(s > 0, 0.0, delta)                      # 4 clock reset
        current = np.concatenate([W @ (np.exp(-delta / 1.0) / 1.0), i_ext[t]])
        v = v + current + 0.0 - v / TAU_V                        # 5 integrate
        delta = np.minimum(delta + 1, 100.0)                     # 6
        r = np.where(s > 0, T_REF, r - 1)                        # 7 refractory
        lam_c = np.where(kind == 1, -A, eta)                     # 8 STDP (traces of earlier steps)
        lam_a = np.where(kind == 1, eta, -A)
        dW = lam_c[None, :] * x[None, :] * s[:N, None] + lam_a[None, :] * x[:N, None] * s[None, :]
        W = np.where(mask, np.clip(W + dW, lo[None, :], hi[None, :]), 0.0)
        x = D_TRACE * (x + A_TRACE * s)                          #   trace update
        A = A + (wA * (s[:N].sum() - s[N:].sum()) + bA - A) / TAU_A   # astrocyte
        eta, A, wA, bA = eta * decay, A * decay, wA * decay, bA * decay
        out["W"].append(W.copy()), out["A"].append(A)
    return {k: np.array(v) for k, v in out.items()}


def _dense(conn, w):
    """``(n_post, n_pre)`` matrix from a padded table and its weights."""
    idx, w = np.asarray(conn.post_idx), np.broadcast_to(np.asarray(w), conn.post_idx.shape)
    out = np.zeros((conn.n_post + 1, conn.n_pre))
    out[idx, np.arange(conn.n_pre)[:, None]] = w
    return out[:-1]


def _liquid(key):
    k_conn, k_in, k_sign = jax.random.split(key, 3)
    conn = nj.distance_based(k_conn, N_GRID)
    n = conn.n_pre
    n_e = int(round(0.8 * n))
    idx = np.asarray(conn.post_idx)
    rows = {"E->L": idx.copy(), "I->L": idx.copy()}
    rows["E->L"][n_e:] = n
    rows["I->L"][:n_e] = n
    conns = {name: nj.Connectivity(post_idx=jnp.asarray(r, jnp.int32), n_pre=n, n_post=n)
             for name, r in rows.items()}
    # input density 0.5 (NALSM: 0.15) so that a 27-neuron liquid is active enough to learn
    conns["inp->L"] = nj.fixed_total(k_in, N_IN, n, int(np.floor(n * N_IN * 0.5)))
    sign = np.where(np.random.default_rng(int(k_sign[-1])).random(conns["inp->L"].post_idx.shape)
                    < 0.5, -1.0, 1.0)
    weights = {"E->L": W_MAX, "I->L": -W_MAX, "inp->L": W_MAX * sign}
    return conns, weights, n, n_e


def _record_all(state):
    return {"L": state.pops["L"].spike, "inp": state.pops["inp"].spike, "v": state.pops["L"].v,
            "v_inp": state.pops["inp"].v, "A": state.pops["astro"].a[0],
            "eta": state.projs["E->L"].plast.eta,
            **{name: state.projs[name].dw for name in ("E->L", "I->L", "inp->L")}}


@pytest.mark.parametrize("learn_events", [None, 2])
def test_pipeline_reproduces_the_reference_loop(learn_events):
    """DiscreteLIF + ResetKernel + Instant + AstrocyteSTDP + astrocyte on a 3x3x3 liquid with 10
    Bernoulli inputs, vmapped over three runs (initialisation phase: decay 1; in-sample phase:
    decay 0.99; static liquid: eta = A = 0): our spike[n] == reference s(n + 1), and v, A and
    every weight equal the reference at every step to 1e-10; eta(250 ms) = 0.15 * 0.99^250.
    ``learn_events=2``: the rule's event-driven in-place path (``accumulate``, batched by its
    vmap rule), with extra passes on most steps, reproduces the same loop."""
    conns, weights, n, n_e = _liquid(jax.random.PRNGKey(3))
    ALL = ("inp->L", "E->L", "I->L")
    stdp = {"inp->L": AstrocyteSTDP("astro"), "E->L": AstrocyteSTDP("astro"),
            "I->L": AstrocyteSTDP("astro", pre_inhibitory=True)}
    pre = {"inp->L": "inp", "E->L": "L", "I->L": "L"}
    projs = {name: nj.Projection(conns[name], pre[name], "L", stp=ResetKernel(), synapse=nj.Instant(),
                                 plasticity=stdp[name], modulators=("astro",),
                                 learn_events=learn_events) for name in ALL}
    projs["L->astro"] = nj.Projection(_to_all(n), "L", "astro", receptor="drive", synapse=nj.Instant())
    projs["inp->astro"] = nj.Projection(_to_all(N_IN), "inp", "astro", receptor="drive",
                                        synapse=nj.Instant())
    net = nj.Network({"inp": nj.Population(DiscreteLIF(), N_IN), "L": nj.Population(DiscreteLIF(), n),
                      "astro": nj.Population(nj.LeakyIntegratorAstrocyte(), 1)}, projs, dt=1.0)

    runs = [dict(eta0=0.15, decay=1.0, a0=0.15, w_a=0.015, b_a=0.15),
            dict(eta0=0.15, decay=0.99, a0=0.15, w_a=0.015, b_a=0.15),
            dict(eta0=0.0, decay=1.0, a0=0.0, w_a=0.0, b_a=0.0)]
    params, states = [], []
    for run in runs:
        over = {name: {"w": weights[name], "plast": stdp[name].default_params(
            eta0=run["eta0"], decay=run["decay"], **({"w_min": -W_MAX} if name == "inp->L" else {}))}
            for name in ALL}
        over.update({"L->astro": 1.0, "inp->astro": -1.0, "astro": {
            "tau": TAU_A, "w": run["w_a"], "b": run["b_a"], "a0": run["a0"], "decay": run["decay"]}})
        p = nj.init_params(net, over)
        s = nj.init_state(net, p)
        projs_state = dict(s.projs)
        for name in ALL:     # the reference's kernel of step 0 (Delta_0 = 20) is in the delay line
            g0 = ResetKernel().initial_signal(p[name].stp, conns[name].n_pre)
            projs_state[name] = projs_state[name]._replace(buffer=g0[None, :])
        params.append(p), states.append(s._replace(projs=projs_state))
    stack = lambda trees: jax.tree.map(lambda *x: jnp.stack(x), *trees)   # noqa: E731
    rng = np.random.default_rng(7)
    i_ext = 100.0 * (rng.random((len(runs), T_RUN + 1, N_IN)) < 0.5)

    sim = jax.jit(jax.vmap(lambda p, s, x: nj.simulate(net, p, s, {"inp": x}, record=_record_all)))
    _, rec = sim(stack(params), stack(states), jnp.asarray(i_ext[:, :T_RUN]))
    rec = jax.tree.map(np.asarray, rec)

    kind = np.concatenate([np.zeros(n_e), np.ones(n - n_e), np.full(N_IN, 2)])
    W0 = np.concatenate([_dense(conns["E->L"], weights["E->L"]) + _dense(conns["I->L"], weights["I->L"]),
                         _dense(conns["inp->L"], weights["inp->L"])], axis=1)
    for b, run in enumerate(runs):
        ref = reference_loop(W0.copy(), kind, i_ext[b], **run)
        assert ref["s"][0].sum() == 0                          # the reference never spikes at t = 0
        np.testing.assert_array_equal(rec["L"][b], ref["s"][1:, :n])
        np.testing.assert_array_equal(rec["inp"][b], ref["s"][1:, n:])
        np.testing.assert_allclose(rec["v"][b], ref["v"][1:, :n], **EXACT)
        np.testing.assert_allclose(rec["v_inp"][b], ref["v"][1:, n:], **EXACT)
        np.testing.assert_allclose(rec["A"][b], ref["A"][:T_RUN], **EXACT)
        ours = np.stack([np.concatenate([
            _dense(conns["E->L"], weights["E->L"] + rec["E->L"][b, t])
            + _dense(conns["I->L"], weights["I->L"] + rec["I->L"][b, t]),
            _dense(conns["inp->L"], weights["inp->L"] + rec["inp->L"][b, t])], axis=1)
            for t in range(T_RUN)])
        np.testing.assert_allclose(ours, ref["W"][:T_RUN], **EXACT)
        # the comparison is not vacuous: the liquid is active and (when plastic) weights move
        assert rec["L"][b].sum() > 400 and rec["inp"][b].sum() > 600
        moved = np.abs(ours[-1] - W0).max()
        assert (moved > 0.05) if run["eta0"] else moved == 0.0
        np.testing.assert_allclose(rec["eta"][b, -1], run["eta0"] * run["decay"] ** T_RUN, **EXACT)
    np.testing.assert_allclose(rec["eta"][1, 249], 0.15 * 0.99 ** 250, **EXACT)
    assert rec["A"][0].min() != rec["A"][0].max()              # the astrocyte state moved


# ---------------------------------------------------------------------------------------------
# (7) AP-STDP gating, validation
# ---------------------------------------------------------------------------------------------

Spikes = collections.namedtuple("Spikes", "spike")
POST_IDX = np.array([[0, 1, 2], [0, 1, 2]], np.int32)


@functools.partial(jax.jit, static_argnums=0)
def _update_by_hand(rule, params, state, pre, post, w):
    """One rule update on a hand-built context (2 pre x 3 post, all-to-all)."""
    ctx = PlasticityContext(post_idx=jnp.asarray(POST_IDX), n_post=3, w=jnp.full((2, 3), w),
                            w_init=jnp.full((2, 3), w), pre=Spikes(pre), post=Spikes(post),
                            modulators={}, dt=1.0, t=jnp.zeros((), jnp.int32))
    return rule.update(params, jnp.zeros((2, 3)), state, ctx)


def test_activity_dependent_stdp_gating_by_hand():
    """C <- C - C/tau_C + s; positive terms only for C_post in (37, 59), negative only in (15, 37).
    Posts with C = 20.98 (depression window), 40.96 (potentiation window), 100.9 (neither)."""
    eta, d = 0.15, D_TRACE
    x_pre, x_post = np.array([0.2, 0.4]), np.array([0.1, 0.3, 0.5])
    s_pre, s_post = np.array([1.0, 0.0]), np.array([1.0, 1.0, 1.0])
    c_new = np.array([20.0, 40.0, 100.0]) * 0.999 + s_post
    for inhibitory, w0 in ((False, 1.0), (True, -1.0)):
        rule = ActivityDependentSTDP(pre_inhibitory=inhibitory)
        p = rule.default_params()
        s0 = rule.init(p, nj.Connectivity(post_idx=jnp.asarray(POST_IDX), n_pre=2, n_post=3))
        s0 = s0._replace(x_pre=jnp.asarray(x_pre), x_post=jnp.asarray(x_post),
                         c=jnp.array([20.0, 40.0, 100.0]))

        dw1, s1 = _update_by_hand(rule, p, s0, s_pre, s_post, w0)
        np.testing.assert_array_equal(dw1, 0.0)                    # held for one step
        np.testing.assert_allclose(s1.c, c_new, **EXACT)
        dw2, _ = _update_by_hand(rule, p, s1, np.zeros(2), np.zeros(3), w0)
        # E pre: +eta x_pre s_post at post 1 (window up), -eta x_post s_pre at post 0 (window down)
        # I pre: -eta x_pre s_post at post 0 (down),    +eta x_post s_pre at post 1 (up)
        expected = (np.array([[-0.2, 0.3, 0.0], [-0.4, 0.0, 0.0]]) if inhibitory
                    else np.array([[-0.1, 0.2, 0.0], [0.0, 0.4, 0.0]])) * eta * d
        np.testing.assert_allclose(dw2, expected, **EXACT)
    # clip: w close to the bound, a potentiating term is cut at w_max = 3
    rule = ActivityDependentSTDP()
    p = rule.default_params()
    s1 = s1._replace(causal_pre=jnp.array([1.0, 0.0]), causal_post=jnp.array([0.0, 1.0, 0.0]),
                     anti_post=jnp.zeros(3), anti_pre=jnp.zeros(2))
    dw, _ = _update_by_hand(rule, p, s1, np.zeros(2), np.zeros(3), 2.9)
    np.testing.assert_allclose(dw, [[0.0, 0.1, 0.0], [0.0, 0.0, 0.0]], **EXACT)


def test_bad_params_raise():
    conn = _to_all(2, 3)
    with pytest.raises(ValueError, match="tau_v"):
        DiscreteLIF().validate(DiscreteLIFParams.default(tau_v=-1.0), 3, 1.0)
    with pytest.raises(ValueError, match="theta"):
        DiscreteLIF().validate(DiscreteLIFParams.default(theta=0.0), 3, 1.0)
    with pytest.raises(ValueError, match="t_ref"):
        DiscreteLIF().validate(DiscreteLIFParams.default(t_ref=-2.0), 3, 1.0)
    for bad in (dict(tau_u=0.0), dict(tau_u=0.5), dict(delta_max=0.0), dict(delta0=-1.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ResetKernel().validate(ResetKernelParams.default(**bad), 2, 1.0)
    for bad, match in ((dict(eta0=-0.1), "eta0"), (dict(decay=1.5), "decay"),
                       (dict(trace_decay=0.0), "trace_decay"), (dict(a=-1.0), "a"),
                       (dict(w_min=4.0), "w_min"), (dict(eta0=np.nan), "NaN")):
        with pytest.raises(ValueError, match=match):
            AstrocyteSTDP().validate(AstrocyteSTDPParams.default(**bad), conn)
    with pytest.raises(ValueError, match="w_max"):
        AstrocyteSTDP(pre_inhibitory=True).validate(AstrocyteSTDPParams.default(), conn)
    with pytest.raises(TypeError, match="astrocyte"):
        AstrocyteSTDP(astrocyte=3)
    for bad in ("tau_c", "delta_c"):
        rule = ActivityDependentSTDP()
        with pytest.raises(ValueError, match=bad):
            rule.validate(rule.default_params(**{bad: -1.0}), conn)
    # through the network: bounds and a missing modulator
    net = nj.Network({"a": nj.Population(DiscreteLIF(), 2), "b": nj.Population(DiscreteLIF(), 3)},
                     {"ab": nj.Projection(conn, "a", "b", stp=ResetKernel(), synapse=nj.Instant(),
                                          plasticity=AstrocyteSTDP("astro"))}, dt=1.0)
    with pytest.raises(ValueError, match="decay"):
        nj.init_params(net, {"ab": {"w": 1.0, "plast": AstrocyteSTDPParams.default(decay=-0.5)}})
    params = nj.init_params(net, {"ab": 1.0})
    with pytest.raises(ValueError, match="modulators"):
        nj.simulate(net, params, nj.init_state(net, params), n_steps=2)
