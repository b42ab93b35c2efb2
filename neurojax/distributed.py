r"""Multi-device scale-out on JAX's own engine: neurons split across devices, trials sharded.

**Neurons split across devices** (:func:`shard_network`, :func:`simulate_sharded`). Every
population is cut into ``D`` equal contiguous blocks, one per device of a 1-D mesh axis.
Each device keeps

* the state and per-neuron parameters of its block of every population;
* for every projection, the synapses *onto* its block: the padded-row table re-indexed to
  local postsynaptic ids, with all ``n_pre`` presynaptic rows (global ids) and the weights
  gathered to match;
* the delay line of the *global* presynaptic signal.

Each step a device propagates the delayed global signal through its local table, steps its
neurons, and the new local signals of all devices are concatenated with one
``lax.all_gather`` per projection (the spike exchange) before they enter the delay lines. The
synapses onto a neuron are summed in the same order as on one device, so the spike trains are
identical to a single-device run (``tests/test_distributed.py`` checks this bit for bit on 4
host devices). Communication per step is the presynaptic signal, ``n_pre`` numbers per
projection; memory per device is ``1/D`` of the synapses.

**Independent trials** (:func:`simulate_trials`): a ``vmap`` over trials whose batch axis is
sharded over the devices (``NamedSharding``); XLA runs each device's trials locally.

Running on several GPUs or TPUs is the same code with ``jax.devices()`` as they are:
``mesh = jax.make_mesh((jax.device_count(),), ("neurons",))``. Across hosts, call
``jax.distributed.initialize()`` first in every process (one process per host, launched by
your cluster tool); ``jax.devices()`` then lists the devices of all hosts and the same mesh
spans them. On one CPU, test with ``XLA_FLAGS=--xla_force_host_platform_device_count=4``
(set before JAX starts).
"""
import dataclasses
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

from neurojax.connectivity import Connectivity
from neurojax.network import Network, Population, SimState
from neurojax.projections import ProjParams, ProjState
from neurojax.simulate import simulate, spikes

__all__ = ["ShardedNetwork", "shard_network", "simulate_sharded", "unshard_state",
           "simulate_trials"]


class ShardedNetwork(NamedTuple):
    """One shard's network (``exchange`` set) with every leaf stacked on a leading device axis."""

    net: Network
    params: dict
    state: SimState
    n_shards: int
    axis: str


def _split(x, n: int, d: int, what: str):
    """``(n,)`` -> ``(d, n/d)`` blocks; a scalar -> ``(d,)`` copies."""
    x = jnp.asarray(x)
    if x.shape == (n,):
        return x.reshape(d, n // d)
    if x.ndim == 0:
        return jnp.broadcast_to(x, (d,))
    raise ValueError(f"shard_network: {what} has shape {x.shape}; only scalars and per-neuron "
                     f"({n},) arrays can be split")


def _replicate(x, d: int):
    x = jnp.asarray(x)
    return jnp.broadcast_to(x, (d,) + x.shape)


def _local_tables(post_idx, n_post: int, d: int):
    """Per-device tables of the synapses onto each block, in their original order.

    Returns ``(idx (d, n_pre, k_loc) int32, src (d, n_pre, k_loc) int64)``: local post ids
    (sentinel = block size) and the flat slot of each synapse in the global table (-1: padding).
    """
    idx = np.asarray(post_idx)
    n_pre, k = idx.shape
    block = n_post // d
    owner = np.where(idx < n_post, idx // block, d)
    counts = np.stack([(owner == r).sum(axis=1) for r in range(d)])       # (d, n_pre)
    k_loc = max(int(counts.max()) if counts.size else 0, 1)
    local = np.full((d, n_pre, k_loc), block, np.int32)
    src = np.full((d, n_pre, k_loc), -1, np.int64)
    for r in range(d):
        rows, cols = np.nonzero(owner == r)                                # row-major order
        pos = np.arange(rows.size) - np.searchsorted(rows, rows)           # rank within row
        local[r, rows, pos] = idx[rows, cols] - r * block
        src[r, rows, pos] = rows * k + cols
    return local, src


def _check_shardable(net: Network, d: int):
    if net.exchange is not None:
        raise ValueError("shard_network: the network is already a shard")
    for name, pop in net.populations.items():
        if pop.n % d:
            raise ValueError(f"shard_network: population '{name}' has {pop.n} neurons, not "
                             f"divisible by {d} shards")
    for name, proj in net.projections.items():
        if proj.plasticity is not None or proj.gate is not None or proj.modulators:
            raise ValueError(f"shard_network: projection '{name}' uses plasticity, a gate or "
                             "modulators, which are not supported across shards yet")


def shard_network(net: Network, params: dict, state: SimState, n_shards: int,
                  axis: str = "neurons") -> ShardedNetwork:
    """Split ``net`` (with its ``params`` and ``state``) into ``n_shards`` neuron blocks.

    Host-side, once. Per-neuron parameters and state are split, scalars copied; each
    projection's table and weights are re-indexed to the synapses onto each block.

    Raises:
        ValueError: a population size not divisible by ``n_shards``; plastic, gated or
            modulated projections (not supported yet); per-neuron parameters of an
            unexpected shape.
    """
    d = int(n_shards)
    if d < 1:
        raise ValueError(f"n_shards must be a positive int, got {n_shards!r}")
    _check_shardable(net, d)
    pops = {name: Population(pop.model, pop.n // d) for name, pop in net.populations.items()}
    projs, sparams, sstate = {}, {}, {}
    for name, pop in net.populations.items():
        sparams[name] = jax.tree.map(lambda x: _split(x, pop.n, d, f"params['{name}']"), params[name])
        sstate[name] = jax.tree.map(lambda x: _split(x, pop.n, d, f"state['{name}']"),
                                    state.pops[name])
    sproj_state = {}
    for name, proj in net.projections.items():
        conn = proj.conn
        local, src = _local_tables(conn.post_idx, conn.n_post, d)
        projs[name] = dataclasses.replace(
            proj, conn=Connectivity(jnp.asarray(local), conn.n_pre, conn.n_post // d,
                                     all_to_all=conn.all_to_all),   # blocks stay dense
            pull=None)
        p, s = params[name], state.projs[name]
        w = jnp.asarray(p.w)
        if w.ndim:
            flat = jnp.concatenate([w.reshape(-1), jnp.zeros((1,), w.dtype)])
            w = flat[jnp.asarray(np.where(src < 0, w.size, src))]
        else:
            w = _replicate(w, d)
        n_post = conn.n_post
        sparams[name] = ProjParams(
            w=w, syn=jax.tree.map(lambda x: _split(x, n_post, d, f"params['{name}'].syn"), p.syn),
            stp=jax.tree.map(lambda x: _replicate(x, d), p.stp), plast=None)
        sproj_state[name] = ProjState(
            buffer=_replicate(s.buffer, d),
            syn=jax.tree.map(lambda x: _split(x, n_post, d, f"state['{name}'].syn"), s.syn),
            stp=jax.tree.map(lambda x: _replicate(x, d), s.stp))
    local_net = Network(pops, projs, dt=net.dt, allow_large_dt=net.allow_large_dt, exchange=axis)
    sharded_state = SimState(t=_replicate(state.t, d), pops=sstate, projs=sproj_state)
    return ShardedNetwork(local_net, sparams, sharded_state, d, axis)


def _unstack(tree):
    return jax.tree.map(lambda x: x[0], tree)


def _stack(tree):
    return jax.tree.map(lambda x: x[None], tree)


def _merge_records(rec):
    """``(d, T, n_local)`` per shard -> ``(T, d * n_local)`` global neuron order."""
    return jax.tree.map(lambda r: jnp.moveaxis(r, 0, 1).reshape(r.shape[1], -1), rec)


def simulate_sharded(sharded: ShardedNetwork, inputs: Optional[dict] = None, *, mesh,
                     n_steps: Optional[int] = None, record: Callable[[SimState], Any] = spikes):
    """:func:`~neurojax.simulate` of a :func:`shard_network` network with ``shard_map``.

    Args:
        sharded: from :func:`shard_network`.
        inputs: ``{population: (T, n)}`` with *global* neuron order (split here).
        mesh: a ``jax.sharding.Mesh`` with an axis named ``sharded.axis`` of size
            ``sharded.n_shards``.
        n_steps, record: as :func:`~neurojax.simulate`; ``record`` must return per-neuron
            ``(n_local,)`` leaves (spikes, ``Record`` fields).

    Returns:
        ``(final_state, records)``: the final state stacked per shard (see
        :func:`unshard_state`) and records in global neuron order, ``(T, n)``.
    """
    if mesh.shape.get(sharded.axis) != sharded.n_shards:
        raise ValueError(f"mesh axis '{sharded.axis}' must have size {sharded.n_shards}, "
                         f"mesh is {dict(mesh.shape)}")
    d = sharded.n_shards
    split_inputs = {}
    for name, x in (inputs or {}).items():
        x = jnp.asarray(x)
        n = sharded.net.populations[name].n * d
        if x.ndim != 2 or x.shape[1] != n:
            raise ValueError(f"inputs['{name}'] must have shape (T, {n}), got {x.shape}")
        split_inputs[name] = jnp.moveaxis(x.reshape(x.shape[0], d, -1), 1, 0)

    def shard_body(net, params, state, xs):
        final, rec = simulate(_unstack(net), _unstack(params), _unstack(state), _unstack(xs),
                              n_steps=n_steps, record=record)
        return _stack(final), _stack(rec)

    spec = P(sharded.axis)
    run = jax.jit(jax.shard_map(shard_body, mesh=mesh, in_specs=(spec, spec, spec, spec),
                                out_specs=spec, check_vma=False))
    args = jax.device_put((sharded.net, sharded.params, sharded.state, split_inputs),
                          NamedSharding(mesh, spec))
    final, rec = run(*args)
    return final, _merge_records(rec)


def unshard_state(sharded: ShardedNetwork, state: SimState) -> dict:
    """Population states of a sharded run in global neuron order: ``{pop: State}``."""
    return {name: jax.tree.map(lambda x: x.reshape(-1) if x.ndim == 2 else x[0], s)
            for name, s in state.pops.items()}


def simulate_trials(net: Network, params: dict, states: SimState, inputs: dict, *, mesh,
                    axis: str = "trials", n_steps: Optional[int] = None,
                    record: Callable[[SimState], Any] = spikes):
    """Independent trials (leading batch axis of ``states`` and ``inputs``) over the devices.

    ``vmap`` of :func:`~neurojax.simulate` with the batch axis sharded over ``mesh`` axis
    ``axis`` (the batch size must be divisible by its size); parameters are replicated. To
    sweep parameters instead, put the batch axis on ``params`` and vmap over it the same way.

    Returns:
        ``(final_states, records)`` with the batch axis first, sharded over the devices.
    """
    # GSPMD ("Auto") axes: with sharding-in-types ("Explicit") axes the event kernel's
    # searchsorted fails under vmap in jax 0.10.2, so the same devices are re-meshed as Auto.
    mesh = Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))
    sharding = NamedSharding(mesh, P(axis))
    states, inputs = jax.device_put((states, inputs), sharding)
    params = jax.device_put(params, NamedSharding(mesh, P()))
    run = jax.jit(jax.vmap(lambda s, x: simulate(net, params, s, x, n_steps=n_steps, record=record)))
    return run(states, inputs)
