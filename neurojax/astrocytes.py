r"""Astrocytes and neuromodulators: populations that expose continuous signals, not spikes.

They are ordinary population models (``Params``, ``State``, ``init``, ``step``), so their
coupling to neurons and synapses is explicit wiring through projections:

* neuron -> astrocyte: ``Projection(pre="E", post="astro", source="spike", receptor=...)``;
* astrocyte -> neuron: ``Projection(pre="astro", post="E", source="sic", receptor="i")``;
* astrocyte -> synapse: ``Projection(..., gate=("astro", field))`` modulates release;
* astrocyte / modulator -> plasticity: ``Projection(..., modulators=("astro",))`` and the rule
  reads ``ctx.modulator("astro", field)``.

Every coupling passes a delay line (>= 1 step), as between neurons.
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


class LeakyIntegratorAstrocyteParams(NamedTuple):
    tau: Array     # ms  integration time constant tau_A
    w: Array       # 1   gain on the summed signed spike count (w_A)
    b: Array       # 1   bias (b_A); the fixed point for zero drive
    a0: Array      # 1   initial state A_0
    decay: Array   # 1   per-ms multiplicative decay of A, w and b (1 = none; NALSM in-sample 0.99)

    @classmethod
    def default(cls, **overrides) -> "LeakyIntegratorAstrocyteParams":
        return make_default(cls, dict(tau=100.0, w=0.015, b=0.15, a0=0.15, decay=1.0), overrides)


class LeakyIntegratorAstrocyteState(NamedTuple):
    a: Array       # 1  astrocyte state A, (n,)
    gain: Array    # 1  accumulated decay applied to w and b, (n,) (starts at 1)


@dataclasses.dataclass(frozen=True)
class LeakyIntegratorAstrocyte:
    r"""Global leaky-integrator astrocyte of the neuron–astrocyte liquid state machine (NALSM).

    Integrates the signed spike count $D_t$ that its projections deliver (e.g. weight $+1$
    from every liquid neuron, $-1$ from every input neuron) and relaxes towards
    $w D + b$:

    $$ A \leftarrow \gamma \left[ A + \frac{\Delta t}{\tau}\,(g w D_t + g b - A) \right],
       \qquad g \leftarrow \gamma\, g, \qquad \gamma = \mathrm{decay}^{\Delta t / 1\,\mathrm{ms}} $$

    With ``decay = 1`` this is Ivanov & Michmizos' rule $A \leftarrow A + (w_A D + b_A - A)/\tau_A$
    (at $\Delta t = 1$ ms), whose fixed point for a constant $D$ is $A^* = w_A D + b_A$. With
    ``decay = 0.99`` it also applies their in-sample fading: after each update $A$, $w_A$
    and $b_A$ are multiplied by 0.99 per ms ($g$ carries the factor for $w$ and $b$).
    NALSM feeds $A$ to STDP as its depression rate (``ctx.modulator("astro", "a")``).

    | param | symbol     | default | unit |
    |-------|------------|---------|------|
    | tau   | $\tau_A$   | 100.0   | ms   |
    | w     | $w_A$      | 0.015   | 1    |
    | b     | $b_A$      | 0.15    | 1    |
    | a0    | $A_0$      | 0.15    | 1    |
    | decay | —          | 1.0     | 1 per ms |

    State: ``a`` (the signal), ``gain``. Receptor and input: ``"drive"`` (signed spike count
    this step; use the :class:`~neurojax.Instant` synapse so counts are not filtered).
    Update order: integrate, then decay.

    References:
        Ivanov & Michmizos (2021), "Increasing liquid state machine performance with
        edge-of-chaos dynamics organized by astrocyte-modulated plasticity", NeurIPS 34.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> astro = nj.LeakyIntegratorAstrocyte()
        >>> p = astro.Params.default(w=0.01, b=0.15, tau=100.0)
        >>> s = astro.init(p, 1)
        >>> for _ in range(2000):                   # constant drive D = 5 spikes per step
        ...     s = astro.step(p, s, {"drive": jnp.array([5.0])}, 1.0)
        >>> round(float(s.a[0]), 6)                 # fixed point w * D + b
        0.2
    """

    Params: ClassVar = LeakyIntegratorAstrocyteParams
    State: ClassVar = LeakyIntegratorAstrocyteState
    receptors: ClassVar = ("drive",)
    input_receptor: ClassVar = "drive"
    signals: ClassVar = ("a",)

    def init(self, params: LeakyIntegratorAstrocyteParams, n: int) -> LeakyIntegratorAstrocyteState:
        a = jnp.broadcast_to(params.a0, (n,))
        return LeakyIntegratorAstrocyteState(a=a, gain=jnp.ones_like(a))

    def step(self, params: LeakyIntegratorAstrocyteParams, state: LeakyIntegratorAstrocyteState,
             drive, dt: float) -> LeakyIntegratorAstrocyteState:
        p, g = params, state.gain
        a = state.a + (dt / p.tau) * (g * p.w * drive["drive"] + g * p.b - state.a)
        gamma = p.decay ** dt
        return LeakyIntegratorAstrocyteState(a=gamma * a, gain=gamma * g)

    def validate(self, params, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "LeakyIntegratorAstrocyteParams", positive=("tau",),
                     nonnegative=("decay",), time_constants=("tau",), dt=dt,
                     allow_large_dt=allow_large_dt)
        if not (np.asarray(params.decay) <= 1).all():
            raise ValueError("LeakyIntegratorAstrocyteParams.decay must lie in [0, 1]")


class NeuromodulatorParams(NamedTuple):
    tau: Array     # ms  decay time constant of the modulator concentration

    @classmethod
    def default(cls, **overrides) -> "NeuromodulatorParams":
        return make_default(cls, dict(tau=200.0), overrides)


class NeuromodulatorState(NamedTuple):
    d: Array       # 1  modulator concentration (e.g. dopamine), (n,)


@dataclasses.dataclass(frozen=True)
class Neuromodulator:
    r"""A decaying neuromodulator concentration (e.g. dopamine): $d \leftarrow d\,e^{-\Delta t/\tau} + x_t$.

    $x_t$ is what arrives this step on receptor ``"i"``: an external reward signal
    (``inputs["da"]``) and/or projections from a "VTA" population (each spike adds its
    weight). One unit per region (often a population of size 1). Plasticity reads it as a
    third factor with ``Projection(modulators=("da",))`` and
    ``ScaleByModulator("da", "d")``.

    | param | symbol | default | unit |
    |-------|--------|---------|------|
    | tau   | $\tau$ | 200.0   | ms   |

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> da = nj.Neuromodulator()
        >>> p = da.Params.default(tau=100.0)
        >>> s = da.step(p, da.init(p, 1), {"i": jnp.array([1.0])}, 1.0)   # reward pulse
        >>> s = da.step(p, s, {"i": jnp.array([0.0])}, 1.0)
        >>> round(float(s.d[0]), 6)                                         # exp(-1/100)
        0.99005
    """

    Params: ClassVar = NeuromodulatorParams
    State: ClassVar = NeuromodulatorState
    receptors: ClassVar = ("i",)
    input_receptor: ClassVar = "i"
    signals: ClassVar = ("d",)

    def init(self, params: NeuromodulatorParams, n: int) -> NeuromodulatorState:
        return NeuromodulatorState(d=jnp.zeros((n,), jnp.result_type(params.tau)))

    def step(self, params: NeuromodulatorParams, state: NeuromodulatorState, drive,
             dt: float) -> NeuromodulatorState:
        return NeuromodulatorState(d=state.d * jnp.exp(-dt / params.tau) + drive["i"])

    def validate(self, params, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "NeuromodulatorParams", positive=("tau",), time_constants=("tau",),
                     dt=dt, allow_large_dt=allow_large_dt)


# ---------------------------------------------------------------------------------------------
# Helpers shared by the calcium models below.
# ---------------------------------------------------------------------------------------------

def _integrate(f, y, dt, substeps, post=None):
    """``substeps`` RK4 steps of ``dt / substeps`` each; ``post`` (e.g. a clamp) after each."""
    h = dt / substeps

    def one(y):
        y = rk4(f, y, h)
        return y if post is None else post(y)

    if substeps == 1:
        return one(y)
    return jax.lax.fori_loop(0, substeps, lambda _, y: one(y), y)


def _check_substeps(owner: str, substeps):
    if isinstance(substeps, (bool, np.bool_)) or not isinstance(substeps, (int, np.integer)) \
            or substeps < 1:
        raise ValueError(f"{owner}.substeps must be a positive int, got {substeps!r}")


def _check_at_most(params, name: str, bound, owner: str, bound_name: str):
    value = np.asarray(getattr(params, name))
    if not (value <= np.asarray(bound)).all():
        raise ValueError(f"{owner}.{name} must be <= {bound_name}, got max {value.max()}")


# ---------------------------------------------------------------------------------------------
# Li–Rinzel astrocyte (NEST astrocyte_lr_1994)
# ---------------------------------------------------------------------------------------------

class LiRinzelParams(NamedTuple):
    ca_tot: Array        # µM          total free Ca per cytosolic volume (Ca_tot)
    ip3_0: Array         # µM          resting IP3 concentration (IP3_0)
    kd_ip3_1: Array      # µM          first IP3 dissociation constant of the IP3R (Kd_IP3_1)
    kd_ip3_2: Array      # µM          second IP3 dissociation constant of the IP3R (Kd_IP3_2)
    kd_act: Array        # µM          Ca dissociation constant of IP3R activation (Kd_act)
    kd_inh: Array        # µM          Ca dissociation constant of IP3R inhibition (Kd_inh)
    km_serca: Array      # µM          half-activation constant of the SERCA pump (Km_SERCA)
    sic_scale: Array     # pA          SIC per unit ln(nM) above threshold (SIC_scale)
    sic_th: Array        # µM          Ca threshold of the SIC (SIC_th)
    delta_ip3: Array     # µM          IP3 jump per unit of arriving spike weight (delta_IP3)
    k_ip3r: Array        # 1/(µM·ms)   IP3R inactivation rate constant (k_IP3R)
    rate_ip3r: Array     # 1/ms        maximal rate of Ca release through IP3Rs (rate_IP3R)
    rate_l: Array        # 1/ms        rate constant of the ER leak (rate_L)
    rate_serca: Array    # µM/ms       maximal SERCA pump rate (rate_SERCA)
    ratio_er_cyt: Array  # 1           ER-to-cytosol volume ratio (ratio_ER_cyt)
    tau_ip3: Array       # ms          IP3 relaxation time constant (tau_IP3)
    ca0: Array           # µM          initial Ca
    h0: Array            # 1           initial h

    @classmethod
    def default(cls, **overrides) -> "LiRinzelParams":
        """NEST ``astrocyte_lr_1994`` defaults (NEST >= 3.6; Nadkarni & Jung 2003)."""
        return make_default(cls, dict(
            ca_tot=2.0, ip3_0=0.16, kd_ip3_1=0.13, kd_ip3_2=0.9434, kd_act=0.08234,
            kd_inh=1.049, km_serca=0.1, sic_scale=1.0, sic_th=0.19669, delta_ip3=0.0002,
            k_ip3r=0.0002, rate_ip3r=0.006, rate_l=0.00011, rate_serca=0.0009,
            ratio_er_cyt=0.185, tau_ip3=7142.0, ca0=0.073, h0=0.793), overrides)


class LiRinzelState(NamedTuple):
    ip3: Array   # µM  IP3 concentration, (n,)
    ca: Array    # µM  cytosolic Ca concentration, in [0, ca_tot], (n,)
    h: Array     # 1   fraction of IP3 receptors not inactivated by Ca, (n,)
    sic: Array   # pA  slow inward current emitted this step (a function of ca), (n,)


def _lr_rhs(p: LiRinzelParams, j_noise):
    """Right-hand side of the Li–Rinzel ODE (Ca clamped to [0, ca_tot] inside)."""
    def f(y):
        ip3, ca, h = y
        ca = jnp.clip(ca, 0.0, p.ca_tot)
        m_inf = ip3 / (ip3 + p.kd_ip3_1)
        n_inf = ca / (ca + p.kd_act)
        gradient = (p.ca_tot - ca) / p.ratio_er_cyt - ca          # Ca_ER - Ca
        j_channel = p.ratio_er_cyt * p.rate_ip3r * (m_inf * n_inf * h) ** 3 * gradient
        j_leak = p.ratio_er_cyt * p.rate_l * gradient
        j_pump = p.rate_serca * ca ** 2 / (p.km_serca ** 2 + ca ** 2)
        alpha_h = p.k_ip3r * p.kd_inh * (ip3 + p.kd_ip3_1) / (ip3 + p.kd_ip3_2)
        beta_h = p.k_ip3r * ca
        return ((p.ip3_0 - ip3) / p.tau_ip3,
                j_channel - j_pump + j_leak + j_noise,
                alpha_h * (1.0 - h) - beta_h * h)
    return f


def li_rinzel_sic(params: LiRinzelParams, ca: Array) -> Array:
    r"""The slow inward current (pA) for cytosolic Ca ``ca`` (µM).

    $y = 1000\,(\mathrm{Ca} - \mathrm{SIC_{th}})$ (nM); $I_\mathrm{SIC} = \mathrm{SIC_{scale}}
    \ln y$ if $y > 1$ else 0. Continuous at $y = 1$, and safe under ``jax.grad`` (the
    logarithm never sees $y \le 1$, so the untaken branch gives no NaN).
    """
    y = (ca - params.sic_th) * 1000.0
    above = y > 1.0
    return jnp.where(above, params.sic_scale * jnp.log(jnp.where(above, y, 1.0)), 0.0)


@dataclasses.dataclass(frozen=True)
class LiRinzel:
    r"""Li–Rinzel astrocyte, Nadkarni–Jung input, slow-inward-current output (NEST ``astrocyte_lr_1994``).

    IP3-triggered Ca release from the endoplasmic reticulum (ER), with Ca-dependent
    inactivation of the IP3 receptors (IP3R). Concentrations in µM, time in ms:

    $$ \frac{d\,\mathrm{IP_3}}{dt} = \frac{\mathrm{IP_{3,0}} - \mathrm{IP_3}}{\tau_\mathrm{IP3}}
       + \Delta_\mathrm{IP3} \sum_k w_k\, \delta(t - t_k) $$

    $$ \frac{d\mathrm{Ca}}{dt} = J_\mathrm{channel} - J_\mathrm{pump} + J_\mathrm{leak}
       + J_\mathrm{noise}, \qquad
       \frac{dh}{dt} = \alpha_h (1 - h) - \beta_h h $$

    with $\mathrm{Ca_{ER}} = (\mathrm{Ca_{tot}} - \mathrm{Ca})/r_\mathrm{ER}$,
    $m_\infty = \mathrm{IP_3}/(\mathrm{IP_3} + K_{d,\mathrm{IP3,1}})$,
    $n_\infty = \mathrm{Ca}/(\mathrm{Ca} + K_{d,\mathrm{act}})$ and

    $$ J_\mathrm{channel} = r_\mathrm{ER}\, r_\mathrm{IP3R}\, m_\infty^3 n_\infty^3 h^3
       (\mathrm{Ca_{ER}} - \mathrm{Ca}), \quad
       J_\mathrm{leak} = r_\mathrm{ER}\, r_L (\mathrm{Ca_{ER}} - \mathrm{Ca}), \quad
       J_\mathrm{pump} = r_\mathrm{SERCA} \frac{\mathrm{Ca}^2}{K_{m,\mathrm{SERCA}}^2 + \mathrm{Ca}^2} $$

    $$ \alpha_h = k_\mathrm{IP3R} K_{d,\mathrm{inh}}
       \frac{\mathrm{IP_3} + K_{d,\mathrm{IP3,1}}}{\mathrm{IP_3} + K_{d,\mathrm{IP3,2}}}, \qquad
       \beta_h = k_\mathrm{IP3R}\, \mathrm{Ca}. $$

    Output (``sic``, pA; see :func:`li_rinzel_sic`): $y = 1000(\mathrm{Ca} - \mathrm{SIC_{th}})$
    (nM), $I_\mathrm{SIC} = \mathrm{SIC_{scale}} \ln y$ if $y > 1$, else 0.

    | param        | symbol                  | default | unit      |
    |--------------|-------------------------|---------|-----------|
    | ca_tot       | $\mathrm{Ca_{tot}}$     | 2.0     | µM        |
    | ip3_0        | $\mathrm{IP_{3,0}}$     | 0.16    | µM        |
    | kd_ip3_1     | $K_{d,\mathrm{IP3,1}}$  | 0.13    | µM        |
    | kd_ip3_2     | $K_{d,\mathrm{IP3,2}}$  | 0.9434  | µM        |
    | kd_act       | $K_{d,\mathrm{act}}$    | 0.08234 | µM        |
    | kd_inh       | $K_{d,\mathrm{inh}}$    | 1.049   | µM        |
    | km_serca     | $K_{m,\mathrm{SERCA}}$  | 0.1     | µM        |
    | sic_scale    | $\mathrm{SIC_{scale}}$  | 1.0     | pA        |
    | sic_th       | $\mathrm{SIC_{th}}$     | 0.19669 | µM        |
    | delta_ip3    | $\Delta_\mathrm{IP3}$   | 0.0002  | µM per unit weight |
    | k_ip3r       | $k_\mathrm{IP3R}$       | 0.0002  | 1/(µM·ms) |
    | rate_ip3r    | $r_\mathrm{IP3R}$       | 0.006   | 1/ms      |
    | rate_l       | $r_L$                   | 0.00011 | 1/ms      |
    | rate_serca   | $r_\mathrm{SERCA}$      | 0.0009  | µM/ms     |
    | ratio_er_cyt | $r_\mathrm{ER}$         | 0.185   | 1         |
    | tau_ip3      | $\tau_\mathrm{IP3}$     | 7142.0  | ms        |
    | ca0          | $\mathrm{Ca}(0)$        | 0.073   | µM        |
    | h0           | $h(0)$                  | 0.793   | 1         |

    (Defaults of the current NEST source; older NEST releases used $\Delta_\mathrm{IP3} = 5$ µM
    and a different ER concentration, see the spec. $\mathrm{IP_3}(0) = \mathrm{IP_{3,0}}$.)

    State: ``ip3`` (µM), ``ca`` (µM), ``h`` (1), ``sic`` (pA). Signals: ``ca``, ``ip3``,
    ``sic``. Receptors: ``"ip3"`` — the summed weight of the spikes arriving this step
    (use the :class:`~neurojax.Instant` synapse; weights must be >= 0, which ``validate``
    cannot check because it does not see projection weights); ``"i_ca"`` — the Ca current
    $J_\mathrm{noise}$ (µM/ms, held over the step; external ``inputs`` feed it).

    Update order (as NEST and brainpy.state): (1) integrate IP3, Ca, h over the step with
    ``substeps`` classical RK4 steps, Ca clamped to $[0, \mathrm{Ca_{tot}}]$ inside the
    right-hand side and after every sub-step; (2) IP3 += $\Delta_\mathrm{IP3}\cdot$ (arriving
    weight); (3) ``sic`` from the new Ca. The dynamics are slow (rates <= 0.01/ms), so
    ``substeps = 1`` is accurate for $\Delta t \le 1$ ms: over 50 s of Ca oscillations at
    $\Delta t = 1$ ms it agrees with brainpy.state's adaptive RKF45 ``astrocyte_lr_1994`` to
    1e-13 µM (tests/test_astrocytes.py). Deliberate difference: NEST and brainpy.state apply a current
    $J_\mathrm{noise}$ received at step $k$ from step $k+1$ on; here ``"i_ca"`` acts in the
    step it arrives (its projection's delay line already supplies the latency).

    Wire the output to neurons with
    ``Projection(conn, pre="astro", post="E", source="sic", receptor="i", synapse=nj.Instant())``
    (weight in pA per pA of SIC).

    Args:
        substeps: RK4 sub-steps per ``dt`` (static).

    References:
        Li & Rinzel (1994), J. Theor. Biol. 166:461–473.
        De Young & Keizer (1992), PNAS 89:9895–9899.
        Nadkarni & Jung (2003), Phys. Rev. Lett. 91:268101.
        NEST Simulator, model ``astrocyte_lr_1994``.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> astro = nj.LiRinzel()
        >>> p = astro.Params.default()
        >>> s = astro.init(p, 1)
        >>> s = astro.step(p, s, {"ip3": jnp.array([1000.0]), "i_ca": jnp.zeros(1)}, 1.0)
        >>> round(float(s.ip3[0]), 4)                 # IP3_0 + delta_IP3 * 1000 (after the ODE step)
        0.36
        >>> float(s.sic[0])                           # Ca below SIC_th: no current
        0.0
    """

    substeps: int = 1

    Params: ClassVar = LiRinzelParams
    State: ClassVar = LiRinzelState
    receptors: ClassVar = ("ip3", "i_ca")
    input_receptor: ClassVar = "i_ca"
    signals: ClassVar = ("ca", "ip3", "sic")

    def __post_init__(self):
        _check_substeps("LiRinzel", self.substeps)

    def init(self, params: LiRinzelParams, n: int) -> LiRinzelState:
        ip3 = jnp.broadcast_to(params.ip3_0, (n,))
        ca = jnp.broadcast_to(params.ca0, (n,))
        return LiRinzelState(ip3=ip3, ca=ca, h=jnp.broadcast_to(params.h0, (n,)),
                             sic=li_rinzel_sic(params, ca))

    def step(self, params: LiRinzelParams, state: LiRinzelState, drive,
             dt: float) -> LiRinzelState:
        p = params
        j_noise = drive.get("i_ca", 0.0)

        def clamp(y):
            return y[0], jnp.clip(y[1], 0.0, p.ca_tot), y[2]

        ip3, ca, h = _integrate(_lr_rhs(p, j_noise), (state.ip3, state.ca, state.h), dt,
                                self.substeps, clamp)
        ip3 = ip3 + p.delta_ip3 * drive.get("ip3", 0.0)
        return LiRinzelState(ip3=ip3, ca=ca, h=h, sic=li_rinzel_sic(p, ca))

    def validate(self, params, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "LiRinzelParams",
                     positive=("ca_tot", "kd_ip3_1", "kd_ip3_2", "kd_act", "km_serca",
                               "sic_scale", "ratio_er_cyt", "tau_ip3"),
                     nonnegative=("ip3_0", "kd_inh", "sic_th", "delta_ip3", "k_ip3r",
                                  "rate_ip3r", "rate_l", "rate_serca", "ca0", "h0"),
                     time_constants=("tau_ip3",), dt=dt, allow_large_dt=allow_large_dt)
        _check_at_most(params, "ca0", params.ca_tot, "LiRinzelParams", "ca_tot")
        _check_at_most(params, "h0", 1.0, "LiRinzelParams", "1")


# ---------------------------------------------------------------------------------------------
# De Pittà G-ChI astrocyte with gliotransmitter release
# ---------------------------------------------------------------------------------------------

class GChIParams(NamedTuple):
    # Ca fluxes
    o_p: Array          # µM/ms       maximal SERCA uptake rate (O_P = 0.9 µM/s)
    k_p: Array          # µM          Ca affinity of SERCAs (K_P)
    c_t: Array          # µM          total free Ca content (C_T)
    rho_a: Array        # 1           ER-to-cytoplasm volume ratio (rho_A)
    omega_c: Array      # 1/ms        maximal Ca release rate by IP3Rs (Omega_C = 6 /s)
    omega_l: Array      # 1/ms        maximal Ca leak rate from the ER (Omega_L = 0.1 /s)
    # IP3R kinetics
    d_1: Array          # µM          IP3 binding affinity
    d_2: Array          # µM          Ca inactivation dissociation constant
    o_2: Array          # 1/(µM·ms)   IP3R binding rate for Ca inhibition (O_2 = 0.2 /(µM·s))
    d_3: Array          # µM          IP3 dissociation constant
    d_5: Array          # µM          Ca activation dissociation constant
    # agonist-dependent IP3 production
    o_beta: Array       # µM/ms       maximal IP3 production by PLCbeta (O_beta = 5 µM/s)
    o_n: Array          # 1/(µM·ms)   agonist binding rate (O_N = 0.3 /(µM·s))
    omega_n: Array      # 1/ms        maximal receptor inactivation rate (Omega_N = 0.5 /s)
    k_kc: Array         # µM          Ca affinity of PKC (K_KC)
    zeta: Array         # 1           maximal reduction of receptor affinity by PKC
    # endogenous IP3 production and degradation
    o_delta: Array      # µM/ms       maximal IP3 production by PLCdelta (O_delta = 0.2 µM/s)
    kappa_delta: Array  # µM          inhibition constant of PLCdelta by IP3
    k_delta: Array      # µM          Ca affinity of PLCdelta
    omega_5p: Array     # 1/ms        maximal IP3 degradation rate by IP-5P (Omega_5P = 0.1 /s)
    k_d: Array          # µM          Ca affinity of IP3-3K (K_D)
    k_3k: Array         # µM          IP3 affinity of IP3-3K (K_3K)
    o_3k: Array         # µM/ms       maximal IP3 degradation by IP3-3K (O_3K = 4.5 µM/s)
    # exogenous IP3 flux
    f_ex: Array         # µM/ms       maximal exogenous IP3 flux (F_ex = 0.09 µM/s)
    i_theta: Array      # µM          threshold gradient of the exogenous flux (I_Theta)
    omega_i: Array      # µM          scaling factor of the exogenous flux (omega_I)
    i_bias: Array       # µM          IP3 level the exogenous flux pulls towards (I_bias)
    # gliotransmitter release
    c_theta: Array      # µM          Ca threshold for exocytosis (C_Theta)
    omega_a: Array      # 1/ms        gliotransmitter recycling rate (Omega_A = 0.6 /s)
    u_a: Array          # 1           gliotransmitter release probability (U_A)
    g_t: Array          # µM          total vesicular gliotransmitter (G_T = 200 mM)
    rho_e: Array        # 1           astrocytic vesicle-to-extracellular volume ratio (rho_e)
    omega_e: Array      # 1/ms        gliotransmitter clearance rate (Omega_e = 60 /s)
    h0: Array           # 1           initial h

    @classmethod
    def default(cls, **overrides) -> "GChIParams":
        """Stimberg et al. (2019) Fig. 2 astrocyte, Fig. 4 gliotransmission, rates in /ms."""
        return make_default(cls, dict(
            o_p=0.9e-3, k_p=0.1, c_t=2.0, rho_a=0.18, omega_c=6e-3, omega_l=1e-4,
            d_1=0.13, d_2=1.05, o_2=2e-4, d_3=0.9434, d_5=0.08,
            o_beta=5e-3, o_n=3e-4, omega_n=5e-4, k_kc=0.5, zeta=10.0,
            o_delta=2e-4, kappa_delta=1.5, k_delta=0.3, omega_5p=1e-4, k_d=0.5, k_3k=1.0,
            o_3k=4.5e-3, f_ex=9e-5, i_theta=0.3, omega_i=0.05, i_bias=0.0,
            c_theta=0.5, omega_a=6e-4, u_a=0.6, g_t=2e5, rho_e=6.5e-4, omega_e=0.06,
            h0=0.9), overrides)

    @classmethod
    def fig4(cls, **overrides) -> "GChIParams":
        """The values of Stimberg et al.'s Fig. 4 (closed-loop gliotransmission) where they
        differ from Fig. 2: K_P 0.05, O_beta 3.2, O_delta 0.6, K_delta 0.1, Omega_5P 0.05,
        K_D 0.7, F_ex 2.0 (µM, µM/s, /s)."""
        values = dict(k_p=0.05, o_beta=3.2e-3, o_delta=6e-4, k_delta=0.1, omega_5p=5e-5,
                      k_d=0.7, f_ex=2e-3)
        values.update(overrides)
        return cls.default(**values)


class GChIState(NamedTuple):
    gamma_a: Array   # 1   fraction of activated astrocytic (metabotropic) receptors, (n,)
    ip3: Array       # µM  IP3 concentration I, (n,)
    ca: Array        # µM  cytosolic Ca concentration C, (n,)
    h: Array         # 1   IP3R de-inactivation probability, (n,)
    x_a: Array       # 1   fraction of gliotransmitter resources available for release, (n,)
    g_a: Array       # µM  extracellular gliotransmitter concentration G_A, (n,)
    release: Array   # {0., 1.}  gliotransmitter release event this step, (n,)


def _gchi_rhs(p: GChIParams, y_s):
    """Right-hand side of the G-ChI (Gamma_A, I, C, h) ODE, per ms."""
    def f(y):
        gamma, ip3, ca, h = y
        ca2 = ca * ca
        d_gamma = p.o_n * y_s * (1.0 - gamma) \
            - p.omega_n * (1.0 + p.zeta * ca / (ca + p.k_kc)) * gamma
        j_beta = p.o_beta * gamma
        j_delta = p.o_delta / (1.0 + ip3 / p.kappa_delta) * ca2 / (ca2 + p.k_delta ** 2)
        j_3k = p.o_3k * ca2 * ca2 / (ca2 * ca2 + p.k_d ** 4) * ip3 / (ip3 + p.k_3k)
        j_5p = p.omega_5p * ip3
        dev = ip3 - p.i_bias
        j_ex = -0.5 * p.f_ex * (1.0 + jnp.tanh((jnp.abs(dev) - p.i_theta) / p.omega_i)) \
            * jnp.sign(dev)
        m_inf = ip3 / (ip3 + p.d_1) * ca / (ca + p.d_5)
        q_2 = p.d_2 * (ip3 + p.d_1) / (ip3 + p.d_3)
        d_ca = (p.omega_c * (m_inf * h) ** 3 + p.omega_l) * (p.c_t - (1.0 + p.rho_a) * ca) \
            - p.o_p * ca2 / (ca2 + p.k_p ** 2)
        d_h = p.o_2 * (q_2 * (1.0 - h) - ca * h)         # (h_inf - h) / tau_h
        return d_gamma, j_beta + j_delta - j_3k - j_5p + j_ex, d_ca, d_h
    return f


@dataclasses.dataclass(frozen=True)
class GChI:
    r"""De Pittà's G-ChI astrocyte (glutamate -> IP3 -> Ca) with Ca-triggered gliotransmitter release.

    The "G-ChI" model of Stimberg, Goodman, Brette & De Pittà's Brian 2 examples (their
    Figs. 2 and 4), in neurojax units (µM, ms). $Y_S$ is the synaptic glutamate (µM) arriving
    on receptor ``"glu"``:

    $$ \frac{d\Gamma_A}{dt} = O_N Y_S (1 - \Gamma_A)
       - \Omega_N \left(1 + \zeta \frac{C}{C + K_{KC}}\right)\Gamma_A $$

    $$ \frac{dI}{dt} = O_\beta \Gamma_A
       + \frac{O_\delta}{1 + I/\kappa_\delta}\frac{C^2}{C^2 + K_\delta^2}
       - O_{3K} \frac{C^4}{C^4 + K_D^4}\frac{I}{I + K_{3K}} - \Omega_{5P} I + J_\mathrm{ex},
       \quad J_\mathrm{ex} = -\frac{F_\mathrm{ex}}{2}\left(1 + \tanh\frac{|I - I_\mathrm{bias}|
       - I_\Theta}{\omega_I}\right)\mathrm{sign}(I - I_\mathrm{bias}) $$

    $$ \frac{dC}{dt} = (\Omega_C m_\infty^3 h^3 + \Omega_L)(C_T - (1 + \rho_A) C)
       - O_P \frac{C^2}{C^2 + K_P^2}, \qquad m_\infty = \frac{I}{I + d_1}\frac{C}{C + d_5} $$

    $$ \frac{dh}{dt} = \frac{h_\infty - h}{\tau_h}, \quad h_\infty = \frac{Q_2}{Q_2 + C},
       \quad \tau_h = \frac{1}{O_2 (Q_2 + C)}, \quad Q_2 = d_2 \frac{I + d_1}{I + d_3} $$

    Gliotransmission: $\dot x_A = \Omega_A (1 - x_A)$, $\dot G_A = -\Omega_e G_A$, and when
    $C$ crosses $C_\Theta$ upwards, $G_A \mathrel{+}= \rho_e G_T U_A x_A$,
    $x_A \mathrel{-}= U_A x_A$. $G_A$ (``g_a``, µM) is the signal a tripartite synapse reads
    (:class:`TripartiteTM` through ``Projection(gate=("astro", "g_a"))``).

    | param       | symbol             | default  | unit      | paper value |
    |-------------|--------------------|----------|-----------|-------------|
    | o_p         | $O_P$              | 9e-4     | µM/ms     | 0.9 µM/s    |
    | k_p         | $K_P$              | 0.1      | µM        |             |
    | c_t         | $C_T$              | 2.0      | µM        |             |
    | rho_a       | $\rho_A$           | 0.18     | 1         |             |
    | omega_c     | $\Omega_C$         | 6e-3     | 1/ms      | 6 /s        |
    | omega_l     | $\Omega_L$         | 1e-4     | 1/ms      | 0.1 /s      |
    | d_1         | $d_1$              | 0.13     | µM        |             |
    | d_2         | $d_2$              | 1.05     | µM        |             |
    | o_2         | $O_2$              | 2e-4     | 1/(µM·ms) | 0.2 /(µM·s) |
    | d_3         | $d_3$              | 0.9434   | µM        |             |
    | d_5         | $d_5$              | 0.08     | µM        |             |
    | o_beta      | $O_\beta$          | 5e-3     | µM/ms     | 5 µM/s      |
    | o_n         | $O_N$              | 3e-4     | 1/(µM·ms) | 0.3 /(µM·s) |
    | omega_n     | $\Omega_N$         | 5e-4     | 1/ms      | 0.5 /s      |
    | k_kc        | $K_{KC}$           | 0.5      | µM        |             |
    | zeta        | $\zeta$            | 10.0     | 1         |             |
    | o_delta     | $O_\delta$         | 2e-4     | µM/ms     | 0.2 µM/s    |
    | kappa_delta | $\kappa_\delta$    | 1.5      | µM        |             |
    | k_delta     | $K_\delta$         | 0.3      | µM        |             |
    | omega_5p    | $\Omega_{5P}$      | 1e-4     | 1/ms      | 0.1 /s      |
    | k_d         | $K_D$              | 0.5      | µM        |             |
    | k_3k        | $K_{3K}$           | 1.0      | µM        |             |
    | o_3k        | $O_{3K}$           | 4.5e-3   | µM/ms     | 4.5 µM/s    |
    | f_ex        | $F_\mathrm{ex}$    | 9e-5     | µM/ms     | 0.09 µM/s   |
    | i_theta     | $I_\Theta$         | 0.3      | µM        |             |
    | omega_i     | $\omega_I$         | 0.05     | µM        |             |
    | i_bias      | $I_\mathrm{bias}$  | 0.0      | µM        |             |
    | c_theta     | $C_\Theta$         | 0.5      | µM        |             |
    | omega_a     | $\Omega_A$         | 6e-4     | 1/ms      | 0.6 /s      |
    | u_a         | $U_A$              | 0.6      | 1         |             |
    | g_t         | $G_T$              | 2e5      | µM        | 200 mM      |
    | rho_e       | $\rho_e$           | 6.5e-4   | 1         |             |
    | omega_e     | $\Omega_e$         | 0.06     | 1/ms      | 60 /s       |
    | h0          | $h(0)$             | 0.9      | 1         |             |

    Defaults: the Fig. 2 astrocyte with the Fig. 4 gliotransmitter values
    (:meth:`GChIParams.fig4` gives Fig. 4's Ca/IP3 values). The paper's rates are per second;
    here every rate is per ms (divided by 1000) and mM are written as µM (times 1000).

    State: ``gamma_a``, ``ip3`` (µM), ``ca`` (µM), ``h``, ``x_a``, ``g_a`` (µM), ``release``
    (1 at a step with a release). Initial state as the Brian 2 examples: all 0 except
    $h = h_0$, $x_A = 1$. Signals: ``ca``, ``g_a``, ``ip3``, ``release``.

    Receptor and input ``"glu"``: the synaptic glutamate concentration $Y_S$ (µM), held over
    the step. To drive it with spikes as in Brian 2 ($Y_S \mathrel{+}= \rho_c Y_T r_S$,
    $\dot Y_S = -\Omega_c Y_S$), use a projection with ``synapse=nj.Exponential()``
    of $\tau = 1/\Omega_c$ (25 ms) and weight $\rho_c Y_T$ (500 µM per unit of released
    fraction $r_S$, with an ``stp`` model) or per spike (without); the Exponential's output
    is $Y_S$. Use :class:`~neurojax.Instant` for a glutamate concentration given directly.

    Update order (as Brian 2's ``rk4`` + threshold/reset): (1) $\Gamma_A, I, C, h$ over the
    step with ``substeps`` RK4 steps ($Y_S$ held); $x_A$ and $G_A$ exactly (they are linear
    and uncoupled); (2) ``release`` = [$C_\mathrm{old} \le C_\Theta < C_\mathrm{new}$]
    (equivalent to Brian 2's ``threshold='C>C_Theta', refractory='C>C_Theta'``), through the
    surrogate ``spike_fn`` of $(C - C_\Theta)/C_\Theta$; (3) on release
    $G_A \mathrel{+}= \rho_e G_T U_A x_A$, $x_A \mathrel{-}= U_A x_A$. The optional
    multiplicative noise on $h$ of the Brian 2 example is not included.

    Args:
        substeps: RK4 sub-steps per ``dt`` (static); 1 is accurate at $\Delta t \le 1$ ms
            for $O_N Y_S \lesssim 0.1$/ms.
        spike_fn: surrogate for the release event (gradient through the threshold crossing).

    References:
        De Pittà, Goldberg, Volman, Berry & Ben-Jacob (2009), J. Biol. Phys. 35:383–411.
        De Pittà, Volman, Berry & Ben-Jacob (2011), PLoS Comput. Biol. 7:e1002293.
        Stimberg, Goodman, Brette & De Pittà (2019), "Modeling neuron–glia interactions with
        the Brian 2 simulator", in *Computational Glioscience*, Springer (bioRxiv 198366).

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> astro = nj.GChI()
        >>> p = astro.Params.default(c_theta=1e-4)     # a low threshold for the example
        >>> s = astro.init(p, 1)                       # C = 0, x_A = 1, G_A = 0
        >>> s = astro.step(p, s, {"glu": jnp.array([0.0])}, 1.0)
        >>> round(float(s.ca[0]), 6)                   # the ER leak: ~ Omega_L C_T dt
        0.0002
        >>> float(s.release[0]), round(float(s.g_a[0]), 6)   # crossed: rho_e G_T U_A x_A
        (1.0, 78.0)
    """

    substeps: int = 1
    spike_fn: object = SuperSpike()

    Params: ClassVar = GChIParams
    State: ClassVar = GChIState
    receptors: ClassVar = ("glu",)
    input_receptor: ClassVar = "glu"
    signals: ClassVar = ("ca", "g_a", "ip3", "release")

    def __post_init__(self):
        _check_substeps("GChI", self.substeps)

    def init(self, params: GChIParams, n: int) -> GChIState:
        zeros = jnp.zeros((n,), jnp.result_type(params.c_t))
        return GChIState(gamma_a=zeros, ip3=zeros, ca=zeros,
                         h=jnp.broadcast_to(params.h0, (n,)).astype(zeros.dtype),
                         x_a=jnp.ones_like(zeros), g_a=zeros, release=zeros)

    def step(self, params: GChIParams, state: GChIState, drive, dt: float) -> GChIState:
        p = params
        gamma, ip3, ca, h = _integrate(_gchi_rhs(p, drive["glu"]),
                                       (state.gamma_a, state.ip3, state.ca, state.h), dt,
                                       self.substeps)
        x_a = 1.0 - (1.0 - state.x_a) * jnp.exp(-p.omega_a * dt)
        g_a = state.g_a * jnp.exp(-p.omega_e * dt)
        release = self.spike_fn((ca - p.c_theta) / p.c_theta) \
            * (state.ca <= p.c_theta).astype(ca.dtype)
        released = release * p.u_a * x_a
        return GChIState(gamma_a=gamma, ip3=ip3, ca=ca, h=h, x_a=x_a - released,
                         g_a=g_a + p.rho_e * p.g_t * released, release=release)

    def validate(self, params, n: int, dt: float, allow_large_dt: bool = False):
        rates = ("omega_c", "omega_l", "omega_n", "omega_5p", "omega_a", "omega_e")
        check_params(params, n, "GChIParams",
                     positive=("k_p", "c_t", "d_1", "d_2", "d_3", "d_5", "k_kc", "kappa_delta",
                               "k_delta", "k_d", "k_3k", "omega_i", "c_theta"),
                     nonnegative=("o_p", "rho_a", "o_2", "o_beta", "o_n", "zeta", "o_delta",
                                  "o_3k", "f_ex", "i_theta", "i_bias", "u_a", "g_t", "rho_e",
                                  "h0") + rates)
        _check_at_most(params, "u_a", 1.0, "GChIParams", "1")
        _check_at_most(params, "h0", 1.0, "GChIParams", "1")
        if not allow_large_dt:
            for name in rates:
                rate = np.asarray(getattr(params, name))
                if (rate * dt > 1.0).any():
                    raise ValueError(
                        f"GChIParams.{name} = {rate.max()} /ms is faster than 1/dt = {1.0 / dt} "
                        "/ms (are the rates in /ms, not /s?); reduce dt or build the Network "
                        "with allow_large_dt=True")


# ---------------------------------------------------------------------------------------------
# Tripartite synapse: Tsodyks–Markram release modulated by astrocytic gliotransmitter
# ---------------------------------------------------------------------------------------------

class TripartiteTMParams(NamedTuple):
    U0: Array       # 1          resting release probability U_0* (no gliotransmitter), (0, 1]
    alpha: Array    # 1          release probability with all presynaptic receptors bound
                    #            (0: release-decreasing, 1: release-increasing gliotransmitter)
    tau_f: Array    # ms         facilitation time constant 1/Omega_f (0: no facilitation)
    tau_d: Array    # ms         depression (recovery) time constant 1/Omega_d
    o_g: Array      # 1/(µM·ms)  gliotransmitter binding rate of presynaptic receptors (O_G)
    omega_g: Array  # 1/ms       unbinding rate of presynaptic receptors (Omega_G)

    @classmethod
    def default(cls, **overrides) -> "TripartiteTMParams":
        """Stimberg et al. (2019) Fig. 4: U_0* 0.6, Omega_f 3.33 /s, Omega_d 2 /s,
        O_G 1.5 /(µM·s), Omega_G 1/120 /s, alpha 0 (release-decreasing)."""
        return make_default(cls, dict(U0=0.6, alpha=0.0, tau_f=1000.0 / 3.33, tau_d=500.0,
                                      o_g=1.5e-3, omega_g=1.0 / 120000.0), overrides)


class TripartiteTMState(NamedTuple):
    u: Array        # 1  utilisation just after the last step, (n_pre,)
    x: Array        # 1  available resources just after the last step, (n_pre,)
    gamma_s: Array  # 1  fraction of presynaptic receptors bound by gliotransmitter, (n_pre,)


@dataclasses.dataclass(frozen=True)
class TripartiteTM:
    r"""Tsodyks–Markram synapse whose release probability is set by astrocytic gliotransmitter.

    The presynaptic side of De Pittà's tripartite synapse (Stimberg et al.'s Brian 2 Fig. 4):
    extracellular gliotransmitter $G_A$ (µM) binds presynaptic receptors,

    $$ \frac{d\Gamma_S}{dt} = O_G G_A (1 - \Gamma_S) - \Omega_G \Gamma_S, $$

    which shift the resting release probability

    $$ U_0 = (1 - \Gamma_S)\, U_0^* + \alpha\, \Gamma_S $$

    ($\alpha = 0$: gliotransmission depresses release, $\alpha = 1$: it enhances it), and
    $U_0$ replaces $U$ of :class:`~neurojax.TsodyksMarkram`. For a constant $G_A$,
    $\Gamma_S \to O_G G_A / (O_G G_A + \Omega_G)$.

    Used as ``Projection(..., stp=TripartiteTM(), gate=("astro", "g_a"))`` with a
    :class:`GChI` population ``"astro"`` (of size 1 or ``n_pre``): the projection passes the
    astrocyte's ``g_a`` of this step as ``gate``. Without a gate $G_A = 0$.

    Per step of $\Delta t$ with presynaptic spike $s$ (update order):

    1. $\Gamma_S$ exactly over the step with $G_A$ held:
       $\Gamma_S \leftarrow \Gamma_\infty + (\Gamma_S - \Gamma_\infty) e^{-k\Delta t}$,
       $k = O_G G_A + \Omega_G$, $\Gamma_\infty = O_G G_A / k$;
    2. $U_0$ from the new $\Gamma_S$;
    3. the Tsodyks–Markram step of :class:`~neurojax.TsodyksMarkram` with $U = U_0$:
       recovery of $u$, $x$; $u^+ = u^- + s U_0 (1 - u^-)$; $r = u^+ x^-$; $x^+ = x^- - s r$;
    4. transmitted signal $s\,r$ (or $s\,r / U_0^*$ with ``relative=True``).

    | param   | symbol      | default       | unit      | paper value   |
    |---------|-------------|---------------|-----------|---------------|
    | U0      | $U_0^*$     | 0.6           | 1         |               |
    | alpha   | $\alpha$    | 0.0           | 1         |               |
    | tau_f   | $1/\Omega_f$| 300.3         | ms        | 3.33 /s       |
    | tau_d   | $1/\Omega_d$| 500.0         | ms        | 2 /s          |
    | o_g     | $O_G$       | 1.5e-3        | 1/(µM·ms) | 1.5 /(µM·s)   |
    | omega_g | $\Omega_G$  | 8.333e-6      | 1/ms      | 1/120 /s      |

    State: ``u``, ``x`` (as TsodyksMarkram; rest $u = 0$, $x = 1$), ``gamma_s`` (rest 0).

    References:
        De Pittà, Volman, Berry & Ben-Jacob (2011), PLoS Comput. Biol. 7:e1002293.
        Stimberg, Goodman, Brette & De Pittà (2019), in *Computational Glioscience*, Springer.

    Examples:
        >>> import jax.numpy as jnp, neurojax as nj
        >>> stp = nj.TripartiteTM()
        >>> p = stp.Params.default(alpha=1.0, o_g=1e-3, omega_g=1e-3)   # Gamma_inf = G/(G+1)
        >>> s = stp.init(p, 1)._replace(gamma_s=jnp.array([0.5]))        # G = 1 µM: at rest
        >>> s, r = stp.step(p, s, jnp.array([1.0]), 1.0, gate=jnp.array([1.0]))
        >>> round(float(r[0]), 6)                     # U_0 = 0.5 * 0.6 + 0.5 * 1
        0.8
    """

    relative: bool = False

    Params: ClassVar = TripartiteTMParams
    State: ClassVar = TripartiteTMState
    accepts_gate: ClassVar = True

    def init(self, params: TripartiteTMParams, n: int) -> TripartiteTMState:
        dtype = jnp.result_type(params.U0)
        zeros = jnp.zeros((n,), dtype)
        return TripartiteTMState(u=zeros, x=jnp.ones((n,), dtype), gamma_s=zeros)

    def step(self, params: TripartiteTMParams, state: TripartiteTMState, spike: Array,
             dt: float, gate=None):
        """One step; returns ``(state, signal)``. ``gate``: the gliotransmitter $G_A$ (µM)."""
        p = params
        g = 0.0 if gate is None else gate
        bind = p.o_g * g
        k = bind + p.omega_g
        gamma_inf = bind / k
        gamma_s = gamma_inf + (state.gamma_s - gamma_inf) * jnp.exp(-k * dt)
        gamma_s = jnp.broadcast_to(gamma_s, state.gamma_s.shape)
        U = (1.0 - gamma_s) * p.U0 + p.alpha * gamma_s
        on = p.tau_f > 0
        decay_f = jnp.where(on, jnp.exp(-dt / jnp.where(on, p.tau_f, 1.0)), 0.0)
        u_minus = state.u * decay_f
        x_minus = 1.0 + (state.x - 1.0) * jnp.exp(-dt / p.tau_d)
        u = u_minus + spike * U * (1.0 - u_minus)
        efficacy = u * x_minus
        x = x_minus - spike * efficacy
        signal = spike * (efficacy / p.U0 if self.relative else efficacy)
        return TripartiteTMState(u=u, x=x, gamma_s=gamma_s), signal

    def validate(self, params, n: int, dt: float, allow_large_dt: bool = False):
        check_params(params, n, "TripartiteTMParams", positive=("U0", "tau_d", "omega_g"),
                     nonnegative=("alpha", "tau_f", "o_g"), time_constants=("tau_d",), dt=dt,
                     allow_large_dt=allow_large_dt)
        _check_at_most(params, "U0", 1.0, "TripartiteTMParams", "1")
        _check_at_most(params, "alpha", 1.0, "TripartiteTMParams", "1")
        tau_f = np.asarray(params.tau_f)
        if not allow_large_dt and ((tau_f > 0) & (tau_f < dt)).any():
            raise ValueError(
                f"TripartiteTMParams.tau_f = {tau_f[(tau_f > 0) & (tau_f < dt)].min()} ms is "
                f"smaller than dt = {dt} ms (use 0 to switch facilitation off); reduce dt or "
                "build the Network with allow_large_dt=True")
