"""Neuromodulator and leaky-integrator astrocyte populations: closed forms inside simulate."""
import jax.numpy as jnp
import numpy as np

import neurojax as nj
from tolerances import EXACT


def test_neuromodulator_is_a_sum_of_decaying_reward_pulses():
    """d(t) = sum_k r_k exp(-(t - t_k) dt / tau) for reward pulses r_k given as input."""
    net = nj.Network({"da": nj.Population(nj.Neuromodulator(), 1)}, {}, dt=0.5)
    params = nj.init_params(net, {"da": {"tau": 40.0}})
    T, pulses = 400, {20: 1.0, 150: -0.5, 151: 2.0}
    reward = np.zeros((T, 1))
    for t, r in pulses.items():
        reward[t, 0] = r
    _, rec = nj.simulate(net, params, nj.init_state(net, params), {"da": jnp.asarray(reward)},
                         record=nj.Record(("da", "d")))
    steps = np.arange(T)
    expected = sum(r * np.exp(-(steps - t) * 0.5 / 40.0) * (steps >= t) for t, r in pulses.items())
    np.testing.assert_allclose(np.asarray(rec["da"]["d"][:, 0]), expected, **EXACT)


def test_leaky_integrator_astrocyte_matches_its_recursion_with_fading():
    """A_t+1 = g [A + dt/tau (g_t w D + g_t b - A)], g_t = decay^(t dt): numpy recursion vs simulate."""
    dt, tau, w, b, a0, decay = 1.0, 100.0, 0.015, 0.15, 0.15, 0.99
    net = nj.Network({"astro": nj.Population(nj.LeakyIntegratorAstrocyte(), 1)}, {}, dt=dt)
    params = nj.init_params(net, {"astro": dict(tau=tau, w=w, b=b, a0=a0, decay=decay)})
    drive = np.random.default_rng(0).integers(-5, 20, size=(250, 1)).astype(float)
    _, rec = nj.simulate(net, params, nj.init_state(net, params), {"astro": jnp.asarray(drive)},
                         record=nj.Record(("astro", "a")))
    a, g, expected = a0, 1.0, []
    for d in drive[:, 0]:
        a = decay * (a + dt / tau * (g * w * d + g * b - a))
        g *= decay
        expected.append(a)
    np.testing.assert_allclose(np.asarray(rec["astro"]["a"][:, 0]), expected, **EXACT)
