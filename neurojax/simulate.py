r"""The one simulator: a single ``lax.scan`` over a documented step order.

Step order, ``t -> t + 1`` (pinned by ``tests/test_simulate.py``)::

    1. read    each projection reads its delayed pre signal (ring-buffer slot t % delay_steps)
    2. comm    kernel: the signal is propagated through the synapse table
    3. syn     synapse.step (decay + input); its output is added to Drive[receptor] of post
    4. input   external inputs[pop][t] are added to the population's input receptor
    5. neuron  model.step(params, state, drive, dt) -> new state (spikes)
    6. write   each projection pushes its pre population's new signal (gated / through STP)
               into its ring buffer
    7. learn   each plastic projection: rule.update(0, pstate, ctx) -> dw; state.dw += dw
    8. count   t <- t + 1
    9. record  record(state) -> y_t

Astrocyte and neuromodulator populations step in 5 like neurons; every coupling goes through
a delay line (>= 1 step), so the order among populations within a step does not matter.

So a spike emitted at step ``t`` reaches the postsynaptic drive at step ``t + delay_steps``.
"""
import dataclasses
import functools
import os
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import float_dtype
from neurojax._scan import scan as checkpointed_scan
from neurojax.network import Network, SimState, validate
from neurojax.projections import deliver, emit, learn


def spikes(state: SimState) -> dict:
    """Default recorder: ``{pop: spike}`` for every population that has spikes."""
    return {name: s.spike for name, s in state.pops.items() if hasattr(s, "spike")}


@dataclasses.dataclass(frozen=True)
class Record:
    """Recorder of chosen state fields, hashable (so ``simulate`` does not retrace).

    ``Record(("E", "v"), ("E", "spike"))`` records ``{"E": {"v": ..., "spike": ...}}``.
    """

    fields: tuple

    def __init__(self, *fields):
        for item in fields:
            if not (isinstance(item, tuple) and len(item) == 2 and all(isinstance(x, str) for x in item)):
                raise TypeError(f"Record fields must be (population, field) string pairs, got {item!r}")
        object.__setattr__(self, "fields", tuple(fields))

    def __call__(self, state: SimState) -> dict:
        out = {}
        for pop, field in self.fields:
            out.setdefault(pop, {})[field] = getattr(state.pops[pop], field)
        return out


def step(net: Network, params: dict, state: SimState, inputs_t: dict) -> SimState:
    """Advance the whole network by one step of ``net.dt`` (the order in the module docstring)."""
    dt, t = net.dt, state.t
    dtype = float_dtype()
    drives = {name: {r: jnp.zeros((pop.n,), dtype) for r in pop.model.receptors}
              for name, pop in net.populations.items()}
    syn_states = {}
    for name, proj in net.projections.items():
        out, syn_states[name] = deliver(proj, params[name], state.projs[name], t, dt)
        drives[proj.post][proj.receptor] = drives[proj.post][proj.receptor] + out
    for name, x in inputs_t.items():
        receptor = net.populations[name].model.input_receptor
        drives[name][receptor] = drives[name][receptor] + x
    pops = {name: pop.model.step(params[name], state.pops[name], drives[name], dt)
            for name, pop in net.populations.items()}
    projs = {name: learn(proj, params[name],
                         emit(proj, params[name], state.projs[name], syn_states[name], pops, t, dt,
                              net.exchange),
                         pops, t, dt)
             for name, proj in net.projections.items()}
    return SimState(t=t + 1, pops=pops, projs=projs)


def _check_inputs(net: Network, inputs: dict, n_steps: Optional[int]) -> int:
    """Validate ``inputs`` (trace time: shapes only) and return the number of steps."""
    if not isinstance(inputs, dict):
        raise TypeError(f"inputs must be a dict population -> (T, n) array, got {type(inputs).__name__}")
    lengths = set()
    for name, x in inputs.items():
        if name not in net.populations:
            raise ValueError(f"inputs: unknown population '{name}'; known: {sorted(net.populations)}")
        n = net.populations[name].n
        shape = np.shape(x)
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] not in (1, n)):
            raise ValueError(f"inputs['{name}'] must have shape (T, {n}) or (T,), got {shape}")
        lengths.add(shape[0])
    if len(lengths) > 1:
        raise ValueError(f"inputs have different numbers of steps: {sorted(lengths)}")
    if lengths:
        (T,) = lengths
        if n_steps is not None and n_steps != T:
            raise ValueError(f"n_steps={n_steps} disagrees with the inputs' {T} steps")
        return T
    if n_steps is None:
        raise ValueError("simulate needs n_steps when inputs is empty")
    return n_steps


def _per_step(net, inputs):
    """Broadcast each input to ``(T, n)`` (a ``(T,)`` input drives every neuron equally)."""
    return {name: jnp.broadcast_to(jnp.asarray(x).reshape(np.shape(x)[0], -1),
                                   (np.shape(x)[0], net.populations[name].n))
            for name, x in inputs.items()}


@functools.partial(jax.jit, static_argnames=("n_steps", "record", "checkpoint_every", "unroll"))
def simulate(net: Network, params: dict, state: SimState, inputs: Optional[dict] = None, *,
             n_steps: Optional[int] = None, record: Callable[[SimState], Any] = spikes,
             checkpoint_every: Optional[int] = None, unroll: int = 1):
    """Run the network for ``T`` steps in one ``lax.scan`` (jit-compiled).

    **Main arguments:**

    Args:
        net: the :class:`~neurojax.network.Network` (static structure + connectivity).
        params: ``dict`` of Params (differentiable).
        state: the :class:`~neurojax.network.SimState` to start from.
        inputs: ``{population: array (T, n) or (T,)}`` added to each population's input
            receptor (pA for LIF; spikes for ``SpikeSource``). ``T`` sets the run length.

    **Other arguments:**

    Args:
        n_steps: number of steps when ``inputs`` is empty (must agree with it otherwise).
        record: ``state -> pytree`` saved every step (after the step); default: spikes of
            every spiking population. Must be hashable and stable (a module-level function or
            :class:`Record`); a new lambda per call recompiles.
        checkpoint_every: if set, the scan is split into segments of this many steps whose
            internals are rematerialised in the backward pass (``jax.checkpoint``), so BPTT
            memory grows with ``T / checkpoint_every`` instead of ``T``. Must divide ``T``.
        unroll: passed to ``lax.scan``.

    Returns:
        ``(final_state, records)``, records with a leading time axis ``T``.

    Batch over trials with ``jax.vmap(simulate, in_axes=(None, None, 0, 0))``.
    """
    inputs = {} if inputs is None else inputs
    T = _check_inputs(net, inputs, n_steps)
    xs = _per_step(net, inputs)

    def body(s, x_t):
        s = step(net, params, s, x_t)
        return s, record(s)

    return checkpointed_scan(body, state, xs, length=T, checkpoint_every=checkpoint_every,
                             unroll=unroll)


def check_finite(state: SimState, where: str = "") -> None:
    """Raise ``FloatingPointError`` naming the first state field holding NaN or inf (host-side)."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(state):
        arr = np.asarray(leaf)
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            raise FloatingPointError(f"non-finite value in state{jax.tree_util.keystr(path)}{where}")


def _save_checkpoint(path, state, records, next_step):
    leaves = jax.tree.leaves((state, records))
    tmp = f"{path}.tmp.npz"
    np.savez(tmp, next_step=np.int64(next_step), **{f"leaf{i}": np.asarray(x) for i, x in enumerate(leaves)})
    os.replace(tmp, path)


def _load_checkpoint(path, like):
    with np.load(path) as f:
        leaves = [f[f"leaf{i}"] for i in range(len(f.files) - 1)]
        next_step = int(f["next_step"])
    like_leaves, treedef = jax.tree.flatten(like)
    if len(leaves) != len(like_leaves) or any(a.shape != np.shape(b) for a, b in zip(leaves, like_leaves)):
        raise ValueError(f"checkpoint {path} does not match this network/run (structure or shapes differ)")
    return jax.tree.unflatten(treedef, [jnp.asarray(x, dtype=np.asarray(b).dtype)
                                        for x, b in zip(leaves, like_leaves)]), next_step


def run_chunked(net: Network, params: dict, state: SimState, inputs: Optional[dict] = None, *,
                n_steps: Optional[int] = None, chunk: int = 1000,
                record: Callable[[SimState], Any] = spikes, progress: bool = True,
                checkpoint: Optional[str] = None, check_nan: bool = False):
    """Long runs: a Python loop over ``simulate`` on fixed-size chunks (one compile).

    Shows a tqdm progress bar per chunk (``progress=True`` needs ``tqdm``), optionally saves
    the full state and the records so far to ``checkpoint`` (an ``.npz`` path) after every
    chunk, and resumes from it if the file exists: a resumed run is bit-identical to an
    uninterrupted one. ``params`` are validated first.

    Args:
        chunk: steps per jitted call. A ``T`` that is not a multiple costs one extra compile
            for the shorter last chunk.
        check_nan: after each chunk, raise ``FloatingPointError`` naming the state field and
            time window if anything became NaN or inf.

    Returns:
        ``(final_state, records)`` as :func:`simulate` would return for the whole run.
    """
    validate(net, params)
    inputs = {} if inputs is None else inputs
    T = _check_inputs(net, inputs, n_steps)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    rec_shape = jax.eval_shape(lambda s: record(s), state)
    records = jax.tree.map(lambda r: np.zeros((T, *r.shape), r.dtype), rec_shape)
    start = 0
    if checkpoint is not None and os.path.exists(checkpoint):
        (state, records), start = _load_checkpoint(checkpoint, (state, records))
        records = jax.tree.map(np.array, records)
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError as err:
            raise ImportError("progress=True needs tqdm: pip install tqdm "
                              "(or neurojax[experiments]), or pass progress=False") from err
        bar = tqdm(total=T, initial=start, unit="step", desc="simulate")
    for t0 in range(start, T, chunk):
        t1 = min(t0 + chunk, T)
        x = {name: v[t0:t1] for name, v in inputs.items()}
        state, ys = simulate(net, params, state, x, n_steps=t1 - t0, record=record)
        for dst, src in zip(jax.tree.leaves(records), jax.tree.leaves(ys)):
            dst[t0:t1] = np.asarray(src)
        if check_nan:
            check_finite(state, f" after steps [{t0}, {t1}) (t = {t0 * net.dt}–{t1 * net.dt} ms)")
        if checkpoint is not None:
            _save_checkpoint(checkpoint, state, records, t1)
        if bar is not None:
            bar.update(t1 - t0)
    if bar is not None:
        bar.close()
    return state, records
