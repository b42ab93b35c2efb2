r"""Projections: ``pre -> delay -> comm -> syn -> out`` for one step (align-post).

A :class:`Projection` is a flat record: its connectivity (integer leaves) plus static choices
(which populations, which pre signal, which post receptor, which synapse model, the delay).
Its floats live in ``params[name]`` as :class:`ProjParams` and its evolving variables in
``state.projs[name]`` as :class:`ProjState`.
"""
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._tree import pytree_dataclass, static
from neurojax.connectivity import Connectivity
from neurojax.kernels import PullTable, event_scatter, event_scatter_reference, pull_table
from neurojax.plasticity.base import PlasticityContext, accumulate_dense
from neurojax.synapses import Exponential

Array = jax.Array


class ProjParams(NamedTuple):
    w: Array                 # weights: scalar or (n_pre, k); pA for "i", nS for "g_*" receptors
    syn: Any = None          # the synapse model's Params (None: its defaults)
    stp: Any = None          # the short-term-plasticity model's Params, if any
    plast: Any = None        # the plasticity rule's hyper-parameters, if any


class ProjState(NamedTuple):
    buffer: Array            # (delay_steps, n_pre) ring buffer of the delayed pre signal
    syn: Any                 # synapse state, (n_post,)-sized
    stp: Any = None          # presynaptic short-term-plasticity state, (n_pre,)-sized
    dw: Any = None           # (n_pre, k) accumulated plastic change of w, if plastic
    plast: Any = None        # the plasticity rule's state (traces), if plastic


@pytree_dataclass
class Projection:
    """Synaptic projection from population ``pre`` to population ``post``.

    Attributes:
        conn: the synapse table (:class:`~neurojax.connectivity.Connectivity`).
        pre, post: population names.
        receptor: the post population's receptor the synapse output is added to
            (``"i"``: pA current; ``"g_exc"``/``"g_inh"``: nS conductance).
        synapse: post-aligned synapse model (default :class:`~neurojax.synapses.Exponential`).
        source: the pre population's state field that is transmitted (``"spike"`` for spiking
            models, e.g. ``"r"`` for rate units).
        delay_steps: transmission delay in steps, >= 1 (no zero-delay loops).
        stp: optional presynaptic short-term-plasticity model (align-pre): it scales each
            transmitted signal by its efficacy before the delay line.
        plasticity: optional rule (:mod:`neurojax.plasticity`) updating the weights every
            step; the weight transmitted is ``params.w + state.dw``.
        modulators: names of populations whose states the rule may read
            (``ctx.modulator(name, field)``), e.g. a dopamine or astrocyte population.
        gate: optional ``(population, field)`` whose value (size 1 or ``n_pre``) modulates
            release: it multiplies the transmitted signal, or is passed to the ``stp`` model
            (``stp.step(..., gate=g)``) when there is one (tripartite synapses).
        max_events: ``None`` propagates with the dense reference kernel (work ``n_pre * k``
            every step; a matrix product when ``conn`` is :func:`~neurojax.all_to_all`). An
            int switches to the event-driven kernel
            (:func:`neurojax.kernels.event_scatter`): only rows with a non-zero signal are
            processed, ``max_events`` at a time; steps with more active rows take extra
            passes, so the result is always exact. Pick a few times the typical number of
            spikes per step (e.g. ``n_pre // 200 + 32`` for a ~20 Hz network at dt = 0.1 ms).
        learn_events: ``None`` lets the plasticity rule compute its change for every synapse
            every step. An int (active neurons per pass, on either side; extra exact passes
            when more spike) makes learning event-driven, with the same results: the on-pre /
            on-post terms touch only the synapses of neurons that spiked, and rules with an
            ``accumulate`` method (additive :class:`~neurojax.plasticity.STDP`, alone or
            chained with ``ClipWeights``; the NALSM rules) update ``state.dw`` in place
            instead of adding a dense change every step. It pays when a few percent of the
            neurons or fewer spike per step (``docs/benchmarks.md``). Independent of
            ``max_events``: a dense signal (rates, :class:`~neurojax.ResetKernel`) can still
            drive event-driven learning.
        pull: by-post :class:`~neurojax.kernels.PullTable` of ``conn`` (built automatically
            for plastic projections with ``learn_events``).
        pre_rows: optional ``(start, stop)``: the table's rows are the neurons
            ``start .. stop - 1`` of ``pre`` (a subgroup, like Brian2's ``P[start:stop]``), so
            ``conn.n_pre == stop - start``. Only that slice of the signal is delayed and
            propagated; e.g. the E and I rows of one population feed two receptors without a
            table padded to the whole population (whose silent half every step would scan).
    """

    conn: Connectivity
    pre: str = static()
    post: str = static()
    receptor: str = static(default="i")
    synapse: Any = static(default=Exponential())
    source: str = static(default="spike")
    delay_steps: int = static(default=1)
    stp: Optional[Any] = static(default=None)
    max_events: Optional[int] = static(default=None)
    plasticity: Optional[Any] = static(default=None)
    modulators: tuple = static(default=())
    gate: Optional[tuple] = static(default=None)
    pull: Optional[PullTable] = None
    pre_rows: Optional[tuple] = static(default=None)
    learn_events: Optional[int] = static(default=None)

    def __post_init__(self):
        if not isinstance(self.delay_steps, int) or isinstance(self.delay_steps, bool) \
                or self.delay_steps < 1:
            raise ValueError(f"Projection {self.pre}->{self.post}: delay_steps must be an int >= 1 "
                             f"(no zero-delay loops), got {self.delay_steps!r}")
        for field in ("max_events", "learn_events"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value < 1):
                raise ValueError(f"Projection {self.pre}->{self.post}: {field} must be None or "
                                 f"an int >= 1, got {value!r}")
        for field in ("pre", "post", "receptor", "source"):
            if not isinstance(getattr(self, field), str):
                raise TypeError(f"Projection.{field} must be a str, got {getattr(self, field)!r}")
        if not (isinstance(self.modulators, tuple) and all(isinstance(m, str) for m in self.modulators)):
            raise TypeError(f"Projection.modulators must be a tuple of population names, "
                            f"got {self.modulators!r}")
        if self.gate is not None and not (isinstance(self.gate, tuple) and len(self.gate) == 2
                                          and all(isinstance(x, str) for x in self.gate)):
            raise TypeError(f"Projection.gate must be None or a (population, field) pair, "
                            f"got {self.gate!r}")
        if self.pre_rows is not None:
            start, stop = _check_rows(self.pre_rows, f"Projection {self.pre}->{self.post}")
            object.__setattr__(self, "pre_rows", (start, stop))
            if stop - start != self.conn.n_pre:
                raise ValueError(f"Projection {self.pre}->{self.post}: pre_rows={self.pre_rows} "
                                 f"selects {stop - start} rows but conn.n_pre = {self.conn.n_pre}")
        if self.plasticity is not None and self.learn_events is not None and self.pull is None:
            object.__setattr__(self, "pull", pull_table(np.asarray(self.conn.post_idx),
                                                        self.conn.n_post))
        if self.plasticity is not None:
            for method in ("default_params", "init", "update"):
                if not callable(getattr(self.plasticity, method, None)):
                    raise TypeError(f"Projection.plasticity {self.plasticity!r} lacks {method}(); "
                                    "see neurojax.plasticity")


def _check_rows(rows, owner: str) -> tuple:
    """``rows`` as a ``(start, stop)`` pair of Python ints with ``0 <= start < stop``."""
    if not (isinstance(rows, tuple) and len(rows) == 2
            and all(isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))
                    for x in rows)
            and 0 <= rows[0] < rows[1]):
        raise ValueError(f"{owner}: pre_rows must be a (start, stop) pair of ints with "
                         f"0 <= start < stop, got {rows!r}")
    return int(rows[0]), int(rows[1])


def pre_view(proj: Projection, pre_state):
    """The pre population's state restricted to the projection's rows (``pre_rows``)."""
    if proj.pre_rows is None:
        return pre_state
    start, stop = proj.pre_rows
    return jax.tree.map(lambda x: x[start:stop] if jnp.ndim(x) else x, pre_state)


def init_proj_state(proj: Projection, params: ProjParams, dtype) -> ProjState:
    """Zero delay line, synapse and STP state at rest; no plastic change, fresh rule state."""
    buffer = jnp.zeros((proj.delay_steps, proj.conn.n_pre), dtype)
    stp = None if proj.stp is None else proj.stp.init(params.stp, proj.conn.n_pre)
    dw = plast = None
    if proj.plasticity is not None:
        dw = jnp.zeros(proj.conn.post_idx.shape, dtype)
        plast = proj.plasticity.init(params.plast, proj.conn)
    return ProjState(buffer=buffer, syn=proj.synapse.init(params.syn, proj.conn.n_post), stp=stp,
                     dw=dw, plast=plast)


def weights(proj: Projection, params: ProjParams, state: ProjState) -> Array:
    """The weights transmitted now: ``params.w`` plus the plastic change, if any."""
    return params.w if proj.plasticity is None else params.w + state.dw


def deliver(proj: Projection, params: ProjParams, state: ProjState, t: Array, dt: float):
    """Steps 1–3: read the delayed signal, propagate it, step the synapse.

    Returns ``(output, syn_state)``, ``output`` being the ``(n_post,)`` receptor input.
    """
    signal = state.buffer[t % proj.delay_steps]
    if proj.max_events is not None:     # plastic: w + dw summed on the active rows only
        dw = None if proj.plasticity is None else state.dw
        x = event_scatter(proj.conn.post_idx, params.w, signal, proj.conn.n_post, proj.max_events,
                          dw=dw)
    elif proj.conn.all_to_all:
        w = weights(proj, params, state)                                  # w is W[pre, post]
        x = signal @ jnp.broadcast_to(w, proj.conn.post_idx.shape)
    else:
        x = event_scatter_reference(proj.conn.post_idx, weights(proj, params, state), signal,
                                    proj.conn.n_post)
    syn = proj.synapse.step(params.syn, state.syn, x, dt)
    return proj.synapse.output(params.syn, syn), syn


def emit(proj: Projection, params: ProjParams, state: ProjState, syn_state, pops: dict,
         t: Array, dt: float, exchange: Optional[str] = None) -> ProjState:
    """Step 6: push the pre population's new signal (gated, through STP, if any) into the delay line.

    With ``exchange`` (a mesh axis name, inside ``shard_map``) the local signals of all shards
    are gathered first, so the delay line holds the global presynaptic signal.
    """
    signal = getattr(pops[proj.pre], proj.source)
    if exchange is not None:
        signal = jax.lax.all_gather(signal, exchange, tiled=True)
    gate = None if proj.gate is None else getattr(pops[proj.gate[0]], proj.gate[1])
    if proj.pre_rows is not None:
        start, stop = proj.pre_rows
        signal = signal[start:stop]
        gate = gate if gate is None or gate.shape[-1] == 1 else gate[start:stop]
    stp = state.stp
    if proj.stp is not None:
        kwargs = {} if gate is None else {"gate": gate}
        stp, signal = proj.stp.step(params.stp, stp, signal, dt, **kwargs)
    elif gate is not None:
        signal = signal * gate
    buffer = state.buffer.at[t % proj.delay_steps].set(signal.astype(state.buffer.dtype))
    return state._replace(buffer=buffer, syn=syn_state, stp=stp)


def learn(proj: Projection, params: ProjParams, state: ProjState, pops: dict, t: Array,
          dt: float) -> ProjState:
    """Step 7: the plasticity rule's change of this step, added to ``state.dw`` (padding stays 0)."""
    if proj.plasticity is None:
        return state
    shape = proj.conn.post_idx.shape
    ctx = PlasticityContext(
        post_idx=proj.conn.post_idx, n_post=proj.conn.n_post,
        w=jnp.broadcast_to(weights(proj, params, state), shape),
        w_init=jnp.broadcast_to(params.w, shape), pre=pre_view(proj, pops[proj.pre]),
        post=pops[proj.post],
        modulators={name: pops[name] for name in proj.modulators}, dt=dt, t=t,
        max_events=proj.learn_events, pull=proj.pull, w0=params.w)
    accumulate = getattr(proj.plasticity, "accumulate", None)
    if accumulate is None or proj.learn_events is None:
        dw, plast = accumulate_dense(proj.plasticity, params.plast, state.dw, state.plast, ctx)
    else:
        dw, plast = accumulate(params.plast, state.dw, state.plast, ctx)    # event-driven, in place
    return state._replace(dw=dw, plast=plast)
