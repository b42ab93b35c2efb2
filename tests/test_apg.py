"""Analytic policy gradients through the MJX swimmer (neurojax.embodied.apg).

One MJX gradient program is compiled (3 links, 3 physics substeps per control step, a 4-step
window, float64); the same compiled function gives the values for the finite differences.
Its compilation takes minutes on a 2-core CPU, so that test is marked ``slow``
(``pytest -m slow tests/test_apg.py``); the rest runs in seconds.
"""
import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("mujoco.mjx")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from neurojax.embodied import NCAP, SwimmerC, forward_speed  # noqa: E402
from neurojax.embodied.apg import gradient_stats, make_window_grad, reference_states  # noqa: E402

# central differences, h = 1e-5, float64, smooth objective: truncation O(h^2 f''') ~ 1e-9
TOL_FD = dict(rtol=1e-6, atol=1e-8)
# MJX float64 vs MuJoCo C float64 after a few control steps (as tests/test_swimmer.py)
TOL_MJX_F64 = 1e-6


@pytest.mark.slow   # compiling the reverse-mode MJX program: ~2 min (idle) to ~10 min (loaded 2-core CPU)
def test_window_gradient_matches_finite_differences():
    """Reverse-mode gradient of the windowed objective w.r.t. NCAP's 4 shared weights equals
    central finite differences of the same function; the value equals the C backend's forward
    speed on the continued reference trajectory; ``w_contra`` has exactly zero gradient."""
    from neurojax.embodied import Swimmer
    n_links, L, k0 = 3, 4, 7
    ctrl = NCAP(n_links - 1)
    p = ctrl.init_params()._replace(w_prop=jnp.asarray(0.8), w_osc=jnp.asarray(0.9),
                                    w_ipsi=jnp.asarray(1.1), w_contra=jnp.asarray(-0.7))
    env = Swimmer(n_links, timestep=0.01, solver_iterations=1)
    env_c = SwimmerC(n_links, timestep=0.01, solver_iterations=1)
    # C reference: states at every step k0..k0+L (the window start and the steps inside it)
    ref = reference_states(env_c, ctrl, p, [0], list(range(k0, k0 + L + 1)))
    assert ref["k"].tolist() == list(range(k0, k0 + L + 1))
    fn = make_window_grad(env, ctrl, L, "speed")
    q, v, k = (jnp.asarray(ref[f][:1]) for f in ("qpos", "qvel", "k"))
    val, grad = fn(p, q, v, k)
    want = np.mean(forward_speed(ref["qpos"][1:], ref["qvel"][1:])) / env.desired_speed
    np.testing.assert_allclose(float(val[0]), want, atol=TOL_MJX_F64)
    h = 1e-5
    fd = []
    for name in p._fields:
        up = fn(p._replace(**{name: getattr(p, name) + h}), q, v, k)[0][0]
        dn = fn(p._replace(**{name: getattr(p, name) - h}), q, v, k)[0][0]
        fd.append(float(up - dn) / (2 * h))
    g = np.array([float(getattr(grad, n)[0]) for n in p._fields])
    np.testing.assert_allclose(g, fd, **TOL_FD)
    assert g[3] == 0.0                        # w_contra: no effect in the swim task (spec 2.5)
    assert np.abs(g[:3]).min() > 1e-3         # the other three are informative here


def test_reference_states_prefix_return():
    """``returns_prefix`` equals the C rollout's reward sum up to the last window start."""
    from neurojax.embodied import rollout_c
    env_c, ctrl = SwimmerC(4), NCAP(3)
    p = ctrl.init_params()
    ref = reference_states(env_c, ctrl, p, [0, 3], [5, 40])
    out = rollout_c(env_c, ctrl, p, seeds=[0, 3], n_steps=40)
    np.testing.assert_allclose(ref["returns_prefix"], out["returns"], rtol=1e-12)
    assert ref["seed"].tolist() == [0, 0, 3, 3] and ref["k"].tolist() == [5, 40, 5, 40]


def test_gradient_stats_hand_example():
    g = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    s = gradient_stats(g)
    np.testing.assert_allclose(s["component_mean"], [2 / 3, 2 / 3])
    np.testing.assert_allclose(s["mean_norm"], np.sqrt(8) / 3)
    # pairwise cosines: (0, 1/sqrt2, 1/sqrt2) each counted twice
    np.testing.assert_allclose(s["mean_pairwise_cosine"], (2 / np.sqrt(2)) / 3)
    std = np.std([1.0, 0.0, 1.0], ddof=1)
    np.testing.assert_allclose(s["snr"], [(2 / 3) / (std / np.sqrt(3))] * 2)


def test_ppo_gae_hand_example():
    """GAE on a 3-step, 2-env segment, computed by hand (gamma 0.9, lambda 0.5); env 1 ends
    after step 1 and restarts, env 0 bootstraps from last_value."""
    from neurojax.embodied.ppo import gae
    r = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.5]])
    v = np.array([[0.5, 0.2], [1.0, 0.4], [0.0, 0.3]])
    last = np.array([2.0, 1.0])
    d = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    g, lam = 0.9, 0.5
    # env 0: deltas d2 = 2 + .9*2 - 0 = 3.8, d1 = 0 + .9*0 - 1 = -1, d0 = 1 + .9*1 - .5 = 1.4
    a0 = [1.4 + 0.45 * (-1 + 0.45 * 3.8), -1 + 0.45 * 3.8, 3.8]
    # env 1: d2 = .5 + .9*1 - .3 = 1.1; d1 = 1 - .4 = 0.6 (terminal, no carry);
    # d0 = 0 + .9*.4 - .2 = 0.16, A0 = 0.16 + .45*0.6
    a1 = [0.16 + 0.45 * 0.6, 0.6, 1.1]
    adv, ret = gae(r, v, last, d, g, lam)
    np.testing.assert_allclose(adv, np.array([a0, a1]).T, rtol=1e-12)
    np.testing.assert_allclose(ret, adv + v, rtol=1e-12)


def test_ppo_gaussian_logp_matches_scipy():
    from scipy.stats import norm

    from neurojax.embodied.ppo import gaussian_logp
    a = np.array([[0.3, -1.2, 0.0], [2.0, 0.1, -0.4]])
    mu = np.array([[0.1, -1.0, 0.5], [1.5, 0.0, 0.0]])
    log_std = np.log(np.array([0.1, 0.5, 2.0]))
    want = norm.logpdf(a, mu, np.exp(log_std)).sum(-1)
    np.testing.assert_allclose(np.asarray(gaussian_logp(jnp.asarray(a), jnp.asarray(mu),
                                                        jnp.asarray(log_std))), want, rtol=1e-12)
