r"""Pair-based spike-timing-dependent plasticity (STDP) with presynaptic and postsynaptic traces."""
import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from neurojax._params import float_dtype, make_default
from neurojax.plasticity.base import accumulate_dense, check_rule_params

Array = jax.Array

TRACES = ("all_to_all", "nearest")
WEIGHT_DEPENDENCE = ("additive", "multiplicative")


class STDPParams(NamedTuple):
    a_plus: Array     # weight units  potentiation amplitude (pre before post)
    a_minus: Array    # weight units  depression amplitude (post before pre), >= 0
    tau_plus: Array   # ms  presynaptic trace time constant
    tau_minus: Array  # ms  postsynaptic trace time constant
    w_max: Array      # weight units  upper bound of the multiplicative rule (unused if additive)

    @classmethod
    def default(cls, **overrides) -> "STDPParams":
        return make_default(cls, dict(a_plus=0.01, a_minus=0.0105, tau_plus=20.0,
                                      tau_minus=20.0, w_max=1.0), overrides)


class TraceState(NamedTuple):
    x_pre: Array      # dimensionless presynaptic trace, (n_pre,)
    x_post: Array     # dimensionless postsynaptic trace, (n_post,)


def decay_and_bump(x: Array, spike: Array, decay: Array, nearest: bool):
    r"""The trace seen at this step, and the trace after this step's spikes.

    ``seen`` $= x\,d$ is the sum over *earlier* spikes $\sum_{t' < t} d^{\,t - t'}$
    (all-to-all) or $d^{\,t - t_\mathrm{last}}$ (nearest); ``after`` adds this step's spike
    (all-to-all, $+s$) or resets to 1 on a spike (nearest).
    """
    seen = x * decay
    after = jnp.where(spike > 0, 1.0, seen) if nearest else seen + spike
    return seen, after


@dataclasses.dataclass(frozen=True)
class STDP:
    r"""Pair-based STDP (Song, Miller & Abbott 2000; Bi & Poo 1998) on trace variables.

    Each step of $\Delta t$, with spikes $s_j$ (pre) and $s_i$ (post) of this step:

    1. the traces decay, $x \leftarrow x\,e^{-\Delta t/\tau}$ (``seen`` values below);
    2. every synapse $j \to i$ changes by
       $$ \Delta w_{ij} = a_+\, f_+(w_{ij})\, x^\mathrm{pre}_j\, s_i
                          - a_-\, f_-(w_{ij})\, x^\mathrm{post}_i\, s_j ; $$
    3. this step's spikes enter the traces: $x \leftarrow x + s$ (``"all_to_all"``: every
       earlier spike pairs) or $x \leftarrow 1$ on a spike (``"nearest"``: only the latest
       earlier spike pairs).

    So a pre spike $\Delta t = t_\mathrm{post} - t_\mathrm{pre} > 0$ before a post spike gives
    $a_+ e^{-\Delta t/\tau_+}$, the reverse order $-a_- e^{-\Delta t/\tau_-}$, and spikes of the
    same step do not pair. Weight dependence: ``"additive"`` $f_\pm = 1$ (combine with
    :class:`~neurojax.plasticity.ClipWeights` for hard bounds), ``"multiplicative"``
    $f_+ = w_\max - w$, $f_- = w$ (soft bounds for $0 \le w \le w_\max$; van Rossum, Bi &
    Turrigiano 2000; Gütig et al. 2003 with $\mu = 1$).

    | param     | symbol     | default | unit         |
    |-----------|------------|---------|--------------|
    | a_plus    | $a_+$      | 0.01    | weight units |
    | a_minus   | $a_-$      | 0.0105  | weight units |
    | tau_plus  | $\tau_+$   | 20.0    | ms           |
    | tau_minus | $\tau_-$   | 20.0    | ms           |
    | w_max     | $w_\max$   | 1.0     | weight units |

    Static choices: ``traces`` (``"all_to_all"`` or ``"nearest"``), ``weight_dependence``,
    and the state fields read as "spikes" (``pre_field``/``post_field``, default
    ``"spike"``; a rate field such as ``"r"`` gives a smooth, rate-based variant).

    State: :class:`TraceState` (one trace per neuron, so memory is $O(n)$, not per synapse).

    Examples:
        >>> import neurojax as nj
        >>> rule = nj.plasticity.STDP(traces="nearest")
        >>> float(rule.default_params().tau_plus)
        20.0
    """

    traces: str = "all_to_all"
    weight_dependence: str = "additive"
    pre_field: str = "spike"
    post_field: str = "spike"

    def __post_init__(self):
        if self.traces not in TRACES:
            raise ValueError(f"STDP.traces must be one of {TRACES}, got {self.traces!r}")
        if self.weight_dependence not in WEIGHT_DEPENDENCE:
            raise ValueError(f"STDP.weight_dependence must be one of {WEIGHT_DEPENDENCE}, "
                             f"got {self.weight_dependence!r}")

    def default_params(self) -> STDPParams:
        return STDPParams.default()

    def init(self, params: STDPParams, conn) -> TraceState:
        del params
        dtype = float_dtype()
        return TraceState(x_pre=jnp.zeros((conn.n_pre,), dtype),
                          x_post=jnp.zeros((conn.n_post,), dtype))

    def _traces(self, params: STDPParams, pstate: TraceState, ctx):
        """Spikes, traces seen this step, and the next state."""
        p, nearest = params, self.traces == "nearest"
        s_pre = getattr(ctx.pre, self.pre_field)
        s_post = getattr(ctx.post, self.post_field)
        x_pre, x_pre_next = decay_and_bump(pstate.x_pre, s_pre, jnp.exp(-ctx.dt / p.tau_plus), nearest)
        x_post, x_post_next = decay_and_bump(pstate.x_post, s_post, jnp.exp(-ctx.dt / p.tau_minus),
                                             nearest)
        return s_pre, s_post, x_pre, x_post, TraceState(x_pre=x_pre_next, x_post=x_post_next)

    def update(self, params: STDPParams, dw, pstate: TraceState, ctx):
        p = params
        s_pre, s_post, x_pre, x_post, state = self._traces(params, pstate, ctx)
        if self.weight_dependence == "additive":
            f_plus = f_minus = 1.0
        else:
            f_plus, f_minus = p.w_max - ctx.w, ctx.w
        # amplitudes go on the traces, so that a product with a 0/1 spike never rounds and
        # the in-place path (pair_terms) reproduces this change bit for bit
        ltp = f_plus * ctx.post_events(s_post, p.a_plus * x_pre)
        ltd = f_minus * ctx.pre_events(s_pre, p.a_minus * x_post)
        return dw + ltp - ltd, state

    def pair_terms(self, params: STDPParams, pstate: TraceState, ctx):
        r"""The change as pair factors ``(c_pre, s_post, a_post, s_pre, next_state)`` with
        $\Delta w_{ij} = c^\mathrm{pre}_j s_i + a^\mathrm{post}_i s_j$ (additive only; None
        for the multiplicative rule, whose factors depend on each synapse's weight)."""
        if self.weight_dependence != "additive":
            return None
        s_pre, s_post, x_pre, x_post, state = self._traces(params, pstate, ctx)
        return params.a_plus * x_pre, s_post, -(params.a_minus * x_post), s_pre, state

    def accumulate(self, params: STDPParams, dw, pstate: TraceState, ctx):
        """Event-driven, in place (additive rule): ``state.dw`` after this step, equal to
        adding :meth:`update`'s change (bit for bit with 0/1 spikes)."""
        terms = self.pair_terms(params, pstate, ctx)
        if terms is None:
            return accumulate_dense(self, params, dw, pstate, ctx)
        *factors, state = terms
        return ctx.pair_update(dw, *factors), state

    def validate(self, params: STDPParams, conn):
        del conn
        check_rule_params(params, "STDPParams", positive=("tau_plus", "tau_minus"),
                          nonnegative=("a_plus", "a_minus"))
