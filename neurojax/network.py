"""Networks: populations and projections as one pytree, with params and state built from it.

Three pytrees with three jobs (see DESIGN.md):

* ``net`` (:class:`Network`): static descriptors (models, sizes, delays, ``dt``) plus integer
  connectivity leaves. Passed to ``jit`` as an argument, never differentiated.
* ``params`` (a dict ``name -> Params``): every float you may differentiate, sweep or vmap,
  keyed by population and projection names.
* ``state`` (:class:`SimState`): everything ``simulate`` evolves.
"""
from typing import Any, Mapping, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import as_float, float_dtype
from neurojax._tree import pytree_dataclass, static
from neurojax.plasticity.base import validate_rule
from neurojax.projections import ProjParams, Projection, init_proj_state


@pytree_dataclass
class Population:
    """``n`` neurons (or units) of one ``model``; both static."""

    model: Any = static()
    n: int = static()

    def __post_init__(self):
        if not isinstance(self.n, int) or isinstance(self.n, bool) or self.n < 1:
            raise ValueError(f"Population.n must be a positive int, got {self.n!r}")
        for attr in ("Params", "State", "receptors", "input_receptor", "init", "step"):
            if not hasattr(self.model, attr):
                raise TypeError(f"Population.model {self.model!r} lacks '{attr}'; "
                                "see neurojax.typing.NeuronModel")


class SimState(NamedTuple):
    t: jax.Array                 # int32 step counter
    pops: dict                   # population name -> model State
    projs: dict                  # projection name -> ProjState


@pytree_dataclass
class Network:
    """Populations and projections, with the fixed step ``dt`` (ms).

    ``dt`` is fixed when the network is built because it quantizes the delays. Names of
    populations and projections share one namespace (they key ``params``).

    Args:
        populations: ``name -> Population``.
        projections: ``name -> Projection``.
        dt: time step in ms.
        allow_large_dt: permit ``dt`` larger than a model's time constant (otherwise
            :func:`validate` raises).
        exchange: set by :func:`neurojax.distributed.shard_network` only: this network is one
            shard of a network split over the mesh axis of that name. Populations then hold
            their local neurons, projections keep the *global* presynaptic index, and the
            presynaptic signals are exchanged with ``all_gather`` over the axis each step.

    Raises:
        ValueError / TypeError: unknown population names, receptors the post model lacks,
            sources the pre model does not expose, mismatched sizes, bad ``dt``.
    """

    populations: dict
    projections: dict
    dt: float = static()
    allow_large_dt: bool = static(default=False)
    exchange: Optional[str] = static(default=None)

    def __post_init__(self):
        if not isinstance(self.dt, (int, float)) or not self.dt > 0:
            raise ValueError(f"Network.dt must be a positive number of ms, got {self.dt!r}")
        overlap = set(self.populations) & set(self.projections)
        if overlap:
            raise ValueError(f"names used for both a population and a projection: {sorted(overlap)}")
        for name, pop in self.populations.items():
            if not isinstance(pop, Population):
                raise TypeError(f"populations['{name}'] must be a Population, got {type(pop).__name__}")
        for name, proj in self.projections.items():
            if not isinstance(proj, Projection):
                raise TypeError(f"projections['{name}'] must be a Projection, got {type(proj).__name__}")
            for end in ("pre", "post"):
                if getattr(proj, end) not in self.populations:
                    raise ValueError(f"projection '{name}': unknown {end} population "
                                     f"'{getattr(proj, end)}'; known: {sorted(self.populations)}")
            pre, post = self.populations[proj.pre], self.populations[proj.post]
            if proj.receptor not in post.model.receptors:
                raise ValueError(f"projection '{name}': receptor '{proj.receptor}' is unknown to "
                                 f"{type(post.model).__name__}; it has {post.model.receptors}")
            if proj.source not in pre.model.signals:
                raise ValueError(f"projection '{name}': source '{proj.source}' is not a signal of "
                                 f"{type(pre.model).__name__}; it has {pre.model.signals}")
            for other in proj.modulators + (() if proj.gate is None else (proj.gate[0],)):
                if other not in self.populations:
                    raise ValueError(f"projection '{name}': unknown modulator/gate population "
                                     f"'{other}'; known: {sorted(self.populations)}")
            if proj.gate is not None:
                gate_pop = self.populations[proj.gate[0]]
                if proj.gate[1] not in gate_pop.model.signals:
                    raise ValueError(f"projection '{name}': gate field '{proj.gate[1]}' is not a "
                                     f"signal of {type(gate_pop.model).__name__}; it has "
                                     f"{gate_pop.model.signals}")
                if gate_pop.n not in (1, pre.n):
                    raise ValueError(f"projection '{name}': gate population '{proj.gate[0]}' has "
                                     f"{gate_pop.n} units; it must have 1 or n_pre = {pre.n}")
                if proj.stp is not None and not getattr(proj.stp, "accepts_gate", False):
                    raise ValueError(f"projection '{name}': its stp model "
                                     f"{type(proj.stp).__name__} does not take a gate")
            if self.exchange is not None:
                if proj.conn.n_post != post.n or (proj.pre_rows is None
                                                     and proj.conn.n_pre % pre.n):
                    raise ValueError(f"projection '{name}': a shard's table must be "
                                     f"(global n_pre) x (local n_post), got {proj.conn.n_pre}x"
                                     f"{proj.conn.n_post} for local sizes {pre.n}x{post.n}")
            elif proj.pre_rows is not None:
                if proj.pre_rows[1] > pre.n or proj.conn.n_post != post.n:
                    raise ValueError(f"projection '{name}': pre_rows={proj.pre_rows} and "
                                     f"n_post = {proj.conn.n_post} do not fit populations of "
                                     f"{pre.n} and {post.n} neurons")
            elif (proj.conn.n_pre, proj.conn.n_post) != (pre.n, post.n):
                raise ValueError(f"projection '{name}': connectivity is {proj.conn.n_pre}x"
                                 f"{proj.conn.n_post} but populations are {pre.n}x{post.n}")


def init_params(net: Network, overrides: Optional[Mapping[str, Any]] = None) -> dict:
    """Parameters for every population and projection, validated.

    Args:
        net: the network.
        overrides: ``name -> value``. For a population: its ``Params`` or a dict of field
            overrides on the model's defaults. For a projection: a :class:`ProjParams`
            (``syn``/``stp``/``plast`` left ``None`` take the models' and the rule's defaults),
            a dict of ``ProjParams``
            fields, or just the weight (scalar or ``(n_pre, k)`` array). Every projection
            needs a weight.

    Returns:
        ``dict`` name -> Params, all leaves strongly typed arrays of the compute dtype.
    """
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(net.populations) - set(net.projections)
    if unknown:
        raise ValueError(f"init_params: unknown names {sorted(unknown)}")
    params = {}
    for name, pop in net.populations.items():
        value = overrides.get(name, {})
        params[name] = (pop.model.Params.default(**value) if isinstance(value, Mapping)
                        else jax.tree.map(as_float, value))
    for name, proj in net.projections.items():
        if name not in overrides:
            raise ValueError(f"init_params: projection '{name}' needs a weight, e.g. "
                             f"init_params(net, {{'{name}': 0.5}})")
        value = overrides[name]
        if isinstance(value, Mapping):
            value = ProjParams(**value)
        elif not isinstance(value, ProjParams):
            value = ProjParams(w=value)
        syn = proj.synapse.Params.default() if value.syn is None else value.syn
        stp = None if proj.stp is None else (
            proj.stp.Params.default() if value.stp is None else value.stp)
        plast = None if proj.plasticity is None else (
            proj.plasticity.default_params() if value.plast is None else value.plast)
        params[name] = jax.tree.map(as_float, ProjParams(w=value.w, syn=syn, stp=stp, plast=plast))
    validate(net, params)
    return params


def validate(net: Network, params: Mapping[str, Any]) -> None:
    """Check ``params`` against ``net`` outside jit: names, shapes, signs, ``dt`` vs time constants.

    Raises:
        ValueError naming the offending field.
    """
    missing = (set(net.populations) | set(net.projections)) - set(params)
    if missing:
        raise ValueError(f"params lacks entries for {sorted(missing)}")
    for name, pop in net.populations.items():
        p = params[name]
        if not isinstance(p, pop.model.Params):
            raise TypeError(f"params['{name}'] must be {pop.model.Params.__name__}, "
                            f"got {type(p).__name__}")
        pop.model.validate(p, pop.n, net.dt, net.allow_large_dt)
    for name, proj in net.projections.items():
        p = params[name]
        if not isinstance(p, ProjParams):
            raise TypeError(f"params['{name}'] must be ProjParams, got {type(p).__name__}")
        proj.conn.validate(f"projection '{name}'.conn")
        w_shape = np.shape(p.w)
        if w_shape not in ((), proj.conn.post_idx.shape):
            raise ValueError(f"params['{name}'].w must be a scalar or have shape "
                             f"{proj.conn.post_idx.shape}, got {w_shape}")
        if np.isnan(np.asarray(p.w)).any():
            raise ValueError(f"params['{name}'].w contains NaN")
        proj.synapse.validate(p.syn, proj.conn.n_post, net.dt, net.allow_large_dt)
        if proj.stp is not None:
            proj.stp.validate(p.stp, proj.conn.n_pre, net.dt, net.allow_large_dt)
        if proj.plasticity is not None:
            validate_rule(proj.plasticity, p.plast, proj.conn)


def init_state(net: Network, params: Mapping[str, Any],
               overrides: Optional[Mapping[str, Mapping[str, Any]]] = None) -> SimState:
    """The state at ``t = 0``: models at rest, empty delay lines.

    Args:
        overrides: ``population name -> {field: value}`` replacing initial state fields,
            e.g. ``{"E": {"v": v0}}``; values are broadcast to ``(n,)``.
    """
    overrides = dict(overrides or {})
    dtype = float_dtype()
    pops = {}
    for name, pop in net.populations.items():
        s = pop.model.init(params[name], pop.n)
        fields = overrides.pop(name, {})
        bad = set(fields) - set(s._fields)
        if bad:
            raise ValueError(f"init_state: {type(s).__name__} has no field(s) {sorted(bad)}")
        s = s._replace(**{k: jnp.broadcast_to(jnp.asarray(v, dtype), (pop.n,))
                          for k, v in fields.items()})
        pops[name] = s
    if overrides:
        raise ValueError(f"init_state: unknown populations {sorted(overrides)}")
    projs = {name: init_proj_state(proj, params[name], dtype)
             for name, proj in net.projections.items()}
    return SimState(t=jnp.zeros((), jnp.int32), pops=pops, projs=projs)
