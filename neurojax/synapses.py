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
import numpy as np

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
        return ExponentialState(g=jnp.zeros((n,), jnp.result_type(params.tau)))

    def step(self, params: ExponentialParams, state: ExponentialState, x: Array, dt: float):
        return ExponentialState(g=state.g * jnp.exp(-dt / params.tau) + x)

    def output(self, params: ExponentialParams, state: ExponentialState) -> Array:
        del params
        return state.g

    def validate(self, params, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "ExponentialParams", positive=("tau",), time_constants=("tau",),
                     dt=dt, allow_large_dt=allow_large_dt)


def _dual_exp_norm(tau_rise, tau_decay):
    r"""Peak normalisation $A = 1/(e^{-t_p/\tau_d} - e^{-t_p/\tau_r})$ and peak time $t_p$."""
    t_peak = tau_rise * tau_decay / (tau_decay - tau_rise) * jnp.log(tau_decay / tau_rise)
    return 1.0 / (jnp.exp(-t_peak / tau_decay) - jnp.exp(-t_peak / tau_rise)), t_peak


class DualExponentialParams(NamedTuple):
    tau_rise: Array   # ms  rise time constant (< tau_decay)
    tau_decay: Array  # ms  decay time constant

    @classmethod
    def default(cls, **overrides) -> "DualExponentialParams":
        return make_default(cls, dict(tau_rise=1.0, tau_decay=10.0), overrides)


class DualExponentialState(NamedTuple):
    d: Array  # output units (pA or nS), (n_post,)  decaying component (tau_decay), unnormalised
    r: Array  # output units (pA or nS), (n_post,)  rising component (tau_rise), unnormalised


@dataclasses.dataclass(frozen=True)
class DualExponential:
    r"""Difference-of-exponentials ("beta") synapse, normalised to a peak of exactly ``w``.

    A single event of weight $w$ at $t = 0$ produces

    $$ g(t) = w\, A \left(e^{-t/\tau_d} - e^{-t/\tau_r}\right), \qquad
       A = \frac{1}{e^{-t_p/\tau_d} - e^{-t_p/\tau_r}}, \qquad
       t_p = \frac{\tau_r \tau_d}{\tau_d - \tau_r} \ln\frac{\tau_d}{\tau_r}, $$

    which rises from 0, peaks at $t_p$ with $g(t_p) = w$ and decays with $\tau_d$. Events
    superpose linearly. The state holds the two exponentials separately,
    $d$ (time constant $\tau_d$) and $r$ (time constant $\tau_r$); each is integrated exactly,
    so the solution is exact at the step boundaries for events arriving on them:

    $$ d \leftarrow d\, e^{-\Delta t/\tau_d} + x, \qquad r \leftarrow r\, e^{-\Delta t/\tau_r} + x,
       \qquad g = A\,(d - r). $$

    | param     | symbol     | default | unit |
    |-----------|------------|---------|------|
    | tau_rise  | $\tau_r$   | 1.0     | ms   |
    | tau_decay | $\tau_d$   | 10.0    | ms   |

    Requires $\tau_r < \tau_d$ (use :class:`Alpha` for the equal-time-constant limit).

    State: ``d``, ``r`` (output units, unnormalised). Update order: decay both components over
    the step, then add the arriving input ``x``; the output at the step an event arrives is
    therefore $g(0) = 0$, and $k$ steps later it is $g(k\,\Delta t)$ above.

    Normalisation: peak $= w$ (as NEST's beta-function synapses), so ``w`` keeps the meaning
    "peak current (pA) / peak conductance (nS)" whatever the time constants. (BrainPy's
    ``DualExponential`` uses a different, area-related factor.)

    Defaults as BrainPy's ``DualExponential`` (``tau_rise=1``, ``tau_decay=10`` ms).

    References:
        Roth & van Rossum (2009), "Modeling synapses", in *Computational Modeling Methods for
        Neuroscientists*, MIT Press, ch. 6.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> syn = nj.DualExponential()
        >>> p = nj.DualExponentialParams.default(tau_rise=1.0, tau_decay=10.0)
        >>> s = syn.step(p, syn.init(p, 1), jnp.array([2.0]), 0.1)   # event of weight 2
        >>> float(syn.output(p, s)[0])                                # g(0) = 0
        0.0
        >>> t_peak = 10.0 / 9.0 * float(jnp.log(10.0))              # one exact step to the peak
        >>> round(float(syn.output(p, syn.step(p, s, jnp.zeros(1), t_peak))[0]), 4)
        2.0
    """

    Params: ClassVar = DualExponentialParams
    State: ClassVar = DualExponentialState

    def init(self, params: DualExponentialParams, n: int) -> DualExponentialState:
        zeros = jnp.zeros((n,), jnp.result_type(params.tau_decay))
        return DualExponentialState(d=zeros, r=zeros)

    def step(self, params: DualExponentialParams, state: DualExponentialState, x: Array,
             dt: float) -> DualExponentialState:
        return DualExponentialState(d=state.d * jnp.exp(-dt / params.tau_decay) + x,
                                    r=state.r * jnp.exp(-dt / params.tau_rise) + x)

    def output(self, params: DualExponentialParams, state: DualExponentialState) -> Array:
        norm, _ = _dual_exp_norm(params.tau_rise, params.tau_decay)
        return norm * (state.d - state.r)

    def validate(self, params, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "DualExponentialParams", positive=("tau_rise", "tau_decay"),
                     time_constants=("tau_rise", "tau_decay"), dt=dt,
                     allow_large_dt=allow_large_dt)
        rise, decay = np.asarray(params.tau_rise), np.asarray(params.tau_decay)
        if not (rise < decay).all():
            raise ValueError("DualExponentialParams.tau_rise must be < tau_decay (got tau_rise "
                             f"{rise.max()}, tau_decay {decay.min()}); use Alpha for equal "
                             "time constants")


class InstantParams(NamedTuple):
    @classmethod
    def default(cls) -> "InstantParams":
        return cls()


class InstantState(NamedTuple):
    g: Array  # output units, (n_post,)  this step's summed input


@dataclasses.dataclass(frozen=True)
class Instant:
    r"""No synaptic dynamics: the summed weighted input of a step is the output of that step.

    $g_t = x_t$. Use it when the presynaptic signal is already a continuous quantity (rate
    units, an align-pre kernel, astrocyte calcium) or when the postsynaptic model integrates
    its input itself (a spike count driving an astrocyte integrator).

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> syn = nj.Instant()
        >>> p = syn.Params.default()
        >>> syn.output(p, syn.step(p, syn.init(p, 2), jnp.array([3.0, 0.0]), 0.1)).tolist()
        [3.0, 0.0]
    """

    Params: ClassVar = InstantParams
    State: ClassVar = InstantState

    def init(self, params: InstantParams, n: int) -> InstantState:
        del params
        return InstantState(g=jnp.zeros((n,), jnp.result_type(float)))

    def step(self, params: InstantParams, state: InstantState, x: Array, dt: float):
        del params, state, dt
        return InstantState(g=x)

    def output(self, params: InstantParams, state: InstantState) -> Array:
        del params
        return state.g

    def validate(self, params, n: int, dt: float, allow_large_dt: bool = False):
        del params, n, dt, allow_large_dt


class AlphaParams(NamedTuple):
    tau: Array  # ms  time constant (time to peak)

    @classmethod
    def default(cls, **overrides) -> "AlphaParams":
        return make_default(cls, dict(tau=2.0), overrides)


class AlphaState(NamedTuple):
    g: Array  # output units (pA or nS), (n_post,)  the alpha-shaped output
    h: Array  # output units (pA or nS), (n_post,)  auxiliary exponential (input stage)


@dataclasses.dataclass(frozen=True)
class Alpha:
    r"""Alpha-function synapse, normalised to a peak of exactly ``w`` at $t = \tau$.

    A single event of weight $w$ at $t = 0$ produces

    $$ g(t) = w\, \frac{t}{\tau}\, e^{1 - t/\tau}, $$

    the $\tau_r \to \tau_d$ limit of :class:`DualExponential`. It is the solution of the linear
    system $\tau\,\dot h = -h$ (with $h$ jumping by $w$ at each event) and
    $\tau\,\dot g = -g + e\,h$, integrated exactly with $E = e^{-\Delta t/\tau}$:

    $$ g \leftarrow \left(g + e\,\tfrac{\Delta t}{\tau}\, h\right) E, \qquad
       h \leftarrow h\,E + x. $$

    | param | symbol | default | unit |
    |-------|--------|---------|------|
    | tau   | $\tau$ | 2.0     | ms   |

    State: ``g`` (the output) and ``h`` (auxiliary), both in output units. Update order: both
    decay over the step (``g`` using the old ``h``), then the arriving input ``x`` is added to
    ``h``; so the output is $g(0) = 0$ at the step an event arrives and $g(k\,\Delta t)$ $k$
    steps later. Events superpose linearly.

    Normalisation: peak $= w$, as NEST's ``iaf_psc_alpha`` (whose default
    $\tau_\mathrm{syn} = 2$ ms is used here).

    References:
        Rall (1967), J. Neurophysiol. 30; Rotter & Diesmann (1999), Biol. Cybern. 81 (exact
        integration of the alpha synapse).

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> syn, p = nj.Alpha(), nj.AlphaParams.default(tau=2.0)
        >>> s = syn.step(p, syn.init(p, 1), jnp.array([3.0]), 0.1)   # event of weight 3
        >>> for _ in range(20):                                       # 20 * 0.1 ms = tau
        ...     s = syn.step(p, s, jnp.zeros(1), 0.1)
        >>> round(float(syn.output(p, s)[0]), 4)                     # peak = w at t = tau
        3.0
    """

    Params: ClassVar = AlphaParams
    State: ClassVar = AlphaState

    def init(self, params: AlphaParams, n: int) -> AlphaState:
        zeros = jnp.zeros((n,), jnp.result_type(params.tau))
        return AlphaState(g=zeros, h=zeros)

    def step(self, params: AlphaParams, state: AlphaState, x: Array, dt: float) -> AlphaState:
        decay = jnp.exp(-dt / params.tau)
        g = (state.g + (np.e * dt / params.tau) * state.h) * decay
        return AlphaState(g=g, h=state.h * decay + x)

    def output(self, params: AlphaParams, state: AlphaState) -> Array:
        del params
        return state.g

    def validate(self, params, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "AlphaParams", positive=("tau",), time_constants=("tau",),
                     dt=dt, allow_large_dt=allow_large_dt)


# ---------------------------------------------------------------------------------------------
# Short-term plasticity (align-pre: one state per presynaptic neuron)
# ---------------------------------------------------------------------------------------------


class TsodyksMarkramParams(NamedTuple):
    U: Array      # 1   utilisation increment per spike (release probability from rest), (0, 1]
    tau_f: Array  # ms  facilitation time constant (u relaxes to 0); 0 switches facilitation off
    tau_d: Array  # ms  depression (recovery) time constant (x relaxes to 1)

    @classmethod
    def default(cls, **overrides) -> "TsodyksMarkramParams":
        """The depressing set (same as :meth:`depressing`)."""
        return cls.depressing(**overrides)

    @classmethod
    def depressing(cls, **overrides) -> "TsodyksMarkramParams":
        """Depressing synapse: $U = 0.5$, $\\tau_d = 800$ ms, no facilitation
        (Tsodyks & Markram 1997; NEST ``tsodyks2_synapse`` defaults)."""
        return make_default(cls, dict(U=0.5, tau_f=0.0, tau_d=800.0), overrides)

    @classmethod
    def facilitating(cls, **overrides) -> "TsodyksMarkramParams":
        """Facilitating synapse: $U = 0.03$, $\\tau_f = 530$ ms, $\\tau_d = 130$ ms
        (Tsodyks, Pawelzik & Markram 1998, Fig. 1, pyramidal -> interneuron)."""
        return make_default(cls, dict(U=0.03, tau_f=530.0, tau_d=130.0), overrides)


class TsodyksMarkramState(NamedTuple):
    u: Array  # 1  utilisation just after the last step (after the jump if it spiked), (n_pre,)
    x: Array  # 1  available resources just after the last step (after release), (n_pre,)


@dataclasses.dataclass(frozen=True)
class TsodyksMarkram:
    r"""Tsodyks–Markram short-term plasticity (depression and facilitation), per presynaptic neuron.

    Used through ``Projection(stp=nj.TsodyksMarkram())``: each presynaptic spike is scaled by
    its efficacy before entering the delay line, so every synapse of a presynaptic neuron sees
    the same efficacy (align-pre; exact because $u$, $x$ depend only on the presynaptic train).

    $$ \frac{du}{dt} = -\frac{u}{\tau_f} + U\,(1 - u^-)\,\delta(t - t_\mathrm{sp}), \qquad
       \frac{dx}{dt} = \frac{1 - x}{\tau_d} - u^+ x^-\,\delta(t - t_\mathrm{sp}). $$

    Per step of $\Delta t$ with presynaptic spike $s \in \{0, 1\}$ (update order):

    1. exact recovery over the step:
       $u^- = u\,e^{-\Delta t/\tau_f}$, $\;x^- = 1 + (x - 1)\,e^{-\Delta t/\tau_d}$
       ($e^{-\Delta t/\tau_f} := 0$ when $\tau_f = 0$: no facilitation, $u^+ = U$ at every spike);
    2. facilitation jump first: $u^+ = u^- + s\,U\,(1 - u^-)$;
    3. release: efficacy $r = u^+ x^-$, then $x^+ = x^- - s\,r$;
    4. transmitted signal $= s\,r$ (absolute) or $s\,r/U$ (``relative=True``).

    From rest ($u = 0$, $x = 1$) the first spike has $r = U$. For a regular train with interval
    $\Delta$ the efficacies converge to
    $u^+_\infty = U / (1 - (1 - U)e^{-\Delta/\tau_f})$ and
    $x^-_\infty = (1 - e^{-\Delta/\tau_d}) / (1 - (1 - u^+_\infty)e^{-\Delta/\tau_d})$.

    **Normalisation.** By default (``relative=False``) the signal is the absolute released
    fraction $u^+x^-$, so a synapse of weight $w$ transmits $U w$ on a first spike from rest
    (the convention of NEST's ``tsodyks2_synapse``, Brian2 and BrainPy: $w$ plays the role of
    the absolute strength $A_\mathrm{SE}$). With ``relative=True`` the signal is divided by
    $U$, so a first spike from rest transmits exactly $w$ and $w$ keeps the meaning it has
    without STP.

    | param | symbol   | default (depressing) | facilitating | unit |
    |-------|----------|----------------------|--------------|------|
    | U     | $U$      | 0.5                  | 0.03         | 1    |
    | tau_f | $\tau_f$ | 0.0 (off)            | 530.0        | ms   |
    | tau_d | $\tau_d$ | 800.0                | 130.0        | ms   |

    (:meth:`TsodyksMarkramParams.depressing` / :meth:`TsodyksMarkramParams.facilitating`.)

    State: ``u`` (utilisation), ``x`` (available resources), both dimensionless, at rest
    $u = 0$, $x = 1$. (BrainPy's ``STP`` starts ``u`` at $U$ instead, and simulators differ
    in the initial ``u`` and in whether the efficacy is read before or after the jump of
    ``u``; compare first-spike efficacies before a parity test.)

    References:
        Tsodyks & Markram (1997), PNAS 94(2):719–723.
        Tsodyks, Pawelzik & Markram (1998), Neural Comput. 10:821–835.
        Markram, Wang & Tsodyks (1998), PNAS 95(9):5323–5328.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> stp = nj.TsodyksMarkram()
        >>> p = nj.TsodyksMarkramParams.depressing()          # U = 0.5, tau_d = 800 ms
        >>> s = stp.init(p, 1)
        >>> s, r1 = stp.step(p, s, jnp.array([1.0]), 1.0)      # first spike from rest
        >>> s, r2 = stp.step(p, s, jnp.array([1.0]), 1.0)      # 1 ms later: depressed
        >>> float(r1[0]), round(float(r2[0]), 6)
        (0.5, 0.250312)
    """

    relative: bool = False

    Params: ClassVar = TsodyksMarkramParams
    State: ClassVar = TsodyksMarkramState

    def init(self, params: TsodyksMarkramParams, n: int) -> TsodyksMarkramState:
        dtype = jnp.result_type(params.U)
        return TsodyksMarkramState(u=jnp.zeros((n,), dtype), x=jnp.ones((n,), dtype))

    def step(self, params: TsodyksMarkramParams, state: TsodyksMarkramState, spike: Array,
             dt: float):
        """One step; returns ``(state, signal)`` with ``signal = spike * efficacy``."""
        p = params
        on = p.tau_f > 0
        decay_f = jnp.where(on, jnp.exp(-dt / jnp.where(on, p.tau_f, 1.0)), 0.0)
        u_minus = state.u * decay_f
        x_minus = 1.0 + (state.x - 1.0) * jnp.exp(-dt / p.tau_d)
        u = u_minus + spike * p.U * (1.0 - u_minus)
        efficacy = u * x_minus
        x = x_minus - spike * efficacy
        signal = spike * (efficacy / p.U if self.relative else efficacy)
        return TsodyksMarkramState(u=u, x=x), signal

    def validate(self, params, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "TsodyksMarkramParams", positive=("U", "tau_d"),
                     nonnegative=("tau_f",), time_constants=("tau_d",), dt=dt,
                     allow_large_dt=allow_large_dt)
        U, tau_f = np.asarray(params.U), np.asarray(params.tau_f)
        if not (U <= 1).all():
            raise ValueError(f"TsodyksMarkramParams.U must lie in (0, 1], got max {U.max()}")
        if not allow_large_dt and ((tau_f > 0) & (tau_f < dt)).any():
            raise ValueError(
                f"TsodyksMarkramParams.tau_f = {tau_f[(tau_f > 0) & (tau_f < dt)].min()} ms is "
                f"smaller than dt = {dt} ms (use 0 to switch facilitation off); reduce dt or "
                "build the Network with allow_large_dt=True")


class ResetKernelParams(NamedTuple):
    tau_u: Array      # ms  kernel time constant
    delta0: Array     # ms  time since the last spike at the start of a run (NALSM: 20)
    delta_max: Array  # ms  the time since the last spike is clipped to this (NALSM: 100)

    @classmethod
    def default(cls, **overrides) -> "ResetKernelParams":
        return make_default(cls, dict(tau_u=1.0, delta0=20.0, delta_max=100.0), overrides)


class ResetKernelState(NamedTuple):
    delta: Array  # ms  time since the last spike at the most recent step, (n_pre,)


@dataclasses.dataclass(frozen=True)
class ResetKernel:
    r"""NALSM's "reset, not sum" synaptic kernel, per presynaptic neuron (align-pre).

    Each presynaptic neuron $j$ transmits, *every* step, the exponential kernel of the time
    $\Delta_j$ since its **last** spike (earlier spikes are forgotten, unlike a summed
    exponential synapse):

    $$ g_j = \frac{e^{-\Delta_j/\tau_u}}{\tau_u}, \qquad \Delta_j \leftarrow 0
       \text{ on a spike}, \qquad \Delta_j \le \Delta_\max . $$

    Use it as ``Projection(..., stp=nj.ResetKernel(), synapse=nj.Instant())``: the post
    neuron then receives $\sum_j W_{ij} g_j$ every step, and with :class:`~neurojax.DiscreteLIF`
    at $\Delta t = \tau_u = 1$ ms a spike of weight $W$ adds $W, W e^{-1}, W e^{-2}, \dots$ to
    the membrane on consecutive steps.

    Per step of $\Delta t$ with spike $s \in \{0, 1\}$ (update order):
    (1) $\Delta \leftarrow \min(\Delta + \Delta t, \Delta_\max)$; (2) $\Delta \leftarrow
    \Delta\,(1 - s)$; (3) signal $g = e^{-\Delta/\tau_u}/\tau_u$ (1/ms), independent of $s$.

    $\Delta$ starts at $\Delta_0$, the value the reference loop (spec nalsm_astro.md §1.4)
    uses at its step 0, so the signal emitted at step $n$ is the reference's kernel at
    step $n + 1$ (its integration of step $n+1$ happens in neurojax's step $n + 1$, one step
    of delay later). The delay line starts empty: the reference's background input of step 0,
    $W e^{-\Delta_0/\tau_u}/\tau_u$ ($\approx 2\cdot10^{-9} W$ for $\Delta_0 = 20$), is missing
    unless the buffer is filled with :meth:`initial_signal`.

    | param     | symbol         | default | unit |
    |-----------|----------------|---------|------|
    | tau_u     | $\tau_u$       | 1.0     | ms   |
    | delta0    | $\Delta_0$     | 20.0    | ms   |
    | delta_max | $\Delta_\max$  | 100.0   | ms   |

    State: ``delta`` (ms), one per presynaptic neuron.

    References:
        Ivanov & Michmizos (2021), NeurIPS 34 (NALSM); spec nalsm_astro.md §1.4.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> k = nj.ResetKernel()
        >>> p = k.Params.default()
        >>> s, g0 = k.step(p, k.init(p, 1), jnp.array([1.0]), 1.0)   # spike
        >>> s, g1 = k.step(p, s, jnp.array([0.0]), 1.0)
        >>> float(g0[0]), round(float(g1[0]), 6)                    # 1/tau_u, e^-1/tau_u
        (1.0, 0.367879)
    """

    Params: ClassVar = ResetKernelParams
    State: ClassVar = ResetKernelState

    def init(self, params: ResetKernelParams, n: int) -> ResetKernelState:
        return ResetKernelState(delta=jnp.broadcast_to(params.delta0, (n,)).astype(
            jnp.result_type(params.delta0)))

    def step(self, params: ResetKernelParams, state: ResetKernelState, spike: Array, dt: float):
        """One step; returns ``(state, signal)``, ``signal`` the kernel value (1/ms) of every neuron."""
        p = params
        delta = jnp.minimum(state.delta + dt, p.delta_max) * (1.0 - spike)
        return ResetKernelState(delta=delta), jnp.exp(-delta / p.tau_u) / p.tau_u

    def initial_signal(self, params: ResetKernelParams, n: int) -> Array:
        """The reference's kernel at step 0, $e^{-\\Delta_0/\\tau_u}/\\tau_u$, ``(n,)``: write it
        into ``state.projs[name].buffer`` to reproduce the reference's first step exactly."""
        return jnp.broadcast_to(jnp.exp(-params.delta0 / params.tau_u) / params.tau_u, (n,))

    def validate(self, params, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "ResetKernelParams", positive=("tau_u", "delta_max"),
                     nonnegative=("delta0",), time_constants=("tau_u",), dt=dt,
                     allow_large_dt=allow_large_dt)
