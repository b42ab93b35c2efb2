r"""Linear readouts for reservoirs and liquid state machines: features, ridge regression, scores.

The readout of a reservoir is a linear map of its states, $\hat y_t = x_t W + b$, fitted in
closed form (:func:`ridge`). Everything here is a pure function of arrays: it works under
``jit`` and ``vmap`` (e.g. over seeds, hyper-parameters or ridge strengths), and gradients
flow through the solve, so a validation loss can be differentiated with respect to the
reservoir's hyper-parameters.

Axis convention: time first, ``X`` is ``(T, n_features)`` and ``Y`` is ``(T,)`` or
``(T, n_out)``.
"""
from typing import NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array

__all__ = ["Readout", "ridge", "predict", "filtered_spikes", "nrmse", "squared_correlation"]

SOLVERS = ("auto", "cholesky", "svd")


class Readout(NamedTuple):
    """A fitted linear readout, $\\hat y = x W + b$."""

    w: Array        # (n_features, n_out)  output weights
    b: Array        # (n_out,)             bias


def _as_2d(y: Array, name: str) -> Array:
    if y.ndim == 1:
        return y[:, None]
    if y.ndim != 2:
        raise ValueError(f"{name} must be (T,) or (T, n), got shape {y.shape}")
    return y


def _x64_enabled() -> bool:
    return bool(jax.config.read("jax_enable_x64"))


def ridge(X, Y, alpha, *, fit_bias: bool = True, solver: str = "auto") -> Readout:
    r"""Ridge regression (Tikhonov-regularised least squares) of ``Y`` on ``X``.

    $$ W = \arg\min_W \lVert X_c W - Y_c \rVert^2 + \alpha \lVert W \rVert^2
         = (X_c^\top X_c + \alpha I)^{-1} X_c^\top Y_c, \qquad
       b = \bar Y - \bar X W , $$

    with $X_c = X - \bar X$, $Y_c = Y - \bar Y$ centred on the rows given (``fit_bias=True``;
    the bias is not penalised, as in reservoirpy's ``Ridge``) or $X_c = X$, $b = 0$
    (``fit_bias=False``). Drop the washout rows before calling.

    Solvers:

    * ``"cholesky"``: Cholesky factorisation of the Gram matrix in **float64** (needs
      ``jax_enable_x64``; float32 inputs are upcast). Fast ($O(T n^2)$ once) and the
      reference for parity with reservoirpy.
    * ``"svd"``: $W = V \operatorname{diag}\!\big(s/(s^2+\alpha)\big) U^\top Y_c$ from the thin
      SVD $X_c = U \operatorname{diag}(s) V^\top$, in the input dtype. It never squares the
      condition number, so it stays accurate in float32, where a Cholesky solve of the Gram
      matrix with $\alpha \lesssim 10^{-7}$ breaks down (NaN: specs/reservoirs.md §7.2).
    * ``"auto"``: ``"cholesky"`` when x64 is enabled, else ``"svd"``.

    Args:
        X: ``(T, n)`` features (reservoir states).
        Y: ``(T,)`` or ``(T, n_out)`` targets.
        alpha: ridge strength $\alpha \ge 0$ (may be traced: vmap over a grid of values).
        fit_bias: fit the unpenalised bias $b$ (centre the data).
        solver: ``"auto"``, ``"cholesky"`` or ``"svd"``.

    Returns:
        :class:`Readout` with ``w`` of shape ``(n, n_out)`` and ``b`` of shape ``(n_out,)``
        (``n_out = 1`` for a 1-d ``Y``), in float64 for ``"cholesky"``.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> X = jnp.array([[0.0], [1.0], [2.0], [3.0]])
        >>> fit = nj.readouts.ridge(X, 2.0 * X[:, 0] + 1.0, 0.0)
        >>> [round(float(fit.w[0, 0]), 6), round(float(fit.b[0]), 6)]
        [2.0, 1.0]
    """
    if solver not in SOLVERS:
        raise ValueError(f"ridge: solver must be one of {SOLVERS}, got {solver!r}")
    X = jnp.asarray(X)
    Y = _as_2d(jnp.asarray(Y), "ridge: Y")
    if X.ndim != 2:
        raise ValueError(f"ridge: X must be (T, n_features), got shape {X.shape}")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"ridge: X and Y need the same number of rows, got {X.shape[0]} and "
                         f"{Y.shape[0]}")
    if solver == "auto":
        solver = "cholesky" if _x64_enabled() else "svd"
    if solver == "cholesky":
        if not _x64_enabled():
            raise ValueError("ridge(solver='cholesky') solves in float64 and needs "
                             "jax.config.update('jax_enable_x64', True); use solver='svd' "
                             "for an accurate float32 solve")
        X, Y = X.astype(jnp.float64), Y.astype(jnp.float64)
    dtype = jnp.result_type(X, Y)
    X, Y = X.astype(dtype), Y.astype(dtype)
    alpha = jnp.asarray(alpha, dtype)
    x_mean = X.mean(0) if fit_bias else jnp.zeros(X.shape[1], dtype)
    y_mean = Y.mean(0) if fit_bias else jnp.zeros(Y.shape[1], dtype)
    Xc, Yc = X - x_mean[None, :], Y - y_mean[None, :]
    if solver == "cholesky":
        gram = Xc.T @ Xc + alpha * jnp.eye(X.shape[1], dtype=dtype)
        w = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(gram), Xc.T @ Yc)
    else:
        u, s, vt = jnp.linalg.svd(Xc, full_matrices=False)
        w = vt.T @ ((s / (s * s + alpha))[:, None] * (u.T @ Yc))
    return Readout(w=w, b=y_mean - x_mean @ w)


def predict(readout: Readout, X) -> Array:
    """Readout output $\\hat y = X W + b$, ``(T, n_out)`` (computed in the readout's dtype)."""
    X = jnp.asarray(X)
    y = X.astype(readout.w.dtype) @ readout.w
    return y + jnp.expand_dims(readout.b, tuple(range(y.ndim - 1)))


def filtered_spikes(spikes, tau, dt: float) -> Array:
    r"""Exponentially filtered spike trains, the usual LSM features.

    $$ f_t = f_{t-1}\, e^{-\Delta t/\tau} + s_t , \qquad f_{-1} = 0 , $$

    so a single spike leaves a trace that decays with time constant $\tau$ (ms).

    Args:
        spikes: ``(T, n)`` spikes (0/1 floats or counts) per step.
        tau: filter time constant (ms), > 0.
        dt: step (ms).

    Returns:
        ``(T, n)`` traces.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> f = nj.readouts.filtered_spikes(jnp.array([[1.0], [0.0], [1.0]]), tau=1.0, dt=1.0)
        >>> [round(x, 6) for x in f[:, 0].tolist()]
        [1.0, 0.367879, 1.135335]
    """
    spikes = jnp.asarray(spikes)
    if spikes.ndim != 2:
        raise ValueError(f"filtered_spikes: spikes must be (T, n), got shape {spikes.shape}")
    decay = jnp.exp(-dt / jnp.asarray(tau, spikes.dtype))

    def step(f, s):
        f = f * decay + s
        return f, f

    return jax.lax.scan(step, jnp.zeros(spikes.shape[1], spikes.dtype), spikes)[1]


def nrmse(y, y_hat) -> Array:
    r"""Root-mean-square error normalised by the target's standard deviation,
    $\sqrt{\langle (y - \hat y)^2\rangle} / \operatorname{std}(y)$, over all entries.

    This is the ESN literature's NRMSE (specs/reservoirs.md §2); note that
    ``reservoirpy.observables.nrmse`` defaults to a peak-to-peak normalisation instead.
    """
    y, y_hat = jnp.asarray(y), jnp.asarray(y_hat)
    if y.shape != y_hat.shape:
        raise ValueError(f"nrmse: shapes differ, {y.shape} vs {y_hat.shape}")
    return jnp.sqrt(jnp.mean((y - y_hat) ** 2)) / jnp.std(y)


def squared_correlation(y, y_hat) -> Array:
    r"""Per-column squared Pearson correlation $\operatorname{cov}^2(y, \hat y) /
    (\operatorname{var} y \operatorname{var}\hat y)$ of ``(T, n)`` arrays (a 1-d input is one
    column): the memory function $MC_k$ when column $k$ holds $u(t-k)$ and its readout."""
    y, y_hat = _as_2d(jnp.asarray(y), "y"), _as_2d(jnp.asarray(y_hat), "y_hat")
    if y.shape != y_hat.shape:
        raise ValueError(f"squared_correlation: shapes differ, {y.shape} vs {y_hat.shape}")
    yc, hc = y - y.mean(0)[None, :], y_hat - y_hat.mean(0)[None, :]
    return (yc * hc).sum(0) ** 2 / ((yc * yc).sum(0) * (hc * hc).sum(0))
