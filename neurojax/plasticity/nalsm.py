r"""Plasticity of the neuron–astrocyte liquid state machine (NALSM) and its STDP baselines.

Both rules are pair-based STDP on per-neuron traces with hard weight bounds, written to
reproduce the reference loop of Ivanov & Michmizos (2021) (spec nalsm_astro.md §1.4–1.9)
exactly, step for step, when used with :class:`~neurojax.DiscreteLIF`,
:class:`~neurojax.ResetKernel` + :class:`~neurojax.Instant` synapses and (for
:class:`AstrocyteSTDP`) a :class:`~neurojax.LeakyIntegratorAstrocyte` at ``dt = 1`` ms.

**Timing.** The reference spikes before it integrates and transmits with zero delay;
neurojax transmits with a delay of one step. So neurojax's step $n$ is the reference's
integration of step $n$ plus its spike test of step $n+1$: ``spike[n]`` here is the
reference's $s(n+1)$ (for the same input array). The rule of step $n$ therefore pairs the
reference's spikes $s(n+1)$ with the traces of earlier spikes, i.e. it *is* the reference's
plasticity of step $n+1$, and it reads

* the astrocyte state after the astrocyte's own step $n$, which integrated the spike count
  delivered with one step of delay, $s(n)$: the reference's $A$ after its step $n$, the
  value its STDP of step $n+1$ uses;
* the potentiation rate after $n+1$ decays, $\eta_0\,\mathrm{decay}^{n+1}$ (decay, then use),
  which is the reference's $\eta$ at its step $n+1$.

In the reference the weight change of step $n+1$ comes *after* that step's integration, so
it first acts on the integration of step $n+2$. Here transmission at step $n+1$ already
uses the weights after step $n$'s rule; to keep the reference's order the change computed at
step $n$ is held in the rule state (as per-neuron factors, $O(n)$ memory) and applied, with
the clip, at step $n+1$. Hence after $T$ steps ``params.w + state.dw`` equals the reference's
weights after $T$ steps; the change of the last step waits in the rule state.
"""
import dataclasses
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import float_dtype, make_default
from neurojax.kernels.plasticity import pair_change
from neurojax.plasticity.base import check_rule_params
from neurojax.plasticity.stdp import decay_and_bump

Array = jax.Array

#: the trace multiplier per ms whose 10th power best matches e^-1 (Ivanov & Michmizos' code)
NALSM_TRACE_DECAY = 0.9047745


def _bounds(pre_inhibitory: bool) -> dict:
    return dict(w_min=-3.0, w_max=0.0) if pre_inhibitory else dict(w_min=0.0, w_max=3.0)


def _apply_pending(state, ctx, w_min, w_max):
    r"""Clipped change of the held pairing terms: $\mathrm{clip}(w + \Delta W) - w$ with
    $\Delta W_{ij} = c^\mathrm{pre}_j c^\mathrm{post}_i + a^\mathrm{post}_i a^\mathrm{pre}_j$
    (the same expression as the in-place path, :func:`neurojax.kernels.pair_update`)."""
    return pair_change(ctx.post_idx, ctx.w, state.causal_pre, state.causal_post,
                       state.anti_post, state.anti_pre, w_min, w_max, ctx.n_post)


class _HeldPairRule:
    """``update`` / ``accumulate`` of a rule whose step applies the held pairing terms of the
    previous step (clipped) and computes the next ones (``_advance``)."""

    def update(self, params, dw, pstate, ctx):
        dw = dw + _apply_pending(pstate, ctx, params.w_min, params.w_max)
        return dw, self._advance(params, pstate, ctx)

    def accumulate(self, params, dw, pstate, ctx):
        """Event-driven path (used by the simulator when the projection has an event
        capacity): ``state.dw`` after this step, equal to ``state.dw`` plus :meth:`update`'s
        change but touching only the synapses of neurons that spiked."""
        dw = ctx.pair_update(dw, pstate.causal_pre, pstate.causal_post, pstate.anti_post,
                             pstate.anti_pre, params.w_min, params.w_max)
        return dw, self._advance(params, pstate, ctx)


def _traces(params, pstate, ctx):
    """Traces seen this step (earlier spikes only) and after this step's spikes (bump ``a s``)."""
    s_pre, s_post = ctx.pre.spike, ctx.post.spike
    d = params.trace_decay ** ctx.dt
    x_pre, x_pre_next = decay_and_bump(pstate.x_pre, params.a * s_pre, d, False)
    x_post, x_post_next = decay_and_bump(pstate.x_post, params.a * s_post, d, False)
    return s_pre, s_post, x_pre, x_post, x_pre_next, x_post_next


def _check_common(rule, params, owner):
    check_rule_params(params, owner, nonnegative=("a",))
    d = np.asarray(params.trace_decay)
    if not ((d > 0) & (d <= 1)).all():
        raise ValueError(f"{owner}.trace_decay must lie in (0, 1], got {d.min()}..{d.max()}")
    w_min, w_max = np.asarray(params.w_min), np.asarray(params.w_max)
    if not (w_min <= w_max).all():
        raise ValueError(f"{owner}: w_min must be <= w_max")
    if rule.pre_inhibitory and not (w_max <= 0).all():
        raise ValueError(f"{owner}.w_max must be <= 0 for an inhibitory presynaptic population "
                         f"(pre_inhibitory=True; NALSM bounds [-3, 0]), got {w_max.max()}")


# ---------------------------------------------------------------------------------------------
# NALSM: astrocyte-modulated STDP
# ---------------------------------------------------------------------------------------------


class AstrocyteSTDPParams(NamedTuple):
    eta0: Array         # weight units  potentiation rate eta at the start (NALSM 0.15)
    decay: Array        # 1 per ms      multiplicative decay of eta (1 = none; NALSM in-sample 0.99)
    a: Array            # 1             trace increment per spike
    trace_decay: Array  # 1 per ms      trace multiplier d (NALSM 0.9047745, tau ~ 10 ms)
    w_min: Array        # weight units  lower weight bound
    w_max: Array        # weight units  upper weight bound

    @classmethod
    def default(cls, **overrides) -> "AstrocyteSTDPParams":
        """NALSM values with the excitatory bounds [0, 3] (inhibitory: [-3, 0], input: [-3, 3])."""
        return make_default(cls, dict(eta0=0.15, decay=1.0, a=0.1, trace_decay=NALSM_TRACE_DECAY,
                                      **_bounds(False)), overrides)


class AstrocyteSTDPState(NamedTuple):
    x_pre: Array        # 1  presynaptic trace (value seen at the latest step), (n_pre,)
    x_post: Array       # 1  postsynaptic trace, (n_post,)
    eta: Array          # weight units  current potentiation rate, ()
    causal_pre: Array   # weight units  held term lambda_causal * x_pre, (n_pre,)
    causal_post: Array  # 1  held post spikes, (n_post,)
    anti_post: Array    # weight units  held term lambda_anti * x_post, (n_post,)
    anti_pre: Array     # 1  held pre spikes, (n_pre,)


def _empty_state(conn):
    """Zero traces and held terms."""
    dtype = float_dtype()
    pre, post = jnp.zeros((conn.n_pre,), dtype), jnp.zeros((conn.n_post,), dtype)
    return dict(x_pre=pre, x_post=post, causal_pre=pre, causal_post=post, anti_post=post,
                anti_pre=pre)


@dataclasses.dataclass(frozen=True)
class AstrocyteSTDP(_HeldPairRule):
    r"""NALSM's STDP whose depression rate is an astrocyte's state (Ivanov & Michmizos 2021).

    Traces, one per neuron: $x \leftarrow d\,(x + a\,s)$ after the weight update of the step,
    so a step pairs its spikes only with *earlier* spikes. Every synapse $j \to i$ changes by

    $$ \Delta W_{ij} = \lambda_\mathrm{causal}\, x_j\, s_i + \lambda_\mathrm{anti}\, x_i\, s_j,
       \qquad W \leftarrow \mathrm{clip}(W + \Delta W, w_\min, w_\max), $$

    with rates set by the presynaptic type ($A$: the astrocyte state, ``ctx.modulator``):

    | presynaptic population          | $\lambda_\mathrm{causal}$ | $\lambda_\mathrm{anti}$ | bounds (NALSM) |
    |---------------------------------|---------------------------|-------------------------|----------------|
    | excitatory (``pre_inhibitory=False``) | $+\eta$             | $-A$                    | [0, 3]         |
    | input (``pre_inhibitory=False``) | $+\eta$                  | $-A$                    | [-3, 3]        |
    | inhibitory (``pre_inhibitory=True``)  | $-A$                | $+\eta$                 | [-3, 0]        |

    $\eta$ decays as $\eta \leftarrow \eta\cdot\mathrm{decay}^{\Delta t}$ every step (NALSM's
    in-sample fading, ``decay = 0.99``; 1 in the initialisation phase); $A$ is not clipped
    (a negative $A$ turns depression into potentiation, as in the reference). With
    ``astrocyte=None`` the rule uses $A = \eta$: symmetric STDP, the LSM+STDP baseline.

    | param       | symbol      | default   | unit         |
    |-------------|-------------|-----------|--------------|
    | eta0        | $\eta_0$    | 0.15      | weight units |
    | decay       | —           | 1.0       | 1 per ms     |
    | a           | $a$         | 0.1       | 1            |
    | trace_decay | $d$         | 0.9047745 | 1 per ms     |
    | w_min       | $w_\min$    | 0 (I: -3) | weight units |
    | w_max       | $w_\max$    | 3 (I: 0)  | weight units |

    (``rule.default_params(**overrides)`` gives the bounds of the rule's presynaptic type; pass
    ``w_min=-3.0`` for the input projection.) Bounds may be scalars or ``(n_pre, k)``.

    Static fields: ``astrocyte`` (name of the modulator population, listed in the projection's
    ``modulators``, whose field ``a`` is $A$; a size-1 population; ``None``: $A = \eta$),
    ``pre_inhibitory``.

    State: :class:`AstrocyteSTDPState`: traces, current $\eta$, and the pairing terms of the
    latest step, held for one step (module docstring, *Timing*).

    Protocol (not part of the rule): NALSM resets $\eta$ (and the astrocyte) at every sample
    start, i.e. a fresh ``init_state``; its reference code does *not* reset the STDP traces
    between the samples of a batch slot. To keep traces, carry ``state.projs[name].plast``
    over with ``x_pre``/``x_post`` kept and the other fields from the fresh state.

    Timing: the module docstring explains why this rule reproduces the reference loop step
    for step (``tests/test_nalsm.py`` checks spikes and weights against a NumPy transcription).
    The trace uses :func:`~neurojax.plasticity.stdp.decay_and_bump` with bump $a\,s$, whose
    "seen" value obeys exactly the reference recursion $x \leftarrow d\,(x + a\,s)$.

    References:
        Ivanov & Michmizos (2021), "Increasing liquid state machine performance with
        edge-of-chaos dynamics organized by astrocyte-modulated plasticity", NeurIPS 34.

    Examples:
        >>> import neurojax as nj
        >>> rule = nj.plasticity.AstrocyteSTDP(astrocyte="astro", pre_inhibitory=True)
        >>> p = rule.default_params()
        >>> float(p.eta0), float(p.w_min), float(p.w_max)
        (0.15, -3.0, 0.0)
    """

    astrocyte: Optional[str] = None
    pre_inhibitory: bool = False

    def __post_init__(self):
        if self.astrocyte is not None and not isinstance(self.astrocyte, str):
            raise TypeError(f"AstrocyteSTDP.astrocyte must be a population name or None, "
                            f"got {self.astrocyte!r}")
        if not isinstance(self.pre_inhibitory, bool):
            raise TypeError(f"AstrocyteSTDP.pre_inhibitory must be a bool, got {self.pre_inhibitory!r}")

    def default_params(self, **overrides) -> AstrocyteSTDPParams:
        return AstrocyteSTDPParams.default(**{**_bounds(self.pre_inhibitory), **overrides})

    def init(self, params: AstrocyteSTDPParams, conn) -> AstrocyteSTDPState:
        return AstrocyteSTDPState(eta=jnp.asarray(params.eta0, float_dtype()),
                                  **_empty_state(conn))

    def _advance(self, params: AstrocyteSTDPParams, pstate: AstrocyteSTDPState, ctx):
        eta = pstate.eta * params.decay ** ctx.dt
        if self.astrocyte is None:
            depression = eta
        else:
            depression = ctx.modulator(self.astrocyte, "a")
            if jnp.ndim(depression) != 0:
                raise ValueError(f"AstrocyteSTDP reads one global astrocyte state, but population "
                                 f"'{self.astrocyte}' has shape {jnp.shape(depression)}; use a "
                                 "population of size 1")
        lam_causal, lam_anti = (-depression, eta) if self.pre_inhibitory else (eta, -depression)
        s_pre, s_post, x_pre, x_post, x_pre_next, x_post_next = _traces(params, pstate, ctx)
        return AstrocyteSTDPState(x_pre=x_pre_next, x_post=x_post_next, eta=eta,
                                  causal_pre=lam_causal * x_pre, causal_post=s_post,
                                  anti_post=lam_anti * x_post, anti_pre=s_pre)

    def validate(self, params: AstrocyteSTDPParams, conn):
        del conn
        _check_common(self, params, "AstrocyteSTDPParams")
        check_rule_params(params, "AstrocyteSTDPParams", nonnegative=("eta0",))
        decay = np.asarray(params.decay)
        if not ((decay >= 0) & (decay <= 1)).all():
            raise ValueError(f"AstrocyteSTDPParams.decay must lie in [0, 1], "
                             f"got {decay.min()}..{decay.max()}")


# ---------------------------------------------------------------------------------------------
# LSM+AP-STDP baseline: activity-dependent STDP
# ---------------------------------------------------------------------------------------------


class ActivityDependentSTDPParams(NamedTuple):
    eta: Array          # weight units  pair rate (both signs)
    a: Array            # 1             trace increment per spike
    trace_decay: Array  # 1 per ms      trace multiplier d
    tau_c: Array        # ms            time constant of the activity variable C
    c_theta: Array      # Hz            activity target C_theta
    delta_c: Array      # Hz            half-width Delta C of the gating windows
    w_min: Array        # weight units  lower weight bound
    w_max: Array        # weight units  upper weight bound

    @classmethod
    def default(cls, **overrides) -> "ActivityDependentSTDPParams":
        """MNIST settings (C_theta = 37 Hz, Delta C = 22: the middle of the reported 19-25) with
        the excitatory bounds [0, 3]."""
        return make_default(cls, dict(eta=0.15, a=0.1, trace_decay=NALSM_TRACE_DECAY, tau_c=1000.0,
                                      c_theta=37.0, delta_c=22.0, **_bounds(False)), overrides)


class ActivityDependentSTDPState(NamedTuple):
    x_pre: Array        # 1   presynaptic trace, (n_pre,)
    x_post: Array       # 1   postsynaptic trace, (n_post,)
    c: Array            # Hz  postsynaptic activity C (never reset between samples), (n_post,)
    causal_pre: Array   # weight units  held term lambda_causal * x_pre, (n_pre,)
    causal_post: Array  # 1   held gated post spikes, (n_post,)
    anti_post: Array    # weight units  held gated term lambda_anti * x_post, (n_post,)
    anti_pre: Array     # 1   held pre spikes, (n_pre,)


@dataclasses.dataclass(frozen=True)
class ActivityDependentSTDP(_HeldPairRule):
    r"""Activity-dependent STDP, the LSM+AP-STDP baseline of Ivanov & Michmizos (2021).

    Each postsynaptic neuron keeps an activity variable (updated with this step's spikes,
    before the pairing): $C \leftarrow C - \frac{\Delta t}{\tau_C} C + s$, so that
    $C \approx \tau_C \cdot$ rate (Hz for $\tau_C = 1000$ ms). Symmetric pair terms on the
    traces of :class:`AstrocyteSTDP`,

    $$ \Delta W_{ij} = \lambda_\mathrm{causal}\, x_j\, s_i\, G^{(c)}_i
                     + \lambda_\mathrm{anti}\, x_i\, s_j\, G^{(a)}_i , $$

    with $\lambda_\mathrm{causal} = +\eta$, $\lambda_\mathrm{anti} = -\eta$ for excitatory or
    input presynaptic neurons and the reverse for inhibitory ones; a positive term is applied
    only if $C_i \in (C_\theta, C_\theta + \Delta C)$, a negative one only if
    $C_i \in (C_\theta - \Delta C, C_\theta)$ (open intervals). Then
    $W \leftarrow \mathrm{clip}(W + \Delta W, w_\min, w_\max)$. Timing as :class:`AstrocyteSTDP`.

    | param       | symbol          | default   | unit         |
    |-------------|-----------------|-----------|--------------|
    | eta         | $\eta$          | 0.15      | weight units |
    | a           | $a$             | 0.1       | 1            |
    | trace_decay | $d$             | 0.9047745 | 1 per ms     |
    | tau_c       | $\tau_C$        | 1000.0    | ms           |
    | c_theta     | $C_\theta$      | 37.0      | Hz           |
    | delta_c     | $\Delta C$      | 22.0      | Hz           |
    | w_min       | $w_\min$        | 0 (I: -3) | weight units |
    | w_max       | $w_\max$        | 3 (I: 0)  | weight units |

    (N-MNIST: $C_\theta = 10$, $\Delta C = 2$–3.) Protocol: the reference uses this rule only
    in the initialisation phase and never resets $C$ between samples; carry ``c`` over.

    Examples:
        >>> import neurojax as nj
        >>> float(nj.plasticity.ActivityDependentSTDP().default_params().c_theta)
        37.0
    """

    pre_inhibitory: bool = False

    def __post_init__(self):
        if not isinstance(self.pre_inhibitory, bool):
            raise TypeError(f"ActivityDependentSTDP.pre_inhibitory must be a bool, "
                            f"got {self.pre_inhibitory!r}")

    def default_params(self, **overrides) -> ActivityDependentSTDPParams:
        return ActivityDependentSTDPParams.default(**{**_bounds(self.pre_inhibitory), **overrides})

    def init(self, params: ActivityDependentSTDPParams, conn) -> ActivityDependentSTDPState:
        fields = _empty_state(conn)
        return ActivityDependentSTDPState(c=fields["x_post"], **fields)

    def _advance(self, params: ActivityDependentSTDPParams, pstate: ActivityDependentSTDPState,
                 ctx):
        p = params
        s_pre, s_post, x_pre, x_post, x_pre_next, x_post_next = _traces(p, pstate, ctx)
        c = pstate.c - (ctx.dt / p.tau_c) * pstate.c + s_post
        up = ((c > p.c_theta) & (c < p.c_theta + p.delta_c)).astype(c.dtype)
        down = ((c > p.c_theta - p.delta_c) & (c < p.c_theta)).astype(c.dtype)
        if self.pre_inhibitory:     # causal term negative, anti-causal positive
            lam_causal, gate_causal, lam_anti, gate_anti = -p.eta, down, p.eta, up
        else:
            lam_causal, gate_causal, lam_anti, gate_anti = p.eta, up, -p.eta, down
        return ActivityDependentSTDPState(
            x_pre=x_pre_next, x_post=x_post_next, c=c, causal_pre=lam_causal * x_pre,
            causal_post=s_post * gate_causal, anti_post=lam_anti * x_post * gate_anti,
            anti_pre=s_pre)

    def validate(self, params: ActivityDependentSTDPParams, conn):
        del conn
        _check_common(self, params, "ActivityDependentSTDPParams")
        check_rule_params(params, "ActivityDependentSTDPParams", positive=("tau_c",),
                          nonnegative=("eta", "delta_c"))
