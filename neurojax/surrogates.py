r"""Surrogate spike functions: Heaviside forward, smooth pseudo-derivative backward.

Each surrogate is a frozen (hashable) dataclass wrapping a :func:`jax.custom_jvp`, so a model
holding one can sit in the static part of a network without defeating the jit cache.

| surrogate          | forward      | backward :math:`\partial s / \partial x`               |
|--------------------|--------------|---------------------------------------------------------|
| ``SuperSpike(b)``  | ``x > 0``    | :math:`1 / (1 + b|x|)^2` (fast sigmoid, Zenke & Ganguli 2018) |
| ``Sigmoid(b)``     | ``x > 0``    | :math:`b\,\sigma(bx)(1 - \sigma(bx))`                      |
| ``Triangle(b)``    | ``x > 0``    | :math:`\max(0, 1 - b|x|)` (Bellec et al. 2018 use ``b=1``, gain 0.3 outside) |
| ``Arctan(b)``      | ``x > 0``    | :math:`1 / (1 + (\pi b x / 2)^2)` (Fang et al. 2021, up to the :math:`b/2` gain, see below) |

``x`` is the distance to threshold, which spiking models express in units of their
threshold-reset gap (dimensionless; see ``neurojax.LIF``), so ``b`` (``beta``) is
dimensionless.
All backward functions here peak at 1 at ``x = 0`` except ``Sigmoid`` (peak ``b/4``) and
``Arctan`` (peak ``b/2``), which keep their textbook normalisation.

References:
    Zenke & Ganguli (2018), *SuperSpike*, Neural Computation 30(6).
    Neftci, Mostafa & Zenke (2019), *Surrogate gradient learning in SNNs*, IEEE SPM 36(6).

Examples:
    >>> import jax, jax.numpy as jnp
    >>> from neurojax import SuperSpike
    >>> f = SuperSpike(beta=10.0)
    >>> f(jnp.array([-1.0, 0.5])).tolist()
    [0.0, 1.0]
    >>> float(jax.grad(f)(0.0))
    1.0
"""
import dataclasses
import functools

import jax
import jax.numpy as jnp


def _heaviside(x):
    dtype = jnp.result_type(x)
    return (jnp.asarray(x) > 0).astype(dtype if jnp.issubdtype(dtype, jnp.inexact) else jnp.result_type(float))


def _make(derivative):
    @functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
    def spike(x, beta):
        return _heaviside(x)

    @spike.defjvp
    def _jvp(beta, primals, tangents):
        (x,), (t,) = primals, tangents
        return spike(x, beta), t * derivative(x, beta)

    return spike


_superspike = _make(lambda x, b: 1.0 / (1.0 + b * jnp.abs(x)) ** 2)
_sigmoid = _make(lambda x, b: b * jax.nn.sigmoid(b * x) * (1.0 - jax.nn.sigmoid(b * x)))
_triangle = _make(lambda x, b: jnp.maximum(0.0, 1.0 - b * jnp.abs(x)))
_arctan = _make(lambda x, b: (b / 2.0) / (1.0 + (jnp.pi * b * x / 2.0) ** 2))


def _check_beta(obj):
    if not obj.beta > 0:
        raise ValueError(f"{type(obj).__name__}.beta must be > 0, got {obj.beta}")


@dataclasses.dataclass(frozen=True)
class SuperSpike:
    """Fast-sigmoid surrogate: backward ``1 / (1 + beta |x|)^2``."""

    beta: float = 10.0

    def __post_init__(self):
        _check_beta(self)

    def __call__(self, x):
        return _superspike(x, self.beta)

    def derivative(self, x):
        return 1.0 / (1.0 + self.beta * jnp.abs(x)) ** 2


@dataclasses.dataclass(frozen=True)
class Sigmoid:
    """Logistic surrogate: backward ``beta sigma(beta x) (1 - sigma(beta x))``."""

    beta: float = 4.0

    def __post_init__(self):
        _check_beta(self)

    def __call__(self, x):
        return _sigmoid(x, self.beta)

    def derivative(self, x):
        s = jax.nn.sigmoid(self.beta * x)
        return self.beta * s * (1.0 - s)


@dataclasses.dataclass(frozen=True)
class Triangle:
    """Piecewise-linear surrogate: backward ``max(0, 1 - beta |x|)``."""

    beta: float = 1.0

    def __post_init__(self):
        _check_beta(self)

    def __call__(self, x):
        return _triangle(x, self.beta)

    def derivative(self, x):
        return jnp.maximum(0.0, 1.0 - self.beta * jnp.abs(x))


@dataclasses.dataclass(frozen=True)
class Arctan:
    """Arctangent surrogate: backward ``(beta/2) / (1 + (pi beta x / 2)^2)``."""

    beta: float = 2.0

    def __post_init__(self):
        _check_beta(self)

    def __call__(self, x):
        return _arctan(x, self.beta)

    def derivative(self, x):
        return (self.beta / 2.0) / (1.0 + (jnp.pi * self.beta * x / 2.0) ** 2)


ALL_SURROGATES = (SuperSpike(), Sigmoid(), Triangle(), Arctan())
