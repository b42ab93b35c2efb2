r"""Echo-state networks: leaky tanh reservoirs run with one ``lax.scan``.

$$ x_{t} = (1 - \alpha)\, x_{t-1} + \alpha \tanh\!\big(W x_{t-1} + W_\mathrm{in} u_t + b\big)
   \;[+\, \sigma \xi_t], \qquad x_{-1} = x_0 , $$

the update of reservoirpy's ``Reservoir`` (and of :class:`neurojax.LeakyTanh` units with
``tau = dt / alpha`` in :func:`neurojax.simulate`), with optional training-time state noise
$\sigma \xi_t$, $\xi_t \sim \mathcal N(0, I)$ (Jaeger 2001). The reservoir is an :class:`ESN`
pytree of arrays, so every hyper-parameter that is an array (the leak $\alpha$, scalings of
$W$ and $W_\mathrm{in}$, the ridge strength) can be traced: ``vmap`` over seeds or a grid of
hyper-parameters compiles once, and ``jax.grad`` reaches them through the scan.

Shapes: ``w`` is ``(N, N)`` with row $i$ holding the inputs of unit $i$; inputs are
``(T, n_in)``; states are ``(T, N)``, ``states[t]`` being the state after reading
``inputs[t]``. Dense $W$ is the fast choice on CPU up to a few thousand units (a sparse
gather is slower in XLA there; specs/reservoirs.md §8.5).
"""
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import float_dtype
from neurojax._scan import scan as checkpointed_scan
from neurojax.connectivity import numpy_rng
from neurojax.readouts import Readout, predict, ridge

Array = jax.Array

__all__ = ["ESN", "random_esn", "spectral_radius", "rescale", "update", "run", "fit",
           "closed_loop"]


class ESN(NamedTuple):
    """Echo-state reservoir parameters (all arrays: a pytree)."""

    w: Array        # (N, N)     recurrent weights, x_i <- ... sum_j w[i, j] x_j
    w_in: Array     # (N, n_in)  input weights
    bias: Array     # (N,)       bias inside the tanh
    leak: Array     # () or (N,) leak rate alpha in (0, 1]


def _largest_abs_eigenvalue(w) -> float:
    """Largest absolute eigenvalue of a square matrix (host, float64).

    Dense ``numpy.linalg.eigvals`` for small matrices; for large sparse ones ARPACK's
    largest-magnitude eigenvalue (``scipy.sparse.linalg.eigs``), falling back to the dense
    solver when ARPACK does not converge.
    """
    w = np.asarray(w, np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"spectral_radius: w must be square, got shape {w.shape}")
    if w.shape[0] > 256:
        import scipy.sparse
        import scipy.sparse.linalg
        try:
            vals = scipy.sparse.linalg.eigs(scipy.sparse.csr_array(w), k=1, which="LM",
                                            return_eigenvectors=False, tol=1e-10)
            return float(np.abs(vals).max())
        except scipy.sparse.linalg.ArpackNoConvergence:
            pass
    return float(np.abs(np.linalg.eigvals(w)).max())


spectral_radius = _largest_abs_eigenvalue


def _check_fraction(name: str, value, *, allow_zero: bool) -> float:
    value = float(value)
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value <= 1):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"random_esn: {name} must be in {interval}, got {value}")
    return value


def random_esn(key, n: int, n_in: int = 1, *, spectral_radius: float = 1.0, leak=1.0,
               input_scaling: float = 1.0, connectivity: float = 0.1,
               input_connectivity: float = 0.1, bias_scaling: float = 0.0,
               dtype=None) -> ESN:
    r"""A random reservoir with reservoirpy's default construction.

    * $W$: each entry non-zero with probability ``connectivity``, drawn from
      $\mathcal N(0, 1)$, then rescaled so that its spectral radius is ``spectral_radius``
      (a radius below 1 is the usual starting point for the echo-state property).
    * $W_\mathrm{in}$: each entry non-zero with probability ``input_connectivity``, $\pm 1$
      with equal probability, times ``input_scaling`` (with the default 0.1 most units get
      no input, as in reservoirpy).
    * $b$: $U(-1, 1)$ times ``bias_scaling`` on every unit (0 by default).

    Host-side NumPy, deterministic given ``key`` (a ``jax.random`` key). For a batch of
    reservoirs (``vmap`` over seeds) build several and stack them:
    ``jax.tree.map(lambda *a: jnp.stack(a), *esns)``.

    Args:
        key: ``jax.random`` key.
        n: number of units $N$.
        n_in: input dimension.
        spectral_radius: target $\rho(W)$, >= 0.
        leak: leak rate $\alpha \in (0, 1]$ (scalar or ``(n,)``).
        input_scaling: scale of $W_\mathrm{in}$.
        connectivity, input_connectivity: densities of $W$ and $W_\mathrm{in}$.
        bias_scaling: scale of the bias.
        dtype: float dtype (default: float64 with x64 enabled, else float32).

    Examples:
        >>> import jax, neurojax as nj
        >>> esn = nj.reservoirs.random_esn(jax.random.key(0), 50, spectral_radius=0.9)
        >>> round(nj.reservoirs.spectral_radius(esn.w), 6), esn.w_in.shape
        (0.9, (50, 1))
    """
    if int(n) != n or n < 1 or int(n_in) != n_in or n_in < 1:
        raise ValueError(f"random_esn: n and n_in must be positive ints, got {n}, {n_in}")
    if spectral_radius < 0:
        raise ValueError(f"random_esn: spectral_radius must be >= 0, got {spectral_radius}")
    connectivity = _check_fraction("connectivity", connectivity, allow_zero=False)
    input_connectivity = _check_fraction("input_connectivity", input_connectivity,
                                         allow_zero=True)
    dtype = float_dtype() if dtype is None else dtype
    rng = numpy_rng(key)
    w = rng.standard_normal((n, n)) * (rng.random((n, n)) < connectivity)
    radius = _largest_abs_eigenvalue(w)
    if radius == 0.0:
        raise ValueError(f"random_esn: the random W (n={n}, connectivity={connectivity}) has "
                         "spectral radius 0 (too sparse to rescale); raise connectivity")
    w *= spectral_radius / radius
    w_in = (rng.random((n, n_in)) < input_connectivity) * rng.choice([-1.0, 1.0], (n, n_in))
    bias = bias_scaling * rng.uniform(-1.0, 1.0, n)
    esn = ESN(w=jnp.asarray(w, dtype), w_in=jnp.asarray(input_scaling * w_in, dtype),
              bias=jnp.asarray(bias, dtype), leak=jnp.asarray(leak, dtype))
    check_esn(esn)
    return esn


def rescale(esn: ESN, *, spectral: float = 1.0, inputs: float = 1.0) -> ESN:
    """Multiply $W$ by ``spectral`` (so $\\rho(W)$ scales by it) and $W_\\mathrm{in}$ by
    ``inputs``. Differentiable: the scales may be traced (hyper-parameter tuning by gradient)."""
    return esn._replace(w=spectral * esn.w, w_in=inputs * esn.w_in)


def check_esn(esn: ESN, inputs=None) -> None:
    """Clear errors for inconsistent shapes and, when concrete, a leak outside (0, 1]."""
    n = esn.w.shape[-1]
    if esn.w.shape[-2:] != (n, n):
        raise ValueError(f"ESN.w must be (N, N), got {esn.w.shape}")
    if esn.w_in.shape[-2] != n:
        raise ValueError(f"ESN.w_in must be (N={n}, n_in), got {esn.w_in.shape}")
    if esn.bias.shape[-1:] not in ((n,), ()):
        raise ValueError(f"ESN.bias must be (N={n},) or scalar, got {esn.bias.shape}")
    if inputs is not None and (inputs.ndim != 2 or inputs.shape[1] != esn.w_in.shape[-1]):
        raise ValueError(f"inputs must be (T, n_in={esn.w_in.shape[-1]}), got {inputs.shape}")
    if not isinstance(esn.leak, jax.core.Tracer):
        leak = np.asarray(esn.leak)
        if not ((leak > 0) & (leak <= 1)).all():
            raise ValueError(f"ESN.leak must be in (0, 1], got values in [{leak.min()}, "
                             f"{leak.max()}]")


def _leaky_tanh(esn: ESN, x: Array, drive: Array) -> Array:
    return (1.0 - esn.leak) * x + esn.leak * jnp.tanh(esn.w @ x + drive)


def update(esn: ESN, x: Array, u: Array) -> Array:
    """One reservoir step $x \\mapsto (1-\\alpha) x + \\alpha \\tanh(W x + W_\\mathrm{in} u + b)$."""
    return _leaky_tanh(esn, x, esn.w_in @ u + esn.bias)


def _scan_states(esn: ESN, x0: Array, drive: Array, noise: Optional[Array],
                 checkpoint_every: Optional[int]):
    """States of x <- (1-a) x + a tanh(W x + drive_t) [+ noise_t] for precomputed drives."""
    def step(x, drive_and_noise):
        d, n = drive_and_noise
        x = _leaky_tanh(esn, x, d)
        x = x if n is None else x + n
        return x, x

    return checkpointed_scan(step, x0, (drive, noise), length=drive.shape[0],
                             checkpoint_every=checkpoint_every)


def run(esn: ESN, inputs, x0=None, *, noise=0.0, key=None,
        checkpoint_every: Optional[int] = None):
    r"""Drive the reservoir with ``inputs`` (teacher forcing): one ``lax.scan``.

    The input drive $W_\mathrm{in} u_t + b$ of all steps is one matrix product before the
    scan; each step then costs one $N \times N$ matrix-vector product.

    Args:
        esn: the reservoir.
        inputs: ``(T, n_in)``.
        x0: initial state ``(N,)`` (default 0).
        noise: standard deviation $\sigma$ of the state noise added every step (0: none);
            needs ``key``.
        key: ``jax.random`` key for the noise.
        checkpoint_every: if given, the scan runs in chunks of this many steps (it must divide
            ``T``) under ``jax.checkpoint``: reverse-mode gradients then store only the chunk
            boundaries and recompute the inside, for long sequences.

    Returns:
        ``(x_last, states)``: the final state ``(N,)`` and all states ``(T, N)``.

    Examples:
        >>> import jax, jax.numpy as jnp, neurojax as nj
        >>> esn = nj.reservoirs.random_esn(jax.random.key(0), 20, leak=0.5)
        >>> x_last, states = nj.reservoirs.run(esn, jnp.ones((30, 1)))
        >>> states.shape, bool(jnp.allclose(states[-1], x_last))
        ((30, 20), True)
    """
    inputs = jnp.asarray(inputs)
    check_esn(esn, inputs)
    dtype = esn.w.dtype
    x0 = jnp.zeros(esn.w.shape[0], dtype) if x0 is None else jnp.asarray(x0, dtype)
    drive = inputs.astype(dtype) @ esn.w_in.T + jnp.broadcast_to(esn.bias, esn.w.shape[:1])[None, :]
    xi = None
    if not (isinstance(noise, (int, float)) and noise == 0):
        if key is None:
            raise ValueError("run: noise > 0 needs a key")
        xi = noise * jax.random.normal(key, drive.shape, dtype)
    return _scan_states(esn, x0, drive, xi, checkpoint_every)


def fit(esn: ESN, inputs, targets, alpha, *, washout: int = 0, x0=None, noise=0.0,
        key=None, solver: str = "auto"):
    r"""Teacher-forced training: drive with ``inputs``, drop ``washout`` states, fit a ridge
    readout of ``targets`` (:func:`neurojax.readouts.ridge`).

    Returns:
        ``(readout, x_last)``; continue with ``run(esn, test_inputs, x_last)`` (the reservoir
        is not reset between training and testing, as in reservoirpy).
    """
    targets = jnp.asarray(targets)
    if targets.shape[0] != jnp.shape(inputs)[0]:
        raise ValueError(f"fit: inputs and targets need the same length, got "
                         f"{jnp.shape(inputs)[0]} and {targets.shape[0]}")
    if not 0 <= washout < targets.shape[0]:
        raise ValueError(f"fit: washout must be in [0, T={targets.shape[0]}), got {washout}")
    x_last, states = run(esn, inputs, x0, noise=noise, key=key)
    return ridge(states[washout:], targets[washout:], alpha, solver=solver), x_last


def closed_loop(esn: ESN, readout: Readout, x0, n_steps: int) -> Array:
    r"""Generative (autonomous) prediction: the readout's output is the next input.

    From the state ``x0`` reached after the last teacher-forced input,
    $\hat y_1 = x_0 W_\mathrm{out} + b$, then $x_k = \mathrm{update}(x_{k-1}, \hat y_k)$ and
    $\hat y_{k+1} = x_k W_\mathrm{out} + b$; the input and output dimensions must agree.

    Returns:
        ``(n_steps, n_out)``: $\hat y_1, \dots, \hat y_{n}$ (step $k$ predicts $k$ steps past
        the last true input). ``vmap`` over ``x0`` for many start points.
    """
    if readout.w.shape[1] != esn.w_in.shape[-1]:
        raise ValueError(f"closed_loop: the readout has {readout.w.shape[1]} outputs but the "
                         f"reservoir takes {esn.w_in.shape[-1]} inputs")
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"closed_loop: n_steps must be a positive int, got {n_steps}")
    x0 = jnp.asarray(x0, esn.w.dtype)

    def step(carry, _):
        x, y = carry
        x = update(esn, x, y.astype(x.dtype))
        return (x, predict(readout, x)), y

    y0 = predict(readout, x0)
    return jax.lax.scan(step, (x0, y0), None, length=n_steps)[1]


