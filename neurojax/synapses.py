r"""Post-synaptically aligned synapse models.

A synapse model keeps one state per *postsynaptic* neuron (all synapses of a projection onto a
neuron share it, which is exact because the dynamics are linear in the input). Each step:

1. ``x``, the summed presynaptic events weighted by the synaptic weights (units of the output:
   pA for current receptors, nS for conductance receptors), arrives from the kernel;
2. ``step`` decays the state over ``dt`` and adds ``x`` as an instantaneous jump;
3. ``output`` is written into the postsynaptic population's receptor named by the projection.

Whether a synapse is current- or conductance-based is decided by the *receptor* it targets
(``"i"`` in pA, ``"g_exc"``/``"g_inh"`` in nS with the reversal potentials held by the neuron
model), so one synapse class serves both.
"""
import dataclasses
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from neurojax._params import check_params, make_default

Array = jax.Array


class ExponentialParams(NamedTuple):
    tau: Array  # ms  decay time constant

    @classmethod
    def default(cls, **overrides) -> "ExponentialParams":
        return make_default(cls, dict(tau=5.0), overrides)


class ExponentialState(NamedTuple):
    g: Array  # output units (pA or nS), (n_post,)


@dataclasses.dataclass(frozen=True)
class Exponential:
    r"""Exponentially decaying synapse: $\tau\, dg/dt = -g + \tau \sum_k w_k \delta(t - t_k)$.

    Each event of weight $w$ raises $g$ by $w$; between events $g$ decays exactly,
    $g \leftarrow g\, e^{-\Delta t/\tau} + x$.

    | param | symbol | default | unit |
    |-------|--------|---------|------|
    | tau   | $\tau$ | 5.0     | ms   |

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> syn, p = nj.Exponential(), nj.ExponentialParams.default(tau=5.0)
        >>> s = syn.step(p, syn.init(p, 2), jnp.array([1.0, 0.0]), 0.1)
        >>> syn.output(p, s).tolist()
        [1.0, 0.0]
    """

    Params: ClassVar = ExponentialParams
    State: ClassVar = ExponentialState

    def init(self, params: ExponentialParams, n: int) -> ExponentialState:
        return ExponentialState(g=jnp.zeros((n,), params.tau.dtype))

    def step(self, params: ExponentialParams, state: ExponentialState, x: Array, dt: float):
        return ExponentialState(g=state.g * jnp.exp(-dt / params.tau) + x)

    def output(self, params: ExponentialParams, state: ExponentialState) -> Array:
        del params
        return state.g

    def validate(self, params, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "ExponentialParams", positive=("tau",), time_constants=("tau",),
                     dt=dt, allow_large_dt=allow_large_dt)
