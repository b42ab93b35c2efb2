"""The self-adapting E/I rate reservoir (neurojax.reservoirs.ei; specs/reservoirs.md §4).

* construction: Dale's law signs, exact in-degrees (both schemes), weight and input statistics;
  beta sets the mean total inhibition/excitation ratio exactly as defined;
* the network built on the simulator equals a plain NumPy loop of the paper's Eq. 1;
* adaptation: RateHomeostasis (additive and gain forms) brings every unit of an
  excitation-dominated reservoir to its own (homogeneous / heterogeneous) target, and the frozen
  reservoir keeps it;
* one-step design: its gains make r = rho the fixed point of the map with constant input
  (closed form, with leak, threshold and input);
* scoring: ``score_harvest`` is ``neurojax.reservoirs.score`` for an ESN's states;
* the gradient of a memory-capacity score w.r.t. beta and sigma_in through ``simulate`` (and
  through the adaptation phase, also w.r.t. the target rate) matches central finite
  differences; bad inputs raise.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.reservoirs import ei
from neurojax.reservoirs import tasks as rt
from tolerances import EXACT


def _dense(net, name, w):
    """``W[post, pre]`` (row i = inputs of unit i) of projection ``name``."""
    return np.asarray(nj.to_dense(net.projections[name].conn, w)).T


# ---------------------------------------------------------------------------------------------
# construction
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("indegree,autapses,k_e,k_i", [("split", False, 8, 2),
                                                       ("each", True, 10, 10)])
def test_dale_signs_in_degrees_and_weight_statistics(indegree, autapses, k_e, k_i):
    n, k, n_e = 100, 10, 80
    net, base = ei.ei_reservoir(jax.random.key(0), n, k=k, indegree=indegree,
                                autapses=autapses, rule=None)
    params, w_in = ei.ei_params(net, base, beta=-0.5, sigma_in=0.6)
    w_e, w_i = _dense(net, "exc", params["exc"].w), _dense(net, "inh", params["inh"].w)
    c_e, c_i = _dense(net, "exc", 1.0), _dense(net, "inh", 1.0)
    # Dale's law: E columns only in "exc" and >= 0, I columns only in "inh" and <= 0
    assert (w_e >= 0).all() and (w_i <= 0).all()
    assert not c_e[:, n_e:].any() and not c_i[:, :n_e].any()
    # exactly k_E distinct E and k_I distinct I partners per unit (no multapses)
    assert c_e.max() == 1.0 and c_i.max() == 1.0
    np.testing.assert_array_equal(c_e.sum(1), k_e)
    np.testing.assert_array_equal(c_i.sum(1), k_i)
    if not autapses:
        assert not np.diag(c_e).any() and not np.diag(c_i).any()
    # |N(mu, 0.2 mu)|: mu_E = 1 / (k f_E); mean inhibitory magnitude (1 - beta) W_E / k_I
    mu_e, w_tot_e = 1.0 / (k * 0.8), k_e / (k * 0.8)
    mag_e, mag_i = w_e[c_e > 0], -w_i[c_i > 0]
    assert abs(mag_e.mean() / mu_e - 1) < 4 * 0.2 / np.sqrt(mag_e.size)
    assert abs(mag_e.std() / mu_e - 0.2) < 0.02
    mu_i = 1.5 * w_tot_e / k_i
    assert abs(mag_i.mean() / mu_i - 1) < 4 * 0.2 / np.sqrt(mag_i.size)
    # input: exactly round(f_in N) = 30 units, U(-sigma_in/2, sigma_in/2)
    fed = np.asarray(w_in[:, 0]) != 0
    assert fed.sum() == 30 and np.abs(np.asarray(w_in)).max() <= 0.3
    np.testing.assert_array_equal(np.asarray(base.excitatory), np.arange(n) < n_e)


def test_beta_is_the_relative_excess_of_total_excitation_over_inhibition():
    """beta = (W_E - W_I) / W_E with W the mean total input weight per unit: exactly linear in
    beta (the pattern is fixed), and equal to beta up to the weight jitter's sampling error."""
    net, base = ei.ei_reservoir(jax.random.key(1), 400, rule=None)
    n_syn_i = 400 * 10
    ratios = {}
    for beta in (1.0, 0.5, 0.0, -1.0, -3.0):
        params, _ = ei.ei_params(net, base, beta=beta)
        w_tot_e = float(params["exc"].w.sum()) / 400
        w_tot_i = -float(params["inh"].w.sum()) / 400
        ratios[beta] = w_tot_i / w_tot_e
        assert abs((w_tot_e - w_tot_i) / w_tot_e - beta) <= 4 * 0.2 / np.sqrt(n_syn_i) * (1 - beta)
        np.testing.assert_allclose(w_tot_e, 1.0, atol=4 * 0.2 / np.sqrt(400 * 40))   # W_E = 1
    for beta, ratio in ratios.items():
        np.testing.assert_allclose(ratio, (1 - beta) * ratios[0.0], **EXACT)


def test_simulated_reservoir_equals_numpy_loop_of_eq1():
    """v(t) = lam v(t-1) + A^E r(t-1) - A^I r(t-1) + W_in u(t), r = sigmoid(c (v - theta));
    the delay lines start empty (r(-1) = 0 for the recurrent input)."""
    n, T = 30, 60
    net, base = ei.ei_reservoir(jax.random.key(2), n, k=10, rule=None)
    unit = {"c": 4.0, "theta": 0.1, "lam": 0.3}
    params, w_in = ei.ei_params(net, base, beta=-0.5, sigma_in=1.0, unit=unit)
    u = np.random.default_rng(0).uniform(-0.8, 0.8, (T, 1))
    _, r = ei.harvest(net, params, w_in, u)
    a = _dense(net, "exc", params["exc"].w) + _dense(net, "inh", params["inh"].w)
    v, r_prev, ref = np.zeros(n), np.zeros(n), []
    for t in range(T):
        v = 0.3 * v + a @ r_prev + np.asarray(w_in) @ u[t]
        r_prev = 1 / (1 + np.exp(-4.0 * (v - 0.1)))
        ref.append(r_prev)
    np.testing.assert_allclose(r, np.array(ref), **EXACT)


# ---------------------------------------------------------------------------------------------
# adaptation
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("form,delta,heterogeneous", [("additive", 2e-3, False),
                                                      ("gain", 2e-2, True)])
def test_adaptation_reaches_each_units_target_and_frozen_reservoir_keeps_it(form, delta,
                                                                           heterogeneous):
    """From beta = +0.5 (mean rate 0.99) adapt 8000 steps at delta and anneal 4000 at delta/20,
    freeze, run 9900 fresh steps: mean |<r_i> - rho_i| < 0.01 and max < 0.06 (measured
    0.0038 / 0.013 additive-homogeneous, 0.0073 / 0.038 gain-heterogeneous; the noise floor of
    a 5000-step mean is ~0.002)."""
    n = 100
    net, base = ei.ei_reservoir(jax.random.key(3), n, k=20, rule=form)
    rho = (np.asarray(ei.target_rates(jax.random.key(4), n, 0.4, low=0.1, high=0.9))
           if heterogeneous else 0.4)
    params, w_in = ei.ei_params(net, base, beta=0.5, rho=rho, delta=delta)
    u = np.random.default_rng(0).uniform(-0.8, 0.8, (12000, 1))
    frozen_start, fp = ei.freeze(net, params)
    _, r_before = ei.harvest(frozen_start, fp, w_in, u[2000:])
    res = ei.adapt(net, params, w_in, u[:2000], 8000, anneal=4000, measure=1000)
    _, r_after = ei.harvest(res.net, res.params, w_in, u[2000:])
    before, after = r_before[100:].mean(0), r_after[100:].mean(0)
    assert float(before.mean()) > 0.98
    assert float(ei.rate_error(before, rho)) > 0.5
    assert float(ei.rate_error(after, rho)) < 0.01
    assert float(jnp.max(jnp.abs(after - rho))) < 0.06
    assert float(res.rate_error) < 0.015
    # the frozen reservoir is static, Dale's law holds, and only "inh" changed
    assert res.net.projections["inh"].plasticity is None
    assert float(res.params["inh"].w.max()) <= 0.0
    np.testing.assert_array_equal(res.params["exc"].w, params["exc"].w)
    if heterogeneous:   # per-unit targets spread over [0.1, 0.7]: rates follow them unit by unit
        assert np.corrcoef(np.asarray(after), rho)[0, 1] > 0.99


def test_target_rates_distributions():
    key = jax.random.key(5)
    np.testing.assert_array_equal(ei.target_rates(key, 10, 0.3, dist="constant"), 0.3)
    rho = ei.target_rates(key, 200000, 0.25, dist="beta", a=2.0, b=6.0)
    # rho = rho_bar X (a+b)/a, X ~ Beta(2, 6): mean 0.25, var = rho_bar^2 (a+b)^2/a^2 Var X
    var_x = 2 * 6 / (8 ** 2 * 9)
    assert abs(rho.mean() - 0.25) < 0.002 and rho.min() >= 0.02 and rho.max() <= 0.98
    np.testing.assert_allclose(rho.var(), 0.25 ** 2 * 16 * var_x, rtol=0.02)
    logn = ei.target_rates(key, 200000, 0.2, dist="lognormal", sigma=0.3)
    np.testing.assert_allclose(np.median(logn), 0.2 * np.exp(-0.045), rtol=0.01)


# ---------------------------------------------------------------------------------------------
# one-step design
# ---------------------------------------------------------------------------------------------

def test_one_step_design_puts_the_fixed_point_at_the_targets():
    """Constant input u_bar (mean field exact): with g from the closed form, r = rho is the
    fixed point of v = lam v + A^E r - g A^I r + W_in u_bar, r = sigmoid(c (v - theta)); c = 3
    makes it attracting, so the run converges to rho to 1e-10."""
    n = 60
    net, base = ei.ei_reservoir(jax.random.key(6), n, k=12, rule=None)
    unit = nj.SigmoidRateParams.default(c=3.0, theta=np.linspace(-0.1, 0.1, n), lam=0.4)
    rho = np.asarray(ei.target_rates(jax.random.key(7), n, 0.5, low=0.2, high=0.8))
    _, w_in = ei.ei_params(net, base, sigma_in=1.0)
    u_bar = jnp.array([0.4])
    g = ei.one_step_design(net, base, rho, w_in, u_bar, unit=unit)
    # the closed form, from dense matrices
    a_e, a_hat = _dense(net, "exc", base.exc), _dense(net, "inh", base.inh)
    logit = np.log(rho / (1 - rho))
    g_ref = (a_e @ rho + np.asarray(w_in)[:, 0] * 0.4
             - 0.6 * (np.asarray(unit.theta) + logit / 3.0)) / (a_hat @ rho)
    assert (g_ref > 0).all() and (g_ref < 10).all()
    np.testing.assert_allclose(g, g_ref, **EXACT)
    params, w_in = ei.ei_params(net, base, beta=0.0, sigma_in=1.0, gain=g, unit=unit)
    _, r = ei.harvest(net, params, w_in, jnp.full((400, 1), 0.4))
    np.testing.assert_allclose(r[-1], rho, rtol=0, atol=1e-10)
    # clipping at [0, g_max]
    g_clip = ei.one_step_design(net, base, rho, w_in, u_bar, unit=unit, g_max=float(g_ref.min()))
    np.testing.assert_allclose(g_clip, g_ref.min(), **EXACT)


# ---------------------------------------------------------------------------------------------
# scoring and gradients
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", [rt.memory_capacity(20, seed=0),
                                  rt.narma10(1, washout=50, n_train=300, n_test=150)],
                         ids=["mc", "narma10"])
def test_score_harvest_is_score_for_an_esn(task):
    esn = nj.reservoirs.random_esn(jax.random.key(8), 30, spectral_radius=0.9, leak=0.7,
                                   input_scaling=0.5, input_connectivity=1.0)
    value = ei.score_harvest(lambda u: nj.reservoirs.run(esn, u)[1], 1e-7, task)
    np.testing.assert_allclose(value, nj.reservoirs.score(esn, 1e-7, task), rtol=1e-12)


def test_gradient_wrt_beta_and_input_scaling_matches_finite_differences():
    net, base = ei.ei_reservoir(jax.random.key(9), 40, k=10, rule=None)
    task = rt.memory_capacity(12, seed=2)

    @jax.jit
    def mc(beta, sigma_in):
        params, w_in = ei.ei_params(net, base, beta, sigma_in, unit={"c": 5.0})
        return ei.score_ei(net, params, w_in, 1e-6, task)

    x = (jnp.float64(-0.3), jnp.float64(0.8))
    grads = jax.grad(mc, argnums=(0, 1))(*x)
    h = 1e-5
    fd = [(mc(x[0] + h, x[1]) - mc(x[0] - h, x[1])) / (2 * h),
          (mc(x[0], x[1] + h) - mc(x[0], x[1] - h)) / (2 * h)]
    assert all(abs(float(f)) > 1e-2 for f in fd)                 # non-trivial slopes
    np.testing.assert_allclose(np.array(grads), np.array(fd), rtol=1e-5)


def test_gradient_through_adaptation_matches_finite_differences():
    """d MC / d (beta_0, sigma_in, rho) through 500 + 100 annealed plastic steps, the freeze and
    the scored run (the rule's clip at 0 is not hit here, so the map is smooth)."""
    net, base = ei.ei_reservoir(jax.random.key(9), 40, k=10, rule="additive")
    task = rt.memory_capacity(12, seed=2)

    @jax.jit
    def mc(beta, sigma_in, rho):
        params, w_in = ei.ei_params(net, base, beta, sigma_in, unit={"c": 5.0}, rho=rho)
        res = ei.adapt(net, params, w_in, task.inputs[:task.n_train], 500, anneal=100,
                       measure=100)
        return ei.score_ei(res.net, res.params, w_in, 1e-6, task)

    x = np.array([-0.3, 0.8, 0.45])
    grads = jax.grad(mc, argnums=(0, 1, 2))(*x)
    h, eye = 1e-5, np.eye(3)
    fd = [(mc(*(x + h * e)) - mc(*(x - h * e))) / (2 * h) for e in eye]
    assert all(abs(float(f)) > 0.1 for f in fd)
    np.testing.assert_allclose(np.array(grads), np.array(fd), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# bad inputs
# ---------------------------------------------------------------------------------------------

def test_bad_inputs_raise():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="f_e"):
        ei.ei_reservoir(key, 20, k=5, f_e=1.0)
    with pytest.raises(ValueError, match="k_I"):
        ei.ei_reservoir(key, 20, k=10, indegree="each")          # 4 I units, 10 partners
    with pytest.raises(ValueError, match="indegree"):
        ei.ei_reservoir(key, 20, k=5, indegree="fixed")
    with pytest.raises(ValueError, match="rule"):
        ei.ei_reservoir(key, 20, k=5, rule="multiplicative")
    with pytest.raises(ValueError, match="n"):
        ei.ei_reservoir(key, 0, k=5)
    with pytest.raises(ValueError, match="width"):
        ei.ei_reservoir(key, 20, k=5, width=1)
    net, base = ei.ei_reservoir(key, 20, k=5)
    with pytest.raises(ValueError, match="beta"):
        ei.ei_params(net, base, beta=1.5)
    with pytest.raises(ValueError, match="sigma_in"):
        ei.ei_params(net, base, sigma_in=-0.1)
    with pytest.raises(ValueError, match="gain"):
        ei.ei_params(net, base, gain=-np.ones(20))
    with pytest.raises(ValueError, match="gain"):
        ei.ei_params(net, base, gain=np.ones(19))
    params, w_in = ei.ei_params(net, base)
    u = jnp.zeros((10, 1))
    with pytest.raises(ValueError, match="measure"):
        ei.adapt(net, params, w_in, u, 100, measure=200)
    with pytest.raises(ValueError, match="no plasticity"):
        ei.adapt(*ei.freeze(net, params), w_in, u, 100)
    with pytest.raises(ValueError, match="inputs"):
        ei.harvest(net, params, w_in, jnp.zeros((10, 2)))
    with pytest.raises(ValueError, match="rho"):
        ei.one_step_design(net, base, 1.0, w_in, jnp.zeros(1))
    with pytest.raises(ValueError, match="dist"):
        ei.target_rates(key, 5, 0.3, dist="gamma")
    with pytest.raises(ValueError, match="rho_bar"):
        ei.target_rates(key, 5, 0.99)
    with pytest.raises(TypeError, match="ei_reservoir"):
        ei.ei_params(nj.Network({}, {}, dt=1.0), base)
    task = rt.memory_capacity(5, seed=0)
    with pytest.raises(ValueError, match="score_harvest"):
        ei.score_harvest(lambda u: u[:-1], 1e-6, task)
    with pytest.raises(ValueError, match="closed loop"):
        rt.score_states(jnp.zeros((10, 2)), jnp.zeros((5, 2)), 1e-6,
                        rt.mackey_glass(0, 3, closed=True, washout=10, n_train=50, n_test=40))
    with pytest.raises(ValueError, match="test states"):
        rt.score_states(jnp.zeros((task.n_train, 2)), jnp.zeros((3, 2)), 1e-6, task)
