"""neurojax.fitting: parameter spaces, fit / random_search / cma_es, objectives, data loaders.

Numbers, not shapes: transforms vs their closed-form derivatives, optimisers vs known minima,
evaluation counts vs a host-side counter, objectives vs closed forms and NumPy references, a
LIF fit vs the ground truth that generated the trace, loaders vs the arrays they were written
from.
"""
import math
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import neurojax as nj
from neurojax import fitting
from tolerances import EXACT


# ---------------------------------------------------------------------------------------
# Parameter spaces
# ---------------------------------------------------------------------------------------

def test_transforms_round_trip_and_closed_form_derivatives():
    space = fitting.ParamSpace({"b": fitting.Bounded(-3.0, 7.0), "p": fitting.Positive(),
                                "f": fitting.Free()}, scale={"p": 20.0, "f": 65.0})
    x = {"b": jnp.array([-2.999, -1.0, 2.0, 6.5]), "p": jnp.array([1e-4, 0.3, 20.0, 900.0]),
         "f": jnp.array([-80.0, -65.0, 0.0, 12.0])}
    us = jnp.linspace(-6.0, 6.0, 7)

    @jax.jit                                     # one compile for the whole check
    def compute(x, us):
        u = space.to_unconstrained(x)
        grads = {name: jax.vmap(jax.grad(
            lambda ui, name=name: space.to_constrained({"b": ui, "p": ui, "f": ui})[name]))(us)
            for name in space.names}
        du_dx = jax.grad(lambda xv: space.to_unconstrained({"b": xv, "p": 1.0, "f": 0.0})["b"])
        return dict(u=u, back=space.to_constrained(u), grads=grads, du_dx=du_dx(2.0),
                    mid=space.to_unconstrained({"b": 2.0, "p": 1.0, "f": -65.0}),
                    at0=space.to_constrained({"b": 0.0, "p": 0.0, "f": 0.0}))
    out = compute(x, us)
    for k in x:
        np.testing.assert_allclose(out["back"][k], x[k], rtol=1e-12, atol=0)
    # closed-form values: midpoint of a Bounded is u = 0; Free is x / s; Positive(0) = s log 2
    assert float(out["mid"]["b"]) == 0.0 and float(out["mid"]["f"]) == -1.0
    np.testing.assert_allclose(out["at0"]["p"], 20.0 * math.log(2.0), **EXACT)
    # derivatives dx/du: (h - l) sig (1 - sig), s * sig(u), s
    sig = 1.0 / (1.0 + np.exp(-np.asarray(us)))
    for name, expected in [("b", 10.0 * sig * (1 - sig)), ("p", 20.0 * sig),
                           ("f", np.full(7, 65.0))]:
        np.testing.assert_allclose(out["grads"][name], expected, **EXACT)
    # the inverse's derivative is the reciprocal, 1 / ((h - l) / 4) at the midpoint
    np.testing.assert_allclose(out["du_dx"], 1.0 / (10.0 * 0.25), **EXACT)


def test_space_sampling_ranges_and_validation(key):
    space = fitting.ParamSpace({"b": fitting.Bounded(2.0, 4.0), "p": fitting.Positive(),
                                "q": fitting.Positive(0.1, 10.0), "f": fitting.Free()},
                               scale={"p": 5.0, "f": 2.0})
    n = 4000
    x = {k: np.asarray(v) for k, v in space.sample(key, n).items()}
    assert all(v.shape == (n,) for v in x.values())
    assert 2.0 < x["b"].min() and x["b"].max() < 4.0
    assert abs(x["b"].mean() - 3.0) < 4 * (2.0 / math.sqrt(12 * n))        # uniform mean
    assert 5.0 / 3 <= x["p"].min() and x["p"].max() <= 15.0
    assert abs(np.log(x["p"]).mean() - math.log(5.0)) < 4 * (2 * math.log(3) / math.sqrt(12 * n))
    assert abs(np.log(x["q"]).mean() - 0.0) < 4 * (2 * math.log(10) / math.sqrt(12 * n))
    assert -2.0 <= x["f"].min() and x["f"].max() <= 2.0
    space.validate({k: v[:3] for k, v in x.items()})
    with pytest.raises(ValueError, match=r"fit init\['b'\].*inside \(2.0, 4.0\)"):
        space.validate({"b": 4.0, "p": 1.0, "q": 1.0, "f": 0.0}, "fit init")
    with pytest.raises(ValueError, match=r"\['p'\] must be finite and > 0"):
        space.validate({"b": 3.0, "p": -1.0, "q": 1.0, "f": 0.0})
    with pytest.raises(ValueError, match="missing \\['f'\\]"):
        space.to_unconstrained({"b": 3.0, "p": 1.0, "q": 1.0})
    with pytest.raises(ValueError, match="low must be < high"):
        fitting.Bounded(1.0, 1.0)
    with pytest.raises(ValueError, match="Bounded parameters .* take no scale"):
        fitting.ParamSpace({"b": fitting.Bounded(0.0, 1.0)}, scale={"b": 2.0})
    with pytest.raises(ValueError, match="both low and high"):
        fitting.Positive(low=1.0)
    with pytest.raises(TypeError, match="must be Bounded, Positive or Free"):
        fitting.ParamSpace({"a": 1.0})
    # hashable and equal by value (fit uses it as a static jit argument)
    again = fitting.ParamSpace({"b": fitting.Bounded(2.0, 4.0), "p": fitting.Positive(),
                                "q": fitting.Positive(0.1, 10.0), "f": fitting.Free()},
                               scale={"p": 5.0, "f": 2.0})
    assert again == space and hash(again) == hash(space)


# ---------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------

def _counting(fn):
    """``fn`` plus a host-side counter of its evaluations (a batched call counts per element).

    The counter is a ``pure_callback`` whose (zero) result is added to the loss, so it is not
    dead-code eliminated; it sees a stopped-gradient input, so ``grad`` passes through it, and
    under ``vmap`` it is called once per batch (``vmap_method="expand_dims"``).
    """
    count = [0]

    def bump(x):
        count[0] += int(np.size(x))
        return np.zeros_like(x)

    def wrapped(p):
        x = jax.lax.stop_gradient(p[next(iter(p))])
        zero = jax.pure_callback(bump, jax.ShapeDtypeStruct(x.shape, x.dtype), x,
                                 vmap_method="expand_dims")
        return fn(p) + zero
    return wrapped, count


def test_fit_quadratic_exact_minimum_best_tracking_and_eval_count(key):
    space = fitting.ParamSpace({"a": fitting.Bounded(-5.0, 5.0), "b": fitting.Positive(),
                                "c": fitting.Free()}, scale={"c": 4.0})

    def quad(p):
        return (p["a"] - 1.5) ** 2 + 3.0 * (p["b"] - 0.2) ** 2 + 0.5 * (p["c"] + 3.0) ** 2
    loss, count = _counting(quad)
    res = fitting.fit(loss, space, key=key, n_starts=3, n_steps=430, chunk=200, progress=False,
                      optimizer=optax.adam(optax.exponential_decay(0.1, 80, 0.5)))
    np.testing.assert_allclose([res.best_params[k] for k in "abc"], [1.5, 0.2, -3.0], atol=1e-6)
    # exactly n_steps * n_starts loss+gradient evaluations, the short last chunk included
    assert res.n_evals == 430 * 3 == count[0]
    assert res.history.shape == (430, 3) and np.isfinite(res.history).all()
    # the best of each start is the lowest loss it evaluated, and the returned point has it
    np.testing.assert_array_equal(res.losses, res.history.min(axis=0))
    assert res.best_loss == res.history.min()
    np.testing.assert_allclose(quad(res.best_params), res.best_loss, rtol=1e-9, atol=1e-18)
    assert res.n_nan == 0 and res.seconds > 0


def test_fit_rosenbrock_in_a_bounded_space(key):
    space = fitting.ParamSpace({"x": fitting.Bounded(-2.0, 2.0), "y": fitting.Bounded(-2.0, 2.0)})

    def rosenbrock(p):
        return (1 - p["x"]) ** 2 + 100 * (p["y"] - p["x"] ** 2) ** 2
    res = fitting.fit(rosenbrock, space, key=key, n_starts=4, n_steps=4000, chunk=1000,
                      optimizer=optax.adam(0.05, b2=0.99), progress=False)
    np.testing.assert_allclose([res.best_params["x"], res.best_params["y"]], [1.0, 1.0], atol=1e-3)
    assert res.best_loss < 1e-6


def test_fit_multistart_finds_the_global_well_of_a_double_well(key):
    space = fitting.ParamSpace({"x": fitting.Bounded(-2.0, 2.0)})

    def double_well(p):
        return (p["x"] ** 2 - 1.0) ** 2 + 0.3 * p["x"]
    roots = np.sort(np.roots([4.0, 0.0, -4.0, 0.3]).real)           # f'(x) = 0
    x_global, x_local = roots[0], roots[2]                             # left well is lower
    init = {"x": jnp.array([-1.5, -0.3, 0.4, 0.9, 1.2, 1.8])}
    res = fitting.fit(double_well, space, key=key, n_starts=6, n_steps=800, init=init,
                      optimizer=optax.adam(optax.exponential_decay(0.05, 200, 0.5)),
                      progress=False, chunk=400)
    x = np.asarray(res.params["x"])
    np.testing.assert_allclose(res.best_params["x"], x_global, atol=1e-6)
    np.testing.assert_allclose(res.best_loss, float(double_well({"x": x_global})), atol=1e-12)
    assert np.sum(np.abs(x - x_local) < 1e-4) >= 2          # single starts do get stuck
    assert np.sum(np.abs(x - x_global) < 1e-4) >= 2


def test_fit_early_stopping(key):
    space = fitting.ParamSpace({"x": fitting.Free()})
    kwargs = dict(key=key, n_starts=2, n_steps=5000, patience=50, chunk=25, tol=1e-12,
                  optimizer=optax.sgd(0.1), progress=False)       # one compile for both runs

    def loss(p):
        return (p["x"] - 2.0) ** 2
    # Started at the minimum, no start ever improves after its first evaluation (step 0):
    # 25 - 0 <= 50 after the first chunk, 50 - 0 <= 50 after the second, stop after the third.
    res = fitting.fit(loss, space, init={"x": jnp.array([2.0, 2.0])}, **kwargs)
    assert res.history.shape == (75, 2) and res.n_evals == 150 and res.best_loss == 0.0
    # A converging fit stops soon after its improvements fall below tol.
    res = fitting.fit(loss, space, init={"x": jnp.array([0.0, 5.0])}, **kwargs)
    steps = res.history.shape[0]
    assert steps < 400 and steps % 25 == 0 and res.n_evals == 2 * steps
    np.testing.assert_allclose(res.best_params["x"], 2.0, atol=1e-5)
    # the progress bar changes nothing (and does not recompile: progress is not static)
    again = fitting.fit(loss, space, init={"x": jnp.array([0.0, 5.0])},
                        **{**kwargs, "progress": True})
    np.testing.assert_array_equal(again.history, res.history)


def test_fit_regulariser_is_added_to_the_loss(key):
    space = fitting.ParamSpace({"x": fitting.Free()})
    # (x - 2)^2 + 3 x^2 is smallest at x = 0.5, where it is 1.5^2 + 3 * 0.25 = 3
    res = fitting.fit(lambda p: (p["x"] - 2.0) ** 2, space, key=key, n_starts=2, n_steps=200,
                      regulariser=lambda p: 3.0 * p["x"] ** 2, optimizer=optax.sgd(0.05),
                      progress=False, chunk=200)
    np.testing.assert_allclose(res.best_params["x"], 0.5, atol=1e-9)
    np.testing.assert_allclose(res.best_loss, 3.0, atol=1e-12)


def test_fit_freezes_and_reports_starts_that_hit_nan(key):
    space = fitting.ParamSpace({"x": fitting.Free()})

    def loss(p):                       # undefined (NaN) beyond x = 2; the minimum x = 3 is there
        x = p["x"]
        return jnp.where(x > 2.0, jnp.nan, (x - 3.0) ** 2)
    init = {"x": jnp.array([0.0, 2.5, 1.0])}    # the middle start is NaN from the first step
    res = fitting.fit(loss, space, key=key, n_starts=3, n_steps=300, init=init,
                      optimizer=optax.sgd(0.05), progress=False, chunk=100)
    x = np.asarray(res.params["x"])
    assert res.n_nan == 3                       # all walk into x > 2 (the middle one starts there)
    assert math.isfinite(res.best_loss) and float(res.best_params["x"]) <= 2.0
    assert np.isnan(res.losses[1]) and x[1] == 2.5            # never had a finite loss
    for j in (0, 2):                             # frozen at the best point, just below 2
        assert 1.8 < x[j] <= 2.0 and res.losses[j] == np.nanmin(res.history[:, j])
    assert res.best_loss == np.nanmin(res.history)
    with pytest.raises(FloatingPointError, match="every one of the 2 starts"):
        fitting.fit(lambda p: jnp.nan * p["x"], space, key=key, n_starts=2, n_steps=5,
                    progress=False)


def test_fit_bad_arguments(key, monkeypatch):
    space = fitting.ParamSpace({"x": fitting.Bounded(0.0, 1.0)})
    with pytest.raises(ValueError, match=r"init\['x'\] must have shape \(n_starts,\) = \(3,\)"):
        fitting.fit(lambda p: p["x"], space, key=key, n_starts=3, init={"x": jnp.array([0.5])},
                    progress=False)
    with pytest.raises(ValueError, match="n_steps must be a positive int"):
        fitting.fit(lambda p: p["x"], space, key=key, n_steps=0, progress=False)
    with pytest.raises(TypeError, match="must return a scalar"):
        fitting.fit(lambda p: jnp.stack([p["x"], p["x"]]), space, key=key, progress=False)
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match="progress=True needs tqdm.*progress=False"):
        fitting.fit(lambda p: p["x"], space, key=key, n_steps=1)


# ---------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------

def _rosenbrock_nd(p):
    x = jnp.stack([p[f"x{i}"] for i in range(5)])
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_cma_es_constants_are_hansens_defaults():
    from neurojax.fitting.fit import cma_constants
    k = cma_constants(5, 8)                       # lambda = 4 + floor(3 ln 5) = 8, mu = 4
    w = np.log(4.5) - np.log([1, 2, 3, 4])
    np.testing.assert_allclose(k.weights, w / w.sum(), **EXACT)
    mu_eff = 1 / np.sum((w / w.sum()) ** 2)
    np.testing.assert_allclose(k.mu_eff, mu_eff, **EXACT)
    np.testing.assert_allclose(k.c_s, (mu_eff + 2) / (5 + mu_eff + 5), **EXACT)
    np.testing.assert_allclose(k.c_1, 2 / (6.3 ** 2 + mu_eff), **EXACT)
    np.testing.assert_allclose(k.chi_n, math.sqrt(5) * (1 - 1 / 20 + 1 / 525), **EXACT)


def test_cma_es_solves_5d_rosenbrock_within_budget_with_exact_count(key):
    space = fitting.ParamSpace({f"x{i}": fitting.Free() for i in range(5)})

    def rosenbrock_with_a_hole(p):     # NaN for x0 > 1: the minimum (all 1) is on its edge
        return jnp.where(p["x0"] > 1.0, jnp.nan, _rosenbrock_nd(p))
    loss, count = _counting(rosenbrock_with_a_hole)
    res = fitting.cma_es(loss, space, key=key, n_evals=4003)        # 500 generations of 8 + 3
    assert res.n_evals == 4003 == count[0]
    assert res.history.shape == (501, 8) and np.isnan(res.history[-1, 3:]).all()
    assert res.n_nan == np.isnan(res.history).sum() - 5 > 100      # NaNs rank last, are counted
    assert res.best_loss < 1e-10 and res.best_loss == np.nanmin(res.history)
    np.testing.assert_allclose([res.best_params[k] for k in space.names], 1.0, atol=1e-4)
    np.testing.assert_allclose(_rosenbrock_nd(res.best_params), res.best_loss, atol=1e-14)


def test_random_search_exact_count_and_best(key):
    space = fitting.ParamSpace({"a": fitting.Bounded(0.0, 1.0), "b": fitting.Bounded(0.0, 1.0)})
    loss, count = _counting(lambda p: (p["a"] - 0.3) ** 2 + (p["b"] - 0.6) ** 2)
    res = fitting.random_search(loss, space, key=key, n_evals=300, batch=128)
    assert res.n_evals == 300 == count[0] and res.history.shape == (3, 128)
    draws = space.sample(key, 300)                      # the same draws, evaluated on the host
    ref = (np.asarray(draws["a"]) - 0.3) ** 2 + (np.asarray(draws["b"]) - 0.6) ** 2
    np.testing.assert_allclose(res.losses, ref, **EXACT)
    np.testing.assert_allclose(res.best_loss, ref.min(), rtol=1e-12)
    assert res.best_loss < 5e-3


def test_random_search_skips_nan_losses(key):
    space = fitting.ParamSpace({"a": fitting.Bounded(0.0, 1.0)})

    def loss(p):
        return jnp.where(p["a"] < 0.5, jnp.nan, (p["a"] - 0.4) ** 2)
    res = fitting.random_search(loss, space, key=key, n_evals=200, batch=200)
    draws = np.asarray(space.sample(key, 200)["a"])
    assert res.n_nan == np.sum(draws < 0.5) and 60 < res.n_nan < 140
    np.testing.assert_allclose(res.best_loss, (draws[draws >= 0.5].min() - 0.4) ** 2, rtol=1e-12)
    with pytest.raises(FloatingPointError, match="all 10 losses were non-finite"):
        fitting.random_search(lambda p: jnp.nan * p["a"], space, key=key, n_evals=10)


# ---------------------------------------------------------------------------------------
# A real use: LIF subthreshold parameters from a voltage trace
# ---------------------------------------------------------------------------------------

def test_fit_recovers_lif_tau_m_and_v_rest_from_a_subthreshold_trace(key):
    dt, T = 0.1, 250
    net = nj.Network({"N": nj.Population(nj.LIF(), 1)}, {}, dt=dt)
    base = nj.init_params(net)["N"]
    current = jnp.where(jnp.arange(T) * dt >= 10.0, 150.0, 0.0)[:, None]   # 150 pA step
    record = nj.Record(("N", "v"))

    def trace(tau_m, v_rest):
        params = {"N": base._replace(tau_m=jnp.asarray(tau_m, base.tau_m.dtype),
                                     v_rest=jnp.asarray(v_rest, base.v_rest.dtype))}
        _, ys = nj.simulate(net, params, nj.init_state(net, params), {"N": current},
                            record=record)
        return ys["N"]["v"][:, 0]

    truth = {"tau_m": 12.0, "v_rest": -67.0}
    target = trace(**truth)
    # subthreshold (no spikes), and the closed form V_inf = v_rest + (tau_m / c_m) I
    assert float(target.max()) < float(base.v_th)
    np.testing.assert_allclose(target[-1], -67.0 + 12.0 / 250.0 * 150.0
                               - 12.0 / 250.0 * 150.0 * math.exp(-15.0 / 12.0), atol=1e-9)

    def loss(p):
        return fitting.trace_mse(trace(p["tau_m"], p["v_rest"]), target)
    space = fitting.ParamSpace({"tau_m": fitting.Bounded(2.0, 50.0), "v_rest": fitting.Free()},
                               scale={"v_rest": 10.0})
    init = {"tau_m": jnp.array([5.0, 30.0]), "v_rest": jnp.array([-60.0, -75.0])}
    res = fitting.fit(loss, space, key=key, n_starts=2, n_steps=300, init=init,
                      optimizer=optax.adam(0.05), progress=False, chunk=150)
    for name, value in truth.items():
        np.testing.assert_allclose(res.best_params[name], value, rtol=1e-3)
        np.testing.assert_allclose(res.params[name], value, rtol=1e-3)    # both starts
    assert res.best_loss < 1e-10


# ---------------------------------------------------------------------------------------
# Objectives
# ---------------------------------------------------------------------------------------

def _train(T, times):
    s = np.zeros(T)
    s[list(times)] = 1.0
    return jnp.asarray(s)


def test_van_rossum_closed_forms():
    dt, tau, T = 0.1, 4.0, 400
    ref = _train(T, [50])
    # single spikes: D^2 = 1 - exp(-|Delta| / tau), either order, any position in the record
    for other in (50, 51, 60, 90, 10, 399):
        d2 = fitting.van_rossum(ref, _train(T, [other]), tau, dt)
        np.testing.assert_allclose(d2, 1 - math.exp(-abs(other - 50) * dt / tau), **EXACT)
    np.testing.assert_allclose(fitting.van_rossum(ref, jnp.zeros(T), tau, dt), 0.5, **EXACT)
    np.testing.assert_allclose(fitting.van_rossum(ref, _train(T, [70]), tau, dt, squared=False),
                               math.sqrt(1 - math.exp(-2.0 / tau)), **EXACT)
    # many spikes, two neurons: D^2 = (sum K(a,a') + sum K(b,b') - 2 sum K(a,b)) / 2,
    # K(a, b) = exp(-|a - b| / tau)
    rng = np.random.default_rng(0)
    s1 = (rng.random((T, 2)) < 0.03).astype(float)
    s2 = (rng.random((T, 2)) < 0.03).astype(float)
    d2 = fitting.van_rossum(jnp.asarray(s1), jnp.asarray(s2), tau, dt)
    for j in range(2):
        a, b = np.flatnonzero(s1[:, j]) * dt, np.flatnonzero(s2[:, j]) * dt

        def k(x, y):
            return np.exp(-np.abs(x[:, None] - y[None, :]) / tau).sum()
        np.testing.assert_allclose(d2[j], 0.5 * (k(a, a) + k(b, b) - 2 * k(a, b)), rtol=1e-10)
    # differentiable in the spike values: d(D^2)/ds2[k] for the single-spike pair
    g = jax.grad(lambda s: fitting.van_rossum(ref, s, tau, dt))(_train(T, [60]))
    assert np.isfinite(np.asarray(g)).all() and float(g[60]) > 0


def test_trace_losses_simple_numbers():
    v = jnp.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    z = jnp.zeros((3, 2))
    np.testing.assert_allclose(fitting.trace_mse(v, z), 55.0 / 6.0, **EXACT)
    np.testing.assert_allclose(fitting.trace_mse(v, z, mask=jnp.array([1.0, 0.0, 1.0])),
                               (0 + 1 + 16 + 25) / 4.0, **EXACT)
    np.testing.assert_allclose(fitting.windowed_trace_mse(v, z, [(0, 1), (1, 3)]),
                               0.5 * (0.5 + (4 + 9 + 16 + 25) / 4.0), **EXACT)
    vm = jnp.array([-70.0, -55.0, 20.0, -60.0])
    target = jnp.array([-70.0, -52.0, -10.0, -60.0])
    np.testing.assert_allclose(fitting.spike_aware_trace_loss(vm, target, v_clip=-50.0),
                               (9.0 + 0.0) / 4.0, **EXACT)
    g = jax.grad(lambda x: fitting.spike_aware_trace_loss(x, target, -50.0))(vm)
    np.testing.assert_allclose(g, [0.0, -1.5, 0.0, 0.0], **EXACT)
    with pytest.raises(ValueError, match="same shape"):
        fitting.trace_mse(v, jnp.zeros(3))
    with pytest.raises(ValueError, match="window \\(2, 9\\)"):
        fitting.windowed_trace_mse(v, z, [(2, 9)])


def test_spike_statistics_match_metrics_and_closed_forms():
    dt, T = 0.5, 400
    rng = np.random.default_rng(1)
    s = (rng.random((T, 5)) < 0.05).astype(float)
    s[:, 4] = 0.0
    s[7, 4] = 1.0                              # one spike only: no ISI
    s[:, 3] = 0.0
    s[5::20, 3] = 1.0                          # regular: CV exactly 0

    @jax.jit                                   # one compile for all of them (the usual use)
    def stats(x):
        return dict(count=fitting.spike_count(x), fr=fitting.firing_rate(x, dt),
                    fi=fitting.fi_curve(x, dt, t_skip=50.0), isi_cv=fitting.isi_cv(x, dt),
                    cv=fitting.cv(x, dt), rate=fitting.rate(x, dt),
                    rate_t=fitting.rate(x, dt, bin_ms=10.0), first=fitting.first_spike_time(x, dt),
                    corr=fitting.pairwise_correlation(x, dt, bin_ms=10.0),
                    grad_cv=jax.grad(lambda y: fitting.isi_cv(y, dt, empty=0.0).sum())(x),
                    grad_first=jax.grad(lambda y: fitting.first_spike_time(y, dt).sum())(x))
    out = stats(jnp.asarray(s))
    np.testing.assert_allclose(out["count"], s.sum(0), **EXACT)
    np.testing.assert_allclose(out["fr"], s.sum(0) / (T * dt * 1e-3), **EXACT)
    np.testing.assert_allclose(out["fi"], s[100:].sum(0) / ((T - 100) * dt * 1e-3), **EXACT)
    cv_ref = nj.metrics.isi_cv(s, dt)
    assert np.isnan(cv_ref[4]) and np.isfinite(cv_ref[:4]).all() and cv_ref[3] == 0.0
    np.testing.assert_allclose(out["isi_cv"], cv_ref, rtol=1e-10)
    np.testing.assert_allclose(out["cv"], np.nanmean(cv_ref), rtol=1e-10)
    np.testing.assert_allclose(out["rate"], s.mean() / (dt * 1e-3), **EXACT)
    np.testing.assert_allclose(out["rate_t"], nj.metrics.population_rate(s, dt, bin_ms=10.0),
                               **EXACT)
    np.testing.assert_allclose(out["first"], [np.flatnonzero(s[:, j])[0] * dt for j in range(5)],
                               **EXACT)
    counts = s.reshape(20, 20, 5).sum(1)
    varying = counts.std(0) > 0                 # the regular neuron has constant counts: left out
    assert varying.tolist() == [True, True, True, False, True]
    np.testing.assert_allclose(out["corr"],
                               np.corrcoef(counts[:, varying].T)[np.triu_indices(4, 1)].mean(),
                               rtol=1e-10)
    # gradients are finite, also where the CV is exactly 0 (a regular train)
    for name in ("grad_cv", "grad_first"):
        assert np.isfinite(np.asarray(out[name])).all()
    assert np.abs(np.asarray(out["grad_first"])).sum() > 0


def test_soft_first_spike_time_from_voltage():
    dt = 0.1
    t = jnp.arange(1000) * dt
    v = -70.02 + 0.5 * t                    # crosses -50 mV at t = 40.04 ms
    hard = fitting.first_spike_time(v, dt, threshold=-50.0, width=1e-3)
    np.testing.assert_allclose(hard, 40.1, atol=1e-6)              # first sample with v > -50
    soft = fitting.first_spike_time(v, dt, threshold=-50.0, width=0.5)
    np.testing.assert_allclose(soft, 40.04 + dt / 2, atol=1e-3)     # ramp: t_c + dt / 2
    g = jax.grad(lambda th: fitting.first_spike_time(v, dt, threshold=th, width=0.5))(-50.0)
    np.testing.assert_allclose(g, 1.0 / 0.5, rtol=0.02)           # dt1/dtheta = 1 / slope


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------

def test_csv_round_trip_and_dt_inference(tmp_path):
    T, dt = 200, 0.025
    t = 5.0 + np.arange(T) * dt
    v = -65.0 + np.sin(t)
    i = np.where(t > 6.0, 100.0, 0.0)
    path = tmp_path / "rec.csv"
    np.savetxt(path, np.stack([t, v, i], 1), delimiter=",", header="time,V,I_inj", comments="",
               fmt="%.17g")
    rec = fitting.load_csv(path)
    assert rec.dt == dt
    np.testing.assert_array_equal(rec.v, v)
    np.testing.assert_array_equal(rec.i_inj, i)
    np.testing.assert_allclose(rec.t, t - 5.0, rtol=0, atol=1e-12)
    # headerless, positional t, v; printed with 6 digits (round-off well inside 1 % of dt)
    np.savetxt(path, np.stack([t, v], 1), delimiter=",", fmt="%.6g")
    rec = fitting.load_csv(path, dt=dt)
    assert rec.dt == dt and rec.i_inj is None
    np.testing.assert_allclose(rec.v, v, atol=1e-4)
    with pytest.raises(ValueError, match="dt = 0.03 ms is inconsistent with t"):
        fitting.load_csv(path, dt=0.03)


def test_data_errors(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("t,v\n0.0,-65\n0.1,\n0.2,-64\n")
    with pytest.raises(ValueError, match=r"Recording.v contains NaN \(first at index \(1,\)\)"):
        fitting.load_csv(path)
    path.write_text("t,v\n0.0,-65\n0.1,-65\n0.25,-64\n0.3,-64\n")
    with pytest.raises(ValueError, match="not uniformly sampled: sample 2"):
        fitting.load_csv(path)
    path.write_text("t,v\n0.0,-65\n0.1,-65\n0.1,-64\n")
    with pytest.raises(ValueError, match="strictly increasing"):
        fitting.load_csv(path)
    v = np.full(10, -65.0)
    with pytest.raises(ValueError, match="lengths must match"):
        fitting.from_arrays(v, dt=0.1, i_inj=np.zeros(9))
    with pytest.raises(ValueError, match="lengths must match"):
        fitting.from_arrays(v, t=np.arange(11) * 0.1)
    with pytest.raises(ValueError, match="Recording.dt must be a positive number"):
        fitting.from_arrays(v, dt=-0.1)
    with pytest.raises(ValueError, match="Recording.i_inj contains NaN"):
        fitting.from_arrays(v, dt=0.1, i_inj=np.r_[np.zeros(9), np.nan])
    with pytest.raises(ValueError, match=r"spikes\[0\] must lie in \[0, 1.0\)"):
        fitting.Recording(dt=0.1, v=v, spikes=(np.array([0.5, 1.2]),)).validate()
    rec = fitting.from_arrays(v, dt=0.1, spikes=(np.array([0.2, 0.5]),))
    assert rec.spikes[0].tolist() == [0.2, 0.5]


def test_spike_times_to_train_round_trip():
    dt, T = 0.1, 500
    times = (np.array([0.0, 1.3, 20.0, 49.9]), np.array([5.5]))
    train = fitting.spike_times_to_train(times, T, dt)
    for j in range(2):
        np.testing.assert_allclose(np.flatnonzero(train[:, j]) * dt, times[j], atol=1e-12)
    np.testing.assert_allclose(nj.metrics.firing_rates(train, dt), [80.0, 20.0], **EXACT)
    with pytest.raises(ValueError, match="outside \\[0, 50.0\\)"):
        fitting.spike_times_to_train([50.0], T, dt)


def test_load_nwb_like_without_h5py_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)          # makes `import h5py` fail
    with pytest.raises(ImportError, match=r"needs the optional dependency h5py.*neurojax\[nwb\]"):
        fitting.load_nwb_like(tmp_path / "x.nwb")


class _FakeDataset:
    def __init__(self, value, **attrs):
        self.value, self.attrs = np.asarray(value), attrs

    def __getitem__(self, key):
        return self.value


class _FakeGroup(dict):
    def __init__(self, attrs=None, **children):
        super().__init__(children)
        self.attrs = attrs or {}

    def __getitem__(self, path):
        node = self
        for part in str(path).split("/"):
            node = dict.__getitem__(node, part)
        return node

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_load_nwb_like_reads_the_timeseries_layout(tmp_path, monkeypatch):
    """The NWB parsing logic, against a stand-in for h5py's File/Group/Dataset interface."""
    T, rate = 50, 20000.0                                  # 20 kHz -> dt = 0.05 ms
    v_volts = -0.065 + 1e-3 * np.sin(np.arange(T))
    i_amps = np.r_[np.zeros(10), np.full(T - 10, 2e-10)]
    files = {
        "rate.nwb": _FakeGroup(acquisition=_FakeGroup(vm=_FakeGroup(
            data=_FakeDataset(v_volts * 1e6, unit="volts", conversion=1e-6),
            starting_time=_FakeDataset(0.0, rate=rate))),
            stimulus=_FakeGroup(presentation=_FakeGroup(inj=_FakeGroup(
                data=_FakeDataset(i_amps, unit="amperes"),
                starting_time=_FakeDataset(0.0, rate=rate))))),
        "stamps.nwb": _FakeGroup(acquisition=_FakeGroup(vm=_FakeGroup(
            data=_FakeDataset(v_volts * 1e3, unit="mV"),
            timestamps=_FakeDataset(1.0 + np.arange(T) / rate)))),
        "bad.nwb": _FakeGroup(acquisition=_FakeGroup(vm=_FakeGroup(
            data=_FakeDataset(v_volts, unit="furlongs"),
            timestamps=_FakeDataset(np.arange(T) / rate)))),
    }
    fake = types.ModuleType("h5py")
    fake.File = lambda path, mode="r": files[str(path)]
    monkeypatch.setitem(sys.modules, "h5py", fake)
    rec = fitting.load_nwb_like("rate.nwb", stimulus="inj")
    np.testing.assert_allclose(rec.dt, 0.05, **EXACT)
    np.testing.assert_allclose(rec.v, v_volts * 1e3, rtol=1e-12)           # mV
    np.testing.assert_allclose(rec.i_inj, i_amps * 1e12, rtol=1e-12)       # pA
    rec = fitting.load_nwb_like("stamps.nwb", series="vm")
    np.testing.assert_allclose(rec.dt, 0.05, **EXACT)
    np.testing.assert_allclose(rec.v, v_volts * 1e3, rtol=1e-12)
    with pytest.raises(ValueError, match="unknown unit 'furlongs'"):
        fitting.load_nwb_like("bad.nwb")


def test_load_nwb_like_round_trip_with_h5py(tmp_path):
    h5py = pytest.importorskip("h5py")
    T, dt = 100, 0.1
    v = -65.0 + np.cos(np.arange(T) * 0.1)
    path = tmp_path / "rec.nwb"
    with h5py.File(path, "w") as f:
        g = f.create_group("acquisition/vm")
        d = g.create_dataset("data", data=v * 1e-3)
        d.attrs["unit"] = "volts"
        d.attrs["conversion"] = 1.0
        s = g.create_dataset("starting_time", data=0.0)
        s.attrs["rate"] = 1e3 / dt
    rec = fitting.load_nwb_like(path)
    np.testing.assert_allclose(rec.dt, dt, **EXACT)
    np.testing.assert_allclose(rec.v, v, rtol=1e-12)
