r"""Triplet spike-timing-dependent plasticity (Pfister & Gerstner 2006) on four traces."""
import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from neurojax._params import float_dtype, make_default
from neurojax.plasticity.base import check_rule_params
from neurojax.plasticity.stdp import TRACES, decay_and_bump

Array = jax.Array


class TripletSTDPParams(NamedTuple):
    a2_plus: Array    # weight units  pair potentiation amplitude  A_2^+ (scalar or per post)
    a3_plus: Array    # weight units  triplet potentiation amplitude  A_3^+ (post-pre-post)
    a2_minus: Array   # weight units  pair depression amplitude  A_2^- (scalar or per pre)
    a3_minus: Array   # weight units  triplet depression amplitude  A_3^- (pre-post-pre)
    tau_plus: Array   # ms  fast presynaptic trace r1
    tau_minus: Array  # ms  fast postsynaptic trace o1
    tau_x: Array      # ms  slow presynaptic trace r2
    tau_y: Array      # ms  slow postsynaptic trace o2

    @classmethod
    def default(cls, **overrides) -> "TripletSTDPParams":
        """Pfister & Gerstner (2006) Table 4, visual cortex, all-to-all, *minimal* model.

        ``tau_x`` is not part of the minimal model (it only enters through ``a3_minus = 0``);
        101 ms is the value of the full model, so switching ``a3_minus`` on gives a sane trace.
        """
        return make_default(cls, dict(a2_plus=0.0, a3_plus=6.5e-3, a2_minus=7.1e-3, a3_minus=0.0,
                                      tau_plus=16.8, tau_minus=33.7, tau_x=101.0, tau_y=114.0),
                            overrides)


class TripletTraceState(NamedTuple):
    r1: Array         # dimensionless fast presynaptic trace (tau_plus), (n_pre,)
    r2: Array         # dimensionless slow presynaptic trace (tau_x), (n_pre,)
    o1: Array         # dimensionless fast postsynaptic trace (tau_minus), (n_post,)
    o2: Array         # dimensionless slow postsynaptic trace (tau_y), (n_post,)


@dataclasses.dataclass(frozen=True)
class TripletSTDP:
    r"""Triplet STDP (Pfister & Gerstner 2006): pair terms plus post-pre-post and pre-post-pre.

    Two presynaptic traces $r_1$ ($\tau_+$), $r_2$ ($\tau_x$) and two postsynaptic traces
    $o_1$ ($\tau_-$), $o_2$ ($\tau_y$) decay exponentially and jump with every spike. At a
    postsynaptic spike at time $t$ and a presynaptic spike at $t$:
    $$ \Delta w = r_1(t)\,\bigl[A_2^+ + A_3^+\, o_2(t-\epsilon)\bigr] \quad (\text{post}),
       \qquad
       \Delta w = -\,o_1(t)\,\bigl[A_2^- + A_3^-\, r_2(t-\epsilon)\bigr] \quad (\text{pre}), $$
    where $t - \epsilon$ means "without the spike at $t$ itself". With ``"all_to_all"`` traces
    every earlier spike counts, e.g. $r_1(t) = \sum_{t_j < t} e^{-(t - t_j)/\tau_+}$; with
    ``"nearest"`` traces only the latest one, $r_1(t) = e^{-(t - t_j^\mathrm{last})/\tau_+}$
    (each trace is reset to 1 by a spike instead of incremented; the paper's nearest-spike
    model). The triplet terms make potentiation grow with the postsynaptic rate: pre-before-post
    pairing at 0.1 Hz gives no LTP, at 20–50 Hz strong LTP (Sjöström, Turrigiano & Nelson 2001).

    | param     | symbol     | default | unit         |
    |-----------|------------|---------|--------------|
    | a2_plus   | $A_2^+$    | 0.0     | weight units |
    | a3_plus   | $A_3^+$    | 6.5e-3  | weight units |
    | a2_minus  | $A_2^-$    | 7.1e-3  | weight units |
    | a3_minus  | $A_3^-$    | 0.0     | weight units |
    | tau_plus  | $\tau_+$   | 16.8    | ms           |
    | tau_minus | $\tau_-$   | 33.7    | ms           |
    | tau_x     | $\tau_x$   | 101.0   | ms           |
    | tau_y     | $\tau_y$   | 114.0   | ms           |

    The defaults are the paper's visual-cortex fit, all-to-all, *minimal* model (Table 4;
    $\tau_x$ is not used by it because $A_3^- = 0$). The *full* all-to-all visual-cortex model
    (also NEST's ``stdp_triplet_synapse`` defaults) is ``TripletSTDPParams.default(a2_plus=5e-10,
    a3_plus=6.2e-3, a2_minus=7e-3, a3_minus=2.3e-4, tau_y=125.0)``. The paper's amplitudes are
    fractional changes per spike, so weights of order 1 fit them. Setting $A_3^\pm = 0$ gives
    pair STDP (:class:`~neurojax.plasticity.STDP` with $a_\pm = A_2^\pm$). The rule is additive
    and unbounded; chain :class:`~neurojax.plasticity.ClipWeights` for hard bounds.

    Update order, each step of $\Delta t$ with this step's spikes $s^\mathrm{pre}, s^\mathrm{post}$:

    1. all four traces decay, $x \leftarrow x\,e^{-\Delta t/\tau}$ (the values "seen" below
       hold the earlier spikes only: $r_1(t)$, $o_1(t)$, $r_2(t-\epsilon)$, $o_2(t-\epsilon)$);
    2. $\Delta w_{ij} = r_{1,j}\, s^\mathrm{post}_i \,(A_2^+ + A_3^+ o_{2,i})
       - o_{1,i}\, s^\mathrm{pre}_j\,(A_2^- + A_3^- r_{2,j})$;
    3. this step's spikes enter the traces ($+s$, or reset to 1 for ``"nearest"``;
       :func:`~neurojax.plasticity.stdp.decay_and_bump`).

    So spikes of the same step do not pair, and a spike never counts in its own triplet term.
    On the step grid the result equals the event-based sums above at times $t = k\,\Delta t$.

    Static choices: ``traces`` (``"all_to_all"`` or ``"nearest"``) and the state fields read
    as spikes (``pre_field`` / ``post_field``, default ``"spike"``).

    State: :class:`TripletTraceState` (four traces per neuron, $O(n)$ memory).

    References:
        Pfister, J.-P. & Gerstner, W. (2006). Triplets of spikes in a model of spike
        timing-dependent plasticity. J. Neurosci. 26(38):9673–9682.
        Sjöström, P. J., Turrigiano, G. G. & Nelson, S. B. (2001). Rate, timing, and
        cooperativity jointly determine cortical synaptic plasticity. Neuron 32:1149–1164.

    Examples:
        >>> import neurojax as nj
        >>> rule = nj.plasticity.TripletSTDP(traces="nearest")
        >>> p = rule.default_params()
        >>> float(p.tau_y), float(p.a3_minus)
        (114.0, 0.0)
        >>> proj = nj.Projection(nj.from_edges([0], [0], 1, 1), "pre", "post", plasticity=rule)
        >>> proj.plasticity.traces
        'nearest'
    """

    traces: str = "all_to_all"
    pre_field: str = "spike"
    post_field: str = "spike"

    def __post_init__(self):
        if self.traces not in TRACES:
            raise ValueError(f"TripletSTDP.traces must be one of {TRACES}, got {self.traces!r}")
        for field in ("pre_field", "post_field"):
            if not isinstance(getattr(self, field), str):
                raise TypeError(f"TripletSTDP.{field} must be a str, got {getattr(self, field)!r}")

    def default_params(self) -> TripletSTDPParams:
        return TripletSTDPParams.default()

    def init(self, params: TripletSTDPParams, conn) -> TripletTraceState:
        del params
        dtype = float_dtype()
        pre, post = jnp.zeros((conn.n_pre,), dtype), jnp.zeros((conn.n_post,), dtype)
        return TripletTraceState(r1=pre, r2=pre, o1=post, o2=post)

    def update(self, params: TripletSTDPParams, dw, pstate: TripletTraceState, ctx):
        p, nearest = params, self.traces == "nearest"
        s_pre = getattr(ctx.pre, self.pre_field)
        s_post = getattr(ctx.post, self.post_field)

        def trace(x, spike, tau):
            return decay_and_bump(x, spike, jnp.exp(-ctx.dt / tau), nearest)

        r1, r1_next = trace(pstate.r1, s_pre, p.tau_plus)
        r2, r2_next = trace(pstate.r2, s_pre, p.tau_x)
        o1, o1_next = trace(pstate.o1, s_post, p.tau_minus)
        o2, o2_next = trace(pstate.o2, s_post, p.tau_y)
        ltp = ctx.post_events(s_post * (p.a2_plus + p.a3_plus * o2), r1)
        ltd = ctx.pre_events(s_pre * (p.a2_minus + p.a3_minus * r2), o1)
        return dw + ltp - ltd, TripletTraceState(r1=r1_next, r2=r2_next, o1=o1_next, o2=o2_next)

    def validate(self, params: TripletSTDPParams, conn):
        del conn
        if not isinstance(params, TripletSTDPParams):
            raise TypeError(f"TripletSTDP needs TripletSTDPParams, got {type(params).__name__}")
        check_rule_params(params, "TripletSTDPParams",
                          positive=("tau_plus", "tau_minus", "tau_x", "tau_y"),
                          nonnegative=("a2_plus", "a3_plus", "a2_minus", "a3_minus"))
