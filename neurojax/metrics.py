r"""Spike-train statistics: firing rates, population rate, ISI coefficient of variation, Fano factor.

Spike arrays are time-major, as ``simulate`` records them: ``(T, n)`` (one column per neuron)
or ``(T,)`` for a single neuron, with ``T`` steps of ``dt`` ms, holding 0/1 floats or
booleans. The rate functions sum the values; the ISI functions treat a nonzero entry as one
spike.

Units: ``dt`` and bin widths in ms, rates in Hz, ISIs in ms; CV and Fano factor are
dimensionless.

Two kinds of functions:

* :func:`firing_rates` and :func:`population_rate` use ``jax.numpy`` and sum the spike
  values (so 0/1 floats carry surrogate gradients): they accept batched
  ``(..., T, n)`` input, work under ``jit`` and are differentiable (e.g. as a rate penalty in
  a loss). They return JAX arrays.
* :func:`isi`, :func:`isi_cv` and :func:`fano_factor` are host-side NumPy analyses (spike
  times have a different length for every neuron). They return NumPy arrays, with NaN where
  the statistic is undefined, and must be called outside ``jit``.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import check_int, check_positive_ms

Array = jax.Array

__all__ = ["fano_factor", "firing_rates", "isi", "isi_cv", "population_rate"]


def _as_2d(spikes, fn: str) -> np.ndarray:
    """Host copy of ``spikes`` as a boolean ``(T, n)`` array (``(T,)`` becomes ``(T, 1)``)."""
    arr = np.asarray(spikes)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{fn}: spikes must have shape (T, n) or (T,), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{fn}: spikes has no time steps")
    return arr != 0


def firing_rates(spikes, dt: float) -> Array:
    r"""Mean firing rate of each neuron over the whole recording, in Hz.

    $r_i = \frac{1}{T\,\Delta t} \sum_t s_{t,i}$ with $\Delta t$ converted to seconds.

    Args:
        spikes: ``(T, n)``, ``(T,)`` or batched ``(..., T, n)`` spikes (time axis second to
            last; a 1-D array is one neuron).
        dt: step in ms.

    Returns:
        ``(n,)`` (or ``(..., n)``; a scalar for 1-D input) rates in Hz, a JAX array.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> s = jnp.zeros((1000, 2)).at[::100, 0].set(1.0)    # 10 spikes in 100 ms
        >>> nj.metrics.firing_rates(s, dt=0.1).tolist()
        [100.0, 0.0]
    """
    dt = check_positive_ms(dt)
    x = jnp.asarray(spikes)
    if x.ndim == 0:
        raise ValueError("firing_rates: spikes must have a time axis, got a scalar")
    axis = 0 if x.ndim == 1 else -2
    x = x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))
    return jnp.sum(x, axis=axis) / (x.shape[axis] * dt * 1e-3)


def population_rate(spikes, dt: float, bin_ms=None) -> Array:
    r"""Population firing rate over time, in Hz per neuron.

    Without binning, $R_t = \frac{1}{n\,\Delta t} \sum_i s_{t,i}$ for every step; with
    ``bin_ms``, spikes are counted in consecutive bins of $b$ ms
    ($b / \Delta t$ steps, an integer) and $R = \text{count} / (n\, b)$. An incomplete last
    bin is dropped.

    Args:
        spikes: ``(T, n)`` or batched ``(..., T, n)`` spikes.
        dt: step in ms.
        bin_ms: bin width in ms, a multiple of ``dt`` (None: one bin per step).

    Returns:
        ``(T,)`` or ``(T // (bin_ms / dt),)`` (batched: ``(..., ·)``) rates in Hz, a JAX array.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> s = jnp.zeros((20, 4)).at[3, :2].set(1.0)
        >>> nj.metrics.population_rate(s, dt=0.5, bin_ms=5.0).tolist()   # 2 spikes / (4 * 5 ms)
        [100.0, 0.0]
    """
    dt = check_positive_ms(dt)
    x = jnp.asarray(spikes)
    if x.ndim < 2:
        raise ValueError(f"population_rate: spikes must have shape (T, n), got {x.shape}")
    x = x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))
    n, T = x.shape[-1], x.shape[-2]
    counts = jnp.sum(x, axis=-1)                                       # (..., T)
    if bin_ms is None:
        return counts / (n * dt * 1e-3)
    width = _bin_steps(bin_ms, dt, "population_rate")
    n_bins = T // width
    if n_bins < 1:
        raise ValueError(f"population_rate: bin_ms={bin_ms} is longer than the recording "
                         f"({T * dt} ms)")
    counts = counts[..., : n_bins * width].reshape(*counts.shape[:-1], n_bins, width).sum(-1)
    return counts / (n * width * dt * 1e-3)


def _bin_steps(bin_ms, dt, fn):
    bin_ms = check_positive_ms(bin_ms, f"{fn}: bin_ms")
    width = int(round(bin_ms / dt))
    if width < 1 or not math.isclose(width * dt, bin_ms, rel_tol=1e-9, abs_tol=1e-12):
        raise ValueError(f"{fn}: bin_ms={bin_ms} must be a positive multiple of dt={dt}")
    return width


def isi(spikes, dt: float) -> list:
    """Inter-spike intervals of each neuron, in ms (host-side NumPy).

    Spike ``k`` of a neuron is at time ``step * dt``; its ISIs are the differences of
    consecutive spike times.

    Args:
        spikes: ``(T, n)`` or ``(T,)`` spikes.
        dt: step in ms.

    Returns:
        A list of ``n`` float64 NumPy arrays (empty for neurons with fewer than 2 spikes).

    Examples:
        >>> import numpy as np, neurojax as nj
        >>> s = np.zeros((10, 1)); s[[1, 3, 8], 0] = 1
        >>> nj.metrics.isi(s, dt=0.5)[0].tolist()
        [1.0, 2.5]
    """
    dt = check_positive_ms(dt)
    arr = _as_2d(spikes, "isi")
    out = []
    for i in range(arr.shape[1]):
        out.append(np.diff(np.flatnonzero(arr[:, i])).astype(np.float64) * dt)
    return out


def isi_cv(spikes, dt: float, *, min_spikes: int = 2) -> np.ndarray:
    r"""Coefficient of variation of the inter-spike intervals of each neuron (host-side NumPy).

    $\mathrm{CV}_i = \sigma_i / \mu_i$, the population standard deviation (``ddof=0``) over the
    mean of neuron $i$'s ISIs. A perfectly regular train has CV 0; a Poisson process has CV 1.

    Neurons with fewer than ``min_spikes`` spikes get **NaN** (excluded: use ``np.nanmean``
    for a population average). With the default ``min_spikes=2`` a neuron with exactly two
    spikes has a single ISI and CV 0; raise ``min_spikes`` for a less biased estimate.
    The CV is dimensionless, so ``dt`` only enters through the validation.

    Args:
        spikes: ``(T, n)`` or ``(T,)`` spikes.
        dt: step in ms.
        min_spikes: minimum number of spikes for a defined CV (>= 2).

    Returns:
        ``(n,)`` float64 NumPy array (NaN where undefined).

    Examples:
        >>> import numpy as np, neurojax as nj
        >>> s = np.zeros((100, 2)); s[::10, 0] = 1; s[5, 1] = 1
        >>> nj.metrics.isi_cv(s, dt=0.1).tolist()
        [0.0, nan]
    """
    check_positive_ms(dt)
    check_int(min_spikes, "isi_cv: min_spikes", minimum=2)
    arr = _as_2d(spikes, "isi_cv")
    n = arr.shape[1]
    neuron, step = np.nonzero(arr.T)             # sorted by neuron, then by step
    counts = np.bincount(neuron, minlength=n)
    gaps = np.diff(step).astype(np.float64)
    same = neuron[1:] == neuron[:-1]               # consecutive spikes of the same neuron
    owner, gaps = neuron[1:][same], gaps[same]
    n_isi = counts - 1
    ok = counts >= min_spikes
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(owner, weights=gaps, minlength=n) / n_isi
        dev = gaps - mean[owner]
        std = np.sqrt(np.bincount(owner, weights=dev * dev, minlength=n) / n_isi)
        cv = std / mean
    return np.where(ok, cv, np.nan)


def fano_factor(spikes, bin_ms: float, dt: float, *, ddof: int = 0) -> np.ndarray:
    r"""Fano factor of each neuron's spike counts in bins of ``bin_ms`` (host-side NumPy).

    Counts $c_{b,i}$ in consecutive bins of $b / \Delta t$ steps (an incomplete last bin is
    dropped); $F_i = \mathrm{Var}_b(c_{b,i}) / \mathrm{Mean}_b(c_{b,i})$ with the variance's
    ``ddof`` (default 0, NumPy's convention). A Poisson process has $F \approx 1$ (exactly 1
    in expectation with ``ddof=1``). NaN for neurons with no spikes in the counted bins.
    For the Fano factor of the *population* count (a synchrony measure) pass
    ``spikes.sum(axis=1)``.

    Args:
        spikes: ``(T, n)`` or ``(T,)`` spike counts per step (0/1 spikes, or e.g. the
            population count ``spikes.sum(axis=1)``); they are summed within each bin.
        bin_ms: bin width in ms, a multiple of ``dt``.
        dt: step in ms.
        ddof: delta degrees of freedom of the variance (0 or 1).

    Returns:
        ``(n,)`` float64 NumPy array.

    Raises:
        ValueError: ``bin_ms`` not a multiple of ``dt``, fewer than ``ddof + 2`` full bins.

    Examples:
        >>> import numpy as np, neurojax as nj
        >>> s = np.zeros((40, 1)); s[[0, 1, 10, 30, 31, 32], 0] = 1   # counts 2, 1, 0, 3
        >>> nj.metrics.fano_factor(s, bin_ms=1.0, dt=0.1).round(6).tolist()
        [0.833333]
    """
    dt = check_positive_ms(dt)
    if ddof not in (0, 1):
        raise ValueError(f"fano_factor: ddof must be 0 or 1, got {ddof!r}")
    raw = np.asarray(spikes).astype(np.float64)
    if raw.ndim == 1:
        raw = raw[:, None]
    if raw.ndim != 2:
        raise ValueError(f"fano_factor: spikes must have shape (T, n) or (T,), got {raw.shape}")
    if np.isnan(raw).any() or (raw < 0).any():
        raise ValueError("fano_factor: spike counts must be >= 0 and not NaN")
    width = _bin_steps(bin_ms, dt, "fano_factor")
    n_bins = raw.shape[0] // width
    if n_bins < ddof + 2:
        raise ValueError(f"fano_factor: need at least {ddof + 2} full bins of {bin_ms} ms, the "
                         f"recording has {n_bins}")
    c = raw[: n_bins * width].reshape(n_bins, width, -1).sum(axis=1)
    mean = c.mean(axis=0)
    var = c.var(axis=0, ddof=ddof)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, var / mean, np.nan)
