r"""Differentiable objectives for fitting: trace distances, spike-train distances, statistics.

Every function is pure ``jax.numpy`` (usable under ``jit``, ``vmap`` and ``grad``). Spike
trains are time-major float arrays as ``nj.simulate`` records them: ``(T, n)`` (one column
per neuron) or ``(T,)`` for one neuron, holding surrogate spikes (0/1 in the forward pass,
with surrogate gradients), so spike-based objectives pass gradients back to the model.
Spike index ``k`` is at time $t_k = k\,\Delta t$ (as in :mod:`neurojax.metrics`).

Units: voltages in mV (trace losses in mV$^2$), ``dt``/``tau``/``bin_ms`` in ms, rates in Hz,
times in ms; van Rossum distances, CVs and correlations are dimensionless.

Objectives with an undefined value (an ISI CV with fewer than two spikes, a correlation of a
silent neuron) return ``empty`` there (default NaN, like :mod:`neurojax.metrics`); pass a
number (e.g. ``empty=0.0``) inside a loss, because ``fit`` freezes a start whose loss is NaN.
Divisions are guarded so that gradients stay finite wherever the value is.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import check_positive_ms, float_dtype
from neurojax.metrics import _bin_steps

__all__ = ["trace_mse", "windowed_trace_mse", "spike_aware_trace_loss", "van_rossum",
           "spike_count", "first_spike_time", "firing_rate", "fi_curve", "isi_cv", "rate", "cv",
           "pairwise_correlation"]


def _float(x):
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(float_dtype())


def _pair(a, b, fn: str):
    a, b = _float(a), _float(b)
    if a.shape != b.shape:
        raise ValueError(f"{fn}: the two arrays must have the same shape, got {a.shape} and {b.shape}")
    if a.ndim == 0:
        raise ValueError(f"{fn}: inputs need a time axis, got scalars")
    return a, b


def _spikes(s, fn: str):
    s = _float(s)
    if s.ndim not in (1, 2) or s.shape[0] == 0:
        raise ValueError(f"{fn}: spikes must have shape (T, n) or (T,) with T >= 1, got {s.shape}")
    return s


def _safe_div(num, den, ok, empty):
    """``num / den`` where ``ok``, else ``empty``; the untaken branch has finite gradients."""
    return jnp.where(ok, num / jnp.where(ok, den, 1.0), empty)


def trace_mse(v, v_target, mask=None):
    r"""Mean squared error between two traces, in mV$^2$.

    $L = \sum_t m_t (v_t - \hat v_t)^2 / \sum_t m_t$ (all entries weighted 1 without a mask).

    Args:
        v: model trace, ``(T,)`` or ``(T, n)`` (mV).
        v_target: recorded trace, same shape.
        mask: optional non-negative weights, the shape of ``v`` or ``(T,)`` for a ``(T, n)``
            trace (e.g. 0 where the recording is unreliable). Must not be all zero.

    Returns:
        Scalar.

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax import fitting
        >>> round(float(fitting.trace_mse(jnp.array([0.0, 1.0, 2.0]), jnp.zeros(3))), 6)
        1.666667
        >>> float(fitting.trace_mse(jnp.array([0.0, 1.0, 2.0]), jnp.zeros(3), mask=jnp.array([1, 1, 0])))
        0.5
    """
    v, vt = _pair(v, v_target, "trace_mse")
    d2 = (v - vt) ** 2
    if mask is None:
        return jnp.mean(d2)
    m = _float(mask)
    if m.shape != v.shape:
        if v.ndim == 2 and m.shape == (v.shape[0],):
            m = m[:, None]
        else:
            raise ValueError(f"trace_mse: mask must have shape {v.shape} or ({v.shape[0]},), "
                             f"got {m.shape}")
    m = jnp.broadcast_to(m, v.shape)
    return jnp.sum(m * d2) / jnp.sum(m)


def windowed_trace_mse(v, v_target, windows):
    r"""Mean over windows of the trace MSE inside each window, in mV$^2$.

    $L = \frac{1}{W}\sum_{w=1}^{W} \frac{1}{|w|\,n}\sum_{t \in w}\sum_i (v_{t,i} - \hat v_{t,i})^2$,
    so each window counts equally whatever its length (e.g. one window per current step of a
    protocol, or the subthreshold stretches between spikes). Windows may overlap.

    Args:
        v, v_target: ``(T,)`` or ``(T, n)`` traces (mV).
        windows: sequence of ``(start, stop)`` step indices, ``0 <= start < stop <= T``
            (half-open, Python ints; they are fixed at trace time).

    Returns:
        Scalar.

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax import fitting
        >>> v = jnp.array([1.0, 1.0, 3.0, 3.0, 3.0, 3.0])
        >>> float(fitting.windowed_trace_mse(v, jnp.zeros(6), [(0, 2), (2, 6)]))   # (1 + 9) / 2
        5.0
    """
    v, vt = _pair(v, v_target, "windowed_trace_mse")
    T = v.shape[0]
    try:
        wins = [(int(a), int(b)) for a, b in windows]
    except (TypeError, ValueError) as err:
        raise ValueError(f"windowed_trace_mse: windows must be (start, stop) int pairs, "
                         f"got {windows!r}") from err
    if not wins:
        raise ValueError("windowed_trace_mse: windows is empty")
    weight = np.zeros(T)
    for a, b in wins:
        if not 0 <= a < b <= T:
            raise ValueError(f"windowed_trace_mse: window ({a}, {b}) must satisfy "
                             f"0 <= start < stop <= T = {T}")
        weight[a:b] += 1.0 / ((b - a) * len(wins))
    d2 = (v - vt) ** 2
    w = jnp.asarray(weight, d2.dtype)
    if v.ndim == 2:
        return jnp.sum(w[:, None] * d2) / v.shape[1]
    return jnp.sum(w * d2)


def spike_aware_trace_loss(v, v_target, v_clip):
    r"""Trace MSE with both traces clipped from above at ``v_clip`` (mV$^2$).

    $L = \mathrm{mean}_t\,(\min(v_t, V_c) - \min(\hat v_t, V_c))^2$.

    Action potentials are large (~100 mV) and brief, so a plain MSE is dominated by the
    exact spike shapes and a spike that is 0.1 ms late costs more than a wrong resting
    potential. Clipping at a level just above threshold keeps the subthreshold trajectory
    and the spike times (a spike still shows as a plateau at $V_c$) and removes the shape.
    Above the clip the gradient with respect to $v$ is zero.

    Args:
        v, v_target: ``(T,)`` or ``(T, n)`` traces (mV).
        v_clip: clip level $V_c$ (mV), a scalar.

    Returns:
        Scalar.

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax import fitting
        >>> v = jnp.array([-70.0, 30.0]); target = jnp.array([-70.0, -60.0])
        >>> float(fitting.spike_aware_trace_loss(v, target, v_clip=-50.0))   # 10^2 / 2
        50.0
    """
    v, vt = _pair(v, v_target, "spike_aware_trace_loss")
    return jnp.mean((jnp.minimum(v, v_clip) - jnp.minimum(vt, v_clip)) ** 2)


def van_rossum(s1, s2, tau, dt, *, squared: bool = True):
    r"""van Rossum distance between spike trains, per neuron (dimensionless).

    Each train is filtered by the causal exponential kernel $h(t) = e^{-t/\tau}\,\Theta(t)$
    (peak 1), $f(t) = \sum_k h(t - t_k)$, and

    $$ D^2 = \frac{1}{\tau}\int_0^\infty \big(f_1(t) - f_2(t)\big)^2\, dt . $$

    With this normalisation (van Rossum 2001) one spike against none gives $D^2 = 1/2$, and two
    single spikes $\Delta$ ms apart give
    $D^2 = \frac{1}{\tau}\big(\frac{\tau}{2} + \frac{\tau}{2} - 2\cdot\frac{\tau}{2}e^{-|\Delta|/\tau}\big)
    = 1 - e^{-|\Delta|/\tau}$.

    Computation: spikes sit on the grid $t_k = k\Delta t$, so between grid points the filtered
    difference $e(t)$ decays exactly as $e_k e^{-(t - t_k)/\tau}$, with $e_k = a\,e_{k-1} +
    (s_{1,k} - s_{2,k})$, $a = e^{-\Delta t/\tau}$ (a ``lax.scan``). The integral is then
    exact, including the tail after the last step:
    $D^2 = \frac{1 - a^2}{2}\sum_{k=0}^{T-2} e_k^2 + \frac{1}{2}e_{T-1}^2$.
    It is a smooth function of the spike values, so surrogate spikes carry gradients.

    Args:
        s1, s2: spike trains, ``(T,)`` or ``(T, n)``.
        tau: kernel time constant $\tau$ (ms).
        dt: step (ms).
        squared: return $D^2$ (default: smooth everywhere, the usual loss) or $D$
            (its gradient is infinite where the trains are equal).

    Returns:
        Scalar for ``(T,)`` input, else ``(n,)``.

    References:
        van Rossum, M. C. W. (2001). A novel spike distance. Neural Computation 13, 751-763.

    Examples:
        >>> import jax.numpy as jnp, math
        >>> from neurojax import fitting
        >>> s1 = jnp.zeros(100).at[10].set(1.0); s2 = jnp.zeros(100).at[30].set(1.0)
        >>> d2 = fitting.van_rossum(s1, s2, tau=5.0, dt=0.1)          # 2 ms apart
        >>> round(float(d2), 12) == round(1 - math.exp(-2.0 / 5.0), 12)
        True
    """
    s1, s2 = _pair(s1, s2, "van_rossum")
    if s1.ndim > 2:
        raise ValueError(f"van_rossum: spike trains must be (T,) or (T, n), got {s1.shape}")
    if isinstance(tau, (int, float)):
        check_positive_ms(tau, "van_rossum: tau")
    dt = check_positive_ms(dt, "van_rossum: dt")
    d2 = _van_rossum2(s1 - s2, jnp.asarray(tau, s1.dtype), dt)
    return d2 if squared else jnp.sqrt(d2)


@functools.partial(jax.jit, static_argnames=("dt",))
def _van_rossum2(diff, tau, dt):
    a = jnp.exp(-dt / tau)

    def body(e, x):
        e = a * e + x
        return e, e

    _, e = jax.lax.scan(body, jnp.zeros_like(diff[0]), diff)
    return 0.5 * (1 - a ** 2) * jnp.sum(e[:-1] ** 2, axis=0) + 0.5 * e[-1] ** 2


def spike_count(s):
    r"""Number of spikes per neuron, $N_i = \sum_t s_{t,i}$ (differentiable through surrogates).

    Args:
        s: ``(T,)`` or ``(T, n)`` spikes.

    Returns:
        Scalar or ``(n,)``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax import fitting
        >>> fitting.spike_count(jnp.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])).tolist()
        [2.0, 1.0]
    """
    return jnp.sum(_spikes(s, "spike_count"), axis=0)


def firing_rate(s, dt):
    r"""Mean firing rate per neuron in Hz: $r_i = N_i / (T\,\Delta t \cdot 10^{-3})$.

    Args:
        s: ``(T,)`` or ``(T, n)`` spikes.
        dt: step (ms).

    Returns:
        Scalar or ``(n,)`` (Hz).

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax import fitting
        >>> float(fitting.firing_rate(jnp.zeros(1000).at[::100].set(1.0), dt=0.1))  # 10 in 100 ms
        100.0
    """
    s = _spikes(s, "firing_rate")
    dt = check_positive_ms(dt, "firing_rate: dt")
    return jnp.sum(s, axis=0) / (s.shape[0] * dt * 1e-3)


def fi_curve(s, dt, t_skip=0.0):
    r"""Steady-state firing rate (Hz) of each column of ``s``: an f-I curve when column $i$
    was driven by current $I_i$.

    $f_i = \sum_{t \ge t_\mathrm{skip}} s_{t,i} / ((T - k_0)\,\Delta t\cdot 10^{-3})$, with the
    first $k_0 = t_\mathrm{skip}/\Delta t$ steps (the onset transient) dropped. Build the
    drive as one neuron per current, e.g. ``inputs = {"N": jnp.broadcast_to(currents, (T, n))}``.

    Args:
        s: ``(T, n)`` spikes, one column per current (or ``(T,)``).
        dt: step (ms).
        t_skip: transient to drop (ms, a multiple of ``dt``, shorter than the recording).

    Returns:
        ``(n,)`` rates (Hz).

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax import fitting
        >>> s = jnp.zeros((200, 2)).at[0, :].set(1.0).at[100::20, 1].set(1.0)
        >>> fitting.fi_curve(s, dt=0.5, t_skip=50.0).tolist()      # 5 spikes in 50 ms
        [0.0, 100.0]
    """
    s = _spikes(s, "fi_curve")
    dt = check_positive_ms(dt, "fi_curve: dt")
    k0 = 0
    if t_skip:
        k0 = _bin_steps(t_skip, dt, "fi_curve: t_skip")
    if k0 >= s.shape[0]:
        raise ValueError(f"fi_curve: t_skip={t_skip} ms leaves no steps of the {s.shape[0] * dt} ms "
                         "recording")
    return firing_rate(s[k0:], dt)


def first_spike_time(x, dt, *, threshold=None, width=1.0):
    r"""Soft time of the first spike (ms), $T\Delta t$ (the recording length) if none.

    The first-spike time is the time spent before the first spike,
    $t_1 = \Delta t \sum_{k=0}^{T-1} S_k$, with $S_k$ the (soft) indicator that no spike has
    occurred up to and including step $k$:

    * spikes $s_k \in [0, 1]$ (``threshold=None``): $S_k = \prod_{j \le k}(1 - s_j)$. For 0/1
      spikes $t_1$ is exactly the first spike's time $k_1 \Delta t$; for values in between it
      is the expected first-spike time if the $s_k$ were independent spike probabilities.
      Gradients with respect to (surrogate) spikes move the first spike.
    * a voltage trace (``threshold`` = $V_\theta$ given):
      $S_k = 1 - \sigma\big((\max_{j \le k} v_j - V_\theta)/w\big)$, a soft "has not yet
      crossed". As $w \to 0$ this tends to the first sample with $v > V_\theta$; for a ramp of
      slope $a$ crossing at $t_c$ it gives $t_1 \approx t_c + \Delta t/2$ and
      $\partial t_1 / \partial V_\theta \approx 1/a$ whatever $\Delta t$, because the soft
      crossing is integrated over time rather than counted per sample.

    Args:
        x: ``(T,)`` or ``(T, n)`` spikes, or a voltage trace (mV) when ``threshold`` is given.
        dt: step (ms).
        threshold: $V_\theta$ (mV) to read ``x`` as a voltage; None reads it as spikes.
        width: $w$ (mV), the softness of the voltage threshold.

    Returns:
        Scalar or ``(n,)`` (ms).

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax import fitting
        >>> s = jnp.zeros((50, 2)).at[7, 0].set(1.0).at[9, 0].set(1.0)
        >>> fitting.first_spike_time(s, dt=0.5).tolist()             # second column: silent
        [3.5, 25.0]
        >>> v = -70.0 + 2.0 * jnp.arange(20.0)                       # crosses -50 mV at step 10
        >>> round(float(fitting.first_spike_time(v, dt=1.0, threshold=-51.0, width=1e-3)), 6)
        10.0
    """
    x = _spikes(x, "first_spike_time")
    dt = check_positive_ms(dt, "first_spike_time: dt")
    if threshold is None:
        return _first_time_spikes(x, dt)
    if isinstance(width, (int, float)) and not width > 0:
        raise ValueError(f"first_spike_time: width must be > 0 mV, got {width}")
    return _first_time_voltage(x, jnp.asarray(threshold, x.dtype), jnp.asarray(width, x.dtype), dt)


@functools.partial(jax.jit, static_argnames=("dt",))
def _first_time_spikes(s, dt):
    return dt * jnp.sum(jnp.cumprod(1.0 - s, axis=0), axis=0)


@functools.partial(jax.jit, static_argnames=("dt",))
def _first_time_voltage(v, threshold, width, dt):
    crossed = jax.nn.sigmoid((jax.lax.cummax(v, axis=0) - threshold) / width)
    return dt * jnp.sum(1.0 - crossed, axis=0)


def _isi_moments(s, dt):
    """Soft ISI weights and lengths: ``w_k = s_k * P(earlier spike)``, ``since_k`` (ms)."""
    def body(c, s_k):
        since, none_yet = c
        # since: time since the last spike, valid at step k when an earlier spike exists.
        w = s_k * (1.0 - none_yet)
        out = (w, since)
        since = since * (1.0 - s_k) + dt
        none_yet = none_yet * (1.0 - s_k)
        return (since, none_yet), out

    init = (jnp.full_like(s[0], dt), jnp.ones_like(s[0]))
    _, (w, since) = jax.lax.scan(body, init, s)
    return w, since


def isi_cv(s, dt, *, empty=jnp.nan):
    r"""Coefficient of variation of each neuron's inter-spike intervals (soft, differentiable).

    Along the train, $\delta_k$ = time since the previous spike at step $k$ (reset by each
    spike: $\delta_{k+1} = \delta_k (1 - s_k) + \Delta t$) and
    $w_k = s_k\,(1 - \prod_{j<k}(1 - s_j))$ (a spike with an earlier one: it ends an ISI of
    length $\delta_k$). Then $\mu = \sum_k w_k\delta_k / \sum_k w_k$,
    $\sigma^2 = \sum_k w_k(\delta_k - \mu)^2 / \sum_k w_k$ (``ddof=0``) and
    $\mathrm{CV} = \sigma/\mu$. For 0/1 spikes this equals :func:`neurojax.metrics.isi_cv`;
    surrogate spikes carry gradients through $w$ and $\delta$.

    Args:
        s: ``(T,)`` or ``(T, n)`` spikes.
        dt: step (ms).
        empty: value for neurons with fewer than two spikes (no ISI).

    Returns:
        Scalar or ``(n,)`` (dimensionless).

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax import fitting
        >>> s = jnp.zeros((40, 3)).at[::10, 0].set(1.0).at[jnp.array([0, 2, 8]), 1].set(1.0)
        >>> [round(x, 6) for x in fitting.isi_cv(s, dt=0.1, empty=-1.0).tolist()]   # ISIs 2, 6
        [0.0, 0.5, -1.0]
    """
    s = _spikes(s, "isi_cv")
    dt = check_positive_ms(dt, "isi_cv: dt")
    return _isi_cv(s, dt, jnp.asarray(empty, s.dtype))


@functools.partial(jax.jit, static_argnames=("dt",))
def _isi_cv(s, dt, empty):
    w, since = _isi_moments(s, dt)
    n = jnp.sum(w, axis=0)
    ok = n > 0.5
    mean = _safe_div(jnp.sum(w * since, axis=0), n, ok, 1.0)
    dev = since - (mean[None] if s.ndim == 2 else mean)
    var = _safe_div(jnp.sum(w * dev ** 2, axis=0), n, ok, 0.0)
    pos = var > 0
    std = jnp.where(pos, jnp.sqrt(jnp.where(pos, var, 1.0)), 0.0)
    return jnp.where(ok, std / mean, empty)


def rate(s, dt, bin_ms=None):
    r"""Population firing rate (Hz per neuron): the mean over neurons and time, or over time.

    Without ``bin_ms``: the scalar $\bar r = \sum_{t,i} s_{t,i} / (n\,T\,\Delta t\cdot10^{-3})$.
    With ``bin_ms`` = $b$: the time course $R_m = \sum_{t \in \text{bin } m}\sum_i s_{t,i} /
    (n\, b\cdot 10^{-3})$ over consecutive bins (an incomplete last bin is dropped), as
    :func:`neurojax.metrics.population_rate`.

    Args:
        s: ``(T, n)`` spikes.
        dt: step (ms).
        bin_ms: bin width (ms, a multiple of ``dt``) or None.

    Returns:
        Scalar, or ``(T // (b / dt),)`` (Hz).

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax import fitting
        >>> s = jnp.zeros((100, 4)).at[::10, 0].set(1.0)       # one of 4 neurons at 100 Hz
        >>> float(fitting.rate(s, dt=1.0)), fitting.rate(s, dt=1.0, bin_ms=50.0).tolist()
        (25.0, [25.0, 25.0])
    """
    s = _spikes(s, "rate")
    if s.ndim != 2:
        raise ValueError(f"rate: spikes must have shape (T, n), got {s.shape}")
    dt = check_positive_ms(dt, "rate: dt")
    T, n = s.shape
    if bin_ms is None:
        return jnp.sum(s) / (n * T * dt * 1e-3)
    width = _bin_steps(bin_ms, dt, "rate")
    n_bins = T // width
    if n_bins < 1:
        raise ValueError(f"rate: bin_ms={bin_ms} is longer than the recording ({T * dt} ms)")
    counts = jnp.sum(s[: n_bins * width].reshape(n_bins, width, n), axis=(1, 2))
    return counts / (n * width * dt * 1e-3)


def cv(s, dt, *, empty=jnp.nan):
    r"""Mean ISI CV over the neurons that have one (at least two spikes), see :func:`isi_cv`.

    Args:
        s: ``(T, n)`` spikes.
        dt: step (ms).
        empty: value when no neuron has two spikes.

    Returns:
        Scalar (dimensionless).

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax import fitting
        >>> s = jnp.zeros((40, 3)).at[::10, 0].set(1.0).at[jnp.array([0, 2, 8]), 1].set(1.0)
        >>> round(float(fitting.cv(s, dt=0.1)), 6)                  # (0 + 0.5) / 2
        0.25
    """
    s = _spikes(s, "cv")
    if s.ndim != 2:
        raise ValueError(f"cv: spikes must have shape (T, n), got {s.shape}")
    dt = check_positive_ms(dt, "cv: dt")
    return _mean_cv(s, dt, jnp.asarray(empty, s.dtype))


@functools.partial(jax.jit, static_argnames=("dt",))
def _mean_cv(s, dt, empty):
    per = _isi_cv(s, dt, jnp.asarray(jnp.nan, s.dtype))
    ok = jnp.isfinite(per)
    n_ok = jnp.sum(ok)
    return _safe_div(jnp.sum(jnp.where(ok, per, 0.0)), n_ok, n_ok > 0, empty)


def pairwise_correlation(s, dt, bin_ms, *, empty=jnp.nan):
    r"""Mean Pearson correlation of binned spike counts over all pairs of active neurons.

    Counts $c_{m,i}$ in consecutive bins of $b$ ms (an incomplete last bin is dropped),
    $\rho_{ij} = \mathrm{Cov}_m(c_i, c_j) / \sqrt{\mathrm{Var}_m(c_i)\mathrm{Var}_m(c_j)}$,
    averaged over pairs $i < j$ whose counts both vary (silent or constant neurons are left
    out). $O(n^2)$ memory. Differentiable through surrogate spikes.

    Args:
        s: ``(T, n)`` spikes, ``n >= 2``.
        dt: step (ms).
        bin_ms: bin width (ms, a multiple of ``dt``), at least two bins.
        empty: value when no pair qualifies.

    Returns:
        Scalar in $[-1, 1]$.

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax import fitting
        >>> a = jnp.array([1.0, 0.0, 1.0, 0.0])
        >>> s = jnp.stack([a, a, 1.0 - a], axis=1)               # pairs: +1, -1, -1
        >>> round(float(fitting.pairwise_correlation(s, dt=1.0, bin_ms=1.0)), 6)
        -0.333333
    """
    s = _spikes(s, "pairwise_correlation")
    if s.ndim != 2 or s.shape[1] < 2:
        raise ValueError(f"pairwise_correlation: spikes must have shape (T, n >= 2), got {s.shape}")
    dt = check_positive_ms(dt, "pairwise_correlation: dt")
    width = _bin_steps(bin_ms, dt, "pairwise_correlation")
    T, n = s.shape
    n_bins = T // width
    if n_bins < 2:
        raise ValueError(f"pairwise_correlation: need at least 2 bins of {bin_ms} ms, the "
                         f"recording has {n_bins}")
    return _correlation(s[: n_bins * width].reshape(n_bins, width, n), jnp.asarray(empty, s.dtype))


@jax.jit
def _correlation(binned, empty):
    n_bins = binned.shape[0]
    c = jnp.sum(binned, axis=1)
    c = c - jnp.mean(c, axis=0, keepdims=True)
    cov = c.T @ c / n_bins
    var = jnp.diagonal(cov)
    active = var > 1e-12 * jnp.maximum(jnp.max(var), 1e-300)
    sd = jnp.sqrt(jnp.where(active, var, 1.0))
    corr = cov / (sd[:, None] * sd[None, :])
    pair = jnp.triu(active[:, None] & active[None, :], k=1)
    n_pairs = jnp.sum(pair)
    return _safe_div(jnp.sum(jnp.where(pair, corr, 0.0)), n_pairs, n_pairs > 0, empty)
