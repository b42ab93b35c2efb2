r"""Three-factor plasticity: eligibility traces turned into weight change by a third factor.

Two families of stages, all with the optax-style interface of :mod:`neurojax.plasticity.base`:

* **Reward-modulated** (Izhikevich 2007; Frémaux & Gerstner 2016): a Hebbian source (e.g.
  :class:`~neurojax.plasticity.STDP`) proposes a change, :class:`Eligibility` stores it in a
  decaying per-synapse trace, and :class:`ScaleByModulator` lets a neuromodulator (dopamine)
  turn the trace into weight change::

      chain(STDP(), Eligibility(), ScaleByModulator("da", "d"), ClipWeights())

* **Error-driven readouts** (reservoirs.md §5.3): :class:`GatedErrorHebbian`, the
  error-modulated, attention-gated three-factor rule (online, or accumulated and applied
  after a trial with :func:`consolidate`), and its baseline :class:`RLSReadout` (FORCE,
  recursive least squares; :func:`reset_rule_state` re-initialises it).

Third factors are read from populations listed in ``Projection(modulators=...)``: a
neuromodulator (``nj.Neuromodulator``, field ``"d"``), or any population whose state carries a
given signal, e.g. a size-1 ``nj.SpikeSource`` whose ``"spike"`` field is whatever float
``inputs[name]`` holds at that step (a reward, a teacher, a gate). A modulator is a scalar (a
population of size 1) or per-postsynaptic (a population of size ``n_post``).

Timing (from the simulator's step order): at step $t$ a rule sees the states the populations
reached at $t$ (``ctx.pre``, ``ctx.post``, ``ctx.modulators``), i.e. the input given at index
$t$ of ``inputs``; the readout output $y(t)$ was driven by the presynaptic signal of step
$t - \mathrm{delay}$ through the weights as they were after step $t - 1$.
"""
import dataclasses
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import check_int, float_dtype, make_default
from neurojax.plasticity.base import Chain, check_rule_params
from neurojax.plasticity.stdp import decay_and_bump

Array = jax.Array


def _check_names(obj, *fields, optional=()):
    for field in fields:
        value = getattr(obj, field)
        if value is None and field in optional:
            continue
        if not isinstance(value, str) or not value:
            raise TypeError(f"{type(obj).__name__}.{field} must be a non-empty str, got {value!r}")


def _modulator(ctx, name: str, field: str, owner: str) -> Array:
    """Modulator ``name.field`` as a scalar or an ``(n_post,)`` vector (checked at trace time)."""
    x = jnp.asarray(ctx.modulator(name, field))
    if x.shape not in ((), (ctx.n_post,)):
        raise ValueError(f"{owner}: modulator '{name}.{field}' has shape {x.shape}; it must come "
                         f"from a population of size 1 or of size n_post = {ctx.n_post}")
    return x


def _on_synapses(ctx, x: Array) -> Array:
    """A scalar stays a scalar; an ``(n_post,)`` vector goes onto the ``(n_pre, k)`` layout."""
    return x if x.ndim == 0 else ctx.at_post(x)


# ---------------------------------------------------------------------------------------------
# Eligibility trace and modulator scaling
# ---------------------------------------------------------------------------------------------

class EligibilityParams(NamedTuple):
    tau_e: Array    # ms  decay time constant of the eligibility trace

    @classmethod
    def default(cls, **overrides) -> "EligibilityParams":
        return make_default(cls, dict(tau_e=500.0), overrides)


class EligibilityState(NamedTuple):
    e: Array        # weight units  eligibility trace per synapse, (n_pre, k) like the weights


@dataclasses.dataclass(frozen=True)
class Eligibility:
    r"""Per-synapse eligibility trace: stores the proposed change and emits the trace.

    Each step, with $\Delta w^\mathrm{in}(t)$ the change proposed by the previous stages,
    $$ e(t) = e(t-1)\, e^{-\Delta t/\tau_e} + \Delta w^\mathrm{in}(t), \qquad
       \Delta w^\mathrm{out}(t) = e(t), $$
    so $e(t) = \sum_{t' \le t} e^{-(t - t')\Delta t/\tau_e}\, \Delta w^\mathrm{in}(t')$: the
    increment of this step is already in the trace this step emits. On its own the stage
    would apply the whole trace every step; follow it with :class:`ScaleByModulator`, which
    makes the change $\eta\, M(t)\, e(t)$ (zero while the modulator is zero).

    | param | symbol     | default | unit |
    |-------|------------|---------|------|
    | tau_e | $\tau_e$   | 500.0   | ms   |

    State: :class:`EligibilityState` ``e`` with the layout of the weights ``(n_pre, k)``
    (0 on padding slots).

    References:
        Izhikevich (2007), Cerebral Cortex 17(10) (dopamine-modulated STDP, $\tau_c = 1$ s);
        Frémaux & Gerstner (2016), Front. Neural Circuits 9:85 (three-factor rules).

    Examples:
        >>> import neurojax as nj
        >>> pl = nj.plasticity
        >>> rule = pl.chain(pl.STDP(), pl.Eligibility(), pl.ScaleByModulator("da", "d"))
        >>> [type(p).__name__ for p in rule.default_params()]
        ['STDPParams', 'EligibilityParams', 'ScaleByModulatorParams']
    """

    def default_params(self) -> EligibilityParams:
        return EligibilityParams.default()

    def init(self, params: EligibilityParams, conn) -> EligibilityState:
        del params
        return EligibilityState(e=jnp.zeros(conn.post_idx.shape, float_dtype()))

    def update(self, params: EligibilityParams, dw, pstate: EligibilityState, ctx):
        e = jnp.where(ctx.mask, pstate.e * jnp.exp(-ctx.dt / params.tau_e) + dw, 0.0)
        return e, EligibilityState(e=e)

    def validate(self, params: EligibilityParams, conn):
        del conn
        check_rule_params(params, "EligibilityParams", positive=("tau_e",))


class ScaleByModulatorParams(NamedTuple):
    lr: Array       # 1 / modulator unit  learning rate

    @classmethod
    def default(cls, **overrides) -> "ScaleByModulatorParams":
        return make_default(cls, dict(lr=1.0), overrides)


@dataclasses.dataclass(frozen=True)
class ScaleByModulator:
    r"""Third factor: $\Delta w' = \eta\, M(t)\, \Delta w$, with $M$ read from a modulator.

    $M$ is ``field`` of population ``name`` (listed in ``Projection(modulators=...)``) at
    this step: a scalar (population of size 1, e.g. a dopamine unit) or one value per
    postsynaptic neuron (population of size ``n_post``; synapse $j \to i$ uses $M_i$).
    $M = 0$ gives exactly $\Delta w' = 0$.

    | param | symbol  | default | unit             |
    |-------|---------|---------|------------------|
    | lr    | $\eta$  | 1.0     | 1/modulator unit |

    Static fields: ``name`` (population), ``field`` (state field, default ``"d"`` of
    ``nj.Neuromodulator``; ``"spike"`` for a ``SpikeSource`` carrying the signal as input).
    Stateless.

    Examples:
        >>> import neurojax as nj
        >>> float(nj.plasticity.ScaleByModulator("da").default_params().lr)
        1.0
    """

    name: str
    field: str = "d"

    def __post_init__(self):
        _check_names(self, "name", "field")

    def default_params(self) -> ScaleByModulatorParams:
        return ScaleByModulatorParams.default()

    def init(self, params, conn):
        del params, conn
        return None

    def update(self, params: ScaleByModulatorParams, dw, pstate, ctx):
        m = _modulator(ctx, self.name, self.field, "ScaleByModulator")
        return params.lr * _on_synapses(ctx, m) * dw, pstate

    def validate(self, params: ScaleByModulatorParams, conn):
        del conn
        check_rule_params(params, "ScaleByModulatorParams")


# ---------------------------------------------------------------------------------------------
# Error-modulated, gated Hebbian readout rule
# ---------------------------------------------------------------------------------------------

class GatedErrorHebbianParams(NamedTuple):
    eta: Array      # 1 / (teacher unit * trace unit)  learning rate, >= 0
    tau_s: Array    # ms  presynaptic trace time constant
    tau_e: Array    # ms  eligibility time constant

    @classmethod
    def default(cls, **overrides) -> "GatedErrorHebbianParams":
        return make_default(cls, dict(eta=1e-3, tau_s=20.0, tau_e=200.0), overrides)


class GatedErrorHebbianState(NamedTuple):
    s: Array                # presynaptic trace (after this step's spike), (n_pre,)
    e: Array                # eligibility, (n_pre,): with h = 1 every synapse of a row shares it
    acc: Optional[Array]    # accumulated change (offline rule), (n_pre, k); None when online


@dataclasses.dataclass(frozen=True)
class GatedErrorHebbian:
    r"""Error-modulated, attention-gated three-factor rule for readouts (reservoirs.md §5.3).

    For readout $k$ with output $y_k$ (the post population's ``output_field``, e.g. ``"r"``
    of an ``nj.ClippedLinear`` unit), each step $t$:

    1. presynaptic trace (the convention of :func:`~neurojax.plasticity.stdp.decay_and_bump`:
       decay, use, then add this step's spike)
       $$ s_j(t) = \sum_{t' < t} e^{-(t - t')\Delta t/\tau_s}\, x_j(t') , $$
       $x_j$ being the pre ``pre_field`` (spikes). This step's spike is excluded: it cannot
       have reached $y(t)$ yet (delays are $\ge 1$). Through an ``Exponential(tau=tau_s)``
       synapse with ``delay_steps=1`` the readout receives exactly
       $s_j(t)\, e^{\Delta t/\tau_s}$; the constant factor is absorbed by $\eta$;
    2. eligibility, with postsynaptic factor $h = 1$ (the delta-rule form),
       $e_{kj}(t) = e_{kj}(t-1)\, e^{-\Delta t/\tau_e} + s_j(t)\, h$;
    3. third factors: the error $E_k(t) = d_k(t) - y_k(t)$, the teacher $d_k$ being modulator
       ``teacher.teacher_field`` (scalar, or one value per readout), and the gate $G(t)$,
       modulator ``gate.gate_field`` (scalar or per readout; ``gate=None`` means $G = 1$);
    4. $\Delta w_{kj}(t) = \eta\, G(t)\, E_k(t)\, e_{kj}(t)$.

    ``offline=False`` ("when" readouts) applies step 4 every step. ``offline=True`` ("what"
    readouts) adds it to the rule state ``acc`` and emits 0, so the weights stay fixed during
    the trial; :func:`consolidate` then moves ``acc`` into ``state.projs[proj].dw`` (and
    zeroes it) between trials. Stages chained after an offline rule (e.g. ``ClipWeights``)
    see 0 and do not act on the consolidated change.

    With $h = 1$ the eligibility of synapse $j \to k$ does not depend on $k$, so it is kept
    once per presynaptic neuron ($O(n_\mathrm{pre})$ memory).

    | param | symbol   | default | unit                      |
    |-------|----------|---------|---------------------------|
    | eta   | $\eta$   | 1e-3    | 1/(teacher unit x trace)  |
    | tau_s | $\tau_s$ | 20.0    | ms                        |
    | tau_e | $\tau_e$ | 200.0   | ms                        |

    Static fields: ``teacher`` / ``teacher_field`` (default ``"teacher"`` / ``"spike"``),
    ``gate`` / ``gate_field`` (default ``None`` / ``"spike"``), ``output_field`` (``"r"``),
    ``pre_field`` (``"spike"``), ``offline`` (``False``). The teacher and gate populations
    must be listed in ``Projection(modulators=...)``.

    State: :class:`GatedErrorHebbianState`.

    References:
        Frémaux & Gerstner (2016), Front. Neural Circuits 9:85; Yamada & Chao (2025),
        arXiv:2510.14382 (error-modulated, gated readouts; the exact form is not public,
        this is the generic one of reservoirs.md §5.3).

    Examples:
        >>> import neurojax as nj
        >>> rule = nj.plasticity.GatedErrorHebbian(teacher="d", gate="g", offline=True)
        >>> float(rule.default_params().tau_e)
        200.0
    """

    teacher: str = "teacher"
    gate: Optional[str] = None
    teacher_field: str = "spike"
    gate_field: str = "spike"
    output_field: str = "r"
    pre_field: str = "spike"
    offline: bool = False

    def __post_init__(self):
        _check_names(self, "teacher", "gate", "teacher_field", "gate_field", "output_field",
                     "pre_field", optional=("gate",))
        if not isinstance(self.offline, bool):
            raise TypeError(f"GatedErrorHebbian.offline must be a bool, got {self.offline!r}")

    def default_params(self) -> GatedErrorHebbianParams:
        return GatedErrorHebbianParams.default()

    def init(self, params: GatedErrorHebbianParams, conn) -> GatedErrorHebbianState:
        del params
        dtype = float_dtype()
        acc = jnp.zeros(conn.post_idx.shape, dtype) if self.offline else None
        return GatedErrorHebbianState(s=jnp.zeros((conn.n_pre,), dtype),
                                      e=jnp.zeros((conn.n_pre,), dtype), acc=acc)

    def update(self, params: GatedErrorHebbianParams, dw, pstate: GatedErrorHebbianState, ctx):
        p = params
        x = getattr(ctx.pre, self.pre_field)
        s, s_next = decay_and_bump(pstate.s, x, jnp.exp(-ctx.dt / p.tau_s), nearest=False)
        e = pstate.e * jnp.exp(-ctx.dt / p.tau_e) + s
        d = _modulator(ctx, self.teacher, self.teacher_field, "GatedErrorHebbian.teacher")
        err = d - getattr(ctx.post, self.output_field)
        if self.gate is not None:
            err = err * _modulator(ctx, self.gate, self.gate_field, "GatedErrorHebbian.gate")
        change = p.eta * ctx.at_post(err) * ctx.at_pre(e)
        if self.offline:
            return dw, GatedErrorHebbianState(s=s_next, e=e, acc=pstate.acc + change)
        return dw + change, GatedErrorHebbianState(s=s_next, e=e, acc=None)

    def validate(self, params: GatedErrorHebbianParams, conn):
        del conn
        check_rule_params(params, "GatedErrorHebbianParams", positive=("tau_s", "tau_e"),
                          nonnegative=("eta",))


def consolidate(net, state, proj: str):
    r"""Apply what offline :class:`GatedErrorHebbian` stages accumulated: ``dw += acc``, ``acc <- 0``.

    Call it between trials (outside or inside ``jit``; it is pure). Works for the rule itself
    or any offline stage of a :func:`~neurojax.plasticity.chain`. The weight then used for
    transmission is ``params[proj].w + state.projs[proj].dw`` as always
    (:func:`~neurojax.plasticity.absorb_plasticity` moves it into ``params``).

    Args:
        net: the network.
        state: the :class:`~neurojax.network.SimState` after a trial.
        proj: name of the projection.

    Returns:
        the new state (traces ``s``, ``e`` kept).

    Raises:
        ValueError: unknown projection, or no offline ``GatedErrorHebbian`` in its rule.
    """
    if proj not in net.projections:
        raise ValueError(f"consolidate: unknown projection '{proj}'; known: {sorted(net.projections)}")
    projection = net.projections[proj]
    rule = projection.plasticity
    in_chain = isinstance(rule, Chain)
    stages = rule.stages if in_chain else (rule,)
    offline = [i for i, stage in enumerate(stages)
               if isinstance(stage, GatedErrorHebbian) and stage.offline]
    if not offline:
        raise ValueError(f"consolidate: projection '{proj}' has no GatedErrorHebbian(offline=True) "
                         f"stage (its rule is {type(rule).__name__})")
    ps = state.projs[proj]
    plast = list(ps.plast) if in_chain else [ps.plast]
    dw = ps.dw
    for i in offline:
        dw = dw + jnp.where(projection.conn.mask, plast[i].acc, 0.0)
        plast[i] = plast[i]._replace(acc=jnp.zeros_like(plast[i].acc))
    projs = dict(state.projs)
    projs[proj] = ps._replace(dw=dw, plast=tuple(plast) if in_chain else plast[0])
    return state._replace(projs=projs)


def reset_rule_state(net, params: dict, state, proj: str):
    """Re-initialise the rule state of projection ``proj`` (``rule.init``); ``dw`` is kept.

    For :class:`RLSReadout` this is FORCE's "reset": $P \\leftarrow I/\\alpha$ (the learned
    weights stay). Traces of other rules (STDP, eligibility) are zeroed the same way.
    """
    if proj not in net.projections:
        raise ValueError(f"reset_rule_state: unknown projection '{proj}'; "
                         f"known: {sorted(net.projections)}")
    projection = net.projections[proj]
    if projection.plasticity is None:
        raise ValueError(f"reset_rule_state: projection '{proj}' has no plasticity rule")
    projs = dict(state.projs)
    projs[proj] = projs[proj]._replace(
        plast=projection.plasticity.init(params[proj].plast, projection.conn))
    return state._replace(projs=projs)


# ---------------------------------------------------------------------------------------------
# FORCE / recursive least squares baseline
# ---------------------------------------------------------------------------------------------

class RLSReadoutParams(NamedTuple):
    alpha: Array    # (pre activity unit)^2  regulariser, P(0) = I / alpha (scalar)

    @classmethod
    def default(cls, **overrides) -> "RLSReadoutParams":
        return make_default(cls, dict(alpha=1.0), overrides)


class RLSReadoutState(NamedTuple):
    P: Array                # running inverse correlation matrix of r, (n_pre, n_pre)
    r_buf: Optional[Array]  # ring buffer of past presynaptic activity, (lag, n_pre); None if lag 0


@dataclasses.dataclass(frozen=True)
class RLSReadout:
    r"""FORCE learning (Sussillo & Abbott 2009): recursive least squares on a readout.

    The projection must be all-to-all (every presynaptic row lists every readout). With $r$
    the presynaptic activity that produced this step's output (the pre ``pre_field`` of step
    $t - \text{lag}$; set ``lag`` to the projection's ``delay_steps``), the teacher $d_k$ and
    the output $y_k$ as in :class:`GatedErrorHebbian`, every ``every`` steps
    ($t \equiv 0 \bmod$ ``every``):
    $$ P \leftarrow P - \frac{P r\, r^\top P}{1 + r^\top P r}, \qquad
       \Delta w_{jk} = E_k\, (P r)_j, \quad E_k = d_k - y_k , $$
    with the updated $P$, i.e. $(P r)_j = (P_\mathrm{old} r)_j / (1 + r^\top P_\mathrm{old} r)$.
    Other steps change nothing. $P(0) = I/\alpha$; FORCE's "reset" is
    :func:`reset_rule_state` (it also clears the ``lag`` buffer, so the first ``lag`` steps
    after a reset do not update).

    | param | symbol    | default | unit         |
    |-------|-----------|---------|--------------|
    | alpha | $\alpha$  | 1.0     | (pre unit)^2 |

    Static fields: ``teacher`` / ``teacher_field`` (``"teacher"`` / ``"spike"``), ``pre_field``
    (``"r"``: a rate or filtered-trace field), ``output_field`` (``"r"``), ``every`` (1),
    ``lag`` (1). Memory and work are $O(n_\mathrm{pre}^2)$ per update.

    State: :class:`RLSReadoutState`.

    References:
        Sussillo & Abbott (2009), Neuron 63(4), 544-557; Haykin, *Adaptive Filter Theory*
        (RLS with forgetting factor 1).

    Examples:
        >>> import neurojax as nj
        >>> conn = nj.from_edges([0, 0, 1, 1], [0, 1, 0, 1], 2, 2)
        >>> pl = nj.plasticity
        >>> pl.RLSReadout().init(pl.RLSReadoutParams.default(alpha=2.0), conn).P.tolist()
        [[0.5, 0.0], [0.0, 0.5]]
    """

    teacher: str = "teacher"
    teacher_field: str = "spike"
    pre_field: str = "r"
    output_field: str = "r"
    every: int = 1
    lag: int = 1

    def __post_init__(self):
        _check_names(self, "teacher", "teacher_field", "pre_field", "output_field")
        check_int(self.every, "RLSReadout.every", minimum=1)
        check_int(self.lag, "RLSReadout.lag", minimum=0)

    def default_params(self) -> RLSReadoutParams:
        return RLSReadoutParams.default()

    def init(self, params: RLSReadoutParams, conn) -> RLSReadoutState:
        dtype = float_dtype()
        P = jnp.eye(conn.n_pre, dtype=dtype) / jnp.asarray(params.alpha, dtype)
        r_buf = jnp.zeros((self.lag, conn.n_pre), dtype) if self.lag else None
        return RLSReadoutState(P=P, r_buf=r_buf)

    def update(self, params: RLSReadoutParams, dw, pstate: RLSReadoutState, ctx):
        del params
        r_now = getattr(ctx.pre, self.pre_field)
        r_buf = pstate.r_buf
        if self.lag:
            slot = ctx.t % self.lag
            r = r_buf[slot]
            r_buf = r_buf.at[slot].set(r_now.astype(r_buf.dtype))
        else:
            r = r_now
        P = pstate.P
        Pr = P @ r
        gain = Pr / (1.0 + r @ Pr)                      # = P_new r
        P_new = P - jnp.outer(gain, Pr)
        d = _modulator(ctx, self.teacher, self.teacher_field, "RLSReadout.teacher")
        err = d - getattr(ctx.post, self.output_field)
        change = ctx.at_pre(gain) * ctx.at_post(err)
        if self.every > 1:
            on = (ctx.t % self.every) == 0
            P_new = jnp.where(on, P_new, P)
            change = jnp.where(on, change, 0.0)
        return dw + change, RLSReadoutState(P=P_new, r_buf=r_buf)

    def validate(self, params: RLSReadoutParams, conn):
        check_rule_params(params, "RLSReadoutParams", positive=("alpha",))
        if np.ndim(params.alpha) != 0:
            raise ValueError(f"RLSReadoutParams.alpha must be a scalar, got shape "
                             f"{np.shape(params.alpha)}")
        idx = np.sort(np.asarray(conn.post_idx), axis=1)
        n_post = conn.n_post
        full = (idx.shape[1] >= n_post and (idx[:, :n_post] == np.arange(n_post)).all()
                and (idx[:, n_post:] == n_post).all())
        if not full:
            raise ValueError("RLSReadout needs an all-to-all projection: every presynaptic row "
                             f"must list each of the {n_post} readouts exactly once")
