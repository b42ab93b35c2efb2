"""simulate / step / run_chunked: scan vs loop, step order, retracing, gradients, checkpoints."""
import dataclasses
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import neurojax as nj
nj_simulate = importlib.import_module("neurojax.simulate")  # the module, not the function

from tolerances import EXACT

N_IN, N = 6, 8
T = 40


@dataclasses.dataclass(frozen=True)
class SmoothSpike:
    """A smooth stand-in for a spike function (sigmoid forward), for finite-difference checks."""

    beta: float = 2.0

    def __call__(self, x):
        return jax.nn.sigmoid(self.beta * x)


def small_net(key, *, spike_fn=nj.SuperSpike(), delay=2):
    k_in, k_rec = jax.random.split(key)
    populations = {"in": nj.Population(nj.SpikeSource(), N_IN),
                   "E": nj.Population(nj.LIF(spike_fn=spike_fn), N)}
    projections = {
        "in->E": nj.Projection(nj.fixed_out_degree(k_in, N_IN, N, 4), "in", "E", receptor="i",
                               delay_steps=delay),
        "E->E": nj.Projection(nj.fixed_out_degree(k_rec, N, N, 3), "E", "E", receptor="g_exc"),
    }
    return nj.Network(populations, projections, dt=0.1)


def small_params(net, t_ref=2.0):
    w_in = jnp.linspace(300.0, 600.0, net.projections["in->E"].conn.post_idx.size).reshape(N_IN, 4)
    return nj.init_params(net, {"E": {"t_ref": t_ref, "tau_m": 5.0, "i_e": 100.0},
                                "in->E": nj.ProjParams(w=w_in, syn=nj.ExponentialParams(tau=2.0)),
                                "E->E": 2.0})


def input_spikes(key, trials=None):
    shape = (T, N_IN) if trials is None else (trials, T, N_IN)
    return (jax.random.uniform(key, shape) < 0.2).astype(jnp.float64)


def test_simulate_equals_python_loop_of_step(key):
    net = small_net(key)
    params = small_params(net)
    state0 = nj.init_state(net, params)
    x = input_spikes(jax.random.PRNGKey(1))
    final, rec = nj.simulate(net, params, state0, {"in": x}, record=nj.Record(("E", "v"), ("E", "spike")))

    step = jax.jit(nj.step, static_argnums=())
    state, vs, ss = state0, [], []
    for t in range(T):
        state = step(net, params, state, {"in": x[t]})
        vs.append(state.pops["E"].v)
        ss.append(state.pops["E"].spike)
    np.testing.assert_array_equal(rec["E"]["v"], np.stack(vs))
    np.testing.assert_array_equal(rec["E"]["spike"], np.stack(ss))
    assert float(rec["E"]["spike"].sum()) > 0, "the test network should spike"
    jax.tree.map(np.testing.assert_array_equal, final, state)
    assert int(final.t) == T


def test_delay_and_step_order_pinned(key):
    """A spike emitted at step t reaches the post synapse at step t + delay_steps."""
    delay = 3
    net = small_net(key, delay=delay)
    params = small_params(net)
    x = jnp.zeros((T, N_IN)).at[5, 0].set(1.0)
    rec_fn = nj.Record(("in", "spike"))
    record = lambda s: {"src": s.pops["in"].spike, "g": s.projs["in->E"].syn.g}  # noqa: E731
    _, rec = nj.simulate(net, params, nj.init_state(net, params), {"in": x}, record=rec_fn)
    assert np.flatnonzero(np.asarray(rec["in"]["spike"][:, 0])).tolist() == [5]
    _, rec = nj.simulate(net, params, nj.init_state(net, params), {"in": x}, record=record)
    arrived = np.flatnonzero(np.asarray(rec["g"]).sum(axis=1) > 0)
    assert arrived[0] == 5 + delay
    targets = np.asarray(net.projections["in->E"].conn.post_idx[0])
    g_first = np.asarray(rec["g"][5 + delay])
    w_row = np.asarray(params["in->E"].w[0])
    expected = np.zeros(N)
    np.add.at(expected, targets, w_row)
    np.testing.assert_allclose(g_first, expected, **EXACT)


TRACES = {"n": 0}


def counting_record(state):
    TRACES["n"] += 1
    return nj.spikes(state)


def test_no_retrace_when_network_is_rebuilt_equal(key):
    TRACES["n"] = 0
    x = {"in": input_spikes(jax.random.PRNGKey(1))}
    for _ in range(2):
        net = small_net(key)                 # new descriptor instances, new index arrays
        params = small_params(net)
        nj.simulate(net, params, nj.init_state(net, params), x, record=counting_record)
    assert TRACES["n"] == 1


def test_vmap_over_trials_matches_single_runs(key):
    net = small_net(key)
    params = small_params(net)
    trials = 3
    x = input_spikes(jax.random.PRNGKey(2), trials)
    v0 = jnp.stack([jnp.full((N,), -65.0 + i) for i in range(trials)])
    states = jax.vmap(lambda v: nj.init_state(net, params, {"E": {"v": v}}))(v0)
    run = jax.vmap(lambda s, xi: nj.simulate(net, params, s, {"in": xi})[1])
    rec = run(states, x)
    assert rec["E"].shape == (trials, T, N)
    for i in range(trials):
        _, r = nj.simulate(net, params, nj.init_state(net, params, {"E": {"v": v0[i]}}), {"in": x[i]})
        np.testing.assert_allclose(rec["E"][i], r["E"], **EXACT)


def _smooth_loss(net, x):
    def loss(p):
        def one(xi):
            _, rec = nj.simulate(net, p, nj.init_state(net, p), {"in": xi},
                                 record=nj.Record(("E", "v")))
            return jnp.mean((rec["E"]["v"] + 60.0) ** 2)
        return jnp.mean(jax.vmap(one)(x))
    return loss


def test_gradient_through_simulate_matches_finite_differences(key):
    """Smooth-spike variant (sigmoid forward, no refractoriness): grad == finite differences."""
    net = small_net(key, spike_fn=SmoothSpike())
    params = small_params(net, t_ref=0.0)
    x = input_spikes(jax.random.PRNGKey(3), 2)[:, :20]
    loss = _smooth_loss(net, x)
    grads = jax.grad(loss)(params)
    assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads))
    assert float(jnp.abs(grads["in->E"].w).sum()) > 0
    small = {"in->E": params["in->E"], "E->E": params["E->E"]}

    def loss_wrt_weights(sub):
        return loss({**params, **sub})
    check_grads(loss_wrt_weights, (small,), order=1, modes=["rev"], rtol=1e-4, atol=1e-6)


def test_surrogate_gradient_reaches_weights_of_spiking_net(key):
    net = small_net(key)
    params = small_params(net)
    x = input_spikes(jax.random.PRNGKey(4), 2)

    def loss(p):
        rec = jax.vmap(lambda xi: nj.simulate(net, p, nj.init_state(net, p), {"in": xi})[1])(x)
        return jnp.sum(rec["E"])
    g = jax.grad(loss)(params)
    assert np.isfinite(np.asarray(g["in->E"].w)).all()
    assert float(jnp.abs(g["in->E"].w).sum()) > 0


def test_checkpointed_scan_equals_plain_scan_values_and_grads(key):
    net = small_net(key)
    params = small_params(net)
    x = {"in": input_spikes(jax.random.PRNGKey(5))}
    s0 = nj.init_state(net, params)

    def loss(p, every):
        _, rec = nj.simulate(net, p, s0, x, record=nj.Record(("E", "v")), checkpoint_every=every)
        return jnp.sum(rec["E"]["v"] ** 2) * 1e-4

    (v1, g1), (v2, g2) = (jax.value_and_grad(loss)(params, e) for e in (None, 10))
    np.testing.assert_allclose(v1, v2, **EXACT)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12), g1, g2)
    with pytest.raises(ValueError, match="must divide"):
        nj.simulate(net, params, s0, x, checkpoint_every=7)


def test_run_chunked_equals_simulate_and_resumes_bit_identically(key, tmp_path, monkeypatch):
    net = small_net(key)
    params = small_params(net)
    x = {"in": input_spikes(jax.random.PRNGKey(6))}
    s0 = nj.init_state(net, params)
    ref_state, ref_rec = nj.simulate(net, params, s0, x)
    state, rec = nj.run_chunked(net, params, s0, x, chunk=10, progress=False)
    np.testing.assert_array_equal(rec["E"], ref_rec["E"])

    ckpt = str(tmp_path / "run.npz")
    saves = {"n": 0}
    real_save = nj_simulate._save_checkpoint

    def interrupted_save(*args):
        real_save(*args)
        saves["n"] += 1
        if saves["n"] == 2:
            raise KeyboardInterrupt("simulated interruption")

    monkeypatch.setattr(nj_simulate, "_save_checkpoint", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        nj.run_chunked(net, params, s0, x, chunk=10, progress=False, checkpoint=ckpt)
    monkeypatch.setattr(nj_simulate, "_save_checkpoint", real_save)
    resumed_state, resumed_rec = nj.run_chunked(net, params, s0, x, chunk=10, progress=False,
                                                checkpoint=ckpt)
    np.testing.assert_array_equal(resumed_rec["E"], rec["E"])
    jax.tree.map(np.testing.assert_array_equal, resumed_state, state)


def test_run_chunked_reports_nan_blow_up(key):
    net = small_net(key)
    params = small_params(net)
    x = {"in": input_spikes(jax.random.PRNGKey(7)).at[12, 0].set(jnp.nan)}
    with pytest.raises(FloatingPointError, match=r"pops\['E'\].*steps \[10, 20\)"):
        nj.run_chunked(net, params, nj.init_state(net, params), x, chunk=10, progress=False,
                       check_nan=True)


def test_bad_input_raises_clear_errors(key):
    net = small_net(key)
    params = small_params(net)
    s0 = nj.init_state(net, params)
    conn = net.projections["E->E"].conn
    with pytest.raises(ValueError, match="tau_m"):
        nj.init_params(net, {"E": {"tau_m": -1.0}, "in->E": 1.0, "E->E": 1.0})
    with pytest.raises(ValueError, match="tau_m.*shape"):
        nj.init_params(net, {"E": {"tau_m": jnp.ones(3)}, "in->E": 1.0, "E->E": 1.0})
    with pytest.raises(ValueError, match="v_th must exceed LIFParams.v_reset"):
        nj.init_params(net, {"E": {"v_reset": -40.0}, "in->E": 1.0, "E->E": 1.0})
    with pytest.raises(ValueError, match="smaller than dt"):
        nj.init_params(net, {"E": {"tau_m": 0.05}, "in->E": 1.0, "E->E": 1.0})
    big_dt = nj.Network(net.populations, net.projections, dt=0.1, allow_large_dt=True)
    nj.init_params(big_dt, {"E": {"tau_m": 0.05}, "in->E": 1.0, "E->E": 1.0})
    with pytest.raises(ValueError, match="needs a weight"):
        nj.init_params(net, {})
    with pytest.raises(ValueError, match=r"w must be a scalar or have shape"):
        nj.init_params(net, {"in->E": jnp.ones((2, 2)), "E->E": 1.0})
    with pytest.raises(ValueError, match="delay_steps"):
        nj.Projection(conn, "E", "E", delay_steps=0)
    with pytest.raises(ValueError, match="receptor 'g_nmda'"):
        nj.Network({"E": nj.Population(nj.LIF(), N)},
                   {"E->E": nj.Projection(conn, "E", "E", receptor="g_nmda")}, dt=0.1)
    with pytest.raises(ValueError, match="unknown post population 'X'"):
        nj.Network({"E": nj.Population(nj.LIF(), N)},
                   {"E->E": nj.Projection(conn, "E", "X")}, dt=0.1)
    with pytest.raises(ValueError, match="connectivity is 8x8 but populations are 8x5"):
        nj.Network({"E": nj.Population(nj.LIF(), N), "F": nj.Population(nj.LIF(), 5)},
                   {"E->F": nj.Projection(conn, "E", "F")}, dt=0.1)
    bad_conn = nj.Connectivity(post_idx=conn.post_idx.at[0, 0].set(99), n_pre=N, n_post=N)
    bad_net = nj.Network(net.populations, {**net.projections, "E->E": nj.Projection(
        bad_conn, "E", "E", receptor="g_exc")}, dt=0.1)
    with pytest.raises(ValueError, match="indices outside"):
        nj.validate(bad_net, params)
    with pytest.raises(ValueError, match="unknown population 'nope'"):
        nj.simulate(net, params, s0, {"nope": jnp.zeros((T, N))})
    with pytest.raises(ValueError, match=r"inputs\['in'\] must have shape"):
        nj.simulate(net, params, s0, {"in": jnp.zeros((T, N_IN + 1))})
    with pytest.raises(ValueError, match="needs n_steps"):
        nj.simulate(net, params, s0)
    with pytest.raises(ValueError, match="Network.dt"):
        nj.Network(net.populations, net.projections, dt=0.0)


def test_bptt_gradient_stays_bounded_over_long_recurrent_runs():
    """Regression guard: the rate-loss gradient of a recurrent E/I net must not grow with T.

    With the surrogate applied to raw millivolts (peak slope 1/mV) the gradient at 2000 steps
    was ~1e17 times that at 500 steps; with the threshold-normalised argument it stays O(1).
    """
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    net = nj.Network(
        {"in": nj.Population(nj.SpikeSource(), 50), "E": nj.Population(nj.LIF(), 40),
         "I": nj.Population(nj.LIF(), 10)},
        {"in->E": nj.Projection(nj.fixed_out_degree(k1, 50, 40, 10), "in", "E", receptor="g_exc"),
         "E->I": nj.Projection(nj.fixed_out_degree(k2, 40, 10, 5), "E", "I", receptor="g_exc"),
         "I->E": nj.Projection(nj.fixed_out_degree(k3, 10, 40, 20), "I", "E", receptor="g_inh",
                               delay_steps=5)}, dt=0.1)
    params = nj.init_params(net, {"in->E": 3.0, "E->I": 2.0, "I->E": 4.0})
    state = nj.init_state(net, params)
    x = nj.inputs.poisson(jax.random.PRNGKey(1), rate_hz=50.0, n_steps=2000, n=50, dt=0.1)

    def mean_rate(p, n_steps):
        _, s = nj.simulate(net, p, state, {"in": x[:n_steps]})
        return s["E"].mean() / 0.1e-3

    grads = [jax.grad(mean_rate)(params, n)["in->E"].w for n in (500, 2000)]
    assert all(np.isfinite(float(g)) and float(g) != 0.0 for g in grads)
    assert 0.1 < abs(float(grads[1]) / float(grads[0])) < 10.0, grads


@pytest.mark.parametrize("max_events", [1, 4])
def test_event_kernel_in_simulate_equals_reference_path(key, max_events):
    """``Projection(max_events=...)`` gives the reference results, values and gradients,
    also when a step has more active rows than the capacity (max_events=1 overflows)."""
    net = small_net(key)
    event_net = nj.Network(net.populations, {
        name: dataclasses.replace(proj, max_events=max_events)
        for name, proj in net.projections.items()}, dt=net.dt)
    params = small_params(net)
    x = {"in": input_spikes(jax.random.PRNGKey(8))}
    assert float(x["in"].sum(axis=1).max()) > max_events      # some steps overflow

    def loss(p, network):
        _, rec = nj.simulate(network, p, nj.init_state(network, p), x,
                             record=nj.Record(("E", "v"), ("E", "spike")))
        return jnp.sum(rec["E"]["v"] ** 2) * 1e-4 + jnp.sum(rec["E"]["spike"]), rec

    (l_ref, rec_ref), g_ref = jax.value_and_grad(loss, has_aux=True)(params, net)
    (l_evt, rec_evt), g_evt = jax.value_and_grad(loss, has_aux=True)(params, event_net)
    np.testing.assert_array_equal(rec_evt["E"]["spike"], rec_ref["E"]["spike"])
    np.testing.assert_allclose(rec_evt["E"]["v"], rec_ref["E"]["v"], rtol=1e-12, atol=1e-9)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9), g_evt, g_ref)
    with pytest.raises(ValueError, match="max_events"):
        dataclasses.replace(net.projections["E->E"], max_events=0)
    with pytest.raises(ValueError, match="learn_events"):
        dataclasses.replace(net.projections["E->E"], learn_events=True)


def test_all_to_all_projection_is_a_matrix_product_equal_to_the_table_scatter(key):
    """An ``nj.all_to_all`` projection (matrix-product path) gives the same records and
    gradients, under vmap over trials, as the same weights on a generic table (scatter path,
    rows in shuffled order); a table wrongly marked all_to_all is refused."""
    w_in = jax.random.uniform(jax.random.PRNGKey(5), (N_IN, N), minval=0.0, maxval=400.0)
    perm = np.random.default_rng(0).permuted(np.tile(np.arange(N), (N_IN, 1)), axis=1)
    generic = nj.Connectivity(jnp.asarray(perm, jnp.int32), N_IN, N)
    w_generic = jnp.take_along_axis(w_in, jnp.asarray(perm), axis=1)

    def loss_fn(conn, w0):
        net = nj.Network({"in": nj.Population(nj.SpikeSource(), N_IN),
                          "E": nj.Population(nj.LIF(spike_fn=SmoothSpike()), N)},
                         {"in->E": nj.Projection(conn, "in", "E", receptor="i")}, dt=0.1)
        params = nj.init_params(net, {"E": {"tau_m": 5.0, "t_ref": 0.0},
                                      "in->E": nj.ProjParams(w=w0, syn=nj.ExponentialParams(tau=2.0))})

        def loss(w, x):
            p = dict(params, **{"in->E": params["in->E"]._replace(w=w)})
            rec = nj.simulate(net, p, nj.init_state(net, p), {"in": x},
                              record=nj.Record(("E", "v")))[1]
            return jnp.mean((rec["E"]["v"] + 60.0) ** 2)
        return jax.value_and_grad(loss)

    dense, table = loss_fn(nj.all_to_all(N_IN, N), w_in), loss_fn(generic, w_generic)
    x = input_spikes(jax.random.PRNGKey(2), trials=2)
    both = jax.jit(jax.vmap(lambda xi: (dense(w_in, xi), table(w_generic, xi))))
    (loss_a, grad_a), (loss_g, grad_g) = both(x)
    np.testing.assert_allclose(loss_a, loss_g, rtol=1e-12)
    back = jnp.zeros_like(grad_a).at[:, jnp.arange(N_IN)[:, None], perm].set(grad_g)
    np.testing.assert_allclose(grad_a, back, rtol=1e-9, atol=1e-12)
    assert float(jnp.abs(grad_a).max()) > 0
    wrong = nj.Connectivity(generic.post_idx, N_IN, N, all_to_all=True)
    with pytest.raises(ValueError, match="all_to_all"):
        wrong.validate()


def test_pre_rows_subgroup_equals_the_table_padded_to_the_whole_population(key):
    """A projection over neurons ``[3, 7)`` of E (``pre_rows``) gives the same records and
    plastic changes (STDP, event-driven) as the same synapses in a full-size table whose other
    rows are padding; bad ``pre_rows`` are refused."""
    start, stop = 3, 7
    sub = nj.fixed_out_degree(jax.random.PRNGKey(3), stop - start, N, 3)
    padded = np.full((N, 3), N, np.int32)
    padded[start:stop] = np.asarray(sub.post_idx)
    w_sub = jnp.linspace(1.0, 3.0, sub.post_idx.size).reshape(stop - start, 3)
    w_pad = jnp.zeros((N, 3)).at[start:stop].set(w_sub)
    base = small_net(key)

    def run(proj, w):
        net = nj.Network(base.populations, {**base.projections, "E->E": proj}, dt=base.dt)
        params = small_params(net)
        params["E->E"] = params["E->E"]._replace(w=w, plast=nj.plasticity.STDPParams.default(a_plus=0.05))
        x = {"in": input_spikes(jax.random.PRNGKey(4))}
        final, rec = nj.simulate(net, params, nj.init_state(net, params), x,
                                 record=nj.Record(("E", "v"), ("E", "spike")))
        return final.projs["E->E"].dw, rec

    common = dict(pre="E", post="E", receptor="g_exc", plasticity=nj.plasticity.STDP(), max_events=2)
    dw_sub, rec_sub = run(nj.Projection(sub, pre_rows=(start, stop), **common), w_sub)
    dw_pad, rec_pad = run(nj.Projection(nj.Connectivity(jnp.asarray(padded), N, N), **common),
                          w_pad)
    assert float(rec_pad["E"]["spike"][:, start:stop].sum()) > 0
    np.testing.assert_array_equal(rec_sub["E"]["spike"], rec_pad["E"]["spike"])
    np.testing.assert_allclose(rec_sub["E"]["v"], rec_pad["E"]["v"], rtol=1e-12, atol=1e-9)
    assert float(jnp.abs(dw_pad).max()) > 0
    np.testing.assert_allclose(dw_sub, dw_pad[start:stop], rtol=1e-12, atol=1e-15)
    rows = nj.Projection(sub, "E", "E", pre_rows=(np.int64(start), np.int64(stop))).pre_rows
    assert rows == (start, stop) and all(type(r) is int for r in rows)
    for rows, match in [((3, 8), "selects 5 rows"), ((4, 3), "start < stop"),
                        ([3, 7], "pair of ints")]:
        with pytest.raises(ValueError, match=match):
            nj.Projection(sub, "E", "E", pre_rows=rows)
    with pytest.raises(ValueError, match="do not fit"):
        nj.Network(base.populations, {"E->E": nj.Projection(
            nj.fixed_out_degree(key, 4, N, 3), "E", "E", pre_rows=(6, 10))}, dt=base.dt)
