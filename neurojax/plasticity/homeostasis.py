r"""Homeostatic plasticity: rules that steer each postsynaptic neuron's activity to a target.

| rule                  | changes                              | driven by                                   |
|-----------------------|--------------------------------------|---------------------------------------------|
| `RateHomeostasis`     | inhibitory weights onto neuron $i$   | $a_i - \rho_i$ (local adaptive E/I balance) |
| `InhibitorySTDP`      | inhibitory weights (spike pairs)     | pre/post spike timing, target $\rho$        |
| `SynapticScaling`     | all incoming weights, multiplicatively | slow average $\bar a_i$ vs $\rho_i$       |

Targets $\rho$ are scalars or per-postsynaptic ``(n_post,)`` arrays (heterogeneous targets).
*Activity* $a_i$ is the postsynaptic state field ``post_field``: a rate field (``"r"``) is
used as it is, and ``"spike"`` is read as the instantaneous rate $s_i / \Delta t$ in Hz (so
its targets are in Hz).

Inhibitory rules change the **magnitude** of inhibition, whatever sign convention the
projection uses: negative weights into a current receptor (``"i"``) or positive conductances
into ``"g_inh"``. The sign of a synapse is that of its initial weight ``ctx.w_init`` (or fixed
by the rule's ``sign`` field), and the rule keeps it: a magnitude is clipped at 0, never
flipped.
"""
import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import float_dtype, make_default
from neurojax.plasticity.base import check_rule_params
from neurojax.plasticity.stdp import TraceState, decay_and_bump

Array = jax.Array

SIGNS = ("auto", "negative", "positive")
FORMS = ("additive", "gain")


def _activity(post_state, field: str, dt: float) -> Array:
    """The postsynaptic activity: a rate field as is, ``"spike"`` as $s / \\Delta t$ in Hz."""
    x = getattr(post_state, field)
    return x * (1e3 / dt) if field == "spike" else x


def _activity_at_target(rho: Array, conn) -> "ActivityState":
    """The activity estimate starts at the target (no change before evidence accumulates)."""
    return ActivityState(a=jnp.broadcast_to(jnp.asarray(rho, float_dtype()), (conn.n_post,)))


def _average(avg: Array, x: Array, tau_avg: Array, dt: float) -> Array:
    r"""Exponential moving average $\bar a \leftarrow x + (\bar a - x) e^{-\Delta t/\tau}$;
    $\tau = 0$ gives $\bar a = x$ (no averaging)."""
    on = tau_avg > 0
    decay = jnp.where(on, jnp.exp(-dt / jnp.where(on, tau_avg, 1.0)), 0.0)
    return x + (avg - x) * decay


def _synapse_sign(sign: str, ctx) -> Array:
    """+1 / -1 per synapse: the sign inhibition has in this projection."""
    if sign == "auto":
        return jnp.sign(ctx.w_init)
    return jnp.full(ctx.w_init.shape, -1.0 if sign == "negative" else 1.0, ctx.w_init.dtype)


def _keep_sign(new: Array, sgn: Array) -> Array:
    """Clip the magnitude at 0: a weight of sign ``sgn`` never crosses 0."""
    return jnp.where(sgn > 0, jnp.maximum(new, 0.0), jnp.where(sgn < 0, jnp.minimum(new, 0.0), new))


def _check_choice(owner: str, field: str, value, choices):
    if value not in choices:
        raise ValueError(f"{owner}.{field} must be one of {choices}, got {value!r}")


def _check_post_field(owner: str, value):
    if not isinstance(value, str):
        raise TypeError(f"{owner}.post_field must be a state field name (str), got {value!r}")


def _check_target(params, owner: str, conn, field: str = "rho"):
    """The target must be a scalar or one value per postsynaptic neuron."""
    shape = np.shape(getattr(params, field))
    if shape not in ((), (conn.n_post,)):
        raise ValueError(f"{owner}.{field} must be a scalar or have shape ({conn.n_post},) "
                         f"(one target per postsynaptic neuron), got shape {shape}")


class ActivityState(NamedTuple):
    a: Array          # activity units, (n_post,)  averaged postsynaptic activity


# ---------------------------------------------------------------------------------------------
# Local adaptive inhibition
# ---------------------------------------------------------------------------------------------

class RateHomeostasisParams(NamedTuple):
    delta: Array      # weight units per activity unit, per step   learning rate (>= 0)
    rho: Array        # activity units (1 for "r", Hz for "spike")  target, scalar or (n_post,)
    tau_avg: Array    # ms  time constant of the activity average (0 = instantaneous)

    @classmethod
    def default(cls, **overrides) -> "RateHomeostasisParams":
        return make_default(cls, dict(delta=1e-3, rho=0.5, tau_avg=0.0), overrides)


@dataclasses.dataclass(frozen=True)
class RateHomeostasis:
    r"""Local adaptive inhibition: inhibition onto a neuron grows while it is above its target.

    Put it on the inhibitory projections (I -> E, I -> I). Every step, each synapse
    $j \to i$ changes the **magnitude** of its weight by

    $$ \Delta |w_{ij}| = \delta\,(\bar a_i - \rho_i)
       \quad \text{(``"additive"``)}, \qquad
       \Delta |w_{ij}| = \delta\,(\bar a_i - \rho_i)\,|w^0_{ij}|
       \quad \text{(``"gain"``)}, $$

    with $|w_{ij}|$ clipped at $\ge 0$, and $\bar a_i$ the postsynaptic activity
    (``post_field``), optionally averaged, $\bar a_i \leftarrow a_i + (\bar a_i - a_i)
    e^{-\Delta t/\tau_\mathrm{avg}}$ ($\tau_\mathrm{avg} = 0$: $\bar a_i = a_i$). A neuron
    firing above its target $\rho_i$ gets more inhibition, one below less; the rule reads only
    the postsynaptic activity and its target. A per-neuron ``rho`` of shape ``(n_post,)`` gives
    heterogeneous targets.

    * ``"additive"`` is Eq. 7 of Srinivasan, Plenz & Girvan (2025),
      $A^I_{ij} \leftarrow \max(0, A^I_{ij} + \delta (r_i - \rho_i))$, per synapse.
    * ``"gain"`` is its per-neuron form $A^I_{ij} = g_i \hat A^I_{ij}$ with
      $g_i \leftarrow \max(0, g_i + \delta (r_i - \rho_i))$, $g_i(0) = 1$: all inhibitory
      synapses onto $i$ scale together and keep their pattern $\hat A^I = |w^0|$.

    The weight changes as $\Delta w = \sigma_{ij} \Delta |w_{ij}|$, where the sign
    $\sigma_{ij}$ is that of the initial weight (``sign="auto"``: negative weights into
    ``"i"``, positive into ``"g_inh"``; a zero initial weight then stays 0) or fixed
    (``"negative"``/``"positive"``, which lets zero-initialised synapses grow with ``"additive"``).

    At a stationary state the average change is zero, so $\langle a_i \rangle = \rho_i$ for every
    neuron whose inhibition is not clipped at 0: the rule integrates the rate error.

    | param   | symbol               | default | unit                                   |
    |---------|----------------------|---------|----------------------------------------|
    | delta   | $\delta$             | 0.001   | weight units per activity unit, per step |
    | rho     | $\rho_i$             | 0.5     | activity units (1 for ``r``, Hz for ``spike``) |
    | tau_avg | $\tau_\mathrm{avg}$  | 0.0     | ms                                     |

    Static choices: ``form`` (``"additive"`` or ``"gain"``), ``post_field`` (``"r"``; or
    ``"spike"``, read as $s/\Delta t$ in Hz), ``sign`` (``"auto"``, ``"negative"``,
    ``"positive"``).

    State: :class:`ActivityState` (the averaged activity $\bar a$, initialised to $\rho$).

    References:
        Srinivasan, Plenz & Girvan (2025), *Boosting reservoir computing with brain-inspired
        adaptive dynamics*, arXiv:2504.12480 (Eq. 7). Vogels et al. (2011), Science 334:1569
        (the spiking counterpart, :class:`InhibitorySTDP`).

    Examples:
        >>> import neurojax as nj
        >>> rule = nj.plasticity.RateHomeostasis(form="gain")
        >>> p = rule.default_params()
        >>> float(p.delta), float(p.rho)
        (0.001, 0.5)
    """

    form: str = "additive"
    post_field: str = "r"
    sign: str = "auto"

    def __post_init__(self):
        _check_choice("RateHomeostasis", "form", self.form, FORMS)
        _check_choice("RateHomeostasis", "sign", self.sign, SIGNS)
        _check_post_field("RateHomeostasis", self.post_field)

    def default_params(self) -> RateHomeostasisParams:
        return RateHomeostasisParams.default()

    def init(self, params: RateHomeostasisParams, conn) -> ActivityState:
        return _activity_at_target(params.rho, conn)

    def update(self, params: RateHomeostasisParams, dw, pstate: ActivityState, ctx):
        p = params
        a = _average(pstate.a, _activity(ctx.post, self.post_field, ctx.dt), p.tau_avg, ctx.dt)
        err = ctx.at_post(a - p.rho)
        sgn = _synapse_sign(self.sign, ctx)
        grow = p.delta * err if self.form == "additive" else p.delta * err * jnp.abs(ctx.w_init)
        new = _keep_sign(ctx.w + dw + sgn * grow, sgn)
        return new - ctx.w, ActivityState(a=a)

    def validate(self, params: RateHomeostasisParams, conn):
        check_rule_params(params, "RateHomeostasisParams", nonnegative=("delta", "rho", "tau_avg"))
        _check_target(params, "RateHomeostasisParams", conn)


# ---------------------------------------------------------------------------------------------
# Inhibitory STDP (Vogels et al. 2011)
# ---------------------------------------------------------------------------------------------

class InhibitorySTDPParams(NamedTuple):
    eta: Array        # weight units per pairing   learning rate (>= 0)
    rho: Array        # Hz   target postsynaptic rate, scalar or (n_post,)
    tau: Array        # ms   time constant of both traces

    @classmethod
    def default(cls, **overrides) -> "InhibitorySTDPParams":
        return make_default(cls, dict(eta=1e-3, rho=5.0, tau=20.0), overrides)


@dataclasses.dataclass(frozen=True)
class InhibitorySTDP:
    r"""Inhibitory spike-timing-dependent plasticity of Vogels, Sprekeler et al. (2011).

    Symmetric STDP on inhibitory synapses with a constant depression per presynaptic spike.
    Each step of $\Delta t$, with this step's spikes $s_j$ (pre, inhibitory) and $s_i$
    (post), the magnitude of the synapse $j \to i$ changes by

    $$ \Delta |w_{ij}| = \eta\,\left(x^\mathrm{post}_i - \alpha_i\right) s_j
                       + \eta\, x^\mathrm{pre}_j\, s_i, \qquad \alpha_i = 2 \rho_i \tau , $$

    where $x$ are traces of earlier spikes ($x \leftarrow x\, e^{-\Delta t/\tau}$, $+1$ per
    spike; same-step spikes do not pair, see :func:`~neurojax.plasticity.stdp.decay_and_bump`),
    clipped so the magnitude stays $\ge 0$. For uncorrelated pre and post trains of rates
    $\nu_j$, $\nu_i$ the mean change is $\eta \nu_j (2 \nu_i \tau - \alpha_i)$ per unit time:
    zero exactly at $\nu_i = \rho_i$, more inhibition above it and less below it, so each
    postsynaptic neuron is driven to its own target.

    In discrete time the mean trace seen by a spike is $\nu \tau_\Delta$ with
    $\tau_\Delta = \Delta t\, d / (1 - d)$, $d = e^{-\Delta t/\tau}$
    ($= \tau - \Delta t/2 + \Delta t^2/(12\tau) + O(\Delta t^4)$), so the rule uses
    $\alpha_i = 2\rho_i\tau_\Delta$, which keeps the fixed point at exactly $\rho_i$ for any
    $\Delta t$ for independent trains. (Correlations between pre and post shift it: in a small
    network where each inhibitory synapse matters, rates settle a few per cent off target.)
    Units: $\rho$ in Hz, $\tau$ in ms, so $\alpha = 2 \rho \tau_\Delta \cdot 10^{-3}$ is
    dimensionless like the traces.

    The weight changes as $\Delta w = \sigma_{ij} \Delta |w_{ij}|$ with the sign
    $\sigma_{ij}$ of the initial weight (``sign="auto"``: positive conductances into
    ``"g_inh"`` or negative currents into ``"i"``) or fixed by ``sign``.

    | param | symbol   | default | unit                    |
    |-------|----------|---------|-------------------------|
    | eta   | $\eta$   | 0.001   | weight units per pairing |
    | rho   | $\rho_i$ | 5.0     | Hz                      |
    | tau   | $\tau$   | 20.0    | ms                      |

    Static choices: ``sign``, and the state fields read as spikes (``pre_field``/``post_field``).

    State: :class:`~neurojax.plasticity.TraceState` (one trace per neuron).

    References:
        Vogels, Sprekeler, Zenke, Clopath & Gerstner (2011), *Inhibitory plasticity balances
        excitation and inhibition in sensory pathways and memory networks*, Science
        334:1569-1573.

    Examples:
        >>> import neurojax as nj
        >>> p = nj.plasticity.InhibitorySTDP().default_params()
        >>> float(p.rho), float(p.tau)
        (5.0, 20.0)
    """

    sign: str = "auto"
    pre_field: str = "spike"
    post_field: str = "spike"

    def __post_init__(self):
        _check_choice("InhibitorySTDP", "sign", self.sign, SIGNS)
        _check_post_field("InhibitorySTDP", self.post_field)

    def default_params(self) -> InhibitorySTDPParams:
        return InhibitorySTDPParams.default()

    def init(self, params: InhibitorySTDPParams, conn) -> TraceState:
        del params
        dtype = float_dtype()
        return TraceState(x_pre=jnp.zeros((conn.n_pre,), dtype),
                          x_post=jnp.zeros((conn.n_post,), dtype))

    def update(self, params: InhibitorySTDPParams, dw, pstate: TraceState, ctx):
        p = params
        s_pre, s_post = getattr(ctx.pre, self.pre_field), getattr(ctx.post, self.post_field)
        decay = jnp.exp(-ctx.dt / p.tau)
        x_pre, x_pre_next = decay_and_bump(pstate.x_pre, s_pre, decay, False)
        x_post, x_post_next = decay_and_bump(pstate.x_post, s_post, decay, False)
        alpha = 2.0 * p.rho * 1e-3 * ctx.dt * decay / (1.0 - decay)
        grow = p.eta * (ctx.at_post(x_post - alpha) * ctx.at_pre(s_pre)
                        + ctx.at_pre(x_pre) * ctx.at_post(s_post))
        sgn = _synapse_sign(self.sign, ctx)
        new = _keep_sign(ctx.w + dw + sgn * grow, sgn)
        return new - ctx.w, TraceState(x_pre=x_pre_next, x_post=x_post_next)

    def validate(self, params: InhibitorySTDPParams, conn):
        check_rule_params(params, "InhibitorySTDPParams", positive=("tau",),
                          nonnegative=("eta", "rho"))
        _check_target(params, "InhibitorySTDPParams", conn)


# ---------------------------------------------------------------------------------------------
# Synaptic scaling (Turrigiano)
# ---------------------------------------------------------------------------------------------

class SynapticScalingParams(NamedTuple):
    eta: Array        # 1 / (activity unit * step)   scaling rate (>= 0)
    rho: Array        # activity units (1 for "r", Hz for "spike")  target, scalar or (n_post,)
    tau_avg: Array    # ms   time constant of the slow activity average (0 = instantaneous)

    @classmethod
    def default(cls, **overrides) -> "SynapticScalingParams":
        return make_default(cls, dict(eta=1e-4, rho=5.0, tau_avg=1000.0), overrides)


@dataclasses.dataclass(frozen=True)
class SynapticScaling:
    r"""Multiplicative synaptic scaling of all incoming weights toward a target activity.

    Each step, with a slow average of the postsynaptic activity
    $\bar a_i \leftarrow a_i + (\bar a_i - a_i) e^{-\Delta t/\tau_\mathrm{avg}}$,

    $$ \Delta w_{ij} = \eta\,(\rho_i - \bar a_i)\, w_{ij} $$

    for every synapse onto $i$: the whole input vector of a neuron is scaled by the same factor
    $1 + \eta(\rho_i - \bar a_i)$, so relative weights (what other rules learned) are kept and
    no weight changes sign (while $\eta |\rho_i - \bar a_i| < 1$). A neuron below its target
    gets stronger inputs, one above weaker ones: use it on **excitatory** projections (for
    inhibitory ones, whose magnitude should move the other way, use :class:`RateHomeostasis`
    with ``form="gain"``). It composes with other rules in :func:`~neurojax.plasticity.chain`
    (Turrigiano et al. 1998; van Rossum, Bi & Turrigiano 2000).

    | param   | symbol              | default | unit                                      |
    |---------|---------------------|---------|-------------------------------------------|
    | eta     | $\eta$              | 1e-4    | 1 / (activity unit * step)                 |
    | rho     | $\rho_i$            | 5.0     | activity units (Hz for ``spike``, 1 for ``r``) |
    | tau_avg | $\tau_\mathrm{avg}$ | 1000.0  | ms                                        |

    Static choice: ``post_field`` (default ``"spike"``, read as $s/\Delta t$ in Hz; a rate
    field such as ``"r"`` is used as is).

    State: :class:`ActivityState` (the average $\bar a$, initialised to $\rho$).

    References:
        Turrigiano, Leslie, Desai, Rutherford & Nelson (1998), Nature 391:892-896.
        van Rossum, Bi & Turrigiano (2000), J. Neurosci. 20:8812-8821.

    Examples:
        >>> import neurojax as nj
        >>> p = nj.plasticity.SynapticScaling().default_params()
        >>> float(p.tau_avg)
        1000.0
    """

    post_field: str = "spike"

    def __post_init__(self):
        _check_post_field("SynapticScaling", self.post_field)

    def default_params(self) -> SynapticScalingParams:
        return SynapticScalingParams.default()

    def init(self, params: SynapticScalingParams, conn) -> ActivityState:
        return _activity_at_target(params.rho, conn)

    def update(self, params: SynapticScalingParams, dw, pstate: ActivityState, ctx):
        p = params
        a = _average(pstate.a, _activity(ctx.post, self.post_field, ctx.dt), p.tau_avg, ctx.dt)
        return dw + p.eta * ctx.at_post(p.rho - a) * ctx.w, ActivityState(a=a)

    def validate(self, params: SynapticScalingParams, conn):
        check_rule_params(params, "SynapticScalingParams", nonnegative=("eta", "rho", "tau_avg"))
        _check_target(params, "SynapticScalingParams", conn)
