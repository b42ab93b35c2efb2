"""Echo-state networks, readouts and benchmark tasks: closed forms, loops, parity.

* readouts: ridge vs numpy least squares on the augmented system; SVD vs Cholesky; the
  float32 breakdown of a Gram-matrix solve that ``solver="svd"`` avoids.
* ESN: scan vs a Python loop of ``update``; continuation; checkpointing (values and grads);
  state noise; the same reservoir run by ``nj.simulate`` with ``LeakyTanh`` units.
* tasks: generators satisfy their defining equations; MC rows are delayed copies.
* parity with reservoirpy (test extra) on its own matrices: states, MC, NARMA-10, MG.
* vmap over reservoirs and hyper-parameters compiles once; gradients vs finite differences.
"""
import numpy as np
import pytest

import jax
import jax.numpy as jnp

import neurojax as nj
from neurojax import readouts
from neurojax import reservoirs as rc
from neurojax.reservoirs import tasks

from tolerances import EXACT, KERNEL_F64


def _esn(n=30, seed=0, **kw):
    kw = dict(dict(spectral_radius=0.9, leak=0.6, input_scaling=0.5, input_connectivity=1.0,
                   bias_scaling=0.2), **kw)
    return rc.random_esn(jax.random.key(seed), n, **kw)


# ----------------------------------------------------------------------------- readouts

def test_ridge_equals_least_squares_on_the_augmented_system():
    rng = np.random.default_rng(0)
    X, Y, alpha = rng.normal(size=(80, 6)), rng.normal(size=(80, 2)), 0.3
    fit = readouts.ridge(X, Y, alpha)
    # centred ridge = least squares of [Xc; sqrt(a) I] w = [Yc; 0]
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    A = np.vstack([Xc, np.sqrt(alpha) * np.eye(6)])
    w_ref = np.linalg.lstsq(A, np.vstack([Yc, np.zeros((6, 2))]), rcond=None)[0]
    np.testing.assert_allclose(fit.w, w_ref, **EXACT)
    np.testing.assert_allclose(fit.b, Y.mean(0) - X.mean(0) @ w_ref, **EXACT)
    svd = readouts.ridge(X, Y, alpha, solver="svd")
    np.testing.assert_allclose(svd.w, fit.w, **EXACT)
    no_bias = readouts.ridge(X, Y, alpha, fit_bias=False)
    np.testing.assert_allclose(no_bias.w, np.linalg.solve(X.T @ X + alpha * np.eye(6), X.T @ Y),
                               **EXACT)
    np.testing.assert_array_equal(no_bias.b, 0.0)


def test_float32_ridge_svd_is_accurate_where_a_float32_gram_solve_breaks_down():
    """ESN states with ridge 1e-8: the float32 Cholesky of the Gram matrix is useless (NaN or
    far off); the float32 SVD solve predicts like the float64 one."""
    esn = _esn(100, input_connectivity=0.1, bias_scaling=0.0)
    u = np.random.default_rng(1).uniform(-0.8, 0.8, (600, 1))
    _, X = rc.run(esn, u)
    Y = np.roll(u, 3, axis=0)
    ref = readouts.ridge(X[100:], Y[100:], 1e-8, solver="cholesky")          # float64
    y_ref = readouts.predict(ref, X[100:])
    X32, Y32 = X[100:].astype(jnp.float32), jnp.asarray(Y[100:], jnp.float32)
    svd32 = readouts.ridge(X32, Y32, 1e-8, solver="svd")
    assert svd32.w.dtype == jnp.float32
    y_svd = readouts.predict(svd32, X32)
    assert float(readouts.nrmse(y_ref, y_svd)) < 1e-3
    Xc, Yc = X32 - X32.mean(0)[None], Y32 - Y32.mean(0)[None]
    gram = Xc.T @ Xc + 1e-8 * jnp.eye(100, dtype=jnp.float32)
    w_chol = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(gram), Xc.T @ Yc)
    y_chol = Xc @ w_chol + Y32.mean(0)[None]
    bad = ~np.isfinite(np.asarray(y_chol)).all() or float(readouts.nrmse(y_ref, y_chol)) > 1e-2
    assert bad, "float32 Gram solve unexpectedly accurate: the test no longer shows the pitfall"


def test_ridge_cholesky_upcasts_and_refuses_without_x64():
    X = jnp.asarray(np.random.default_rng(0).normal(size=(20, 3)), jnp.float32)
    assert readouts.ridge(X, X[:, 0], 1e-3, solver="cholesky").w.dtype == jnp.float64
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(ValueError, match="jax_enable_x64"):
            readouts.ridge(X, X[:, 0], 1e-3, solver="cholesky")
        assert readouts.ridge(X, X[:, 0], 1e-3).w.dtype == jnp.float32        # auto -> svd
    finally:
        jax.config.update("jax_enable_x64", True)
    with pytest.raises(ValueError, match="solver"):
        readouts.ridge(X, X, 1.0, solver="qr")
    with pytest.raises(ValueError, match="same number of rows"):
        readouts.ridge(X, X[:5], 1.0)


def test_filtered_spikes_nrmse_and_squared_correlation_closed_forms():
    rng = np.random.default_rng(2)
    s = (rng.random((50, 3)) < 0.2).astype(float)
    f = readouts.filtered_spikes(s, tau=5.0, dt=0.5)
    ref, acc = np.zeros_like(s), np.zeros(3)
    for t in range(50):
        acc = acc * np.exp(-0.1) + s[t]
        ref[t] = acc
    np.testing.assert_allclose(f, ref, **EXACT)
    y, yh = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    np.testing.assert_allclose(readouts.nrmse(y, yh), np.sqrt(np.mean((y - yh) ** 2)) / y.std(),
                               **EXACT)
    r2 = [np.corrcoef(y[:, k], yh[:, k])[0, 1] ** 2 for k in range(2)]
    np.testing.assert_allclose(readouts.squared_correlation(y, yh), r2, **EXACT)


# ----------------------------------------------------------------------------- ESN dynamics

def test_random_esn_construction():
    esn = _esn(200, seed=3, connectivity=0.1, input_connectivity=0.25, input_scaling=0.7)
    np.testing.assert_allclose(rc.spectral_radius(esn.w), 0.9, rtol=1e-8)
    density = float((np.asarray(esn.w) != 0).mean())
    assert abs(density - 0.1) < 4 * np.sqrt(0.1 * 0.9 / 200 ** 2), density
    w_in = np.asarray(esn.w_in)
    assert set(np.unique(np.abs(w_in))) <= {0.0, 0.7}
    assert abs((w_in != 0).mean() - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 200)
    assert abs(w_in[w_in != 0].mean()) < 0.7 * 4 / np.sqrt((w_in != 0).sum())
    assert np.abs(np.asarray(esn.bias)).max() <= 0.2
    again = _esn(200, seed=3, connectivity=0.1, input_connectivity=0.25, input_scaling=0.7)
    assert all(np.array_equal(a, b) for a, b in zip(esn, again))
    for bad in (dict(leak=0.0), dict(leak=1.5), dict(connectivity=0.0), dict(spectral_radius=-1.0),
                dict(input_connectivity=2.0)):
        with pytest.raises(ValueError):
            _esn(10, **bad)


def test_scan_equals_python_loop_and_continues():
    esn = _esn()
    u = np.random.default_rng(4).normal(size=(40, 1))
    x_last, states = rc.run(esn, u)
    x, ref = jnp.zeros(30), []
    for t in range(40):
        x = rc.update(esn, x, jnp.asarray(u[t]))
        ref.append(x)
    np.testing.assert_allclose(states, np.stack(ref), **EXACT)
    np.testing.assert_allclose(x_last, ref[-1], **EXACT)
    x_mid, first = rc.run(esn, u[:15])
    _, rest = rc.run(esn, u[15:], x_mid)
    np.testing.assert_allclose(jnp.concatenate([first, rest]), states, **EXACT)
    with pytest.raises(ValueError, match="inputs must be"):
        rc.run(esn, u[:, 0])
    with pytest.raises(ValueError, match="checkpoint_every"):
        rc.run(esn, u, checkpoint_every=7)


def test_checkpointed_run_same_values_and_gradients():
    esn = _esn()
    u = np.random.default_rng(5).normal(size=(40, 1))

    def loss(leak, every):
        return jnp.sum(rc.run(esn._replace(leak=leak), u, checkpoint_every=every)[1] ** 2)

    v0, g0 = jax.value_and_grad(loss)(0.6, None)
    v1, g1 = jax.value_and_grad(loss)(0.6, 8)
    np.testing.assert_allclose(v1, v0, **EXACT)
    np.testing.assert_allclose(g1, g0, **EXACT)


def test_state_noise_is_added_after_each_update():
    esn, sigma, key = _esn(), 0.01, jax.random.key(7)
    u = np.random.default_rng(6).normal(size=(25, 1))
    _, states = rc.run(esn, u, noise=sigma, key=key)
    xi = sigma * jax.random.normal(key, (25, 30))
    x = jnp.zeros(30)
    for t in range(25):
        x = rc.update(esn, x, jnp.asarray(u[t])) + xi[t]
    np.testing.assert_allclose(states[-1], x, **EXACT)
    with pytest.raises(ValueError, match="key"):
        rc.run(esn, u, noise=0.1)


def test_esn_equals_leaky_tanh_network_in_simulate():
    """The same reservoir as a core network: LeakyTanh units (tau = dt / leak), a recurrent
    projection carrying r with the Instant synapse and one step of delay, input W_in u + b
    on receptor i."""
    n, dt = 12, 1.0
    esn = _esn(n, seed=8, connectivity=0.5)
    u = np.random.default_rng(9).normal(size=(30, 1))
    pre, post = np.nonzero(np.asarray(esn.w).T)               # w[i, j]: j -> i
    conn = nj.from_edges(pre, post, n, n, weights=np.asarray(esn.w).T[pre, post])
    net = nj.Network({"res": nj.Population(nj.LeakyTanh(), n)},
                     {"rec": nj.Projection(conn[0], "res", "res", source="r", synapse=nj.Instant())},
                     dt=dt)
    params = nj.init_params(net, {"res": nj.LeakyTanhParams.default(tau=dt / 0.6),
                                  "rec": conn[1]})
    drive = u @ np.asarray(esn.w_in).T + np.asarray(esn.bias)
    _, rec = nj.simulate(net, params, nj.init_state(net, params), {"res": drive},
                         record=nj.Record(("res", "r")))
    _, states = rc.run(esn, u)
    np.testing.assert_allclose(rec["res"]["r"], states, **KERNEL_F64)


# ----------------------------------------------------------------------------- tasks

def test_narma10_series_satisfies_its_recursion():
    u, y = tasks.narma10_series(300, seed=0)
    t = np.arange(9, 299)
    window = np.stack([y[t - i] for i in range(10)]).sum(0)
    rhs = 0.3 * y[t] + 0.05 * y[t] * window + 1.5 * u[t - 9] * u[t] + 0.1
    np.testing.assert_allclose(y[t + 1], rhs, **EXACT)
    assert u.min() >= 0 and u.max() <= 0.5
    task = tasks.narma10(0, washout=20, n_train=100, n_test=50)
    np.testing.assert_allclose(task.targets[:-1, 0], tasks.narma10_series(171, 0)[1][1:-1], **EXACT)
    np.testing.assert_allclose(task.inputs[:, 0], tasks.narma10_series(171, 0)[0][:-1], **EXACT)


def test_mackey_glass_is_converged_and_in_its_range():
    coarse = tasks.mackey_glass_series(100, transient=100)
    fine = tasks.mackey_glass_series(100, dt=0.05, sample_every=20, transient=100)
    # halving dt moves 200 time units of the chaotic series by < 2e-4 (signal range ~0.9)
    assert np.abs(coarse - fine).max() < 2e-4
    assert 0.4 < coarse.min() < 0.5 and 1.2 < coarse.max() < 1.35
    with pytest.raises(ValueError, match="integer"):
        tasks.mackey_glass_series(10, dt=0.3)


def test_task_splits_and_memory_capacity_rows():
    mc = tasks.memory_capacity(10, seed=0)
    series = np.random.default_rng(0).uniform(-0.8, 0.8, 100)
    assert mc.inputs.shape == (90, 1) and mc.n_train == 70 and mc.washout == 10
    np.testing.assert_array_equal(mc.inputs[:, 0], series[10:])
    for k in (1, 5, 10):
        np.testing.assert_array_equal(mc.targets[:, k - 1], series[10 - k:100 - k])
    closed = tasks.mackey_glass(0, 5, closed=True, washout=10, n_train=50, n_test=40,
                                start_every=10)
    assert closed.starts == (0, 10, 20, 30)
    z = np.concatenate([closed.inputs[:, 0], closed.targets[-1:, 0]])
    for i, s in enumerate(closed.starts):   # truth k steps after input row n_train + s
        np.testing.assert_array_equal(closed.truth[i, :, 0], z[60 + s + 1:60 + s + 6])
    with pytest.raises(ValueError, match="unknown task"):
        tasks.make_task("lorenz", 10, 0)


def test_closed_loop_reproduces_a_sine_it_was_trained_on():
    """One-step prediction of a sine, then autonomous: the rollout follows the sine."""
    esn = _esn(60, seed=10, spectral_radius=0.8, leak=1.0, input_scaling=0.3, bias_scaling=0.0)
    t = np.arange(1200)
    z = np.sin(2 * np.pi * t / 25.0)[:, None]
    readout, x_last = rc.fit(esn, z[:999], z[1:1000], 1e-8, washout=100)
    y = rc.closed_loop(esn, readout, x_last, 50)           # x_last read z[998]: y[k] ~ z[999 + k]
    assert float(jnp.abs(y[:, 0] - z[999:1049, 0]).max()) < 1e-3


def test_closed_loop_equals_a_python_loop():
    esn = _esn(20, seed=11)
    readout = readouts.Readout(w=jnp.asarray(np.random.default_rng(0).normal(size=(20, 1)) * 0.1),
                               b=jnp.array([0.05]))
    x0 = jnp.asarray(np.random.default_rng(1).normal(size=20) * 0.3)
    y, x, ref = readouts.predict(readout, x0), x0, []
    for _ in range(12):
        ref.append(y)
        x = rc.update(esn, x, y)
        y = readouts.predict(readout, x)
    np.testing.assert_allclose(rc.closed_loop(esn, readout, x0, 12), np.stack(ref), **EXACT)


# ----------------------------------------------------------------------------- reservoirpy parity

def _dense(matrix):
    return jnp.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix)


def _rpy_esn(reservoir, n):
    reservoir.initialize(np.zeros((1, 1)))
    return rc.ESN(w=_dense(reservoir.W), w_in=_dense(reservoir.Win),
                  bias=jnp.asarray(np.broadcast_to(reservoir.bias, (n,))),
                  leak=jnp.asarray(reservoir.lr))


def test_reservoirpy_parity_states_memory_capacity_and_prediction():
    rpy = pytest.importorskip("reservoirpy")
    from reservoirpy.nodes import Reservoir, Ridge
    from reservoirpy.observables import memory_capacity
    del rpy
    # reservoirpy's docstring example: MC = 18.78
    model = Reservoir(100, sr=1, seed=1) >> Ridge(ridge=1e-4)
    mc_rpy = memory_capacity(model, k_max=50, seed=1)
    esn = _rpy_esn(Reservoir(100, sr=1, seed=1), 100)
    mc = rc.score(esn, 1e-4, tasks.memory_capacity(50, seed=1))
    assert abs(mc_rpy - 18.78) < 5e-3
    assert abs(float(mc) - mc_rpy) <= 1e-8
    # NARMA-10 with a leaky reservoir: states and NRMSE
    res = Reservoir(100, sr=0.9, lr=0.7, input_scaling=0.1, input_connectivity=1.0, seed=2)
    ridge_node = Ridge(ridge=1e-7)
    task = tasks.narma10(3, washout=50, n_train=500, n_test=300)
    u, y = np.asarray(task.inputs), np.asarray(task.targets)
    (res >> ridge_node).fit(u[:550], y[:550], warmup=50)
    pred_rpy = (res >> ridge_node).run(u[550:])
    esn = _rpy_esn(res, 100)   # initialize() keeps the matrices already drawn
    value, (readout, pred) = rc.score(esn, 1e-7, task, return_details=True)
    np.testing.assert_allclose(pred, pred_rpy, rtol=0, atol=1e-8)
    assert abs(float(value) - float(readouts.nrmse(y[550:], pred_rpy))) <= 1e-8
    np.testing.assert_allclose(readout.w, ridge_node.Wout, rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------- batching and gradients

def test_vmap_over_reservoirs_and_hyperparameters_compiles_once():
    task = tasks.narma10(0, washout=20, n_train=200, n_test=100)
    esns = [_esn(20, seed=s) for s in range(3)]
    batch = jax.tree.map(lambda *a: jnp.stack(a), *esns)
    leaks, alphas = jnp.array([0.3, 0.6, 1.0]), jnp.array([1e-6, 1e-4, 1e-2])
    traces = []

    def one(esn, leak, alpha):
        traces.append(1)
        return rc.score(esn._replace(leak=leak), alpha, task)

    sweep = jax.jit(jax.vmap(jax.vmap(one, (None, 0, 0)), (0, None, None)))
    got = sweep(batch, leaks, alphas)
    sweep(batch, leaks * 0.9, alphas)              # new values, same shapes: no retrace
    assert len(traces) == 1
    single = jax.jit(rc.score)
    for i, esn in enumerate(esns):
        for j in range(3):
            ref = single(esn._replace(leak=leaks[j]), alphas[j], task)
            np.testing.assert_allclose(got[i, j], ref, rtol=1e-8)


def test_score_gradient_wrt_hyperparameters_matches_finite_differences():
    task = tasks.narma10(1, washout=20, n_train=150, n_test=80)
    esn = _esn(25, seed=12, leak=0.5, input_scaling=1.0)

    @jax.jit
    def loss(h):
        leak, spectral, inputs = h
        return rc.score(rc.rescale(esn._replace(leak=leak), spectral=spectral, inputs=inputs),
                        1e-6, task)

    h = jnp.array([0.5, 1.0, 0.3])
    grad = jax.grad(loss)(h)
    eps = 1e-5
    fd = [(loss(h.at[i].add(eps)) - loss(h.at[i].add(-eps))) / (2 * eps) for i in range(3)]
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)
