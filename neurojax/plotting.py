"""PNG plots of simulation records: spike rasters and traces.

matplotlib is an optional dependency (``pip install matplotlib`` or ``neurojax[experiments]``);
it is imported only when a plot is drawn. Figures are rendered with the Agg canvas directly,
so nothing here changes matplotlib's global backend or pyplot state.

Units: ``dt`` in ms; time axes are labelled in ms.
"""
import os

import numpy as np

from neurojax._params import check_positive_ms

__all__ = ["raster", "traces"]


def _figure(figsize):
    """A matplotlib ``Figure`` attached to an Agg canvas (no pyplot, no global backend)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError("neurojax.plotting needs matplotlib: pip install matplotlib or "
                          "neurojax[experiments]") from err
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _check(dt, path):
    check_positive_ms(dt)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")


def _save(fig, path, dpi):
    directory = os.path.dirname(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png")
    return os.fspath(path)


def raster(spikes, dt: float, path, *, neurons=None, t_offset: float = 0.0, title: str = "",
           groups=None, markersize: float = 1.0, figsize=(8.0, 4.0), dpi: int = 120) -> str:
    """Spike raster (time in ms vs neuron index) written to ``path`` as PNG.

    Args:
        spikes: ``(T, n)`` spikes (nonzero = spike).
        dt: step in ms.
        path: output file (parent directories are created).
        neurons: which neurons to draw: None (all), an int ``m`` (the first ``m``) or a
            sequence of indices.
        t_offset: time of step 0 in ms.
        title: figure title.
        groups: optional ``{label: (start, stop)}`` index ranges drawn in separate colours
            (e.g. ``{"E": (0, 3200), "I": (3200, 4000)}``), with a legend.
        markersize, figsize, dpi: matplotlib styling.

    Returns:
        ``path`` as a str.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: bad shapes or ``dt``.

    Examples:
        >>> import os, tempfile, numpy as np, neurojax as nj
        >>> with tempfile.TemporaryDirectory() as d:
        ...     path = nj.plotting.raster(np.eye(5), dt=0.1, path=os.path.join(d, "r.png"))
        ...     os.path.getsize(path) > 0
        True
    """
    _check(dt, path)
    arr = np.asarray(spikes)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"raster: spikes must have shape (T, n), got {arr.shape}")
    n = arr.shape[1]
    if neurons is None:
        idx = np.arange(n)
    elif isinstance(neurons, (int, np.integer)):
        idx = np.arange(min(int(neurons), n))
    else:
        idx = np.asarray(neurons, dtype=np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"raster: neuron indices must lie in [0, {n})")
    step, col = np.nonzero(arr[:, idx])
    who = idx[col]
    fig = _figure(figsize)
    ax = fig.add_subplot(1, 1, 1)
    if groups:
        for label, (start, stop) in groups.items():
            sel = (who >= start) & (who < stop)
            ax.plot(t_offset + step[sel] * dt, who[sel], ".", markersize=markersize, label=label)
        ax.legend(loc="upper right", markerscale=max(1.0, 6.0 / markersize))
    else:
        ax.plot(t_offset + step * dt, who, ".", markersize=markersize, color="k")
    ax.set_xlim(t_offset, t_offset + arr.shape[0] * dt)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path, dpi)


def traces(values, dt: float, path, *, labels=None, ylabel: str = "", title: str = "",
           t_offset: float = 0.0, figsize=(8.0, 3.0), dpi: int = 120) -> str:
    """Line plot of one or more time series written to ``path`` as PNG.

    Args:
        values: ``(T,)`` or ``(T, k)`` samples every ``dt`` ms (e.g. membrane potentials in
            mV, or a binned population rate with ``dt`` = the bin width).
        dt: sample spacing in ms.
        path: output file (parent directories are created).
        labels: optional ``k`` legend labels.
        ylabel, title: axis label (include the unit) and title.
        t_offset: time of the first sample in ms.
        figsize, dpi: matplotlib styling.

    Returns:
        ``path`` as a str.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: bad shapes, ``dt`` or number of labels.

    Examples:
        >>> import os, tempfile, numpy as np, neurojax as nj
        >>> with tempfile.TemporaryDirectory() as d:
        ...     path = nj.plotting.traces(np.sin(np.arange(100) / 10), dt=0.1,
        ...                               path=os.path.join(d, "v.png"), ylabel="V (mV)")
        ...     os.path.getsize(path) > 0
        True
    """
    _check(dt, path)
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"traces: values must have shape (T,) or (T, k) with T > 0, got "
                         f"{np.shape(values)}")
    if labels is not None and len(labels) != arr.shape[1]:
        raise ValueError(f"traces: {len(labels)} labels for {arr.shape[1]} traces")
    t = t_offset + np.arange(arr.shape[0]) * dt
    fig = _figure(figsize)
    ax = fig.add_subplot(1, 1, 1)
    for j in range(arr.shape[1]):
        ax.plot(t, arr[:, j], linewidth=0.8, label=None if labels is None else labels[j])
    if labels is not None:
        ax.legend(loc="upper right")
    ax.set_xlabel("time (ms)")
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path, dpi)
