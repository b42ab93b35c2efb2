"""Shared helpers for ``Params`` NamedTuples: defaults, dtype, and value validation."""
import math

import jax.numpy as jnp
import numpy as np


def float_dtype():
    """The compute dtype: float64 when ``jax_enable_x64`` is on, else float32."""
    return jnp.result_type(float)


def as_float(x):
    """``x`` as a strongly typed array of the compute dtype (avoids weak-type retraces)."""
    return jnp.asarray(x, dtype=float_dtype())


def make_default(cls, defaults: dict, overrides: dict):
    """Build ``cls`` from ``defaults`` updated with ``overrides``; unknown names raise."""
    unknown = set(overrides) - set(cls._fields)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}; fields: {cls._fields}")
    return cls(**{k: as_float(overrides.get(k, defaults[k])) for k in cls._fields})


def check_params(params, n: int, owner: str, *, positive=(), nonnegative=(), time_constants=(),
                 dt=None, allow_large_dt=False):
    """Validate a params NamedTuple for a population/synapse of size ``n`` (outside jit).

    Every field must be a scalar or have shape ``(n,)``; ``positive`` fields must be > 0,
    ``nonnegative`` fields >= 0, no field may be NaN; ``time_constants`` must be >= ``dt``
    unless ``allow_large_dt``.
    """
    for name, value in zip(params._fields, params):
        where = f"{owner}.{name}"
        if value is None:
            continue
        arr = np.asarray(value)
        if arr.shape not in ((), (n,)):
            raise ValueError(f"{where} must be a scalar or have shape ({n},), got shape {arr.shape}")
        if np.isnan(arr).any():
            raise ValueError(f"{where} contains NaN")
        if name in positive and not (arr > 0).all():
            raise ValueError(f"{where} must be > 0, got min {arr.min()}")
        if name in nonnegative and not (arr >= 0).all():
            raise ValueError(f"{where} must be >= 0, got min {arr.min()}")
        if dt is not None and name in time_constants and not allow_large_dt and (arr < dt).any():
            raise ValueError(
                f"{where} = {arr.min()} ms is smaller than dt = {dt} ms; reduce dt or build the "
                "Network with allow_large_dt=True")


class NotAnIntError(TypeError, ValueError):
    """A non-integer (or a bool) where an int is required: a ``TypeError``, and a
    ``ValueError`` too, as every other bad argument value (like numpy's ``AxisError``)."""


def check_int(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int if it is an integer (not a bool) ``>= minimum``:
    :class:`NotAnIntError` for a non-integer, ``ValueError`` for one below ``minimum``."""
    kind = {0: "a non-negative int", 1: "a positive int"}.get(minimum, f"an int >= {minimum}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise NotAnIntError(f"{name} must be {kind}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def check_positive_ms(value, name: str = "dt") -> float:
    """``value`` as a float if it is a finite positive number (of ms), else ValueError."""
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool) \
            or not math.isfinite(value) or not value > 0:
        raise ValueError(f"{name} must be a positive number of ms, got {value!r}")
    return float(value)
