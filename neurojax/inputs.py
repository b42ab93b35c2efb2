r"""Input generators and spike encoders, as ``(T, n)`` arrays with a leading time axis.

Everything here returns an array ready for ``simulate``'s ``inputs`` dict: spikes (0/1 in the
compute dtype) for a :class:`~neurojax.neurons.SpikeSource` population, or currents (pA) for
a neuron population's input receptor. Random generators take an explicit ``jax.random`` key
(no global RNG), so the same key gives the same input on every call.

Units: ``dt`` and times in ms, rates in Hz, currents in pA.

| function       | what                                                                  |
|----------------|-----------------------------------------------------------------------|
| `poisson`      | Bernoulli approximation of a Poisson process: $P(\text{spike}) = r\,\Delta t$ per step |
| `bernoulli`    | rate code of static data (e.g. pixel intensities): $P(\text{spike}) = g\,x$ per step |
| `latency`      | time-to-first-spike code: one spike per input, earlier for larger values |
| `step_current` | a current pulse switched on over ``[t_start, t_stop)``                 |

The random encoders are jit-compatible when the sizes (``n_steps``, ``n``) are static; value
checks (probabilities within ``[0, 1]``) run only on concrete inputs, outside ``jit``.
"""
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import check_int, check_positive_ms, float_dtype

Array = jax.Array

__all__ = ["bernoulli", "latency", "poisson", "step_current"]


def _concrete(x) -> Optional[np.ndarray]:
    """``x`` as a NumPy array if its value is known (not a tracer under jit), else None."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


def _check_probability(p, what: str):
    """Raise if a concrete probability array has values outside [0, 1] (or NaN)."""
    arr = _concrete(p)
    if arr is None or arr.size == 0:
        return
    if np.isnan(arr).any():
        raise ValueError(f"{what} contains NaN")
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{what} must lie in [0, 1], got values in [{arr.min()}, {arr.max()}]")


def poisson(key, rate_hz, n_steps: int, n: Optional[int] = None, dt: float = 0.1, *,
            dtype=None) -> Array:
    r"""Independent Poisson spike trains, discretised per step (Bernoulli approximation).

    In each step of ``dt`` ms every neuron spikes with probability
    $p = r\,\Delta t \cdot 10^{-3}$ (rate $r$ in Hz), independently across steps and neurons,
    so the expected count over $T$ steps is $T p$ and its variance $T p (1 - p)$. At most one
    spike per step and neuron; keep $p \ll 1$ for a good Poisson approximation.

    Args:
        key: ``jax.random`` key.
        rate_hz: rate in Hz: a scalar, an ``(n,)`` array (one rate per neuron) or an
            ``(n_steps, n)`` array (time-varying rate).
        n_steps: number of steps ``T``.
        n: number of neurons; may be omitted when ``rate_hz`` has a neuron axis.
        dt: step in ms.
        dtype: output dtype (default: the compute dtype, float32 or float64 under x64).

    Returns:
        ``(n_steps, n)`` array of 0/1 spikes.

    Raises:
        ValueError: bad ``n_steps``/``n``/``dt``, a rate shape that does not fit, or a
            negative rate or one with ``rate * dt > 1`` (checked when the rate is concrete).

    Examples:
        >>> import jax, neurojax as nj
        >>> s = nj.inputs.poisson(jax.random.PRNGKey(0), 20.0, n_steps=1000, n=3, dt=0.1)
        >>> s.shape
        (1000, 3)
        >>> set(s.ravel().tolist()) <= {0.0, 1.0}
        True
    """
    n_steps = check_int(n_steps, "n_steps")
    dt = check_positive_ms(dt)
    shape = np.shape(rate_hz)
    if n is None:
        if len(shape) == 0:
            raise ValueError("poisson: pass n (number of neurons) when rate_hz is a scalar")
        n = shape[-1]
    n = check_int(n, "n")
    if shape not in ((), (n,), (n_steps, n)):
        raise ValueError(f"poisson: rate_hz must be a scalar or have shape ({n},) or "
                         f"({n_steps}, {n}), got {shape}")
    dtype = float_dtype() if dtype is None else dtype
    p = jnp.asarray(rate_hz, dtype) * (dt * 1e-3)
    arr = _concrete(rate_hz)
    if arr is not None and arr.size:
        if np.isnan(arr).any() or arr.min() < 0:
            raise ValueError(f"poisson: rate_hz must be >= 0 Hz, got min {arr.min()}")
        if arr.max() * dt * 1e-3 > 1:
            raise ValueError(f"poisson: rate_hz * dt = {arr.max() * dt * 1e-3:g} > 1 spike per "
                             f"step (max rate {arr.max()} Hz at dt = {dt} ms); reduce dt")
    u = jax.random.uniform(key, (n_steps, n), dtype)
    return (u < jnp.broadcast_to(p, (n_steps, n))).astype(dtype)


def bernoulli(key, x, n_steps: int, *, gain: float = 1.0, dtype=None) -> Array:
    r"""Rate code of static data: each element spikes with probability $g\,x$ in every step.

    Typical use: pixel intensities scaled to $[0, 1]$ become spike trains whose rate is
    proportional to the intensity (``gain`` sets the maximum probability per step). Values
    0 never spike; with ``gain * x == 1`` an element spikes in every step.

    Args:
        key: ``jax.random`` key.
        x: intensities in ``[0, 1]``, any shape (e.g. an ``(n,)`` vector or an image; use
            ``x.reshape(-1)`` to feed a population of ``n`` inputs).
        n_steps: number of steps ``T``.
        gain: probability per step for ``x = 1``; ``gain * x`` must lie in ``[0, 1]``.
        dtype: output dtype (default: the compute dtype).

    Returns:
        ``(n_steps, *x.shape)`` array of 0/1 spikes.

    Raises:
        ValueError: bad ``n_steps`` or ``gain * x`` outside ``[0, 1]`` (checked when concrete).

    Examples:
        >>> import jax, jax.numpy as jnp, neurojax as nj
        >>> s = nj.inputs.bernoulli(jax.random.PRNGKey(0), jnp.array([0.0, 1.0]), n_steps=3)
        >>> s.tolist()
        [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]
    """
    n_steps = check_int(n_steps, "n_steps")
    dtype = float_dtype() if dtype is None else dtype
    g = _concrete(gain)
    if g is not None and (g.shape != () or not 0 <= float(g) <= 1):
        raise ValueError(f"bernoulli: gain must be a scalar in [0, 1], got {gain!r}")
    x = jnp.asarray(x, dtype)
    _check_probability(x, "bernoulli: x")
    p = gain * x
    _check_probability(p, "bernoulli: gain * x")
    u = jax.random.uniform(key, (n_steps, *x.shape), dtype)
    return (u < jnp.broadcast_to(p, u.shape)).astype(dtype)


def latency(x, n_steps: int, *, method: str = "linear", threshold: float = 0.0,
            tau: float = 5.0, dt: float = 0.1, dtype=None) -> Array:
    r"""Time-to-first-spike code: each element of ``x`` emits at most one spike.

    Larger values spike earlier. Elements with $x \le \theta$ (``threshold``) never spike.

    * ``method="linear"``: the spike step is $k = \mathrm{round}\big((1 - x)(T - 1)\big)$ for
      $x \in (\theta, 1]$, so $x = 1$ spikes in step 0 and values near 0 in step $T - 1$.
      ``x`` must lie in ``[0, 1]``. Rounding is to the nearest step, ties to even
      (``jnp.round``).
    * ``method="log"``: the firing time of an RC membrane (time constant $\tau$ ms, starting
      at 0, threshold $\theta$) charged towards $x$:
      $t = \tau \ln\frac{x}{x - \theta}$ ms, i.e. step $k = \mathrm{round}(t / \Delta t)$;
      needs $\theta > 0$. Spikes that would fall at or after step $T$ are dropped.

    Args:
        x: intensities, any shape.
        n_steps: number of steps ``T``.
        method: ``"linear"`` or ``"log"``.
        threshold: $\theta$; values ``<= threshold`` do not spike.
        tau: membrane time constant of the ``"log"`` code, ms.
        dt: step in ms (``"log"`` code only).
        dtype: output dtype (default: the compute dtype).

    Returns:
        ``(n_steps, *x.shape)`` array of 0/1 spikes, at most one per element.

    Raises:
        ValueError: unknown ``method``, ``x`` outside ``[0, 1]`` for ``"linear"``,
            ``threshold <= 0`` or ``tau <= 0`` for ``"log"``, bad ``n_steps``/``dt``.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> s = nj.inputs.latency(jnp.array([1.0, 0.5, 0.0]), n_steps=5)
        >>> s.argmax(axis=0).tolist(), s.sum(axis=0).tolist()
        ([0, 2, 0], [1.0, 1.0, 0.0])
    """
    n_steps = check_int(n_steps, "n_steps")
    dtype = float_dtype() if dtype is None else dtype
    x = jnp.asarray(x, dtype)
    if method == "linear":
        _check_probability(x, "latency: x")
        steps = jnp.round((1.0 - x) * (n_steps - 1))
    elif method == "log":
        dt = check_positive_ms(dt)
        if not threshold > 0:
            raise ValueError(f"latency(method='log'): threshold must be > 0, got {threshold!r}")
        if not tau > 0:
            raise ValueError(f"latency(method='log'): tau must be > 0 ms, got {tau!r}")
        safe = jnp.where(x > threshold, x, 2.0 * threshold)   # avoid log of <= 0 where silent
        steps = jnp.round(tau * jnp.log(safe / (safe - threshold)) / dt)
    else:
        raise ValueError(f"latency: method must be 'linear' or 'log', got {method!r}")
    fires = (x > threshold) & (steps < n_steps)
    t = jnp.arange(n_steps, dtype=dtype).reshape((n_steps,) + (1,) * x.ndim)
    hit = t == jnp.broadcast_to(steps, (1,) + x.shape)
    return (hit & jnp.broadcast_to(fires, (1,) + x.shape)).astype(dtype)


def step_current(n_steps: int, n: int, dt: float, amplitude, t_start: float = 0.0,
                 t_stop: Optional[float] = None, *, dtype=None) -> Array:
    r"""A current pulse: ``amplitude`` pA during ``[t_start, t_stop)`` ms, 0 elsewhere.

    Step ``k`` covers time $[k\Delta t, (k+1)\Delta t)$ and is on when
    $t_\mathrm{start} \le k\Delta t < t_\mathrm{stop}$ (times rounded to the step grid).

    Args:
        n_steps: number of steps ``T``.
        n: number of neurons.
        dt: step in ms.
        amplitude: pA, a scalar or ``(n,)``.
        t_start, t_stop: ms; ``t_stop=None`` keeps the current on to the end.
        dtype: output dtype (default: the compute dtype).

    Returns:
        ``(n_steps, n)`` array in pA.

    Examples:
        >>> import neurojax as nj
        >>> nj.inputs.step_current(5, 1, 0.1, 100.0, t_start=0.1, t_stop=0.3)[:, 0].tolist()
        [0.0, 100.0, 100.0, 0.0, 0.0]
    """
    n_steps = check_int(n_steps, "n_steps")
    n = check_int(n, "n")
    dt = check_positive_ms(dt)
    if np.shape(amplitude) not in ((), (n,)):
        raise ValueError(f"step_current: amplitude must be a scalar or have shape ({n},), "
                         f"got {np.shape(amplitude)}")
    t_stop = n_steps * dt if t_stop is None else t_stop
    if not t_stop >= t_start:
        raise ValueError(f"step_current: t_stop ({t_stop} ms) must be >= t_start ({t_start} ms)")
    dtype = float_dtype() if dtype is None else dtype
    k0, k1 = int(round(t_start / dt)), int(round(t_stop / dt))
    k = np.arange(n_steps)
    on = jnp.asarray(((k >= k0) & (k < k1)).astype(np.float64), dtype).reshape(n_steps, 1)
    return on * jnp.broadcast_to(jnp.asarray(amplitude, dtype), (1, n))
