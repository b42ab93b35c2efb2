r"""Neuron models: frozen descriptors with pure ``init``/``step`` over ``Params``/``State``.

Conventions shared by every model (see ``neurojax.typing.NeuronModel``):

* Units: ms, mV, pA, pF, nS (nS * mV = pA, pF / nS = ms).
* Unbatched: ``init(params, n)`` returns ``(n,)`` arrays; batch with ``jax.vmap``.
* ``step(params, state, drive, dt)`` advances one step of ``dt`` ms. ``drive`` maps each of the
  model's ``receptors`` to an ``(n,)`` array held constant over the step.
* Spikes are floats (0/1 in the compute dtype) produced by a surrogate spike function, so
  gradients flow through them.
* Parameters may be scalars or ``(n,)`` arrays (heterogeneous populations).
"""
import dataclasses
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from neurojax._params import check_params, make_default
from neurojax.surrogates import SuperSpike

Array = jax.Array


def _refractory_countdown(refrac, spike, t_ref, dt):
    """Remaining refractory time (ms): ``t_ref`` after a spike, else counts down to 0."""
    return jnp.where(spike > 0, t_ref, jnp.maximum(refrac - dt, 0.0))


def _is_refractory(refrac, dt):
    """True while refractory time remains (half-step margin absorbs float round-off)."""
    return refrac > 0.5 * dt


class LIFParams(NamedTuple):
    tau_m: Array    # ms   membrane time constant (C_m / g_L)
    c_m: Array      # pF   membrane capacitance
    v_rest: Array   # mV   resting (leak reversal) potential
    v_th: Array     # mV   spike threshold
    v_reset: Array  # mV   reset potential
    t_ref: Array    # ms   absolute refractory period (0 disables)
    e_exc: Array    # mV   reversal potential of receptor g_exc
    e_inh: Array    # mV   reversal potential of receptor g_inh
    i_e: Array      # pA   constant external current (NEST's I_e)

    @classmethod
    def default(cls, **overrides) -> "LIFParams":
        return make_default(cls, dict(tau_m=10.0, c_m=250.0, v_rest=-65.0, v_th=-50.0,
                                      v_reset=-65.0, t_ref=2.0, e_exc=0.0, e_inh=-80.0,
                                      i_e=0.0), overrides)


class LIFState(NamedTuple):
    v: Array        # mV, (n,)
    refrac: Array   # ms of refractoriness remaining, (n,)
    spike: Array    # {0., 1.}, (n,)


@dataclasses.dataclass(frozen=True)
class LIF:
    r"""Leaky integrate-and-fire neuron with current and conductance receptors.

    $$ C_m \frac{dV}{dt} = -g_L (V - V_\mathrm{rest}) + g_\mathrm{exc}(E_\mathrm{exc} - V)
       + g_\mathrm{inh}(E_\mathrm{inh} - V) + I + I_e, \qquad g_L = C_m / \tau_m $$

    With the conductances and currents held constant over a step the ODE is linear, so it is
    integrated exactly (exponential propagator):
    $V \leftarrow V_\infty + (V - V_\infty)\,e^{-\Delta t\, g_\mathrm{tot} / C_m}$ with
    $g_\mathrm{tot} = g_L + g_\mathrm{exc} + g_\mathrm{inh}$ and
    $V_\infty = (g_L V_\mathrm{rest} + g_\mathrm{exc}E_\mathrm{exc} + g_\mathrm{inh}E_\mathrm{inh}
    + I + I_e) / g_\mathrm{tot}$. For pure current input this is the exact solution
    $V(t) = V_\infty + (V_0 - V_\infty) e^{-t/\tau_m}$, $V_\infty = V_\mathrm{rest} + R I$.

    | param   | symbol              | default | unit |
    |---------|---------------------|---------|------|
    | tau_m   | $\tau_m$            | 10.0    | ms   |
    | c_m     | $C_m$               | 250.0   | pF   |
    | v_rest  | $V_\mathrm{rest}$   | -65.0   | mV   |
    | v_th    | $V_\mathrm{th}$     | -50.0   | mV   |
    | v_reset | $V_\mathrm{reset}$  | -65.0   | mV   |
    | t_ref   | $t_\mathrm{ref}$    | 2.0     | ms   |
    | e_exc   | $E_\mathrm{exc}$    | 0.0     | mV   |
    | e_inh   | $E_\mathrm{inh}$    | -80.0   | mV   |
    | i_e     | $I_e$               | 0.0     | pA   |

    State: ``v`` (mV), ``refrac`` (ms remaining), ``spike`` (0/1).
    Receptors: ``i`` (pA), ``g_exc`` and ``g_inh`` (nS). External inputs feed ``i``.

    Update order (pinned by a test): (1) if not refractory, integrate $V$ exactly over the
    step, else hold it; (2) spike if $V > V_\mathrm{th}$ and not refractory; (3) reset
    $V \leftarrow V_\mathrm{reset}$ on spike; (4) refractory countdown (set to $t_\mathrm{ref}$
    on spike). A spike at step $k$ therefore holds $V$ for the next $t_\mathrm{ref}/\Delta t$
    steps, as in Brian2 and NEST.

    The f–I curve for constant current with $V_\infty > V_\mathrm{th}$ (reset to
    $V_\mathrm{reset}$) is $f = 1 / (t_\mathrm{ref} + \tau_m \ln\frac{V_\infty - V_\mathrm{reset}}
    {V_\infty - V_\mathrm{th}})$.

    Args:
        spike_fn: surrogate spike function applied to $V - V_\mathrm{th}$.
        detach_reset: if True the reset does not carry gradient through the spike
            (a common choice in surrogate-gradient training).

    References:
        Gerstner, Kistler, Naud & Paninski (2014), *Neuronal Dynamics*, ch. 1.3.
        Rotter & Diesmann (1999), Biol. Cybern. 81 (exact integration).

    Examples:
        >>> import neurojax as nj
        >>> model = nj.LIF()
        >>> state = model.init(nj.LIFParams.default(), n=3)
        >>> state.v.shape
        (3,)
    """

    spike_fn: object = SuperSpike()
    detach_reset: bool = False

    Params: ClassVar = LIFParams
    State: ClassVar = LIFState
    receptors: ClassVar = ("i", "g_exc", "g_inh")
    input_receptor: ClassVar = "i"
    signals: ClassVar = ("spike", "v")

    def init(self, params: LIFParams, n: int) -> LIFState:
        v = jnp.broadcast_to(params.v_rest, (n,)).astype(params.v_rest.dtype)
        zeros = jnp.zeros((n,), v.dtype)
        return LIFState(v=v, refrac=zeros, spike=zeros)

    def step(self, params: LIFParams, state: LIFState, drive, dt: float) -> LIFState:
        p = params
        g_leak = p.c_m / p.tau_m
        g_exc, g_inh = drive["g_exc"], drive["g_inh"]
        g_tot = g_leak + g_exc + g_inh
        v_inf = (g_leak * p.v_rest + g_exc * p.e_exc + g_inh * p.e_inh + drive["i"] + p.i_e) / g_tot
        v_free = v_inf + (state.v - v_inf) * jnp.exp(-dt * g_tot / p.c_m)
        refractory = _is_refractory(state.refrac, dt)
        v = jnp.where(refractory, state.v, v_free)
        spike = self.spike_fn(v - p.v_th) * (1.0 - refractory)
        reset_gate = jax.lax.stop_gradient(spike) if self.detach_reset else spike
        v = v - reset_gate * (v - p.v_reset)
        return LIFState(v=v, refrac=_refractory_countdown(state.refrac, spike, p.t_ref, dt),
                        spike=spike)

    def validate(self, params: LIFParams, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "LIFParams", positive=("tau_m", "c_m"), nonnegative=("t_ref",),
                     time_constants=("tau_m",), dt=dt, allow_large_dt=allow_large_dt)


@dataclasses.dataclass(frozen=True)
class SpikeSource:
    """A population whose spikes are given: ``inputs[pop]`` (0/1, shape ``(T, n)``) is emitted.

    Use it for input layers (Poisson, latency or event-camera encodings, see
    ``neurojax.inputs``). It has no parameters.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> src = nj.SpikeSource()
        >>> s = src.init(src.Params(), n=2)
        >>> src.step(src.Params(), s, {"spike": jnp.array([0.0, 1.0])}, 0.1).spike.tolist()
        [0.0, 1.0]
    """

    class Params(NamedTuple):
        @classmethod
        def default(cls):
            return cls()

    class State(NamedTuple):
        spike: Array  # {0., 1.}, (n,)

    receptors: ClassVar = ("spike",)
    input_receptor: ClassVar = "spike"
    signals: ClassVar = ("spike",)

    def init(self, params, n: int):
        del params
        return self.State(spike=jnp.zeros((n,), jnp.result_type(float)))

    def step(self, params, state, drive, dt: float):
        del params, state, dt
        return self.State(spike=drive["spike"])

    def validate(self, params, n: int, dt: float, allow_large_dt: bool = False):
        del params, n, dt, allow_large_dt
