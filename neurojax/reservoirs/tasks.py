r"""Standard reservoir-computing benchmarks, with exactly the definitions of
specs/reservoirs.md §3 (fixed seeds and splits), and their scoring for an :class:`~neurojax.reservoirs.ESN`.

Tasks (the generators are host NumPy in float64, deterministic given the seed):

| name            | input             | target          | split (washout / train / test) | score |
|-----------------|-------------------|-----------------|--------------------------------|-------|
| ``mc``          | $u_t \sim U[-0.8, 0.8]$ | $u_{t-k}$, $k = 1..k_\max$ | $k_\max$ / $8 k_\max + 1 - k_\max$ / $2 k_\max$ | $MC = \sum_k \rho^2$ (higher is better) |
| ``narma10``     | $u_t \sim U[0, 0.5]$ | $y_{t+1}$    | 200 / 4000 / 2000 | NRMSE |
| ``mg_1``        | MG-17 $z_t$       | $z_{t+1}$       | 500 / 5000 / 2000 | NRMSE |
| ``mg_84_direct``| $z_t$             | $z_{t+84}$      | 500 / 5000 / 2000 | NRMSE |
| ``mg_84_closed``| $z_t$ (teacher forcing), then own output | $z_{t+1}$ | 500 / 5000 / 2000 | NRMSE at step 84 of closed-loop runs from 39 starts |

* **Memory capacity** (Jaeger 2001), as ``reservoirpy.observables.memory_capacity``: a series
  of $10 k_\max$ samples, rows $t \ge k_\max$ hold $(u_t; u_{t-1}, \dots, u_{t-k_\max})$, the
  last 20 % of the series is the test set, the first $k_\max$ training states are discarded,
  one ridge fit with $k_\max$ outputs; $MC_k$ is the squared correlation on the test rows.
  The rule of thumb is $k_\max = 2N$. Finite-sample bias: about $k_\max / T_\mathrm{test}$
  in total (~0.5 here); reported, not subtracted.
* **NARMA-10** (Atiya & Parlos 2000): $y_{t+1} = 0.3 y_t + 0.05 y_t \sum_{i=0}^{9} y_{t-i}
  + 1.5 u_{t-9} u_t + 0.1$, the generator's first 200 samples dropped (redrawn if it
  diverges).
* **Mackey-Glass** $\tau = 17$: $\dot x = 0.2\, x(t-17) / (1 + x(t-17)^{10}) - 0.1\, x(t)$,
  RK4 with $\Delta t = 0.1$ (the delayed value at half steps is the mean of its neighbours),
  history 1.2 (+ $U[-0.1, 0.1]$ jitter drawn from the seed), sampled every time unit, 1000
  samples of transient dropped, then z-scored.
* **Closed loop** (Jaeger & Haas 2004 style "NRMSE84"): a one-step predictor trained with
  teacher forcing runs 84 autonomous steps from every 50th state of the test window; the
  score is the RMS over start points of the error at step 84, divided by the standard
  deviation of the test window.

NRMSE is $\sqrt{\langle (y - \hat y)^2 \rangle}/\mathrm{std}(y)$ over the test rows
(:func:`neurojax.readouts.nrmse`).

:func:`score` is a pure function of ``(esn, alpha, task)``: jit it once and ``vmap`` it over
reservoirs, hyper-parameters and ridge strengths, or differentiate it. Nest the ``vmap`` over
ridge strengths inside the one over reservoirs: ``vmap`` batches only what depends on the
mapped argument, so each reservoir's scan and Gram matrix are then computed once for all its
ridge values (on 2 CPU cores a nested 16 x 4 sweep cost half of 64 single runs, a flat
64-wide ``vmap`` twice as much: ``experiments/esn_benchmarks.py``).
"""
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._tree import pytree_dataclass, static
from neurojax.readouts import nrmse, predict, ridge, squared_correlation
from neurojax.reservoirs.esn import ESN, closed_loop, run

Array = jax.Array

__all__ = ["Task", "memory_capacity", "narma10", "narma10_series", "mackey_glass",
           "mackey_glass_series", "score", "score_states", "BENCHMARKS", "make_task"]

METRICS = ("memory_capacity", "nrmse", "closed_loop_nrmse")


@pytree_dataclass
class Task:
    """A benchmark: data (leaves) and its protocol (static).

    Rows ``[0, n_train)`` are teacher-forced training (the first ``washout`` dropped from the
    fit), rows ``[n_train, T)`` the test window, run on from the last training state.
    """

    inputs: Array                       # (T, n_in)
    targets: Array                      # (T, n_out)
    truth: Optional[Array]              # closed loop: (n_starts, horizon, n_out) true futures
    name: str = static()
    metric: str = static()              # one of METRICS
    washout: int = static()
    n_train: int = static()
    starts: tuple = static(default=())  # closed loop: start rows within the test window
    horizon: int = static(default=0)    # closed loop: autonomous steps

    def __post_init__(self):
        if self.metric not in METRICS:
            raise ValueError(f"Task.metric must be one of {METRICS}, got {self.metric!r}")
        n = np.shape(self.inputs)[0]
        if not 0 <= self.washout < self.n_train < n:
            raise ValueError(f"Task {self.name}: need 0 <= washout < n_train < T, got "
                             f"{self.washout}, {self.n_train}, {n}")

    @property
    def test_targets(self):
        return self.targets[self.n_train:]

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "memory_capacity"


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- generators

def narma10_series(n: int, seed: int, transient: int = 200):
    """``(u, y)`` of length ``n`` each, NARMA-10 driven by $u \\sim U[0, 0.5]$, after
    dropping the generator's first ``transient`` samples; $y_{t+1}$ depends on
    $u_{t-9}, u_t$ and $y_{t-9..t}$."""
    rng = _rng(seed)
    for _ in range(100):
        total = n + transient
        u = rng.uniform(0.0, 0.5, total)
        y = np.zeros(total)
        for t in range(9, total - 1):
            y[t + 1] = (0.3 * y[t] + 0.05 * y[t] * y[t - 9:t + 1].sum()
                        + 1.5 * u[t - 9] * u[t] + 0.1)
        if np.isfinite(y).all() and np.abs(y).max() < 10:
            return u[transient:], y[transient:]
    raise RuntimeError("narma10_series: the generator diverged 100 times")


def mackey_glass_series(n: int, *, tau: float = 17.0, beta: float = 0.2, gamma: float = 0.1,
                        power: int = 10, dt: float = 0.1, sample_every: int = 10,
                        transient: int = 1000, history: float = 1.2,
                        seed: Optional[int] = None) -> np.ndarray:
    """``n`` samples of the Mackey-Glass series (not z-scored), see the module docstring.

    ``seed=None`` uses the constant history; a seed adds $U[-0.1, 0.1]$ jitter to it.
    """
    lag = int(round(tau / dt))
    if abs(lag * dt - tau) > 1e-9:
        raise ValueError(f"mackey_glass_series: tau/dt must be an integer, got {tau}/{dt}")
    total = (n + transient) * sample_every
    x = np.empty(lag + total + 1)
    x[:lag + 1] = history
    if seed is not None:
        x[:lag + 1] += _rng(seed).uniform(-0.1, 0.1, lag + 1)

    def rhs(xt, xd):
        return beta * xd / (1.0 + xd ** power) - gamma * xt

    for i in range(lag, lag + total):
        d0, d1 = x[i - lag], x[i - lag + 1]
        dh = 0.5 * (d0 + d1)
        k1 = rhs(x[i], d0)
        k2 = rhs(x[i] + 0.5 * dt * k1, dh)
        k3 = rhs(x[i] + 0.5 * dt * k2, dh)
        k4 = rhs(x[i] + dt * k3, d1)
        x[i + 1] = x[i] + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return x[lag::sample_every][transient:transient + n]


def _zscore(x):
    return (x - x.mean()) / x.std()


# ----------------------------------------------------------------------------- tasks

def _task(name, metric, inputs, targets, washout, n_train, dtype, **extra) -> Task:
    as_arr = lambda a: jnp.asarray(np.asarray(a, np.float64).reshape(len(a), -1), dtype)
    truth = extra.pop("truth", None)
    return Task(inputs=as_arr(inputs), targets=as_arr(targets),
                truth=None if truth is None else jnp.asarray(truth, dtype), name=name,
                metric=metric, washout=washout, n_train=n_train, **extra)


def memory_capacity(k_max: int, seed: int, *, test_fraction: float = 0.2,
                    low: float = -0.8, high: float = 0.8, dtype=None) -> Task:
    """The linear memory-capacity task with delays ``1..k_max`` (reservoirpy's construction)."""
    if int(k_max) != k_max or k_max < 1:
        raise ValueError(f"memory_capacity: k_max must be a positive int, got {k_max}")
    series = _rng(seed).uniform(low, high, 10 * k_max)
    rows = np.lib.stride_tricks.sliding_window_view(series, k_max + 1)[:, ::-1]
    n_test = round(series.size * test_fraction)
    return _task("mc", "memory_capacity", rows[:, :1], rows[:, 1:], k_max,
                 rows.shape[0] - n_test, dtype)


def narma10(seed: int, *, washout: int = 200, n_train: int = 4000, n_test: int = 2000,
            dtype=None) -> Task:
    """NARMA-10 one-step prediction: input $u_t$, target $y_{t+1}$."""
    u, y = narma10_series(washout + n_train + n_test + 1, seed)
    return _task("narma10", "nrmse", u[:-1], y[1:], washout, washout + n_train, dtype)


def mackey_glass(seed: int, horizon: int = 1, *, closed: bool = False, washout: int = 500,
                 n_train: int = 5000, n_test: int = 2000, start_every: int = 50,
                 dtype=None) -> Task:
    """Mackey-Glass prediction ``horizon`` steps ahead: a direct readout of $z_{t+h}$
    (``closed=False``), or closed-loop runs of a one-step predictor scored at step ``horizon``
    (``closed=True``)."""
    z = _zscore(mackey_glass_series(washout + n_train + n_test + horizon + 1, seed=seed))
    n_tr = washout + n_train
    if not closed:
        name = f"mg_{horizon}" if horizon == 1 else f"mg_{horizon}_direct"
        return _task(name, "nrmse", z[:-horizon][:n_tr + n_test],
                     z[horizon:][:n_tr + n_test], washout, n_tr, dtype)
    starts = tuple(range(0, n_test - horizon - 1, start_every))
    truth = np.stack([z[n_tr + s + 1:n_tr + s + 1 + horizon] for s in starts])[..., None]
    return _task(f"mg_{horizon}_closed", "closed_loop_nrmse", z[:n_tr + n_test],
                 z[1:n_tr + n_test + 1], washout, n_tr, dtype, truth=truth, starts=starts,
                 horizon=horizon)


BENCHMARKS = {
    "mc": lambda n, seed, dtype=None: memory_capacity(2 * n, seed, dtype=dtype),
    "narma10": lambda n, seed, dtype=None: narma10(seed, dtype=dtype),
    "mg_1": lambda n, seed, dtype=None: mackey_glass(seed, 1, dtype=dtype),
    "mg_84_direct": lambda n, seed, dtype=None: mackey_glass(seed, 84, dtype=dtype),
    "mg_84_closed": lambda n, seed, dtype=None: mackey_glass(seed, 84, closed=True, dtype=dtype),
}


def make_task(name: str, n: int, seed: int, dtype=None) -> Task:
    """The benchmark ``name`` (a key of :data:`BENCHMARKS`) for a reservoir of ``n`` units
    (memory capacity uses $k_\\max = 2n$), with the data of ``seed``."""
    if name not in BENCHMARKS:
        raise ValueError(f"make_task: unknown task {name!r}; choose from {sorted(BENCHMARKS)}")
    return BENCHMARKS[name](n, seed, dtype)


# ----------------------------------------------------------------------------- scoring

def _fit_and_predict(train_states, test_states, alpha, task: Task, solver: str):
    """Ridge readout fitted on training rows ``[washout, n_train)``; test predictions."""
    readout = ridge(train_states[task.washout:], task.targets[task.washout:task.n_train],
                    alpha, solver=solver)
    return readout, predict(readout, test_states)


def _check_states(train_states, test_states, task: Task):
    n_train, n_test = task.n_train, task.inputs.shape[0] - task.n_train
    if np.ndim(train_states) != 2 or np.ndim(test_states) != 2:
        raise ValueError(f"score_states: states must be (T, n_features), got shapes "
                         f"{np.shape(train_states)} and {np.shape(test_states)}")
    if np.shape(train_states)[0] != n_train or np.shape(test_states)[0] != n_test:
        raise ValueError(f"score_states: task {task.name} needs {n_train} training and {n_test} "
                         f"test states, got {np.shape(train_states)[0]} and "
                         f"{np.shape(test_states)[0]}")
    if np.shape(train_states)[1] != np.shape(test_states)[1]:
        raise ValueError(f"score_states: training and test states have different widths, "
                         f"{np.shape(train_states)[1]} and {np.shape(test_states)[1]}")


def score_states(train_states, test_states, alpha, task: Task, *, solver: str = "auto",
                 return_details: bool = False):
    r"""The task's score from states harvested by any reservoir (the protocol of :func:`score`).

    ``train_states[t]`` is the state after reading ``task.inputs[t]`` for the training rows
    ``t < n_train``; ``test_states`` continue from the last training state over the test rows.
    A ridge readout is fitted on rows ``[washout, n_train)``; memory capacity is the sum of
    the per-delay squared correlations on the test rows, NRMSE tasks the NRMSE of the test
    predictions. Closed-loop tasks need the reservoir itself (use :func:`score`).

    Args:
        train_states: ``(n_train, n_features)``.
        test_states: ``(T - n_train, n_features)``.
        alpha: ridge strength (traceable).
        task: a :class:`Task` with metric ``"memory_capacity"`` or ``"nrmse"``.
        solver: ridge solver (:func:`neurojax.readouts.ridge`).
        checkpoint_every: passed to :func:`~neurojax.reservoirs.run` for the training and the
            test run (it must divide both lengths): less memory for reverse-mode gradients.
        return_details: also return ``(readout, test_predictions)``.

    Returns:
        The scalar score (or ``(score, (readout, test_predictions))``).

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> task = nj.reservoirs.tasks.memory_capacity(2, seed=0)
        >>> u = task.inputs                                   # states remembering u_{t-1}, u_{t-2}
        >>> x = jnp.concatenate([u, jnp.roll(u, 1, 0), jnp.roll(u, 2, 0)], axis=1)
        >>> mc = nj.reservoirs.tasks.score_states(x[:task.n_train], x[task.n_train:], 1e-9, task)
        >>> round(float(mc), 6)
        2.0
    """
    if task.metric == "closed_loop_nrmse":
        raise ValueError(f"score_states: task {task.name} runs the reservoir in closed loop; "
                         "score it with score(esn, alpha, task)")
    _check_states(train_states, test_states, task)
    readout, y_hat = _fit_and_predict(train_states, test_states, alpha, task, solver)
    y = task.test_targets.astype(y_hat.dtype)
    if task.metric == "memory_capacity":
        value = squared_correlation(y, y_hat).sum()
    else:
        value = nrmse(y, y_hat)
    return (value, (readout, y_hat)) if return_details else value


def score(esn: ESN, alpha, task: Task, *, solver: str = "auto", return_details: bool = False,
          checkpoint_every: Optional[int] = None):
    r"""The task's score for reservoir ``esn`` with ridge strength ``alpha``.

    Teacher-forced run over the training rows, ridge fit on rows ``[washout, n_train)``,
    then the test rows continue from the last training state. Memory capacity: the sum of
    the per-delay squared correlations; NRMSE tasks: the NRMSE of the test predictions
    (both through :func:`score_states`); closed loop: see the module docstring.

    Args:
        esn: the reservoir (``vmap`` over a stacked batch of them).
        alpha: ridge strength (traceable).
        task: a :class:`Task`.
        solver: ridge solver (:func:`neurojax.readouts.ridge`).
        return_details: also return ``(readout, test_predictions)`` (and, in closed loop, the
            autonomous trajectories ``(n_starts, horizon, n_out)``).

    Returns:
        The scalar score (or ``(score, details)``).
    """
    x_train, train_states = run(esn, task.inputs[:task.n_train],
                                checkpoint_every=checkpoint_every)
    _, test_states = run(esn, task.inputs[task.n_train:], x_train,
                         checkpoint_every=checkpoint_every)
    if task.metric != "closed_loop_nrmse":
        return score_states(train_states, test_states, alpha, task, solver=solver,
                            return_details=return_details)
    readout, y_hat = _fit_and_predict(train_states, test_states, alpha, task, solver)
    starts = jnp.asarray(task.starts)
    runs = jax.vmap(lambda x0: closed_loop(esn, readout, x0, task.horizon))(test_states[starts])
    err = runs[:, -1] - task.truth[:, -1].astype(runs.dtype)
    value = jnp.sqrt(jnp.mean(err ** 2)) / jnp.std(task.inputs[task.n_train:])
    return (value, (readout, y_hat, runs)) if return_details else value
