r"""Recordings to fit against: a validated container and loaders (arrays, CSV, NWB-like HDF5).

Everything here is host-side NumPy (float64), checked once when loaded, so that a loss
function can close over clean arrays. Units follow the rest of neurojax: time in ms, membrane
potential in mV, injected current in pA. Samples are uniform: sample ``k`` is at
$t_0 + k\,\Delta t$; the offset $t_0$ of a file is dropped (spike times are relative to the
first sample).
"""
import csv
import math
from typing import NamedTuple, Optional

import numpy as np

from neurojax._params import check_int, check_positive_ms

__all__ = ["Recording", "from_arrays", "load_csv", "load_nwb_like", "spike_times_to_train"]

# Tolerance of the uniform-sampling check: every sample within this fraction of dt of the grid.
_GRID_TOL = 0.01


class Recording(NamedTuple):
    """A uniformly sampled recording.

    Attributes:
        dt: sampling step (ms).
        v: membrane potential (mV), ``(T,)`` or ``(T, n)``.
        i_inj: injected current (pA), ``(T,)`` (the same for every column of ``v``) or the
            shape of ``v``; None if unknown.
        spikes: tuple of 1-D arrays of spike times (ms from the first sample), one per column
            of ``v`` (one for a ``(T,)`` trace); None if unknown.

    Examples:
        >>> import numpy as np
        >>> from neurojax.fitting import data
        >>> rec = data.Recording(dt=0.1, v=np.full(5, -65.0)).validate()
        >>> rec.n_steps, rec.duration
        (5, 0.5)
    """

    dt: float
    v: np.ndarray
    i_inj: Optional[np.ndarray] = None
    spikes: Optional[tuple] = None

    @property
    def n_steps(self) -> int:
        """Number of samples ``T``."""
        return int(np.shape(self.v)[0])

    @property
    def duration(self) -> float:
        """``T * dt`` (ms)."""
        return self.n_steps * float(self.dt)

    @property
    def t(self) -> np.ndarray:
        """Sample times ``k * dt`` (ms), ``(T,)``."""
        return np.arange(self.n_steps) * float(self.dt)

    def validate(self) -> "Recording":
        """Check the recording; return it (with float64 arrays) or raise ``ValueError``.

        Checks: ``dt`` a finite number > 0; ``v`` of shape ``(T,)`` or ``(T, n)`` with
        ``T >= 1`` and no NaN or inf; ``i_inj`` of length ``T`` (shape ``(T,)`` or that of
        ``v``), finite; ``spikes`` one finite, sorted array per column of ``v``, inside
        ``[0, T * dt)``.
        """
        dt = check_positive_ms(self.dt, "Recording.dt")
        v = _finite(self.v, "Recording.v")
        if v.ndim not in (1, 2) or v.shape[0] < 1:
            raise ValueError(f"Recording.v must have shape (T,) or (T, n) with T >= 1, got {v.shape}")
        T = v.shape[0]
        i_inj = self.i_inj
        if i_inj is not None:
            i_inj = _finite(i_inj, "Recording.i_inj")
            if i_inj.shape[:1] != (T,):
                raise ValueError(f"Recording.i_inj has {i_inj.shape[0] if i_inj.ndim else 0} "
                                 f"samples but Recording.v has {T} (lengths must match)")
            if i_inj.shape not in ((T,), v.shape):
                raise ValueError(f"Recording.i_inj must have shape ({T},) or {v.shape}, "
                                 f"got {i_inj.shape}")
        spikes = self.spikes
        if spikes is not None:
            n = 1 if v.ndim == 1 else v.shape[1]
            if not isinstance(spikes, (tuple, list)) or len(spikes) != n:
                raise ValueError(f"Recording.spikes must be a tuple of {n} spike-time arrays "
                                 f"(one per column of v), got {type(spikes).__name__} of length "
                                 f"{len(spikes) if hasattr(spikes, '__len__') else '?'}")
            checked = []
            for j, times in enumerate(spikes):
                times = _finite(times, f"Recording.spikes[{j}]")
                if times.ndim != 1:
                    raise ValueError(f"Recording.spikes[{j}] must be 1-D, got shape {times.shape}")
                if (np.diff(times) < 0).any():
                    raise ValueError(f"Recording.spikes[{j}] must be sorted")
                if times.size and (times[0] < 0 or times[-1] >= T * dt):
                    raise ValueError(f"Recording.spikes[{j}] must lie in [0, {T * dt}) ms, got "
                                     f"[{times[0]}, {times[-1]}]")
                checked.append(times)
            spikes = tuple(checked)
        return Recording(dt=dt, v=v, i_inj=i_inj, spikes=spikes)


def _finite(x, where: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where} must be numeric, got {type(x).__name__}") from err
    if np.isnan(arr).any():
        idx = np.argwhere(np.isnan(arr))[0]
        raise ValueError(f"{where} contains NaN (first at index {tuple(int(i) for i in idx)})")
    if not np.isfinite(arr).all():
        raise ValueError(f"{where} contains inf")
    return arr


def _check_time_axis(t, T: int, dt: Optional[float], where: str) -> float:
    """Check ``t`` (ms) is strictly increasing and uniform; return dt (inferred if None)."""
    t = _finite(t, f"{where} t")
    if t.shape != (T,):
        raise ValueError(f"{where}: t has shape {t.shape} but v has {T} samples (lengths must match)")
    if T < 2:
        if dt is None:
            raise ValueError(f"{where}: cannot infer dt from a single sample; pass dt")
        return check_positive_ms(dt, f"{where} dt")
    if not (np.diff(t) > 0).all():
        k = int(np.argmin(np.diff(t) > 0))
        raise ValueError(f"{where}: t must be strictly increasing (t[{k + 1}] = {t[k + 1]} <= "
                         f"t[{k}] = {t[k]})")
    inferred = (t[-1] - t[0]) / (T - 1)
    if dt is None:
        dt = float(f"{inferred:.10g}")       # drop the round-off of the mean step
    else:
        dt = check_positive_ms(dt, f"{where} dt")
        if not math.isclose(inferred, dt, rel_tol=_GRID_TOL / max(T - 1, 1)):
            raise ValueError(f"{where}: dt = {dt} ms is inconsistent with t, whose mean step is "
                             f"{inferred} ms")
    dev = np.abs(t - (t[0] + np.arange(T) * dt))
    k = int(np.argmax(dev))
    if dev[k] > _GRID_TOL * dt:
        raise ValueError(f"{where}: t is not uniformly sampled: sample {k} at t = {t[k]} ms is "
                         f"{dev[k]:.3g} ms off the grid t0 + k * dt (dt = {dt} ms); resample the "
                         "recording first")
    return float(dt)


def from_arrays(v, dt=None, i_inj=None, t=None, spikes=None) -> Recording:
    r"""Build and validate a :class:`Recording` from arrays.

    Args:
        v: membrane potential (mV), ``(T,)`` or ``(T, n)``.
        dt: step (ms). May be omitted when ``t`` is given (then inferred as
            $(t_{T-1} - t_0)/(T-1)$).
        i_inj: injected current (pA), ``(T,)`` or the shape of ``v``.
        t: optional sample times (ms), checked to be strictly increasing and uniform: every
            sample within 1 % of ``dt`` of the grid $t_0 + k\Delta t$, and consistent with
            ``dt`` if both are given.
        spikes: optional tuple of spike-time arrays (ms from the first sample).

    Raises:
        ValueError: NaN or inf, mismatched lengths, non-positive or inconsistent ``dt``,
            non-uniform ``t``.

    Examples:
        >>> import numpy as np
        >>> from neurojax.fitting import data
        >>> t = np.arange(4) * 0.25 + 10.0
        >>> rec = data.from_arrays(np.array([-65.0, -64.0, -63.5, -63.2]), t=t)
        >>> rec.dt
        0.25
    """
    v_arr = np.asarray(v)
    if v_arr.ndim == 0:
        raise ValueError("from_arrays: v must have a time axis, got a scalar")
    if t is not None:
        dt = _check_time_axis(t, v_arr.shape[0], dt, "from_arrays")
    elif dt is None:
        raise ValueError("from_arrays: give dt or t")
    return Recording(dt=dt, v=v, i_inj=i_inj, spikes=spikes).validate()


_T_NAMES = ("t", "time", "t_ms", "time_ms")
_V_NAMES = ("v", "vm", "v_m", "voltage", "v_mv")
_I_NAMES = ("i", "i_inj", "current", "i_pa", "stim")


def load_csv(path, dt=None) -> Recording:
    """Load a recording from a CSV file with columns ``t, v[, i]`` (ms, mV, pA).

    A header line is optional: if the first row is not numeric it names the columns
    (case-insensitive: ``t``/``time``, ``v``/``vm``/``voltage``, ``i``/``i_inj``/``current``,
    in any order); without a header the columns are positional ``t, v[, i]``. ``dt`` is
    inferred from ``t`` (or checked against it when given); see :func:`from_arrays` for
    the checks. Empty fields become NaN and are reported.

    Examples:
        >>> import pathlib, tempfile
        >>> from neurojax.fitting import data
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "rec.csv"
        >>> _ = path.write_text("t,v,i\\n0.0,-65.0,0\\n0.5,-64.0,100\\n1.0,-63.5,100\\n")
        >>> rec = data.load_csv(path)
        >>> rec.dt, rec.v.tolist(), rec.i_inj.tolist()
        (0.5, [-65.0, -64.0, -63.5], [0.0, 100.0, 100.0])
    """
    with open(path, newline="") as fh:
        rows = [row for row in csv.reader(fh) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"load_csv: {path} is empty")

    def numeric(row):
        try:
            [float(c) if c.strip() else math.nan for c in row]
            return True
        except ValueError:
            return False

    header = None
    if not numeric(rows[0]):
        header = [c.strip().lower() for c in rows[0]]
        rows = rows[1:]
    width = len(header) if header is not None else len(rows[0]) if rows else 0
    if width not in (2, 3):
        raise ValueError(f"load_csv: {path} must have 2 or 3 columns (t, v[, i]), got {width}")
    if header is None:
        cols = {"t": 0, "v": 1, "i": 2 if width == 3 else None}
    else:
        def find(names, required):
            hits = [k for k, h in enumerate(header) if h in names]
            if not hits and required:
                raise ValueError(f"load_csv: {path}: no column named one of {names} in header {header}")
            return hits[0] if hits else None
        cols = {"t": find(_T_NAMES, True), "v": find(_V_NAMES, True), "i": find(_I_NAMES, False)}
        if width == 3 and cols["i"] is None:
            raise ValueError(f"load_csv: {path}: third column {header} is not a current "
                             f"(expected one of {_I_NAMES})")
    if not rows:
        raise ValueError(f"load_csv: {path} has no data rows")
    data = np.full((len(rows), width), np.nan)
    for r, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"load_csv: {path}: data row {r + 1} has {len(row)} fields, "
                             f"expected {width}")
        try:
            data[r] = [float(c) if c.strip() else math.nan for c in row]
        except ValueError as err:
            raise ValueError(f"load_csv: {path}: data row {r + 1} is not numeric: {row}") from err
    where = f"load_csv({path})"
    t = data[:, cols["t"]]
    if np.isnan(t).any():
        raise ValueError(f"{where}: column t contains NaN (row {int(np.argmax(np.isnan(t))) + 1})")
    dt = _check_time_axis(t, len(rows), dt, where)
    i_inj = None if cols["i"] is None else data[:, cols["i"]]
    return Recording(dt=dt, v=data[:, cols["v"]], i_inj=i_inj).validate()


def _import_h5py():
    try:
        import h5py
    except ImportError as err:
        raise ImportError("load_nwb_like needs the optional dependency h5py: pip install h5py "
                          "(the 'nwb' extra: pip install neurojax[nwb])") from err
    return h5py


_VOLT_SCALE = {"volts": 1e3, "volt": 1e3, "v": 1e3, "mv": 1.0, "millivolts": 1.0}
_AMP_SCALE = {"amperes": 1e12, "ampere": 1e12, "a": 1e12, "pa": 1.0, "picoamperes": 1.0,
              "na": 1e3}


def _unit_scale(dset, table, where):
    unit = dset.attrs.get("unit", None)
    if isinstance(unit, bytes):
        unit = unit.decode()
    unit = "volts" if unit is None and table is _VOLT_SCALE else "amperes" if unit is None else unit
    if str(unit).lower() not in table:
        raise ValueError(f"{where}: unknown unit {unit!r}; expected one of {sorted(table)}")
    return float(dset.attrs.get("conversion", 1.0)) * table[str(unit).lower()]


def _read_series(group, where, table):
    """Data (converted) and its time axis ``(t_ms or None, dt_ms or None)`` of a TimeSeries."""
    if "data" not in group:
        raise ValueError(f"{where}: no 'data' dataset")
    dset = group["data"]
    data = np.asarray(dset[()], dtype=np.float64) * _unit_scale(dset, table, where)
    if "timestamps" in group:
        return data, np.asarray(group["timestamps"][()], dtype=np.float64) * 1e3, None
    if "starting_time" in group:
        rate = group["starting_time"].attrs.get("rate", None)
        if rate is None or not float(rate) > 0:
            raise ValueError(f"{where}: starting_time has no positive 'rate' attribute (Hz)")
        return data, None, 1e3 / float(rate)
    raise ValueError(f"{where}: neither 'timestamps' nor 'starting_time' (with 'rate') found")


def _find(f, name, prefixes, where):
    for prefix in prefixes:
        path = f"{prefix}/{name}" if prefix else name
        try:
            return f[path], path
        except KeyError:
            continue
    raise ValueError(f"{where}: series '{name}' not found under {[p or '/' for p in prefixes]}")


def load_nwb_like(path, series: Optional[str] = None, stimulus: Optional[str] = None) -> Recording:
    """Load a voltage trace from an NWB-style HDF5 file (needs ``h5py``).

    Reads the NWB ``TimeSeries`` layout without the pynwb dependency: the group
    ``/acquisition/<series>`` (or the absolute path ``series``) holds ``data`` (attributes
    ``unit``, default volts, and ``conversion``, default 1: stored value x conversion is in
    ``unit``) and either ``timestamps`` (seconds, checked for uniform sampling) or
    ``starting_time`` with attribute ``rate`` (Hz). Volts are converted to mV. An optional
    current series ``/stimulus/presentation/<stimulus>`` (unit amperes, default, or pA) is
    converted to pA and must have the same length.

    Args:
        path: the ``.nwb`` / ``.h5`` file.
        series: name of the voltage series (default: the only one under ``/acquisition``).
        stimulus: name of the current series (default: none).

    Raises:
        ImportError: h5py is not installed (naming the ``nwb`` extra).
        ValueError: missing groups or attributes, unknown units, and the
            :meth:`Recording.validate` checks.

    Examples:
        >>> from neurojax.fitting import data
        >>> data.load_nwb_like.__name__       # needs h5py and a file: see tests/test_fitting.py
        'load_nwb_like'
    """
    h5py = _import_h5py()
    where = f"load_nwb_like({path})"
    with h5py.File(path, "r") as f:
        if series is None:
            names = sorted(f["acquisition"].keys()) if "acquisition" in f else []
            if len(names) != 1:
                raise ValueError(f"{where}: pass series=...; /acquisition holds {names}")
            series = names[0]
        group, gpath = _find(f, series, ("acquisition", ""), where)
        v, t, dt = _read_series(group, f"{where}[{gpath}]", _VOLT_SCALE)
        i_inj = None
        if stimulus is not None:
            sgroup, spath = _find(f, stimulus, ("stimulus/presentation", "stimulus", ""), where)
            i_inj, _, _ = _read_series(sgroup, f"{where}[{spath}]", _AMP_SCALE)
    if v.ndim == 0 or v.shape[0] < 1:
        raise ValueError(f"{where}: data must have a time axis with >= 1 sample")
    if t is not None:
        dt = _check_time_axis(t, v.shape[0], None, where)
    return Recording(dt=dt, v=v, i_inj=i_inj).validate()


def spike_times_to_train(times, n_steps: int, dt: float) -> np.ndarray:
    """Spike times (ms) -> a spike train of ``n_steps`` steps: spike at $t$ goes to step
    ``round(t / dt)`` (the convention $t_k = k\\,\\Delta t$ of :mod:`neurojax.metrics`).

    Args:
        times: one 1-D array of times (-> ``(n_steps,)``) or a tuple/list of them, one per
            neuron (-> ``(n_steps, n)``).
        n_steps: number of steps ``T``.
        dt: step (ms).

    Returns:
        float64 NumPy array of spike counts per step (0/1 unless two spikes fall in one step:
        then 2, and a finer ``dt`` is needed for a 0/1 train).

    Raises:
        ValueError: NaN, or a time outside ``[0, T * dt)`` after rounding.

    Examples:
        >>> from neurojax.fitting import data
        >>> data.spike_times_to_train([0.0, 0.96, 2.0], n_steps=5, dt=0.5).tolist()
        [1.0, 0.0, 1.0, 0.0, 1.0]
    """
    n_steps = check_int(n_steps, "spike_times_to_train n_steps")
    dt = check_positive_ms(dt, "spike_times_to_train dt")
    single = not isinstance(times, (tuple, list)) or (len(times) > 0 and np.ndim(times[0]) == 0)
    trains = [times] if single else list(times)
    out = np.zeros((n_steps, len(trains)))
    for j, ts in enumerate(trains):
        ts = _finite(ts, f"spike_times_to_train times[{j}]").reshape(-1)
        k = np.rint(ts / dt).astype(np.int64)
        bad = (k < 0) | (k >= n_steps)
        if bad.any():
            raise ValueError(f"spike_times_to_train: time {ts[bad][0]} ms (neuron {j}) is outside "
                             f"[0, {n_steps * dt}) ms")
        np.add.at(out[:, j], k, 1.0)
    return out[:, 0] if single else out
