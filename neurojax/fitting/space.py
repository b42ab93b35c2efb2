r"""Parameter spaces: smooth maps between constrained model parameters and unconstrained reals.

Optimisers (Adam, CMA-ES) work on unconstrained coordinates $u \in \mathbb{R}$; models need
constrained values $x$ (a time constant must stay positive, a probability inside $[0, 1]$).
Each fitted parameter gets a transform $x = T(u)$ that is smooth, strictly increasing and
has a closed-form inverse:

| transform         | forward $x = T(u)$                     | inverse $u = T^{-1}(x)$           | domain  |
|-------------------|----------------------------------------|-----------------------------------|---------|
| ``Bounded(l, h)`` | $l + (h - l)\,\sigma(u)$               | $\mathrm{logit}((x - l)/(h - l))$ | $(l,h)$ |
| ``Positive()``    | $s \log(1 + e^u)$ (softplus)           | $\log(e^{x/s} - 1)$                | $x > 0$ |
| ``Free()``        | $s\,u$                                 | $x / s$                           | all     |

$\sigma(u) = 1/(1 + e^{-u})$ is the logistic function, $s$ the parameter's ``scale`` (its
typical magnitude, in the parameter's own unit; default 1) given to :class:`ParamSpace`. The
scale sets how far one optimiser step in $u$ moves $x$: with Adam's step $\approx \eta$ in
$u$, a ``Free`` membrane potential with $s = 10$ mV moves by about $10\eta$ mV per step.
``Bounded`` parameters are already normalised by their bounds and take no scale.

Parameter values are flat dicts ``name -> scalar array`` (pytrees, so ``optax`` and
``jax.vmap`` apply unchanged). Only the names in the space are fitted ("free"); the loss
function closes over every other parameter ("frozen").
"""
import dataclasses
import functools
import math
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import check_int, float_dtype

__all__ = ["Bounded", "Positive", "Free", "ParamSpace"]

# Sampling margin for Bounded: draws avoid the exact bounds, where the inverse is infinite.
_EDGE = 1e-6
# Default log-uniform sampling range of Positive parameters, as a factor around the scale.
_POSITIVE_SPREAD = 3.0


def _finite_float(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _sampling_range(obj, owner: str, positive: bool):
    """Validate the optional ``low``/``high`` sampling range of Positive and Free."""
    if (obj.low is None) != (obj.high is None):
        raise ValueError(f"{owner}: give both low and high (the sampling range) or neither")
    if obj.low is None:
        return
    low = _finite_float(obj.low, f"{owner}.low")
    high = _finite_float(obj.high, f"{owner}.high")
    if positive and not low > 0:
        raise ValueError(f"{owner}.low must be > 0 (log-uniform sampling), got {low}")
    if not low < high:
        raise ValueError(f"{owner}: low must be < high, got low={low}, high={high}")
    object.__setattr__(obj, "low", low)
    object.__setattr__(obj, "high", high)


@dataclasses.dataclass(frozen=True)
class Bounded:
    r"""A parameter inside the open interval $(l, h)$: $x = l + (h - l)\,\sigma(u)$.

    ``forward`` maps all of $\mathbb{R}$ onto $(l, h)$ (the bounds themselves are reached only
    as $u \to \pm\infty$); ``inverse`` is the logit of $p = (x - l)/(h - l)$ and is infinite at
    the bounds. $dx/du = (h - l)\,\sigma(u)(1 - \sigma(u))$, largest ($= (h-l)/4$) at the
    midpoint. :meth:`ParamSpace.sample` draws uniformly in $(l, h)$.

    Args:
        low: lower bound $l$ (the parameter's unit).
        high: upper bound $h > l$.

    Examples:
        >>> from neurojax import fitting
        >>> b = fitting.Bounded(2.0, 20.0)
        >>> float(b.forward(0.0))                       # the midpoint
        11.0
        >>> round(float(b.forward(b.inverse(5.0))), 12)
        5.0
    """

    low: float
    high: float

    def __post_init__(self):
        low = _finite_float(self.low, "Bounded.low")
        high = _finite_float(self.high, "Bounded.high")
        if not low < high:
            raise ValueError(f"Bounded: low must be < high, got low={low}, high={high}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def forward(self, u):
        """Unconstrained ``u`` -> constrained ``x`` in ``(low, high)``."""
        return self.low + (self.high - self.low) * jax.nn.sigmoid(u)

    def inverse(self, x):
        """Constrained ``x`` in ``(low, high)`` -> unconstrained ``u`` (logit; +-inf at the bounds)."""
        p = (jnp.asarray(x) - self.low) / (self.high - self.low)
        return jnp.log(p) - jnp.log1p(-p)

    def contains(self, x) -> bool:
        """Host-side check that every ``x`` lies strictly inside ``(low, high)``."""
        x = np.asarray(x)
        return bool(np.all((x > self.low) & (x < self.high)))


@dataclasses.dataclass(frozen=True)
class Positive:
    r"""A positive parameter: $x = s \log(1 + e^u)$ (softplus), $s$ the space's scale.

    Softplus is linear for large $u$ ($x \approx s u$) and exponential for very negative $u$
    ($x \approx s e^u$), so small values are reached smoothly without the exploding steps of
    $x = e^u$. The inverse is $u = \log(e^{x/s} - 1)$, computed as
    $y + \log(1 - e^{-y})$ with $y = x/s$ for stability.

    Args:
        low, high: optional sampling range ($0 < l < h$, in the parameter's unit; both or
            neither). It only affects :meth:`ParamSpace.sample` (log-uniform in
            $[l, h]$); the parameter itself stays unbounded above. Without it, samples are
            log-uniform in $[s/3, 3s]$ ("around 1" in units of the scale).

    Examples:
        >>> from neurojax import fitting
        >>> p = fitting.Positive()
        >>> round(float(p.forward(0.0)), 6)             # log 2
        0.693147
        >>> round(float(p.forward(p.inverse(1e-3))), 12)
        0.001
    """

    low: Optional[float] = None
    high: Optional[float] = None

    def __post_init__(self):
        _sampling_range(self, "Positive", positive=True)

    def forward(self, u):
        """Unconstrained ``u`` -> ``softplus(u) > 0`` (unit scale; the space multiplies by s)."""
        return jax.nn.softplus(u)

    def inverse(self, x):
        """``x > 0`` -> ``log(exp(x) - 1)`` (NaN for ``x <= 0``)."""
        x = jnp.asarray(x)
        return x + jnp.log(-jnp.expm1(-x))

    def contains(self, x) -> bool:
        """Host-side check that every ``x`` is finite and > 0."""
        x = np.asarray(x)
        return bool(np.all(np.isfinite(x) & (x > 0)))


@dataclasses.dataclass(frozen=True)
class Free:
    r"""An unconstrained parameter: $x = s\,u$, $s$ the space's scale.

    Args:
        low, high: optional sampling range (both or neither): :meth:`ParamSpace.sample` draws
            uniformly in $[l, h]$. Without it, uniformly in $[-s, s]$.

    Examples:
        >>> from neurojax import fitting
        >>> fitting.Free().forward(-2.5)
        -2.5
    """

    low: Optional[float] = None
    high: Optional[float] = None

    def __post_init__(self):
        _sampling_range(self, "Free", positive=False)

    def forward(self, u):
        """Identity (unit scale; the space multiplies by s)."""
        return u

    def inverse(self, x):
        """Identity."""
        return x

    def contains(self, x) -> bool:
        """Host-side check that every ``x`` is finite."""
        return bool(np.all(np.isfinite(np.asarray(x))))


_TRANSFORMS = (Bounded, Positive, Free)


@dataclasses.dataclass(frozen=True, init=False)
class ParamSpace:
    r"""The fitted parameters: a name -> transform table, plus optional scales.

    For each name, constrained $x$ and unconstrained $u$ are related by
    $x = s\,T(u)$ for ``Positive``/``Free`` and $x = T(u)$ for ``Bounded`` (see the module
    docstring); $s$ = ``scale[name]`` (default 1). Names keep the order of ``spec``.

    The space is immutable and hashable (``fit`` uses it as a static jit argument, so equal
    spaces share one compilation).

    Args:
        spec: ``{name: Bounded(...) | Positive() | Free()}``.
        scale: optional ``{name: s > 0}`` for ``Positive`` and ``Free`` names (the typical
            magnitude of the parameter, in its unit). A scale for a ``Bounded`` name raises.

    Examples:
        >>> import jax
        >>> from neurojax import fitting
        >>> space = fitting.ParamSpace({"tau_m": fitting.Bounded(2.0, 50.0),
        ...                             "v_rest": fitting.Free()}, scale={"v_rest": 10.0})
        >>> space.names
        ('tau_m', 'v_rest')
        >>> u = space.to_unconstrained({"tau_m": 26.0, "v_rest": -65.0})
        >>> float(u["tau_m"]), float(u["v_rest"])
        (0.0, -6.5)
        >>> x = space.sample(jax.random.PRNGKey(0), 4)
        >>> x["tau_m"].shape, bool(((x["tau_m"] > 2.0) & (x["tau_m"] < 50.0)).all())
        ((4,), True)
    """

    _items: tuple
    _scales: tuple

    def __init__(self, spec: dict, scale: Optional[dict] = None):
        if not isinstance(spec, dict) or not spec:
            raise TypeError(f"ParamSpace.spec must be a non-empty dict name -> Bounded | Positive "
                            f"| Free, got {spec!r}")
        items = []
        for name, tr in spec.items():
            if not isinstance(name, str):
                raise TypeError(f"ParamSpace.spec: names must be strings, got {name!r}")
            if not isinstance(tr, _TRANSFORMS):
                raise TypeError(f"ParamSpace.spec['{name}'] must be Bounded, Positive or Free, "
                                f"got {tr!r}")
            items.append((name, tr))
        scale = {} if scale is None else scale
        if not isinstance(scale, dict):
            raise TypeError(f"ParamSpace.scale must be a dict name -> float or None, got {scale!r}")
        unknown = set(scale) - set(spec)
        if unknown:
            raise ValueError(f"ParamSpace.scale: unknown name(s) {sorted(unknown)}; "
                             f"the space has {list(spec)}")
        scales = []
        for name, tr in items:
            if name not in scale:
                scales.append(1.0)
                continue
            if isinstance(tr, Bounded):
                raise ValueError(f"ParamSpace.scale['{name}']: Bounded parameters are normalised "
                                 "by their bounds and take no scale")
            s = _finite_float(scale[name], f"ParamSpace.scale['{name}']")
            if not s > 0:
                raise ValueError(f"ParamSpace.scale['{name}'] must be > 0, got {s}")
            scales.append(s)
        object.__setattr__(self, "_items", tuple(items))
        object.__setattr__(self, "_scales", tuple(scales))

    @property
    def names(self) -> tuple:
        """Names of the fitted parameters, in ``spec`` order."""
        return tuple(name for name, _ in self._items)

    @property
    def spec(self) -> dict:
        """``{name: transform}`` (a copy)."""
        return dict(self._items)

    @property
    def scale(self) -> dict:
        """``{name: s}`` for every name (1.0 where none was given)."""
        return dict(zip(self.names, self._scales))

    def __len__(self) -> int:
        return len(self._items)

    def _check_names(self, values: dict, what: str):
        if not isinstance(values, dict):
            raise TypeError(f"{what} must be a dict name -> value, got {type(values).__name__}")
        missing = [n for n in self.names if n not in values]
        extra = sorted(set(values) - set(self.names))
        if missing or extra:
            raise ValueError(f"{what}: names must be exactly {list(self.names)}; "
                             f"missing {missing}, unknown {extra}")

    def to_unconstrained(self, values: dict) -> dict:
        """Constrained ``{name: x}`` -> unconstrained ``{name: u}`` (elementwise, jit-safe)."""
        self._check_names(values, "ParamSpace.to_unconstrained(values)")
        dtype = float_dtype()
        return {name: tr.inverse(jnp.asarray(values[name], dtype) / s)
                for (name, tr), s in zip(self._items, self._scales)}

    def to_constrained(self, u: dict) -> dict:
        """Unconstrained ``{name: u}`` -> constrained ``{name: x}`` (elementwise, differentiable)."""
        self._check_names(u, "ParamSpace.to_constrained(u)")
        return {name: s * tr.forward(jnp.asarray(u[name]))
                for (name, tr), s in zip(self._items, self._scales)}

    def sample(self, key, n: int) -> dict:
        """``n`` constrained draws per name: ``{name: (n,) array}``.

        ``Bounded``: uniform in ``(low, high)`` (a relative margin of 1e-6 keeps the draws off
        the bounds); ``Positive``: log-uniform in its sampling range, default ``[s/3, 3 s]``;
        ``Free``: uniform in its sampling range, default ``[-s, s]``.
        """
        n = check_int(n, "ParamSpace.sample n")
        return _sample(key, space=self, n=n)

    def validate(self, values: dict, what: str = "values") -> None:
        """Host-side check: exactly the space's names, each inside its transform's domain.

        Raises ``ValueError`` naming the offending parameter (a ``Bounded`` value on or
        outside its bounds, a non-positive ``Positive`` value, NaN or inf).
        """
        self._check_names(values, what)
        for (name, tr), s in zip(self._items, self._scales):
            x = np.asarray(values[name], dtype=float)
            if not tr.contains(x / s if not isinstance(tr, Bounded) else x):
                if isinstance(tr, Bounded):
                    dom = f"strictly inside ({tr.low}, {tr.high})"
                elif isinstance(tr, Positive):
                    dom = "finite and > 0"
                else:
                    dom = "finite"
                raise ValueError(f"{what}['{name}'] must be {dom}, got {x}")

    # -- flat vectors, used by cma_es / random_search ------------------------------------
    def _ravel(self, u: dict):
        """``{name: (...,)}`` -> ``(..., d)`` in name order."""
        return jnp.stack([jnp.asarray(u[name]) for name in self.names], axis=-1)

    def _unravel(self, vec) -> dict:
        """``(..., d)`` -> ``{name: (...,)}``."""
        return {name: vec[..., i] for i, name in enumerate(self.names)}


@functools.partial(jax.jit, static_argnames=("space", "n"))
def _sample(key, *, space: ParamSpace, n: int) -> dict:
    """``ParamSpace.sample``, compiled once per (space, n)."""
    dtype = float_dtype()
    keys = jax.random.split(key, len(space))
    out = {}
    for k, (name, tr), s in zip(keys, space._items, space._scales):
        if isinstance(tr, Bounded):
            p = jax.random.uniform(k, (n,), dtype, minval=_EDGE, maxval=1.0 - _EDGE)
            out[name] = tr.low + (tr.high - tr.low) * p
        elif isinstance(tr, Positive):
            lo, hi = (s / _POSITIVE_SPREAD, s * _POSITIVE_SPREAD) if tr.low is None \
                else (tr.low, tr.high)
            out[name] = jnp.exp(jax.random.uniform(k, (n,), dtype, minval=math.log(lo),
                                                   maxval=math.log(hi)))
        else:
            lo, hi = (-s, s) if tr.low is None else (tr.low, tr.high)
            out[name] = jax.random.uniform(k, (n,), dtype, minval=lo, maxval=hi)
    return out
