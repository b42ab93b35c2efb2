"""NCAP on neurojax units: the network equals the circuit's closed form and an independent
NumPy oracle for every variant (shared/unshared, ablations, sign constraint, initialisations);
closed-form consequences of the constant init; the zero gradient of w_contra; parameter
counts; and the spec's returns at initialisation on the MuJoCo C body (specs/ncap.md §4.2).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.embodied.ncap import NCAP, NCAPParams, ncap_closed_form
from neurojax.embodied.rollout import MLPPolicy, mlp_param_count

# dm_control 1.0.50 / MuJoCo 3.17 returns of NCAP at its constant init, 6 links, seeds 0-4
# (specs/ncap.md §4.2 and §6.3; reproduced here by the C backend with MuJoCo 4.0).
SPEC_RETURNS_6 = np.array([794.13, 807.01, 803.39, 801.49, 790.00])
TOL_RETURN = 0.01           # the spec's acceptance tolerance for these returns


def _oracle(w, q, k, N, period=60, constrained=True, osc=True, prop=True):
    """Independent NumPy NCAP; ``w`` = dict of unshared arrays (2, N-1), (2,), (2, N), (2, N)."""
    exc = (lambda x: np.maximum(x, 0)) if constrained else (lambda x: x)
    inh = (lambda x: np.minimum(x, 0)) if constrained else (lambda x: x)
    g = lambda x: np.clip(x, 0, 1)  # noqa: E731
    qn = np.clip(q / (2 * np.pi / (N + 1)), -1, 1)
    s = {0: g(qn), 1: g(-qn)}
    o = {0: float(k % period < period // 2)}
    o[1] = 1 - o[0]
    b = np.zeros((2, N))
    for side in (0, 1):
        for i in range(N):
            x = 0.0
            if i == 0 and osc:
                x += o[side] * exc(w["w_osc"][side])
            if i > 0 and prop:
                x += s[side][i - 1] * exc(w["w_prop"][side, i - 1])
            b[side, i] = g(x)
    m = np.zeros((2, N))
    for side in (0, 1):
        for i in range(N):
            m[side, i] = g(b[side, i] * exc(w["w_ipsi"][side, i])
                           + b[1 - side, i] * inh(w["w_contra"][side, i]))
    return m[0] - m[1]


VARIANTS = [dict(shared=True), dict(shared=False), dict(oscillator=False),
            dict(proprioception=False), dict(sign_constraint=False),
            dict(shared=False, sign_constraint=False)]


@pytest.mark.parametrize("kw", VARIANTS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_network_equals_closed_form_and_oracle(kw):
    N = 4
    ctrl = NCAP(N, **kw)
    rng = np.random.default_rng(0)
    q = rng.uniform(-1.4, 1.4, (40, N))     # beyond the limits too (clipped normalisation)
    k = rng.integers(0, 300, 40)
    f = jax.jit(jax.vmap(ctrl.act, in_axes=(None, 0, 0)))
    g = jax.jit(jax.vmap(lambda p, q, k: ncap_closed_form(ctrl, p, q, k), in_axes=(None, 0, 0)))
    for i, mag in enumerate(("constant", "random")):
        params = ctrl.init_params(jax.random.PRNGKey(i), mag)
        # generic weights off the +-1 corners (both signs when unconstrained)
        params = jax.tree.map(lambda w: w * 0.7 + 0.05, params) if i else params
        a_net, a_cf = np.asarray(f(params, q, k)), np.asarray(g(params, q, k))
        full = {n: np.broadcast_to(np.asarray(getattr(params, n)), s) for n, s in
                {"w_prop": (2, N - 1), "w_osc": (2,), "w_ipsi": (2, N), "w_contra": (2, N)}.items()}
        a_ref = np.stack([_oracle(full, q[j], int(k[j]), N, constrained=ctrl.sign_constraint,
                                  osc=ctrl.oscillator, prop=ctrl.proprioception)
                          for j in range(len(q))])
        np.testing.assert_allclose(a_net, a_ref, atol=1e-14)
        np.testing.assert_allclose(a_cf, a_ref, atol=1e-14)
        assert np.all(np.abs(a_ref) <= 1)
        if ctrl.sign_constraint or i:        # (random +-1 signs may silence every muscle)
            assert np.abs(a_ref).max() > 0.1


def test_constant_init_is_square_wave_plus_delay_line():
    """Spec §2.5: with weights +-1, a_0 is a +-1 square wave of period 60 and a_i = qn_{i-1}."""
    N = 5
    ctrl = NCAP(N)
    p = ctrl.init_params()
    q = np.random.default_rng(1).uniform(-1.0, 1.0, N)
    f = jax.jit(jax.vmap(ctrl.act, in_axes=(None, None, 0)))
    a = np.asarray(f(p, q, jnp.arange(120)))
    np.testing.assert_array_equal(a[:, 0], np.where(np.arange(120) % 60 < 30, 1.0, -1.0))
    np.testing.assert_allclose(a[:, 1:], np.broadcast_to(q[:-1] / (2 * np.pi / 6), (120, N - 1)),
                               atol=1e-15)


def test_w_contra_has_zero_gradient_when_constrained():
    """Spec §2.5: without speed/turn inputs at most one B-neuron per joint is active, so the
    inhibitory contralateral weight never changes the action (exact zero gradient); without
    the sign constraint a positive contra weight does act."""
    N = 5
    q = jnp.asarray(np.random.default_rng(2).uniform(-1, 1, N))
    for shared in (True, False):
        ctrl = NCAP(N, shared=shared)
        p = jax.tree.map(lambda w: w * 0.8, ctrl.init_params())
        grad = jax.jit(jax.grad(lambda p: jnp.sum(jnp.sin(ctrl.act(p, q, 7)))))(p)
        assert np.all(np.asarray(grad.w_contra) == 0.0)
        assert np.abs(np.asarray(grad.w_ipsi)).max() > 0.1
    free = NCAP(N, sign_constraint=False)
    p = NCAPParams(*(jnp.asarray(x) for x in (0.8, 0.8, 0.6, 0.5)))
    grad = jax.jit(jax.grad(lambda p: free.act(p, q, 7)[0]))(p)
    # head joint at k = 7: b^d_0 = 0.8, b^v_0 = 0, so a_0 = g(0.48) - g(0.8 w_contra)
    assert float(grad.w_contra) == pytest.approx(-0.8, abs=1e-12)


def test_parameter_counts_and_inits():
    # spec §2.5 / §2.7: 4 shared (any N), 6N unshared; Tonic MLP actors
    for N in (3, 5, 7, 9, 11, 13):
        assert NCAP(N).n_params == 4
        assert NCAP(N, shared=False).n_params == 6 * N
    assert NCAP(5, oscillator=False).n_params == 3
    assert mlp_param_count(24, (256, 256), 5) == 73477
    assert mlp_param_count(23, (256, 256), 5) == 73221
    assert MLPPolicy(24, 5).n_params == 6085
    assert MLPPolicy(24, 5, log_std=True).n_params == 6090
    key = jax.random.PRNGKey(0)
    c = NCAP(30, shared=False)
    p = c.init_params(key, "random")
    for name in ("w_prop", "w_osc", "w_ipsi"):
        w = np.asarray(getattr(p, name))
        assert w.min() >= 0 and w.max() <= 1
    assert np.asarray(p.w_contra).max() <= 0 and np.asarray(p.w_contra).min() >= -1
    # unconstrained constant: +-1 with p = 1/2 (58 + 2 + 60 + 60 = 180 weights)
    u = np.concatenate([np.ravel(w) for w in NCAP(30, shared=False, sign_constraint=False)
                        .init_params(key, "constant")])
    assert set(np.unique(u)) == {-1.0, 1.0} and abs(np.mean(u == 1.0) - 0.5) < 0.15
    r = np.concatenate([np.ravel(w) for w in NCAP(30, shared=False, sign_constraint=False)
                        .init_params(key, "random")])
    assert r.min() >= -1 and r.max() <= 1 and r.min() < -0.5 and r.max() > 0.5
    np.testing.assert_array_equal(np.asarray(NCAP(5).init_params()), [1.0, 1.0, 1.0, -1.0])
    with pytest.raises(ValueError, match="key"):
        NCAP(5).init_params(None, "random")
    with pytest.raises(ValueError, match="magnitude"):
        NCAP(5).init_params(key, "uniform")


def test_returns_at_init_on_c_body():
    """Spec §4.2: NCAP at init on 6 links returns 794.13 / 807.01 / 803.39 / 801.49 / 790.00
    (seeds 0-4) within 0.01; no proprioception <= 200 and no oscillator <= 150."""
    pytest.importorskip("mujoco")
    from neurojax.embodied import SwimmerC, rollout_c
    env = SwimmerC(6)
    ret = rollout_c(env, NCAP(5), NCAP(5).init_params(), seeds=range(5))["returns"]
    np.testing.assert_allclose(ret, SPEC_RETURNS_6, atol=TOL_RETURN)
    for kw, bound in ((dict(proprioception=False), 200.0), (dict(oscillator=False), 150.0)):
        c = NCAP(5, **kw)
        r = rollout_c(env, c, c.init_params(), seeds=[0])["returns"]
        assert r.max() <= bound, (kw, r)
