"""Input encoders, spike-train metrics and plots: values against hand computation and statistics."""
import math
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import inputs, metrics, plotting

# Binomial counts are checked to within this many standard deviations (two-sided
# probability of a false failure ~6e-7 per check).
N_SIGMA = 5.0


def _binomial_ok(count, trials, p):
    mean, sd = trials * p, math.sqrt(trials * p * (1 - p))
    return abs(count - mean) <= N_SIGMA * sd, (count, mean, sd)


# ----------------------------------------------------------------------------- inputs

def test_poisson_rate_matches_binomial_expectation(key):
    dt, T = 0.1, 4000
    rates = jnp.array([5.0, 20.0, 80.0, 200.0])
    n_per = 50
    s = inputs.poisson(key, jnp.repeat(rates, n_per), T, dt=dt)
    assert s.shape == (T, rates.size * n_per) and s.dtype == jnp.float64
    assert set(np.unique(np.asarray(s)).tolist()) <= {0.0, 1.0}
    counts = np.asarray(s).reshape(T, rates.size, n_per).sum(axis=(0, 2))
    for r, c in zip(np.asarray(rates), counts):
        ok, info = _binomial_ok(c, T * n_per, r * dt * 1e-3)
        assert ok, f"rate {r} Hz: {info}"


def test_poisson_scalar_rate_time_varying_and_extremes(key):
    dt, T, n = 0.1, 1000, 20
    s = inputs.poisson(key, 30.0, T, n, dt)
    ok, info = _binomial_ok(float(s.sum()), T * n, 30.0 * dt * 1e-3)
    assert ok, info
    # rate 0 never spikes, rate 1/dt spikes in every step (p = 1), exactly
    rate = jnp.concatenate([jnp.zeros((T // 2, n)), jnp.full((T // 2, n), 1e4)])
    s = inputs.poisson(key, rate, T, dt=dt)
    assert float(s[: T // 2].sum()) == 0.0 and float(s[T // 2:].sum()) == T // 2 * n
    # explicit keys: reproducible, and different keys give different trains
    a = inputs.poisson(key, 100.0, 200, 5, dt)
    assert jnp.array_equal(a, inputs.poisson(key, 100.0, 200, 5, dt))
    assert not jnp.array_equal(a, inputs.poisson(jax.random.PRNGKey(1), 100.0, 200, 5, dt))


def test_poisson_jits_and_matches_eager(key):
    f = jax.jit(inputs.poisson, static_argnums=(2, 3, 4))
    rate = jnp.linspace(0.0, 100.0, 6)
    assert jnp.array_equal(f(key, rate, 300, 6, 0.1), inputs.poisson(key, rate, 300, 6, 0.1))


def test_bernoulli_exact_and_rate(key):
    x = jnp.array([[0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])            # an "image"
    s = inputs.bernoulli(key, x, 7)
    assert s.shape == (7, 2, 3)
    assert jnp.array_equal(s, jnp.broadcast_to(x, (7, 2, 3)))
    s = inputs.bernoulli(key, jnp.full((100,), 0.8), 500, gain=0.5)   # p = 0.4
    ok, info = _binomial_ok(float(s.sum()), 500 * 100, 0.4)
    assert ok, info
    assert float(inputs.bernoulli(key, jnp.ones(4), 10, gain=0.0).sum()) == 0.0


def test_latency_linear_exact():
    x = jnp.array([1.0, 0.75, 0.5, 0.25, 0.0])
    s = np.asarray(inputs.latency(x, n_steps=5))
    expected = np.zeros((5, 5))
    expected[[0, 1, 2, 3], [0, 1, 2, 3]] = 1.0                  # x = 0 never spikes
    np.testing.assert_array_equal(s, expected)
    s = np.asarray(inputs.latency(x, n_steps=5, threshold=0.4))  # x <= 0.4 silent
    assert s.sum(axis=0).tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]


def test_latency_log_matches_rc_formula():
    tau, theta, dt, T = 5.0, 0.5, 1.0, 6
    x = [1.0, 0.75, 0.6, 0.5, 0.2]
    s = np.asarray(inputs.latency(jnp.array(x), n_steps=T, method="log", threshold=theta,
                                  tau=tau, dt=dt))
    for j, xj in enumerate(x):
        if xj <= theta:
            assert s[:, j].sum() == 0
            continue
        step = round(tau * math.log(xj / (xj - theta)) / dt)     # 3.47 -> 3, 5.49 -> 5, 8.96 -> 9
        col = np.zeros(T)
        if step < T:
            col[step] = 1.0
        np.testing.assert_array_equal(s[:, j], col, err_msg=f"x = {xj}")
    assert s[:, 2].sum() == 0.0                                  # step 9 >= T: dropped


def test_step_current_exact():
    i = np.asarray(inputs.step_current(6, 2, 0.5, jnp.array([10.0, -5.0]), t_start=1.0,
                                       t_stop=2.5))
    np.testing.assert_array_equal(i[:, 0], [0, 0, 10, 10, 10, 0])
    np.testing.assert_array_equal(i[:, 1], [0, 0, -5, -5, -5, 0])
    np.testing.assert_array_equal(np.asarray(inputs.step_current(3, 1, 0.1, 1.0))[:, 0], [1, 1, 1])


@pytest.mark.parametrize("call, match", [
    (lambda k: inputs.poisson(k, -1.0, 10, 2), ">= 0"),
    (lambda k: inputs.poisson(k, 2e4, 10, 2, 0.1), "reduce dt"),
    (lambda k: inputs.poisson(k, jnp.ones(3), 10, 2), "shape"),
    (lambda k: inputs.poisson(k, 5.0, 10), "pass n"),
    (lambda k: inputs.poisson(k, 5.0, 0, 2), "n_steps"),
    (lambda k: inputs.poisson(k, 5.0, 10, 2, dt=0.0), "dt"),
    (lambda k: inputs.bernoulli(k, jnp.array([1.5]), 10), r"\[0, 1\]"),
    (lambda k: inputs.bernoulli(k, jnp.array([0.5]), 10, gain=2.0), "gain"),
    (lambda k: inputs.latency(jnp.array([0.5]), 10, method="cubic"), "method"),
    (lambda k: inputs.latency(jnp.array([0.5]), 10, method="log", threshold=0.0), "threshold"),
    (lambda k: inputs.latency(jnp.array([-0.1]), 10), r"\[0, 1\]"),
    (lambda k: inputs.step_current(10, 2, 0.1, jnp.ones(3)), "amplitude"),
    (lambda k: inputs.step_current(10, 2, 0.1, 1.0, t_start=2.0, t_stop=1.0), "t_stop"),
])
def test_input_validation(key, call, match):
    with pytest.raises(ValueError, match=match):
        call(key)


# ----------------------------------------------------------------------------- metrics

def _train(T, n, spike_steps):
    s = np.zeros((T, n))
    for i, steps in enumerate(spike_steps):
        s[list(steps), i] = 1.0
    return s


def test_firing_rates_and_population_rate():
    dt = 0.1
    s = _train(1000, 3, [range(0, 1000, 100), range(0, 1000, 10), []])   # 100 ms
    np.testing.assert_allclose(metrics.firing_rates(s, dt), [100.0, 1000.0, 0.0], rtol=1e-12)
    batched = jnp.stack([jnp.asarray(s), 2 * jnp.asarray(s) * 0.5])      # (2, T, n)
    np.testing.assert_allclose(metrics.firing_rates(batched, dt), [[100.0, 1000.0, 0.0]] * 2)
    assert float(metrics.firing_rates(jnp.asarray(s[:, 0]), dt)) == pytest.approx(100.0)
    # population rate: per step and in 1 ms bins (10 steps): 11 spikes in bin 0 of 3 neurons
    pop = np.asarray(metrics.population_rate(s, dt))
    assert pop[0] == pytest.approx(2 / (3 * 1e-4)) and pop[1] == 0.0
    binned = np.asarray(metrics.population_rate(s, dt, bin_ms=1.0))
    assert binned.shape == (100,)
    np.testing.assert_allclose(binned[:2], [2 / (3 * 1e-3), 1 / (3 * 1e-3)])
    np.testing.assert_allclose(binned.mean(), metrics.firing_rates(s, dt).mean())


def test_firing_rates_is_differentiable_and_jittable():
    s = jnp.zeros((50, 2))
    g = jax.grad(lambda x: metrics.firing_rates(x, 0.1).sum())(s)
    np.testing.assert_allclose(g, np.full((50, 2), 1 / (50 * 0.1e-3)))
    f = jax.jit(metrics.population_rate, static_argnums=(1, 2))
    np.testing.assert_allclose(f(s.at[0, 0].set(1.0), 0.1, 0.5)[0], 1 / (2 * 0.5e-3))


def test_isi_and_cv_hand_computed():
    dt = 0.5
    s = _train(100, 5, [range(3, 100, 7),            # regular: CV exactly 0
                        [0, 1, 4, 5, 8],             # ISIs 1, 3, 1, 3 steps: mean 2, sd 1
                        [10],                        # 1 spike: NaN
                        [],                          # silent: NaN
                        [2, 12]])                    # 2 spikes: one ISI, CV 0
    isis = metrics.isi(s, dt)
    np.testing.assert_allclose(isis[1], [0.5, 1.5, 0.5, 1.5])
    assert isis[2].size == 0 and isis[3].size == 0
    cv = metrics.isi_cv(s, dt)
    assert cv[0] == 0.0 and cv[1] == pytest.approx(0.5, abs=1e-15) and cv[4] == 0.0
    assert np.isnan(cv[2]) and np.isnan(cv[3])
    cv3 = metrics.isi_cv(s, dt, min_spikes=3)
    assert np.isnan(cv3[4]) and cv3[1] == pytest.approx(0.5)
    np.testing.assert_allclose(metrics.isi_cv(s[:, 1], dt), [0.5])       # (T,) input


def test_isi_cv_matches_per_neuron_numpy(key):
    s = np.asarray(inputs.poisson(key, jnp.linspace(1.0, 300.0, 40), 3000, dt=0.1))
    cv = metrics.isi_cv(s, 0.1)
    for i, x in enumerate(metrics.isi(s, 0.1)):
        expected = x.std() / x.mean() if x.size else np.nan
        np.testing.assert_allclose(cv[i], expected, rtol=1e-12, equal_nan=True)
    # a Poisson train has CV ~ 1 (the dead time of one step makes it slightly smaller)
    assert 0.9 < np.nanmean(cv[20:]) < 1.05


def test_fano_factor_hand_computed():
    dt = 0.1
    s = _train(45, 2, [[0, 1, 10, 30, 31, 32], [0, 10, 20, 30]])   # 10-step bins, last dropped
    # neuron 0 counts (2, 1, 0, 3): mean 1.5, var 1.25 (ddof 0) or 5/3 (ddof 1); neuron 1: all 1
    np.testing.assert_allclose(metrics.fano_factor(s, 1.0, dt), [1.25 / 1.5, 0.0])
    np.testing.assert_allclose(metrics.fano_factor(s, 1.0, dt, ddof=1), [(5 / 3) / 1.5, 0.0])
    # population count (3, 2, 1, 4): mean 2.5, var 1.25
    np.testing.assert_allclose(metrics.fano_factor(s.sum(axis=1), 1.0, dt), [0.5])
    assert np.isnan(metrics.fano_factor(np.zeros((40, 1)), 1.0, dt)[0])


def test_fano_factor_of_bernoulli_counts(key):
    # counts in bins of w steps are Binomial(w, p): expected Fano factor 1 - p (ddof=1)
    p, w, n_bins, n = 0.05, 20, 2000, 4
    s = np.asarray(jax.random.uniform(key, (w * n_bins, n)) < p, dtype=np.float64)
    ff = metrics.fano_factor(s, bin_ms=w * 0.1, dt=0.1, ddof=1)
    # s.e. of a sample variance ratio over 2000 bins is ~ sqrt(2 / 2000) ~ 3 %
    np.testing.assert_allclose(ff, 1 - p, rtol=0.15)


@pytest.mark.parametrize("call, match", [
    (lambda s: metrics.firing_rates(s, 0.0), "dt"),
    (lambda s: metrics.population_rate(s, 0.1, bin_ms=0.25), "multiple of dt"),
    (lambda s: metrics.population_rate(s, 0.1, bin_ms=100.0), "longer than"),
    (lambda s: metrics.population_rate(s[:, 0], 0.1), "shape"),
    (lambda s: metrics.isi_cv(s, 0.1, min_spikes=1), "min_spikes"),
    (lambda s: metrics.isi_cv(s[None], 0.1), "shape"),
    (lambda s: metrics.fano_factor(s, 0.25, 0.1), "multiple of dt"),
    (lambda s: metrics.fano_factor(s, 5.0, 0.1), "full bins"),
    (lambda s: metrics.fano_factor(-s, 1.0, 0.1), ">= 0"),
    (lambda s: metrics.fano_factor(s, 1.0, 0.1, ddof=2), "ddof"),
])
def test_metric_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.ones((60, 2)))


# ----------------------------------------------------------------------------- plotting

def _is_png(path):
    with open(path, "rb") as f:
        head = f.read(8)
    return head == b"\x89PNG\r\n\x1a\n"


def test_plots_write_png(tmp_path):
    pytest.importorskip("matplotlib")
    s = _train(200, 10, [range(i, 200, 20 + i) for i in range(10)])
    path = plotting.raster(s, 0.1, tmp_path / "sub" / "raster.png", neurons=[0, 3, 9],
                           groups={"E": (0, 8), "I": (8, 10)}, title="r")
    assert _is_png(path) and (tmp_path / "sub" / "raster.png").stat().st_size > 1000
    path = plotting.traces(np.cumsum(s, axis=0)[:, :2], 0.1, tmp_path / "traces.png",
                           labels=["a", "b"], ylabel="count")
    assert _is_png(path)
    with pytest.raises(ValueError, match="labels"):
        plotting.traces(np.zeros((5, 2)), 0.1, tmp_path / "x.png", labels=["a"])
    with pytest.raises(ValueError, match="neuron indices"):
        plotting.raster(s, 0.1, tmp_path / "x.png", neurons=[10])
    with pytest.raises(ValueError, match="dt"):
        plotting.raster(s, -1.0, tmp_path / "x.png")


def test_plotting_without_matplotlib_raises_helpful_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plotting.raster(np.eye(3), 0.1, tmp_path / "r.png")


def test_package_exports_modules():
    assert nj.inputs is inputs and nj.metrics is metrics and nj.plotting is plotting
