r"""Plasticity rules: optax's ``(init, update)`` interface, adapted to the simulator.

A rule is a frozen, hashable descriptor (it sits in ``net``) with three methods::

    default_params()                    -> hyper-parameters (a pytree of floats)
    init(params, conn)                  -> pstate (traces etc.; part of the simulation state)
    update(params, dw, pstate, ctx)     -> (dw, pstate)

``params`` are the rule's hyper-parameters, kept in ``params[proj].plast`` so that ``jax.grad``
and ``vmap`` reach them (optax's ``inject_hyperparams`` idea); fixed choices (trace type,
weight dependence) are static descriptor fields. As in optax, the first stage of a
:func:`chain` receives ``dw = 0`` and every stage transforms the ``dw`` it is given.

Where the change goes. ``dw`` has the layout of the weights, ``(n_pre, k)`` over the padded
synapse table of the projection (padding slots are masked to 0 by the simulator). The
simulator keeps the accumulated change in ``state.projs[proj].dw``; the weight used for
transmission is ``params[proj].w + state.projs[proj].dw``. So gradients reach the initial
weights and the hyper-parameters through the scan, and
:func:`~neurojax.plasticity.absorb_plasticity` carries what was learned into the next trial.

When a rule runs: after the populations stepped and the delay lines were written (step 7 of
``neurojax.simulate``), with this step's pre and post states. Spike timing therefore uses the
*emission* step of both neurons (transmission delays do not shift the STDP window). A rule's
``dw`` is a change **per step** (per pairing for STDP), not a rate.
"""
import dataclasses
from typing import Any, NamedTuple, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import make_default
from neurojax.kernels import (pair_update, post_events, post_events_reference, pre_events,
                              pre_events_reference)

Array = jax.Array


class PlasticityContext(NamedTuple):
    """What a rule may read at a step (and nothing else).

    Attributes:
        post_idx: ``int32 (n_pre, k)`` padded synapse table (sentinel ``n_post``).
        n_post: number of postsynaptic neurons (static int).
        w: current transmission weights ``params.w + dw``, broadcast to ``(n_pre, k)``.
        w_init: the weights before any plasticity (``params.w``), ``(n_pre, k)``.
        pre, post: this step's State of the pre and post populations (``pre.spike``, ``post.v``, ...).
        modulators: ``population name -> State`` for the projection's ``modulators``.
        dt: step (ms).
        t: int32 step counter of this step.
        max_events, pull: the projection's event capacity for learning
            (``Projection.learn_events``) and its by-post table; when set, :meth:`pre_events` /
            :meth:`post_events` touch only the synapses of neurons that spiked
            (``neurojax.kernels.pre_events`` / ``post_events``), and the simulator calls a
            rule's optional ``accumulate(params, dw, pstate, ctx) -> (dw, pstate)`` instead of
            ``update``: given the accumulated ``state.dw`` it returns it after this step, in
            place (e.g. ``neurojax.kernels.pair_update``), equal to adding ``update``'s change.
        w0: ``params.w`` as given (a scalar or ``(n_pre, k)``; None: ``w_init``), so that the
            event-driven path never materialises a broadcast scalar weight every step.
    """

    post_idx: Array
    n_post: int
    w: Array
    w_init: Array
    pre: Any
    post: Any
    modulators: dict
    dt: float
    t: Array
    max_events: Optional[int] = None
    pull: Any = None
    w0: Any = None

    @property
    def mask(self) -> Array:
        """``(n_pre, k)`` True on real synapses, False on padding."""
        return self.post_idx < self.n_post

    def at_post(self, x: Array) -> Array:
        """A per-postsynaptic ``(n_post,)`` quantity on the synapse layout ``(n_pre, k)`` (0 on padding)."""
        x = jnp.broadcast_to(x, (self.n_post,))
        return jnp.concatenate([x, jnp.zeros((1,), x.dtype)])[self.post_idx]

    def at_pre(self, x: Array) -> Array:
        """A per-presynaptic ``(n_pre,)`` quantity broadcast to ``(n_pre, 1)``."""
        return jnp.broadcast_to(x, (self.post_idx.shape[0],))[:, None]

    def pre_events(self, s_pre: Array, post_values: Array) -> Array:
        """On-pre term ``s_pre[i] * post_values[post_idx[i, m]]`` on the synapse layout."""
        post_values = jnp.broadcast_to(post_values, (self.n_post,))
        if self.pull is None:
            return pre_events_reference(self.post_idx, s_pre, post_values, self.n_post)
        return pre_events(self.post_idx, s_pre, post_values, self.n_post, self.max_events)

    def post_events(self, s_post: Array, pre_values: Array) -> Array:
        """On-post term ``s_post[post_idx[i, m]] * pre_values[i]`` on the synapse layout."""
        pre_values = jnp.broadcast_to(pre_values, (self.post_idx.shape[0],))
        if self.pull is None:
            return post_events_reference(self.post_idx, s_post, pre_values, self.n_post)
        return post_events(self.pull, self.post_idx, s_post, pre_values, self.n_post,
                           self.max_events)

    def pair_update(self, dw: Array, c_pre: Array, s_post: Array, a_post: Array, s_pre: Array,
                    w_min=None, w_max=None) -> Array:
        """``dw`` after the pair change ``c_pre[i] s_post[j] + a_post[j] s_pre[i]`` (clipped to
        the bounds, if given), in place, event-driven (:func:`neurojax.kernels.pair_update`;
        needs the projection's event capacity)."""
        w0 = self.w_init if self.w0 is None else self.w0
        return pair_update(self.pull, self.post_idx, w0, dw, c_pre, s_post, a_post,
                           s_pre, w_min, w_max, self.n_post, self.max_events)

    def modulator(self, name: str, field: str) -> Array:
        """``field`` of modulator population ``name``: a scalar (size-1 population) or ``(n,)``."""
        if name not in self.modulators:
            raise ValueError(f"plasticity reads modulator '{name}', but the projection lists "
                             f"modulators={tuple(self.modulators)}; add it to Projection(modulators=...)")
        x = getattr(self.modulators[name], field)
        return x[0] if x.shape == (1,) else x


class Chain(NamedTuple):
    """Stages applied in order (see :func:`chain`); params and states are tuples, one per stage."""

    stages: Tuple[Any, ...]

    def default_params(self):
        return tuple(stage.default_params() for stage in self.stages)

    def init(self, params, conn):
        return tuple(stage.init(p, conn) for stage, p in zip(self.stages, params))

    def update(self, params, dw, pstate, ctx):
        new_states = []
        for stage, p, s in zip(self.stages, params, pstate):
            dw, s = stage.update(p, dw, s, ctx)
            new_states.append(s)
        return dw, tuple(new_states)

    def accumulate(self, params, dw, pstate, ctx):
        """Event-driven, in place, for ``chain(pair rule, ClipWeights())`` (e.g. additive
        :class:`~neurojax.plasticity.STDP` with hard bounds); any other chain: every synapse."""
        if len(self.stages) == 2 and isinstance(self.stages[1], ClipWeights):
            terms = getattr(self.stages[0], "pair_terms", None)
            terms = None if terms is None else terms(params[0], pstate[0], ctx)
            if terms is not None:
                *factors, state = terms
                bounds = params[1]
                return ctx.pair_update(dw, *factors, bounds.w_min, bounds.w_max), \
                    (state, pstate[1])
        return accumulate_dense(self, params, dw, pstate, ctx)

    def validate(self, params, conn):
        if not isinstance(params, tuple) or len(params) != len(self.stages):
            raise ValueError(f"chain of {len(self.stages)} stages needs a tuple of "
                             f"{len(self.stages)} params, got {type(params).__name__}")
        for stage, p in zip(self.stages, params):
            validate_rule(stage, p, conn)


def chain(*stages) -> Chain:
    """Compose rules: the first stage gets ``dw = 0``; each transforms the ``dw`` it receives.

    Examples:
        >>> import neurojax as nj
        >>> rule = nj.plasticity.chain(nj.plasticity.STDP(), nj.plasticity.ClipWeights())
        >>> [type(p).__name__ for p in rule.default_params()]
        ['STDPParams', 'ClipWeightsParams']
    """
    for stage in stages:
        for method in ("default_params", "init", "update"):
            if not callable(getattr(stage, method, None)):
                raise TypeError(f"chain: {stage!r} lacks {method}(); see neurojax.plasticity")
    return Chain(tuple(stages))


def accumulate_dense(rule, params, dw, pstate, ctx):
    """``state.dw`` after one step of ``rule.update``: its change, computed for every synapse,
    added on the real synapses (the simulator's default; ``dw`` is the accumulated change)."""
    step, pstate = rule.update(params, jnp.zeros_like(dw), pstate, ctx)
    return dw + jnp.where(ctx.mask, step, 0.0), pstate


def validate_rule(rule, params, conn) -> None:
    """Run ``rule.validate(params, conn)`` if the rule defines it (outside jit)."""
    check = getattr(rule, "validate", None)
    if check is not None:
        check(params, conn)


class _Stateless:
    """Mixin for stages without state."""

    def init(self, params, conn):
        del params, conn
        return None


class ClipWeightsParams(NamedTuple):
    w_min: Array    # weight units  lower bound of w + dw
    w_max: Array    # weight units  upper bound

    @classmethod
    def default(cls, **overrides) -> "ClipWeightsParams":
        return make_default(cls, dict(w_min=0.0, w_max=1.0), overrides)


@dataclasses.dataclass(frozen=True)
class ClipWeights(_Stateless):
    r"""Keep the weight in ``[w_min, w_max]``: $\Delta w' = \mathrm{clip}(w + \Delta w) - w$.

    Bounds are hyper-parameters (scalars or per-synapse ``(n_pre, k)`` arrays).

    Examples:
        >>> import neurojax as nj
        >>> nj.plasticity.ClipWeights().default_params()
        ClipWeightsParams(w_min=Array(0., dtype=float64), w_max=Array(1., dtype=float64))
    """

    def default_params(self) -> ClipWeightsParams:
        return ClipWeightsParams.default()

    def update(self, params: ClipWeightsParams, dw, pstate, ctx):
        return jnp.clip(ctx.w + dw, params.w_min, params.w_max) - ctx.w, pstate

    def validate(self, params: ClipWeightsParams, conn):
        if not (np.asarray(params.w_min) <= np.asarray(params.w_max)).all():
            raise ValueError("ClipWeightsParams: w_min must be <= w_max")


@dataclasses.dataclass(frozen=True)
class KeepSign(_Stateless):
    r"""Dale's law as a stage: a weight never changes sign from its initial value.

    Synapses with initial weight $w_0 \ge 0$ stay in $[0, \infty)$, those with $w_0 < 0$ in
    $(-\infty, 0]$: $\Delta w' = \max(w + \Delta w, 0) - w$ or $\min(w + \Delta w, 0) - w$.
    """

    def default_params(self):
        return None

    def update(self, params, dw, pstate, ctx):
        del params
        new = ctx.w + dw
        kept = jnp.where(ctx.w_init >= 0, jnp.maximum(new, 0.0), jnp.minimum(new, 0.0))
        return kept - ctx.w, pstate


def absorb_plasticity(net, params: dict, state):
    """Move what plasticity learned into the weights: ``w <- w + dw``, ``dw <- 0``.

    Returns ``(params, state)``; rule states (traces) are kept. Use it to carry learned weights
    into the next trial (e.g. an initialisation phase whose result all later samples start from).
    """
    params, projs = dict(params), dict(state.projs)
    for name, proj in net.projections.items():
        if proj.plasticity is None:
            continue
        s = projs[name]
        w = jnp.broadcast_to(params[name].w, s.dw.shape) + s.dw
        params[name] = params[name]._replace(w=w)
        projs[name] = s._replace(dw=jnp.zeros_like(s.dw))
    return params, state._replace(projs=projs)


def check_rule_params(params, owner: str, *, positive=(), nonnegative=()):
    """Validate rule hyper-parameters (outside jit): no NaN; ``positive``/``nonnegative`` signs.

    Rule hyper-parameters may be scalars or arrays of any shape that broadcasts against the
    quantity they scale (per-presynaptic, per-postsynaptic or per-synapse).
    """
    for name, value in zip(params._fields, params):
        arr = np.asarray(value)
        if np.isnan(arr).any():
            raise ValueError(f"{owner}.{name} contains NaN")
        if name in positive and not (arr > 0).all():
            raise ValueError(f"{owner}.{name} must be > 0, got min {arr.min()}")
        if name in nonnegative and not (arr >= 0).all():
            raise ValueError(f"{owner}.{name} must be >= 0, got min {arr.min()}")
