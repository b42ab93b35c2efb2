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
import numpy as np

from neurojax._integrators import rk4
from neurojax._params import check_params, make_default
from neurojax.surrogates import SuperSpike

Array = jax.Array


def _refractory_countdown(refrac, spike, t_ref, dt):
    """Remaining refractory time (ms): ``t_ref`` after a spike, else counts down to 0."""
    return jnp.where(spike > 0, t_ref, jnp.maximum(refrac - dt, 0.0))


def _is_refractory(refrac, dt):
    """True while refractory time remains (half-step margin absorbs float round-off)."""
    return refrac > 0.5 * dt


def _conductance_membrane_step(p, v, drive, dt):
    r"""Exact step of $C_m \dot V = -g_L(V - V_\mathrm{rest}) + \sum_r g_r(E_r - V) + I + I_e$
    with the conductances and currents of ``drive`` held over ``dt`` (LIF and ALIF membrane)."""
    g_leak = p.c_m / p.tau_m
    g_exc, g_inh = drive["g_exc"], drive["g_inh"]
    g_tot = g_leak + g_exc + g_inh
    v_inf = (g_leak * p.v_rest + g_exc * p.e_exc + g_inh * p.e_inh + drive["i"] + p.i_e) / g_tot
    return v_inf + (v - v_inf) * jnp.exp(-dt * g_tot / p.c_m)


def _check_above(params, high: str, low: str, owner: str):
    """``params.high > params.low`` everywhere (the surrogate is scaled by their gap)."""
    gap = np.asarray(getattr(params, high)) - np.asarray(getattr(params, low))
    if not (gap > 0).all():
        raise ValueError(f"{owner}.{high} must exceed {owner}.{low} (the surrogate spike function "
                         f"is scaled by their gap), got min gap {gap.min()} mV")


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
    steps, as NEST does (Brian2 holds it one step less: it counts the spike's own step).

    The f–I curve for constant current with $V_\infty > V_\mathrm{th}$ (reset to
    $V_\mathrm{reset}$) is $f = 1 / (t_\mathrm{ref} + \tau_m \ln\frac{V_\infty - V_\mathrm{reset}}
    {V_\infty - V_\mathrm{th}})$.

    Args:
        spike_fn: surrogate spike function applied to the distance to threshold in units of
            the threshold-reset gap, $(V - V_\mathrm{th}) / (V_\mathrm{th} - V_\mathrm{reset})$
            (dimensionless, as in threshold-normalised SNN libraries). With the gap as the
            unit, the reset's own gradient balances the recurrent loops and BPTT stays stable
            over thousands of steps; a surrogate on raw millivolts is ~15x steeper and explodes.
        detach_reset: if True the reset does not carry gradient through the spike. Keep the
            default (False) for recurrent networks: the reset's gradient is what keeps their
            BPTT gradients bounded.

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
        v_free = _conductance_membrane_step(p, state.v, drive, dt)
        refractory = _is_refractory(state.refrac, dt)
        v = jnp.where(refractory, state.v, v_free)
        spike = self.spike_fn((v - p.v_th) / (p.v_th - p.v_reset)) * (1.0 - refractory)
        reset_gate = jax.lax.stop_gradient(spike) if self.detach_reset else spike
        v = (1.0 - reset_gate) * v + reset_gate * p.v_reset     # exact for s in {0, 1}
        return LIFState(v=v, refrac=_refractory_countdown(state.refrac, spike, p.t_ref, dt),
                        spike=spike)

    def validate(self, params: LIFParams, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "LIFParams", positive=("tau_m", "c_m"), nonnegative=("t_ref",),
                     time_constants=("tau_m",), dt=dt, allow_large_dt=allow_large_dt)
        _check_above(params, "v_th", "v_reset", "LIFParams")


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


# ---------------------------------------------------------------------------------------------
# DiscreteLIF (NALSM)
# ---------------------------------------------------------------------------------------------

class DiscreteLIFParams(NamedTuple):
    tau_v: Array    # ms     membrane time constant (Euler leak v / tau_v)
    theta: Array    # mV     spike threshold (spike if v >= theta)
    v_reset: Array  # mV     reset potential (also the initial v)
    b: Array        # mV/ms  constant bias input
    t_ref: Array    # ms     refractory period (no spike; v keeps integrating)

    @classmethod
    def default(cls, **overrides) -> "DiscreteLIFParams":
        return make_default(cls, dict(tau_v=64.0, theta=20.0, v_reset=0.0, b=0.0, t_ref=2.0),
                            overrides)


class DiscreteLIFState(NamedTuple):
    v: Array        # mV, (n,)
    refrac: Array   # ms of refractoriness remaining, (n,)
    spike: Array    # {0., 1.}, (n,)


@dataclasses.dataclass(frozen=True)
class DiscreteLIF:
    r"""Discrete-time (Euler) LIF neuron of the neuron–astrocyte liquid state machine (NALSM).

    $$ \frac{dv}{dt} = -\frac{v}{\tau_v} + I + b, \qquad
       v \leftarrow v + \Delta t\left(I + b - \frac{v}{\tau_v}\right) $$

    $I$ (mV/ms) is the summed input of the step: synaptic (e.g. $\sum_j W_{ij} g_j$ from
    :class:`~neurojax.ResetKernel` through an :class:`~neurojax.Instant` synapse) plus
    external. At $\Delta t = 1$ ms this is Ivanov & Michmizos' per-step map
    $v \leftarrow v + \sum_j W_{ij} g_j + I^\mathrm{ext} + b - v/\tau_v$ (no resistance, no
    exact propagator: the Euler step *is* the model).

    | param   | symbol            | default | unit  |
    |---------|-------------------|---------|-------|
    | tau_v   | $\tau_v$          | 64.0    | ms    |
    | theta   | $\theta$          | 20.0    | mV    |
    | v_reset | $v_\mathrm{reset}$| 0.0     | mV    |
    | b       | $b$               | 0.0     | mV/ms |
    | t_ref   | $t_\mathrm{ref}$  | 2.0     | ms    |

    State: ``v`` (mV, starts at $v_\mathrm{reset}$), ``refrac`` (ms remaining), ``spike``.
    Receptor and input: ``"i"`` (mV/ms).

    Update order: (1) integrate (also while refractory); (2) spike $s = [v \ge \theta]$
    unless refractory; (3) $v \leftarrow v_\mathrm{reset}$ on a spike; (4) refractory time
    $\leftarrow t_\mathrm{ref}$ on a spike, else counts down. With $t_\mathrm{ref} = 2$ ms at
    $\Delta t = 1$ ms a neuron fires at most every 3rd step.

    Relation to the reference loop (spec nalsm_astro.md §1.4, which spikes *before*
    integrating and transmits with zero delay): neurojax delivers synaptic input with a delay
    of one step, so step $n$ here is the reference's integration of step $n$ followed by its
    spike test of step $n + 1$: for the same input array, ``spike[n]`` here equals the
    reference's $s(n + 1)$ (its $s(0)$ is always 0) and ``v[n]`` its membrane after the reset
    of step $n + 1$.

    Args:
        spike_fn: surrogate applied to $(v - \theta)/(\theta - v_\mathrm{reset})$; the forward
            pass is corrected to the exact test $v \ge \theta$.

    References:
        Ivanov & Michmizos (2021), "Increasing liquid state machine performance with
        edge-of-chaos dynamics organized by astrocyte-modulated plasticity", NeurIPS 34.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> model = nj.DiscreteLIF()
        >>> p = nj.DiscreteLIFParams.default()
        >>> s = model.step(p, model.init(p, 2), {"i": jnp.array([100.0, 10.0])}, 1.0)
        >>> s.spike.tolist(), s.v.tolist()
        ([1.0, 0.0], [0.0, 10.0])
    """

    spike_fn: object = SuperSpike()

    Params: ClassVar = DiscreteLIFParams
    State: ClassVar = DiscreteLIFState
    receptors: ClassVar = ("i",)
    input_receptor: ClassVar = "i"
    signals: ClassVar = ("spike", "v")

    def init(self, params: DiscreteLIFParams, n: int) -> DiscreteLIFState:
        v = jnp.broadcast_to(params.v_reset, (n,)).astype(params.v_reset.dtype)
        zeros = jnp.zeros((n,), v.dtype)
        return DiscreteLIFState(v=v, refrac=zeros, spike=zeros)

    def step(self, params: DiscreteLIFParams, state: DiscreteLIFState, drive,
             dt: float) -> DiscreteLIFState:
        p = params
        v = state.v + dt * (drive["i"] + p.b - state.v / p.tau_v)
        surrogate = self.spike_fn((v - p.theta) / (p.theta - p.v_reset))
        exact = (v >= p.theta).astype(v.dtype)
        spike = surrogate + jax.lax.stop_gradient(exact - surrogate)
        spike = spike * (1.0 - _is_refractory(state.refrac, dt))
        v = (1.0 - spike) * v + spike * p.v_reset                # exact for s in {0, 1}
        return DiscreteLIFState(v=v, refrac=_refractory_countdown(state.refrac, spike, p.t_ref, dt),
                                spike=spike)

    def validate(self, params: DiscreteLIFParams, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "DiscreteLIFParams", positive=("tau_v",), nonnegative=("t_ref",),
                     time_constants=("tau_v",), dt=dt, allow_large_dt=allow_large_dt)
        _check_above(params, "theta", "v_reset", "DiscreteLIFParams")


class LeakyParams(NamedTuple):
    beta: Array     # 1      per-step membrane decay factor, in [0, 1]
    thr: Array      # 1      spike threshold (dimensionless units of the input)
    bias: Array     # 1      constant input per step

    @classmethod
    def default(cls, **overrides) -> "LeakyParams":
        return make_default(cls, dict(beta=0.9, thr=1.0, bias=0.0), overrides)


class LeakyState(NamedTuple):
    v: Array        # 1, (n,)
    spike: Array    # {0., 1.}, (n,)


@dataclasses.dataclass(frozen=True)
class Leaky:
    r"""Discrete-time leaky integrate-and-fire unit of surrogate-gradient training (the
    ``Leaky`` / ``LIF`` layer of snnTorch and spyx), dimensionless and one step per update.

    $$ v_t = \beta\, v_{t-1} + I_t + b - \vartheta\, \mathrm{sg}(s_{t-1}), \qquad
       s_t = H(v_t - \vartheta) $$

    with a *subtractive* reset whose gradient is detached ($\mathrm{sg}$ = stop-gradient) and
    no refractoriness; the spike's backward pass is the surrogate ``spike_fn`` of
    $v_t - \vartheta$ (its forward is the exact step for the surrogates of
    :mod:`neurojax.surrogates`). ``dt`` is not used: $\beta$ is the decay per step (a
    continuous $\tau$ gives $\beta = e^{-\Delta t/\tau}$). It is the cheapest spiking unit
    here, meant for trained networks (for a biophysical neuron use :class:`LIF`).

    | param | symbol     | default | unit |
    |-------|------------|---------|------|
    | beta  | $\beta$    | 0.9     | 1    |
    | thr   | $\vartheta$ | 1.0     | 1    |
    | bias  | $b$        | 0.0     | 1    |

    State: ``v`` (starts at 0), ``spike``. Receptor and input: ``"i"``.

    Update order: (1) decay, add the input and the bias, subtract $\vartheta$ if the unit
    spiked in the previous step; (2) spike if $v_t > \vartheta$. For a constant input $I$
    below threshold, $v_t = (I + b)(1 - \beta^t)/(1 - \beta)$.

    Args:
        spike_fn: surrogate spike function applied to $v - \vartheta$.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> model, p = nj.Leaky(), nj.LeakyParams.default()
        >>> s = model.init(p, 2)
        >>> for _ in range(3):
        ...     s = model.step(p, s, {"i": jnp.array([0.6, 0.2])}, 1.0)
        >>> [round(v, 4) for v in s.v.tolist()], s.spike.tolist()   # 0.6: spiked at step 2 (1.14)
        ([0.626, 0.542], [0.0, 0.0])
    """

    spike_fn: object = SuperSpike()

    Params: ClassVar = LeakyParams
    State: ClassVar = LeakyState
    receptors: ClassVar = ("i",)
    input_receptor: ClassVar = "i"
    signals: ClassVar = ("spike", "v")

    def init(self, params: LeakyParams, n: int) -> LeakyState:
        zeros = jnp.zeros((n,), jnp.result_type(params.beta))
        return LeakyState(v=zeros, spike=zeros)

    def step(self, params: LeakyParams, state: LeakyState, drive, dt: float) -> LeakyState:
        p = params
        v = (p.beta * state.v + drive["i"] + p.bias
             - jax.lax.stop_gradient(state.spike) * p.thr)
        return LeakyState(v=v, spike=self.spike_fn(v - p.thr))

    def validate(self, params: LeakyParams, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "LeakyParams", positive=("thr",))
        beta = np.asarray(params.beta)
        if np.any(beta < 0) or np.any(beta > 1):
            raise ValueError(f"LeakyParams.beta must lie in [0, 1], got {beta}")


# ---------------------------------------------------------------------------------------------
# Helpers shared by the models below.
# ---------------------------------------------------------------------------------------------

def _x_over_expm1(x):
    r"""$x / (e^x - 1)$, smooth through $x = 0$ (value and gradient)."""
    small = jnp.abs(x) < 1e-4
    x_safe = jnp.where(small, 1.0, x)
    return jnp.where(small, 1.0 - 0.5 * x + x * x / 12.0, x_safe / jnp.expm1(x_safe))


def _param_shape(params):
    """The broadcast shape of a params NamedTuple's fields: () or (n,)."""
    return jnp.broadcast_shapes(*(jnp.shape(x) for x in params))


def _conductance_current(drive, e_exc, e_inh, v):
    """Synaptic current (pA) of the conductance receptors at potential ``v`` (nS * mV = pA)."""
    return drive["g_exc"] * (e_exc - v) + drive["g_inh"] * (e_inh - v)


# ---------------------------------------------------------------------------------------------
# ALIF
# ---------------------------------------------------------------------------------------------

class ALIFParams(NamedTuple):
    tau_m: Array    # ms   membrane time constant (C_m / g_L)
    c_m: Array      # pF   membrane capacitance
    v_rest: Array   # mV   resting (leak reversal) potential
    v_th: Array     # mV   baseline spike threshold
    v_reset: Array  # mV   reset potential
    t_ref: Array    # ms   absolute refractory period (0 disables)
    e_exc: Array    # mV   reversal potential of receptor g_exc
    e_inh: Array    # mV   reversal potential of receptor g_inh
    i_e: Array      # pA   constant external current
    tau_a: Array    # ms   decay time constant of the adaptation variable a
    beta_a: Array   # mV   threshold increase per unit of a

    @classmethod
    def default(cls, **overrides) -> "ALIFParams":
        return make_default(cls, dict(tau_m=10.0, c_m=250.0, v_rest=-65.0, v_th=-50.0,
                                      v_reset=-65.0, t_ref=2.0, e_exc=0.0, e_inh=-80.0,
                                      i_e=0.0, tau_a=200.0, beta_a=2.0), overrides)


class ALIFState(NamedTuple):
    v: Array        # mV, (n,)
    a: Array        # dimensionless adaptation variable (spikes, exponentially weighted), (n,)
    refrac: Array   # ms of refractoriness remaining, (n,)
    spike: Array    # {0., 1.}, (n,)


@dataclasses.dataclass(frozen=True)
class ALIF:
    r"""Adaptive leaky integrate-and-fire neuron (adaptive threshold, Bellec et al. 2018).

    The membrane is the :class:`LIF` membrane; the threshold rises by $\beta_a$ for every unit
    of an adaptation variable $a$ that jumps by 1 at each spike and decays with $\tau_a$:

    $$ C_m \frac{dV}{dt} = -g_L (V - V_\mathrm{rest}) + g_\mathrm{exc}(E_\mathrm{exc} - V)
       + g_\mathrm{inh}(E_\mathrm{inh} - V) + I + I_e, \qquad g_L = C_m / \tau_m $$
    $$ \tau_a \frac{da}{dt} = -a + \tau_a \sum_k \delta(t - t_k), \qquad
       \vartheta(t) = V_\mathrm{th} + \beta_a\, a(t) $$

    Both ODEs are linear for inputs held constant over a step and are integrated exactly:
    $V$ with the exponential propagator of :class:`LIF`, $a \leftarrow a\,e^{-\Delta t/\tau_a}$.
    Between spikes $a(t) = \sum_{t_k < t} e^{-(t - t_k)/\tau_a}$.

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
    | tau_a   | $\tau_a$            | 200.0   | ms   |
    | beta_a  | $\beta_a$           | 2.0     | mV   |

    State: ``v`` (mV), ``a`` (dimensionless), ``refrac`` (ms remaining), ``spike`` (0/1).
    Receptors: ``i`` (pA), ``g_exc`` and ``g_inh`` (nS). External inputs feed ``i``.
    Init: $V = V_\mathrm{rest}$, $a = 0$.

    Update order (pinned by a test): (1) if not refractory, integrate $V$ exactly, else hold
    it; (2) decay $a \leftarrow a\,e^{-\Delta t/\tau_a}$; (3) spike if
    $V > V_\mathrm{th} + \beta_a a$ and not refractory; (4) reset
    $V \leftarrow V_\mathrm{reset}$ on spike; (5) $a \leftarrow a + \text{spike}$;
    (6) refractory countdown as in :class:`LIF`. So the threshold at step $k$ is
    $V_\mathrm{th} + \beta_a \sum_{j < k} e^{-(k - j)\Delta t/\tau_a} s_j$.
    With $\beta_a = 0$ the model is exactly :class:`LIF`.

    Args:
        spike_fn: surrogate spike function applied to $(V - \vartheta) / (V_\mathrm{th} -
            V_\mathrm{reset})$ (gradients flow into both $V$ and the adaptation variable; see
            :class:`LIF` for why the argument is normalised).
        detach_reset: if True the reset does not carry gradient through the spike.

    References:
        Bellec, Salaj, Subramoney, Legenstein & Maass (2018), *Long short-term memory and
        learning-to-learn in networks of spiking neurons*, NeurIPS 31.
        Gerstner, Kistler, Naud & Paninski (2014), *Neuronal Dynamics*, ch. 6.

    Examples:
        >>> import jax, jax.numpy as jnp, neurojax as nj
        >>> model, p = nj.ALIF(), nj.ALIFParams.default(beta_a=5.0)
        >>> s = model.init(p, n=1)
        >>> drive = {"i": jnp.array([1000.0]), "g_exc": jnp.zeros(1), "g_inh": jnp.zeros(1)}
        >>> step, n_spikes = jax.jit(model.step), 0
        >>> for _ in range(1000):   # 100 ms at dt = 0.1 ms
        ...     s = step(p, s, drive, 0.1)
        ...     n_spikes += int(s.spike[0])
        >>> n_spikes   # an LIF with the same membrane (beta_a = 0) fires 15 times
        6
    """

    spike_fn: object = SuperSpike()
    detach_reset: bool = False

    Params: ClassVar = ALIFParams
    State: ClassVar = ALIFState
    receptors: ClassVar = ("i", "g_exc", "g_inh")
    input_receptor: ClassVar = "i"
    signals: ClassVar = ("spike", "v", "a")

    def init(self, params: ALIFParams, n: int) -> ALIFState:
        v = jnp.broadcast_to(params.v_rest, (n,)).astype(params.v_rest.dtype)
        zeros = jnp.zeros((n,), v.dtype)
        return ALIFState(v=v, a=zeros, refrac=zeros, spike=zeros)

    def step(self, params: ALIFParams, state: ALIFState, drive, dt: float) -> ALIFState:
        p = params
        v_free = _conductance_membrane_step(p, state.v, drive, dt)
        refractory = _is_refractory(state.refrac, dt)
        v = jnp.where(refractory, state.v, v_free)
        a = state.a * jnp.exp(-dt / p.tau_a)
        spike = self.spike_fn((v - (p.v_th + p.beta_a * a)) / (p.v_th - p.v_reset)) * (1.0 - refractory)
        reset_gate = jax.lax.stop_gradient(spike) if self.detach_reset else spike
        v = (1.0 - reset_gate) * v + reset_gate * p.v_reset     # exact for s in {0, 1}
        return ALIFState(v=v, a=a + spike,
                         refrac=_refractory_countdown(state.refrac, spike, p.t_ref, dt),
                         spike=spike)

    def validate(self, params: ALIFParams, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "ALIFParams", positive=("tau_m", "c_m", "tau_a"),
                     nonnegative=("t_ref",), time_constants=("tau_m", "tau_a"), dt=dt,
                     allow_large_dt=allow_large_dt)
        _check_above(params, "v_th", "v_reset", "ALIFParams")


# ---------------------------------------------------------------------------------------------
# Izhikevich
# ---------------------------------------------------------------------------------------------

class IzhikevichParams(NamedTuple):
    a: Array        # 1/ms   recovery rate of u
    b: Array        # 1/ms   sensitivity of u to v
    c: Array        # mV     reset potential
    d: Array        # mV/ms  jump of u at each spike
    v_peak: Array   # mV     spike cutoff
    c_m: Array      # pF     capacitance converting input currents: dv/dt gets (I + I_e) / C_m
    e_exc: Array    # mV     reversal potential of receptor g_exc
    e_inh: Array    # mV     reversal potential of receptor g_inh
    i_e: Array      # pA     constant external current

    @classmethod
    def default(cls, **overrides) -> "IzhikevichParams":
        return make_default(cls, dict(a=0.02, b=0.2, c=-65.0, d=8.0, v_peak=30.0, c_m=1.0,
                                      e_exc=0.0, e_inh=-80.0, i_e=0.0), overrides)


class IzhikevichState(NamedTuple):
    v: Array        # mV, (n,)
    u: Array        # mV/ms recovery variable, (n,)
    spike: Array    # {0., 1.}, (n,)


_IZH_METHODS = ("rk4", "izhikevich2003")


@jax.jit
def _izhikevich_rest(p: IzhikevichParams):
    """Stable resting point (lower root of 0.04 v^2 + (5 - b) v + 140 = 0, u = b v), else v = c."""
    disc = (5.0 - p.b) ** 2 - 4.0 * 0.04 * 140.0
    root = ((p.b - 5.0) - jnp.sqrt(jnp.maximum(disc, 0.0))) / (2.0 * 0.04)
    v = jnp.broadcast_to(jnp.where(disc >= 0.0, root, p.c), _param_shape(p)).astype(p.c.dtype)
    return v, p.b * v


@dataclasses.dataclass(frozen=True)
class Izhikevich:
    r"""Izhikevich (2003) simple spiking neuron.

    $$ \frac{dv}{dt} = 0.04 v^2 + 5 v + 140 - u + \frac{I_\mathrm{tot}}{C_m}, \qquad
       \frac{du}{dt} = a (b v - u) $$
    $$ \text{if } v > v_\mathrm{peak}: \quad v \leftarrow c, \quad u \leftarrow u + d $$

    with $v$ in mV, $t$ in ms and $I_\mathrm{tot} = I + I_e + g_\mathrm{exc}(E_\mathrm{exc} - v)
    + g_\mathrm{inh}(E_\mathrm{inh} - v)$ in pA. **Input convention:** the paper's $I$ has the
    units of $dv/dt$ (mV/ms); here currents are in pA and divided by $C_m$ (pF), so with the
    default $C_m = 1$ pF a drive of ``i = 10.0`` pA is exactly the paper's $I = 10$ (pA/pF =
    mV/ms). $u$ and $d$ are in mV/ms, $a$ and $b$ in 1/ms. All of $a, b, c, d$ (and the other
    params) may be ``(n,)`` arrays for heterogeneous populations (e.g. Izhikevich's
    regular-spiking/chattering mix $c = -65 + 15 r^2$, $d = 8 - 6 r^2$).

    | param  | symbol            | default | unit  |
    |--------|-------------------|---------|-------|
    | a      | $a$               | 0.02    | 1/ms  |
    | b      | $b$               | 0.2     | 1/ms  |
    | c      | $c$               | -65.0   | mV    |
    | d      | $d$               | 8.0     | mV/ms |
    | v_peak | $v_\mathrm{peak}$ | 30.0    | mV    |
    | c_m    | $C_m$             | 1.0     | pF    |
    | e_exc  | $E_\mathrm{exc}$  | 0.0     | mV    |
    | e_inh  | $E_\mathrm{inh}$  | -80.0   | mV    |
    | i_e    | $I_e$             | 0.0     | pA    |

    State: ``v`` (mV), ``u`` (mV/ms), ``spike`` (0/1).
    Receptors: ``i`` (pA), ``g_exc`` and ``g_inh`` (nS). External inputs feed ``i``.
    Init: the stable resting point for zero input, the lower root of
    $0.04 v^2 + (5 - b) v + 140 = 0$ with $u = b v$ ($v = -70$ mV for $b = 0.2$); where no
    resting point exists ($b > 5 - \sqrt{22.4}$) $v = c$, $u = b c$.

    Integrators (static ``method``):

    * ``"rk4"`` (default): classical RK4 on $(v, u)$ over each step, inputs held constant.
      Inside the right-hand side $v$ is capped at $v_\mathrm{peak}$ (as NEST does for AdEx),
      which changes nothing below the cutoff and keeps the stages finite in the step that
      crosses it. Fourth order (tested).
    * ``"izhikevich2003"``: the paper's reference scheme verbatim — two forward-Euler half
      steps for $v$, then one Euler step for $u$ with the new $v$ (no cap). First order; use
      it with $\Delta t = 1$ ms to reproduce the paper's networks.

    Update order (pinned by a test): (1) integrate $(v, u)$ over the step; (2) spike if
    $v > v_\mathrm{peak}$; (3) reset $v \leftarrow c$, $u \leftarrow u + d$ on spike. No
    refractory period. The paper checks $v \ge 30$ at the start of the next step instead;
    with a projection delay of one step the network dynamics are the same and the recorded
    spikes are one step earlier.

    Args:
        spike_fn: surrogate spike function applied to $(v - v_\mathrm{peak}) / (v_\mathrm{peak} - c)$
            (normalised as in :class:`LIF`).
        detach_reset: if True the reset does not carry gradient through the spike.
        method: ``"rk4"`` or ``"izhikevich2003"`` (see above).

    References:
        Izhikevich (2003), *Simple model of spiking neurons*, IEEE Trans. Neural Netw. 14(6).
        Izhikevich (2004), *Which model to use for cortical spiking neurons?*, IEEE Trans.
        Neural Netw. 15(5).

    Examples:
        >>> import jax, jax.numpy as jnp, neurojax as nj
        >>> model, p = nj.Izhikevich(), nj.IzhikevichParams.default()
        >>> s = model.init(p, n=2)
        >>> [round(float(v), 6) for v in s.v]
        [-70.0, -70.0]
        >>> drive = {"i": jnp.array([0.0, 10.0]), "g_exc": jnp.zeros(2), "g_inh": jnp.zeros(2)}
        >>> step, counts = jax.jit(model.step), jnp.zeros(2)
        >>> for _ in range(2000):   # 200 ms at dt = 0.1 ms
        ...     s = step(p, s, drive, 0.1)
        ...     counts = counts + s.spike
        >>> counts.tolist()   # regular spiking under I = 10
        [0.0, 5.0]
    """

    spike_fn: object = SuperSpike()
    detach_reset: bool = False
    method: str = "rk4"

    Params: ClassVar = IzhikevichParams
    State: ClassVar = IzhikevichState
    receptors: ClassVar = ("i", "g_exc", "g_inh")
    input_receptor: ClassVar = "i"
    signals: ClassVar = ("spike", "v", "u")

    def __post_init__(self):
        if self.method not in _IZH_METHODS:
            raise ValueError(f"Izhikevich.method must be one of {_IZH_METHODS}, got {self.method!r}")

    def init(self, params: IzhikevichParams, n: int) -> IzhikevichState:
        v, u = (jnp.broadcast_to(x, (n,)).astype(x.dtype) for x in _izhikevich_rest(params))
        return IzhikevichState(v=v, u=u, spike=jnp.zeros((n,), v.dtype))

    def _rhs(self, p, drive, v, u):
        i_tot = drive["i"] + p.i_e + _conductance_current(drive, p.e_exc, p.e_inh, v)
        dv = 0.04 * v * v + 5.0 * v + 140.0 - u + i_tot / p.c_m
        du = p.a * (p.b * v - u)
        return dv, du

    def step(self, params: IzhikevichParams, state: IzhikevichState, drive, dt: float):
        p = params
        if self.method == "rk4":
            def f(y):
                return self._rhs(p, drive, jnp.minimum(y[0], p.v_peak), y[1])
            v, u = rk4(f, (state.v, state.u), dt)
        else:  # "izhikevich2003"
            v = state.v + 0.5 * dt * self._rhs(p, drive, state.v, state.u)[0]
            v = v + 0.5 * dt * self._rhs(p, drive, v, state.u)[0]
            u = state.u + dt * p.a * (p.b * v - state.u)
        spike = self.spike_fn((v - p.v_peak) / (p.v_peak - p.c))
        reset_gate = jax.lax.stop_gradient(spike) if self.detach_reset else spike
        v = (1.0 - reset_gate) * v + reset_gate * p.c     # exact v <- c even after a large overshoot
        u = u + reset_gate * p.d
        return IzhikevichState(v=v, u=u, spike=spike)

    def validate(self, params: IzhikevichParams, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "IzhikevichParams", positive=("a", "c_m"), dt=dt,
                     allow_large_dt=allow_large_dt)
        _check_above(params, "v_peak", "c", "IzhikevichParams")
        if not allow_large_dt and (dt * np.asarray(params.a) > 1.0).any():
            raise ValueError(f"IzhikevichParams.a: 1/a = {1.0 / np.max(params.a)} ms is smaller than "
                             f"dt = {dt} ms; reduce dt or build the Network with allow_large_dt=True")


# ---------------------------------------------------------------------------------------------
# AdEx
# ---------------------------------------------------------------------------------------------

class AdExParams(NamedTuple):
    c_m: Array      # pF   membrane capacitance
    g_l: Array      # nS   leak conductance
    e_l: Array      # mV   leak reversal potential
    v_t: Array      # mV   exponential (soft) threshold V_T
    delta_t: Array  # mV   slope factor Delta_T
    v_peak: Array   # mV   spike cutoff
    v_reset: Array  # mV   reset potential
    a: Array        # nS   subthreshold adaptation
    b: Array        # pA   spike-triggered adaptation
    tau_w: Array    # ms   adaptation time constant
    t_ref: Array    # ms   absolute refractory period (0 disables)
    e_exc: Array    # mV   reversal potential of receptor g_exc
    e_inh: Array    # mV   reversal potential of receptor g_inh
    i_e: Array      # pA   constant external current

    @classmethod
    def default(cls, **overrides) -> "AdExParams":
        return make_default(cls, dict(c_m=281.0, g_l=30.0, e_l=-70.6, v_t=-50.4, delta_t=2.0,
                                      v_peak=0.0, v_reset=-60.0, a=4.0, b=80.5, tau_w=144.0,
                                      t_ref=0.0, e_exc=0.0, e_inh=-85.0, i_e=0.0), overrides)


class AdExState(NamedTuple):
    v: Array        # mV, (n,)
    w: Array        # pA adaptation current, (n,)
    refrac: Array   # ms of refractoriness remaining, (n,)
    spike: Array    # {0., 1.}, (n,)


@jax.jit
def _adex_rest(p: AdExParams):
    """Lower root of C dV/dt = 0 on the w-nullcline at zero input (Newton from E_L), else E_L."""
    def f(v):
        return (-(p.g_l + p.a) * (v - p.e_l)
                + p.g_l * p.delta_t * jnp.exp((jnp.minimum(v, p.v_peak) - p.v_t) / p.delta_t))

    def newton(_, v):
        fv, dfv = jax.jvp(f, (v,), (jnp.ones_like(v),))
        return v - fv / dfv

    e_l = jnp.broadcast_to(p.e_l, _param_shape(p)).astype(p.e_l.dtype)
    v = jax.lax.fori_loop(0, 20, newton, e_l)
    ok = jnp.isfinite(v) & (jnp.abs(f(v)) < 1e-6 * p.g_l * jnp.maximum(p.delta_t, 1.0)) & (v < p.v_t)
    return jnp.where(ok, v, e_l)


@dataclasses.dataclass(frozen=True)
class AdEx:
    r"""Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005).

    $$ C_m \frac{dV}{dt} = -g_L (V - E_L) + g_L \Delta_T\, e^{(V - V_T)/\Delta_T}
       - w + I + I_e + g_\mathrm{exc}(E_\mathrm{exc} - V) + g_\mathrm{inh}(E_\mathrm{inh} - V) $$
    $$ \tau_w \frac{dw}{dt} = a (V - E_L) - w $$
    $$ \text{if } V > V_\mathrm{peak}: \quad V \leftarrow V_\mathrm{reset}, \quad
       w \leftarrow w + b, \quad V \text{ held for } t_\mathrm{ref} $$

    The right-hand side is evaluated at $\min(V, V_\mathrm{peak})$ (NEST's ``aeif_cond_exp``
    does the same). This changes nothing below the cutoff and bounds the exponential by
    $e^{(V_\mathrm{peak} - V_T)/\Delta_T}$, so the step that crosses the cutoff can neither
    overflow nor inject a huge $a(V - E_L)$ into $w$ from an overshooting RK stage.
    Defaults are NEST's ``aeif_cond_exp``.

    | param   | symbol             | default | unit |
    |---------|--------------------|---------|------|
    | c_m     | $C_m$              | 281.0   | pF   |
    | g_l     | $g_L$              | 30.0    | nS   |
    | e_l     | $E_L$              | -70.6   | mV   |
    | v_t     | $V_T$              | -50.4   | mV   |
    | delta_t | $\Delta_T$         | 2.0     | mV   |
    | v_peak  | $V_\mathrm{peak}$  | 0.0     | mV   |
    | v_reset | $V_\mathrm{reset}$ | -60.0   | mV   |
    | a       | $a$                | 4.0     | nS   |
    | b       | $b$                | 80.5    | pA   |
    | tau_w   | $\tau_w$           | 144.0   | ms   |
    | t_ref   | $t_\mathrm{ref}$   | 0.0     | ms   |
    | e_exc   | $E_\mathrm{exc}$   | 0.0     | mV   |
    | e_inh   | $E_\mathrm{inh}$   | -85.0   | mV   |
    | i_e     | $I_e$              | 0.0     | pA   |

    State: ``v`` (mV), ``w`` (pA), ``refrac`` (ms remaining), ``spike`` (0/1).
    Receptors: ``i`` (pA), ``g_exc`` and ``g_inh`` (nS). External inputs feed ``i``.
    Init: the stable resting point for zero input (lower root of $dV/dt = 0$ with
    $w = a(V - E_L)$, found by Newton's method from $E_L$; $E_L$ if that fails).

    Integrator: classical RK4 on $(V, w)$ over each step with inputs held constant; while
    refractory $dV/dt = 0$ ($V$ stays at $V_\mathrm{reset}$) and $w$ keeps evolving. Fourth
    order below the cutoff (tested).

    Update order (pinned by a test): (1) RK4 step of $(V, w)$ (with $V$ frozen if
    refractory); (2) spike if $V > V_\mathrm{peak}$ and not refractory; (3) reset
    $V \leftarrow V_\mathrm{reset}$, $w \leftarrow w + b$ on spike; (4) refractory countdown as
    in :class:`LIF`.

    Args:
        spike_fn: surrogate spike function applied to $(V - V_\mathrm{peak}) /
            (V_\mathrm{peak} - V_\mathrm{reset})$ (normalised as in :class:`LIF`).
        detach_reset: if True the reset does not carry gradient through the spike.

    References:
        Brette & Gerstner (2005), *Adaptive exponential integrate-and-fire model as an
        effective description of neuronal activity*, J. Neurophysiol. 94(5).
        NEST ``aeif_cond_exp`` model documentation (default parameters).

    Examples:
        >>> import jax, jax.numpy as jnp, neurojax as nj
        >>> model, p = nj.AdEx(), nj.AdExParams.default()
        >>> s = model.init(p, n=1)
        >>> round(float(s.v[0]), 3)
        -70.6
        >>> drive = {"i": jnp.array([800.0]), "g_exc": jnp.zeros(1), "g_inh": jnp.zeros(1)}
        >>> step, n_spikes = jax.jit(model.step), 0
        >>> for _ in range(2000):   # 200 ms at dt = 0.1 ms
        ...     s = step(p, s, drive, 0.1)
        ...     n_spikes += int(s.spike[0])
        >>> n_spikes   # strongly adapting: 5 spikes in 200 ms
        5
    """

    spike_fn: object = SuperSpike()
    detach_reset: bool = False

    Params: ClassVar = AdExParams
    State: ClassVar = AdExState
    receptors: ClassVar = ("i", "g_exc", "g_inh")
    input_receptor: ClassVar = "i"
    signals: ClassVar = ("spike", "v", "w")

    def init(self, params: AdExParams, n: int) -> AdExState:
        v_rest = _adex_rest(params)
        v = jnp.broadcast_to(v_rest, (n,)).astype(v_rest.dtype)
        w = jnp.broadcast_to(params.a * (v_rest - params.e_l), (n,)).astype(v.dtype)
        zeros = jnp.zeros((n,), v.dtype)
        return AdExState(v=v, w=w, refrac=zeros, spike=zeros)

    def step(self, params: AdExParams, state: AdExState, drive, dt: float) -> AdExState:
        p = params
        refractory = _is_refractory(state.refrac, dt)
        i_ext = drive["i"] + p.i_e

        def f(y):
            v, w = y
            v = jnp.minimum(v, p.v_peak)
            dv = (-p.g_l * (v - p.e_l) + p.g_l * p.delta_t * jnp.exp((v - p.v_t) / p.delta_t)
                  - w + i_ext + _conductance_current(drive, p.e_exc, p.e_inh, v)) / p.c_m
            dw = (p.a * (v - p.e_l) - w) / p.tau_w
            return jnp.where(refractory, 0.0, dv), dw

        v, w = rk4(f, (state.v, state.w), dt)
        spike = self.spike_fn((v - p.v_peak) / (p.v_peak - p.v_reset)) * (1.0 - refractory)
        reset_gate = jax.lax.stop_gradient(spike) if self.detach_reset else spike
        v = (1.0 - reset_gate) * v + reset_gate * p.v_reset   # exact reset even after a large overshoot
        w = w + reset_gate * p.b
        return AdExState(v=v, w=w, refrac=_refractory_countdown(state.refrac, spike, p.t_ref, dt),
                         spike=spike)

    def validate(self, params: AdExParams, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "AdExParams", positive=("c_m", "g_l", "delta_t", "tau_w"),
                     nonnegative=("t_ref",), time_constants=("tau_w",), dt=dt,
                     allow_large_dt=allow_large_dt)
        _check_above(params, "v_peak", "v_reset", "AdExParams")
        if not allow_large_dt and (np.asarray(params.c_m) / np.asarray(params.g_l) < dt).any():
            raise ValueError(f"AdExParams.c_m / g_l (membrane time constant) is smaller than dt = {dt} "
                             "ms; reduce dt or build the Network with allow_large_dt=True")


# ---------------------------------------------------------------------------------------------
# Hodgkin–Huxley
# ---------------------------------------------------------------------------------------------

class HHParams(NamedTuple):
    c_m: Array      # pF   membrane capacitance
    g_na: Array     # nS   maximal sodium conductance
    g_k: Array      # nS   maximal potassium conductance
    g_l: Array      # nS   leak conductance
    e_na: Array     # mV   sodium reversal potential
    e_k: Array      # mV   potassium reversal potential
    e_l: Array      # mV   leak reversal potential
    v_th: Array     # mV   spike-detection threshold (upward crossing)
    e_exc: Array    # mV   reversal potential of receptor g_exc
    e_inh: Array    # mV   reversal potential of receptor g_inh
    i_e: Array      # pA   constant external current

    @classmethod
    def default(cls, **overrides) -> "HHParams":
        return make_default(cls, dict(c_m=1.0, g_na=120.0, g_k=36.0, g_l=0.3, e_na=50.0,
                                      e_k=-77.0, e_l=-54.387, v_th=0.0, e_exc=0.0, e_inh=-80.0,
                                      i_e=0.0), overrides)


class HHState(NamedTuple):
    v: Array        # mV, (n,)
    m: Array        # Na activation in [0, 1], (n,)
    h: Array        # Na inactivation in [0, 1], (n,)
    n: Array        # K activation in [0, 1], (n,)
    spike: Array    # {0., 1.}, (n,)


def _hh_rates(v):
    """Opening/closing rates (1/ms) of the classic squid-axon gates at ``v`` (mV), 6.3 °C."""
    alpha_m = _x_over_expm1(-(v + 40.0) / 10.0)           # = 0.1 (V+40) / (1 - e^{-(V+40)/10})
    beta_m = 4.0 * jnp.exp(-(v + 65.0) / 18.0)
    alpha_h = 0.07 * jnp.exp(-(v + 65.0) / 20.0)
    beta_h = 1.0 / (1.0 + jnp.exp(-(v + 35.0) / 10.0))
    alpha_n = 0.1 * _x_over_expm1(-(v + 55.0) / 10.0)     # = 0.01 (V+55) / (1 - e^{-(V+55)/10})
    beta_n = 0.125 * jnp.exp(-(v + 65.0) / 80.0)
    return (alpha_m, beta_m), (alpha_h, beta_h), (alpha_n, beta_n)


def _hh_steady_gates(v):
    return tuple(a / (a + b) for a, b in _hh_rates(v))


@jax.jit
def _hh_rest(p: HHParams):
    """Resting potential: root of the steady-state membrane current at zero input (Newton)."""
    def i_ion(v):
        m, h, k = _hh_steady_gates(v)
        return (p.g_na * m ** 3 * h * (v - p.e_na) + p.g_k * k ** 4 * (v - p.e_k)
                + p.g_l * (v - p.e_l))

    def newton(_, v):
        f, df = jax.jvp(i_ion, (v,), (jnp.ones_like(v),))
        return v - jnp.clip(f / df, -5.0, 5.0)

    v = jax.lax.fori_loop(0, 30, newton, jnp.full(_param_shape(p), -65.0, p.c_m.dtype))
    return (v,) + _hh_steady_gates(v)


@dataclasses.dataclass(frozen=True)
class HH:
    r"""Hodgkin–Huxley neuron (classic squid axon, resting potential near -65 mV).

    $$ C_m \frac{dV}{dt} = -\bar g_\mathrm{Na} m^3 h (V - E_\mathrm{Na})
       - \bar g_\mathrm{K} n^4 (V - E_\mathrm{K}) - g_L (V - E_L)
       + g_\mathrm{exc}(E_\mathrm{exc} - V) + g_\mathrm{inh}(E_\mathrm{inh} - V) + I + I_e $$
    $$ \frac{dx}{dt} = \alpha_x(V)(1 - x) - \beta_x(V)\, x, \qquad x \in \{m, h, n\} $$

    with (rates in 1/ms, $V$ in mV)
    $\alpha_m = \frac{0.1 (V + 40)}{1 - e^{-(V + 40)/10}}$, $\beta_m = 4 e^{-(V + 65)/18}$,
    $\alpha_h = 0.07 e^{-(V + 65)/20}$, $\beta_h = \frac{1}{1 + e^{-(V + 35)/10}}$,
    $\alpha_n = \frac{0.01 (V + 55)}{1 - e^{-(V + 55)/10}}$, $\beta_n = 0.125 e^{-(V + 65)/80}$
    (the removable singularities are evaluated smoothly).

    **Units.** The classic values are per unit area (µF/cm², mS/cm², µA/cm²). The defaults
    describe a 100 µm² patch (1e-6 cm²), for which pF, nS and pA carry the same numbers:
    $C_m = 1$ pF, $\bar g_\mathrm{Na} = 120$ nS, and a drive of 10 pA is the classic
    10 µA/cm². For a cell of area $A$ scale ``c_m``, ``g_na``, ``g_k``, ``g_l``, the input
    currents and the synaptic conductances by $A / 100\,\mu\mathrm{m}^2$; the voltage
    dynamics are unchanged.

    | param | symbol                 | default | unit |
    |-------|------------------------|---------|------|
    | c_m   | $C_m$                  | 1.0     | pF   |
    | g_na  | $\bar g_\mathrm{Na}$   | 120.0   | nS   |
    | g_k   | $\bar g_\mathrm{K}$    | 36.0    | nS   |
    | g_l   | $g_L$                  | 0.3     | nS   |
    | e_na  | $E_\mathrm{Na}$        | 50.0    | mV   |
    | e_k   | $E_\mathrm{K}$         | -77.0   | mV   |
    | e_l   | $E_L$                  | -54.387 | mV   |
    | v_th  | $V_\mathrm{th}$        | 0.0     | mV   |
    | e_exc | $E_\mathrm{exc}$       | 0.0     | mV   |
    | e_inh | $E_\mathrm{inh}$       | -80.0   | mV   |
    | i_e   | $I_e$                  | 0.0     | pA   |

    State: ``v`` (mV), gates ``m``, ``h``, ``n`` (dimensionless), ``spike`` (0/1).
    Receptors: ``i`` (pA), ``g_exc`` and ``g_inh`` (nS). External inputs feed ``i``.
    Init: the resting potential for zero input (root of the steady-state membrane current,
    Newton's method from $-65$ mV) with the gates at their steady states.

    Integrator: exponential midpoint (second-order Rush–Larsen). Every variable obeys
    $\dot x = -k_x(z)\,(x - x_\infty(z))$ with $z = (V, m, h, n)$ — for the gates
    $k = \alpha + \beta$, $x_\infty = \alpha / (\alpha + \beta)$; for $V$,
    $k = g_\mathrm{tot}/C_m$ and $V_\infty$ the conductance-weighted mean of the reversal
    potentials plus $(I + I_e)/g_\mathrm{tot}$. An exponential-Euler half step gives
    $z_{1/2}$, then $x \leftarrow x_\infty(z_{1/2}) + (x - x_\infty(z_{1/2}))\,
    e^{-k_x(z_{1/2}) \Delta t}$ for all four. Second order (tested), exact for frozen
    coefficients, gates stay in $[0, 1]$ and the rest state is preserved exactly.

    Update order: (1) integrate $(V, m, h, n)$; (2) spike on an upward crossing,
    ``spike = spike_fn(V_new - V_th) * [V_old < V_th]``. There is no reset and no
    refractory period (the dynamics do both). The crossing gate is a comparison (no
    gradient); the gradient flows through the surrogate and the smooth dynamics, which is
    what fitting needs.

    Args:
        spike_fn: surrogate spike function applied to $V - V_\mathrm{th}$ (mV; HH has no
            reset, so its spikes feed no loop inside the neuron).

    References:
        Hodgkin & Huxley (1952), J. Physiol. 117(4), 500–544.
        Dayan & Abbott (2001), *Theoretical Neuroscience*, ch. 5.6 (rates in this convention).
        Rush & Larsen (1978), IEEE Trans. Biomed. Eng. 25(4); Perego & Veneziani (2009),
        ETNA 35 (second-order variant).

    Examples:
        >>> import jax, jax.numpy as jnp, neurojax as nj
        >>> model, p = nj.HH(), nj.HHParams.default()
        >>> s = model.init(p, n=2)
        >>> round(float(s.v[0]), 2)
        -65.0
        >>> drive = {"i": jnp.array([0.0, 10.0]), "g_exc": jnp.zeros(2), "g_inh": jnp.zeros(2)}
        >>> step, counts = jax.jit(model.step), jnp.zeros(2)
        >>> for _ in range(2000):   # 50 ms at dt = 0.025 ms
        ...     s = step(p, s, drive, 0.025)
        ...     counts = counts + s.spike
        >>> counts.tolist()   # tonic firing at ~70 Hz under 10 µA/cm²
        [0.0, 4.0]
    """

    spike_fn: object = SuperSpike()

    Params: ClassVar = HHParams
    State: ClassVar = HHState
    receptors: ClassVar = ("i", "g_exc", "g_inh")
    input_receptor: ClassVar = "i"
    signals: ClassVar = ("spike", "v", "m", "h", "n")

    def init(self, params: HHParams, n: int) -> HHState:
        v, m, h, k = (jnp.broadcast_to(x, (n,)).astype(x.dtype) for x in _hh_rest(params))
        return HHState(v=v, m=m, h=h, n=k, spike=jnp.zeros((n,), v.dtype))

    def _coefficients(self, p, drive, v, m, h, n):
        """(rate k, target x_inf) for V, m, h, n at the state (v, m, h, n)."""
        g_na = p.g_na * m ** 3 * h
        g_k = p.g_k * n ** 4
        g_tot = g_na + g_k + p.g_l + drive["g_exc"] + drive["g_inh"]
        v_inf = (g_na * p.e_na + g_k * p.e_k + p.g_l * p.e_l + drive["g_exc"] * p.e_exc
                 + drive["g_inh"] * p.e_inh + drive["i"] + p.i_e) / g_tot
        out = [(g_tot / p.c_m, v_inf)]
        for a, b in _hh_rates(v):
            out.append((a + b, a / (a + b)))
        return out

    def step(self, params: HHParams, state: HHState, drive, dt: float) -> HHState:
        p = params
        z = (state.v, state.m, state.h, state.n)

        def advance(coeffs, tau):
            return tuple(x_inf + (x - x_inf) * jnp.exp(-k * tau) for x, (k, x_inf) in zip(z, coeffs))

        z_half = advance(self._coefficients(p, drive, *z), 0.5 * dt)
        v, m, h, n = advance(self._coefficients(p, drive, *z_half), dt)
        was_below = (state.v < p.v_th).astype(v.dtype)
        spike = self.spike_fn(v - p.v_th) * was_below
        return HHState(v=v, m=m, h=h, n=n, spike=spike)

    def validate(self, params: HHParams, n: int, dt: float, allow_large_dt: bool = False):
        del dt, allow_large_dt
        check_params(params, n, "HHParams", positive=("c_m",), nonnegative=("g_na", "g_k", "g_l"))


# ---------------------------------------------------------------------------------------------
# Rate units
# ---------------------------------------------------------------------------------------------

class LeakyTanhParams(NamedTuple):
    tau: Array      # ms   time constant (ESN leak rate = dt / tau)
    bias: Array     # 1    input bias inside the tanh

    @classmethod
    def default(cls, **overrides) -> "LeakyTanhParams":
        return make_default(cls, dict(tau=1.0, bias=0.0), overrides)


class LeakyTanhState(NamedTuple):
    r: Array        # dimensionless activity x, (n,)


@dataclasses.dataclass(frozen=True)
class LeakyTanh:
    r"""Leaky tanh rate unit: the neuron of a leaky echo-state network.

    $$ x \leftarrow x + \frac{\Delta t}{\tau}\left(-x + \tanh(I + b)\right)
       = (1 - \alpha)\,x + \alpha \tanh(I + b), \qquad \alpha = \Delta t / \tau $$

    the forward-Euler discretisation of $\tau\,\dot x = -x + \tanh(I + b)$. With
    $I = W x_{t-1} + W_\mathrm{in} u_t$ this is exactly the leaky ESN update (Jaeger 2007;
    reservoirpy's ``Reservoir``) with **leak rate** $\alpha = \Delta t / \tau$: choose
    ``tau = dt / lr`` (``tau = dt`` gives the plain ESN, $\alpha = 1$). Everything is
    dimensionless; $\tau \ge \Delta t$ keeps $\alpha \le 1$ (enforced by ``validate`` unless
    ``allow_large_dt``).

    | param | symbol | default | unit |
    |-------|--------|---------|------|
    | tau   | $\tau$ | 1.0     | ms   |
    | bias  | $b$    | 0.0     | 1    |

    State and signal: ``r`` $= x$ (dimensionless). Receptor: ``i`` (dimensionless; external
    inputs feed it). Init: $x = 0$ (the ESN convention; the resting state for zero input is
    $\tanh(b)$, which is 0 for the default $b = 0$).

    Update order: one Euler step as above (the only operation).

    References:
        Jaeger (2001), GMD Report 148 (echo state networks); Jaeger, Lukoševičius, Popovici &
        Siewert (2007), Neural Networks 20(3) (leaky-integrator ESNs).

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> unit, p = nj.LeakyTanh(), nj.LeakyTanhParams.default(tau=4.0)   # alpha = 0.25 at dt = 1
        >>> s = unit.step(p, unit.init(p, n=1), {"i": jnp.array([100.0])}, 1.0)
        >>> s.r.tolist()
        [0.25]
    """

    Params: ClassVar = LeakyTanhParams
    State: ClassVar = LeakyTanhState
    receptors: ClassVar = ("i",)
    input_receptor: ClassVar = "i"
    signals: ClassVar = ("r",)

    def init(self, params: LeakyTanhParams, n: int) -> LeakyTanhState:
        return LeakyTanhState(r=jnp.zeros((n,), params.tau.dtype))

    def step(self, params: LeakyTanhParams, state: LeakyTanhState, drive, dt: float):
        leak = dt / params.tau
        return LeakyTanhState(r=state.r + leak * (jnp.tanh(drive["i"] + params.bias) - state.r))

    def validate(self, params: LeakyTanhParams, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "LeakyTanhParams", positive=("tau",), time_constants=("tau",),
                     dt=dt, allow_large_dt=allow_large_dt)


class SigmoidRateParams(NamedTuple):
    c: Array        # 1    gain of the sigmoid (> 0)
    theta: Array    # 1    threshold (the adaptive shift theta_ip of the state adds to it)
    lam: Array      # 1    leak of v per step, in [0, 1] (0: v is this step's input)
    rho: Array      # 1    target rate of intrinsic plasticity, in (0, 1)
    eta_ip: Array   # 1    intrinsic-plasticity rate of the threshold per step (0 = off)

    @classmethod
    def default(cls, **overrides) -> "SigmoidRateParams":
        return make_default(cls, dict(c=10.0, theta=0.0, lam=0.0, rho=0.5, eta_ip=0.0),
                            overrides)


class SigmoidRateState(NamedTuple):
    v: Array         # 1  summed input ("membrane potential" of the rate unit), (n,)
    r: Array         # 1  firing probability in (0, 1), (n,)
    theta_ip: Array  # 1  learned threshold shift (intrinsic plasticity), (n,)


@dataclasses.dataclass(frozen=True)
class SigmoidRate:
    r"""Discrete-time sigmoid rate unit with optional intrinsic plasticity of its threshold.

    $$ v_t = \lambda\, v_{t-1} + I_t, \qquad
       r_t = \frac{1}{1 + e^{-c\,(v_t - \theta - \vartheta_{t-1})}}, \qquad
       \vartheta_t = \vartheta_{t-1} + \eta_\mathrm{ip}\,(r_t - \rho) $$

    With $I_t = \sum_j A^E_{ij} r_j(t-1) - \sum_j A^I_{ij} r_j(t-1) + W_\mathrm{in} u_t$ (a
    projection with ``source="r"``, the ``Instant`` synapse and ``delay_steps=1``) this is the
    reservoir unit of Srinivasan, Plenz & Girvan (2025), whose Eq. 1 has $\lambda = 0$,
    $c = 10$, $\theta = 0$. The map is one step per ``dt``; ``dt`` itself is not used, so
    $\lambda$ and $\eta_\mathrm{ip}$ are per step.

    Intrinsic plasticity ($\eta_\mathrm{ip} > 0$) moves the effective threshold
    $\theta + \vartheta$ up while the unit is above its target $\rho$ and down while below
    (Triesch 2005, threshold part only). Under a constant input $I$ the fixed point is
    $r = \rho$ with $\theta + \vartheta^* = v^* - \mathrm{logit}(\rho)/c$,
    $v^* = I / (1 - \lambda)$; it is stable for
    $0 < \eta_\mathrm{ip}\, c\, \rho(1 - \rho) < 2$.

    | param  | symbol               | default | unit |
    |--------|----------------------|---------|------|
    | c      | $c$                  | 10.0    | 1    |
    | theta  | $\theta$             | 0.0     | 1    |
    | lam    | $\lambda$            | 0.0     | 1    |
    | rho    | $\rho$               | 0.5     | 1    |
    | eta_ip | $\eta_\mathrm{ip}$   | 0.0     | 1    |

    State: ``v`` $= v$, ``r`` $= r$ (the signal; dimensionless, in $(0, 1)$), ``theta_ip``
    $= \vartheta$ (the learned shift; the threshold parameter itself stays in ``params`` so
    that gradients and ``vmap`` reach it). Receptor: ``i`` (dimensionless; external inputs
    feed it). Init: $v = 0$, $\vartheta = 0$, $r = \sigma(-c\,\theta)$ (the zero-input output,
    a fixed point when $\eta_\mathrm{ip} = 0$).

    Update order: (1) $v$; (2) $r$ with the threshold of the previous step; (3) $\vartheta$.

    References:
        Srinivasan, Plenz & Girvan (2025), *Boosting reservoir computing with brain-inspired
        adaptive dynamics*, arXiv:2504.12480. Triesch (2005), ICANN, LNCS 3696 (intrinsic
        plasticity).

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> unit, p = nj.SigmoidRate(), nj.SigmoidRateParams.default()   # c = 10, theta = 0
        >>> s = unit.step(p, unit.init(p, n=2), {"i": jnp.array([0.0, 0.1])}, 1.0)
        >>> [round(x, 6) for x in s.r.tolist()]                          # sigma(10 * 0.1)
        [0.5, 0.731059]
    """

    Params: ClassVar = SigmoidRateParams
    State: ClassVar = SigmoidRateState
    receptors: ClassVar = ("i",)
    input_receptor: ClassVar = "i"
    signals: ClassVar = ("r",)

    def init(self, params: SigmoidRateParams, n: int) -> SigmoidRateState:
        r = jnp.broadcast_to(jax.nn.sigmoid(-params.c * params.theta), (n,)).astype(params.c.dtype)
        zeros = jnp.zeros((n,), r.dtype)
        return SigmoidRateState(v=zeros, r=r, theta_ip=zeros)

    def step(self, params: SigmoidRateParams, state: SigmoidRateState, drive, dt: float):
        del dt
        p = params
        v = p.lam * state.v + drive["i"]
        r = jax.nn.sigmoid(p.c * (v - p.theta - state.theta_ip))
        return SigmoidRateState(v=v, r=r, theta_ip=state.theta_ip + p.eta_ip * (r - p.rho))

    def validate(self, params: SigmoidRateParams, n: int, dt: float, allow_large_dt: bool = False):
        del dt, allow_large_dt
        check_params(params, n, "SigmoidRateParams", positive=("c",),
                     nonnegative=("lam", "eta_ip"))
        if (np.asarray(params.lam) > 1).any():
            raise ValueError(f"SigmoidRateParams.lam must be in [0, 1], got max "
                             f"{np.asarray(params.lam).max()}")
        rho = np.asarray(params.rho)
        if not ((rho > 0) & (rho < 1)).all():
            raise ValueError(f"SigmoidRateParams.rho must be in (0, 1), got values in "
                             f"[{rho.min()}, {rho.max()}]")


class ClippedLinearParams(NamedTuple):
    bias: Array     # 1    input bias

    @classmethod
    def default(cls, **overrides) -> "ClippedLinearParams":
        return make_default(cls, dict(bias=0.0), overrides)


class ClippedLinearState(NamedTuple):
    r: Array        # dimensionless graded output in [0, 1], (n,)


@dataclasses.dataclass(frozen=True)
class ClippedLinear:
    r"""Memoryless graded unit of NCAP: $r = \mathrm{clip}(I + b, 0, 1)$.

    The output follows the input within the same step; there is no time constant and no
    state beyond the last output. The gradient is 1 inside $(0, 1)$ and 0 where the unit is
    silent or saturated (NCAP relies on this: a weight pushed past the clip goes silent).

    | param | symbol | default | unit |
    |-------|--------|---------|------|
    | bias  | $b$    | 0.0     | 1    |

    State and signal: ``r`` (dimensionless, in $[0, 1]$). Receptor: ``i`` (dimensionless;
    external inputs feed it). Init: the zero-input output $\mathrm{clip}(b, 0, 1)$.

    Update order: $r \leftarrow \mathrm{clip}(I + b, 0, 1)$ (``dt`` is ignored).

    References:
        Bhattasali, Zador & Engel (2022), *Neural circuit architectural priors for embodied
        control* (NCAP), NeurIPS 35.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> unit, p = nj.ClippedLinear(), nj.ClippedLinearParams.default()
        >>> s = unit.step(p, unit.init(p, n=3), {"i": jnp.array([-0.5, 0.25, 2.0])}, 1.0)
        >>> s.r.tolist()
        [0.0, 0.25, 1.0]
    """

    Params: ClassVar = ClippedLinearParams
    State: ClassVar = ClippedLinearState
    receptors: ClassVar = ("i",)
    input_receptor: ClassVar = "i"
    signals: ClassVar = ("r",)

    def init(self, params: ClippedLinearParams, n: int) -> ClippedLinearState:
        bias = params.bias
        return ClippedLinearState(r=jnp.broadcast_to(jnp.clip(bias, 0.0, 1.0), (n,)).astype(bias.dtype))

    def step(self, params: ClippedLinearParams, state: ClippedLinearState, drive, dt: float):
        del state, dt
        return ClippedLinearState(r=jnp.clip(drive["i"] + params.bias, 0.0, 1.0))

    def validate(self, params: ClippedLinearParams, n: int, dt: float, allow_large_dt: bool = False):
        del dt, allow_large_dt
        check_params(params, n, "ClippedLinearParams")


ALL_NEURONS = (LIF(), ALIF(), Izhikevich(), AdEx(), HH(), LeakyTanh(), ClippedLinear(),
               DiscreteLIF(), Leaky(), SigmoidRate())
"""One default instance of every neuron model (``SpikeSource`` excluded), for tests."""
