r"""Event-driven plasticity on the padded-row synapse layout ("on pre" / "on post" terms, and
the in-place accumulated pair update :func:`pair_update`).

Pair-based rules change a synapse $i \to j$ (slot $m$ of row $i$, $j = \mathrm{post\_idx}[i,m]$)
by products of a spike on one side and a trace on the other:

$$ \mathrm{on\ pre:}\quad E_{im} = s^\mathrm{pre}_i\, y_{\mathrm{post\_idx}[i,m]} \qquad
   \mathrm{on\ post:}\quad E_{im} = s^\mathrm{post}_{\mathrm{post\_idx}[i,m]}\, x_i $$

Computed densely that is two gathers over every synapse per step, whatever the activity. The
event versions touch only the rows of presynaptic neurons that spiked (``pre_events``) and,
through the by-post :class:`~neurojax.kernels.PullTable`, only the synapses onto
postsynaptic neurons that spiked (``post_events``); at ~20 Hz and ``dt = 0.1`` ms that is
~0.2 % of the synapses. Steps with more events than ``max_events`` take extra exact passes, as
in :func:`~neurojax.kernels.event_scatter`.

Their results are still ``(n_pre, k)`` arrays that a rule adds to its change, so a step stays
dense in memory traffic. :func:`pair_update` goes further for rules of the form
$\Delta W = c^\mathrm{pre} s^\mathrm{post} + a^\mathrm{post} s^\mathrm{pre}$ (optionally
clipped): it writes the accumulated change ``dw`` in place, so a step touches only the
synapses of the neurons that spiked.

All three are ``custom_vjp`` functions whose backward passes are dense (all neurons), so
surrogate gradients reach silent neurons exactly as with the ``*_reference`` twins.
"""
import functools
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from neurojax._params import check_int
from neurojax.kernels.event import (_WORD, ActiveRows, PullTable, _active_rows, _check_pull, _chunk_rows,
                                    _gather_rows, _over_active_chunks)

Array = jax.Array


def pre_events_reference(post_idx, s_pre, post_values, n_post: int) -> Array:
    """Dense ``E[i, m] = s_pre[i] * post_values[post_idx[i, m]]`` (0 on padding)."""
    return s_pre[:, None] * _gather_rows(post_values, post_idx, 0)


def post_events_reference(post_idx, s_post, pre_values, n_post: int) -> Array:
    """Dense ``E[i, m] = s_post[post_idx[i, m]] * pre_values[i]`` (0 on padding)."""
    return _gather_rows(s_post, post_idx, 0) * pre_values[:, None]


def _check_sizes(post_idx, a, b, n_post, a_len, b_len, names):
    n_pre = post_idx.shape[0]
    sizes = {"n_pre": n_pre, "n_post": n_post}
    for x, which, name in ((a, a_len, names[0]), (b, b_len, names[1])):
        if jnp.shape(x) != (sizes[which],):
            raise ValueError(f"{name} must have shape ({which},) = ({sizes[which]},), "
                             f"got {jnp.shape(x)}")


# ---------------------------------------------------------------------------- on pre
@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _pre_events(n_post, max_events, post_idx, s_pre, post_values):
    dtype = jnp.result_type(s_pre, post_values)

    def body(rows, e):
        vals = _gather_rows(s_pre, rows, 0).astype(dtype)[:, None] * \
            _gather_rows(post_values, _gather_rows(post_idx, rows, n_post), 0)
        return e.at[rows].set(vals, mode="drop")

    e, _ = _over_active_chunks(s_pre, max_events, body, jnp.zeros(post_idx.shape, dtype))
    return e


def _pre_events_fwd(n_post, max_events, post_idx, s_pre, post_values):
    return _pre_events(n_post, max_events, post_idx, s_pre, post_values), (post_idx, s_pre, post_values)


def _pre_events_bwd(n_post, max_events, res, g):
    post_idx, s_pre, post_values = res
    y = _gather_rows(post_values, post_idx, 0)                       # (n_pre, k)
    d_s = jnp.sum(g * y, axis=1).astype(s_pre.dtype)
    contrib = (g * s_pre[:, None]).reshape(-1)
    d_y = jnp.zeros((n_post,), g.dtype).at[post_idx.reshape(-1)].add(contrib, mode="drop")
    return None, d_s, d_y.astype(post_values.dtype)


_pre_events.defvjp(_pre_events_fwd, _pre_events_bwd)


def pre_events(post_idx, s_pre, post_values, n_post: int, max_events: int) -> Array:
    r"""Event-driven ``E[i, m] = s_pre[i] * post_values[post_idx[i, m]]``: only spiking rows.

    Args:
        post_idx: ``int[n_pre, k]`` table (sentinel ``n_post``).
        s_pre: ``(n_pre,)`` presynaptic spikes (a row is active iff nonzero).
        post_values: ``(n_post,)`` per-postsynaptic quantity (e.g. a trace).
        n_post, max_events: static ints (``max_events`` = active rows per pass).

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax.kernels import pre_events
        >>> idx = jnp.array([[0, 1], [1, 2]])                 # 2 = padding
        >>> pre_events(idx, jnp.array([0.0, 1.0]), jnp.array([5.0, 7.0]), 2, 1).tolist()
        [[0.0, 0.0], [7.0, 0.0]]
    """
    _check_sizes(post_idx, s_pre, post_values, n_post, "n_pre", "n_post", ("s_pre", "post_values"))
    return _pre_events(n_post, max(1, min(max_events, post_idx.shape[0])), post_idx, s_pre,
                       post_values)


# ---------------------------------------------------------------------------- on post
@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _post_events(n_post, max_events, post_idx, pull, s_post, pre_values):
    n_pre, k = post_idx.shape
    dtype = jnp.result_type(s_post, pre_values)

    def body(posts, e):
        pres = _gather_rows(pull.pre_idx, posts, n_pre)             # (K, d)
        slots = _gather_rows(pull.slot, posts, n_pre * k)           # (K, d)
        vals = _gather_rows(s_post, posts, 0).astype(dtype)[:, None] * _gather_rows(pre_values, pres, 0)
        return e.at[slots.reshape(-1)].set(vals.reshape(-1), mode="drop")

    e, _ = _over_active_chunks(s_post, max_events, body, jnp.zeros((n_pre * k,), dtype))
    return e.reshape(n_pre, k)


def _post_events_fwd(n_post, max_events, post_idx, pull, s_post, pre_values):
    out = _post_events(n_post, max_events, post_idx, pull, s_post, pre_values)
    return out, (post_idx, s_post, pre_values)


def _post_events_bwd(n_post, max_events, res, g):
    post_idx, s_post, pre_values = res
    s_at = _gather_rows(s_post, post_idx, 0)                         # (n_pre, k)
    d_x = jnp.sum(g * s_at, axis=1).astype(pre_values.dtype)
    contrib = (g * pre_values[:, None]).reshape(-1)
    d_s = jnp.zeros((n_post,), g.dtype).at[post_idx.reshape(-1)].add(contrib, mode="drop")
    return None, None, d_s.astype(s_post.dtype), d_x


_post_events.defvjp(_post_events_fwd, _post_events_bwd)


def post_events(pull: PullTable, post_idx, s_post, pre_values, n_post: int, max_events: int) -> Array:
    r"""Event-driven ``E[i, m] = s_post[post_idx[i, m]] * pre_values[i]``: only synapses onto
    spiking postsynaptic neurons, found through the by-post table ``pull``.

    Args:
        pull: :class:`~neurojax.kernels.PullTable` of ``post_idx``.
        post_idx: ``int[n_pre, k]`` table (sentinel ``n_post``).
        s_post: ``(n_post,)`` postsynaptic spikes (active iff nonzero).
        pre_values: ``(n_pre,)`` per-presynaptic quantity (e.g. a trace).
        n_post, max_events: static ints (``max_events`` = active posts per pass).

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax.kernels import post_events, pull_table
        >>> idx = jnp.array([[0, 1], [1, 2]])                 # 2 = padding
        >>> post_events(pull_table(idx, 2), idx, jnp.array([0.0, 1.0]),
        ...             jnp.array([3.0, 4.0]), 2, 1).tolist()
        [[0.0, 3.0], [4.0, 0.0]]
    """
    _check_pull(pull, post_idx.shape[0], n_post)
    _check_sizes(post_idx, s_post, pre_values, n_post, "n_post", "n_pre", ("s_post", "pre_values"))
    return _post_events(n_post, max(1, min(max_events, n_post)), post_idx, pull, s_post, pre_values)


# ---------------------------------------------------------------- accumulated, clipped pair update
def pair_change(post_idx, w, c_pre, s_post, a_post, s_pre, w_min, w_max, n_post: int) -> Array:
    r"""Dense change of one step of a pair rule at the transmitted weights ``w``:
    $\mathrm{clip}(w + \Delta W, w_\min, w_\max) - w$ (or $\Delta W$ with both bounds None),
    $\Delta W_{im} = c^\mathrm{pre}_i s^\mathrm{post}_j + a^\mathrm{post}_j s^\mathrm{pre}_i$,
    0 on padding: every synapse, every step (the rules' dense path)."""
    delta = (c_pre[:, None] * _gather_rows(s_post, post_idx, 0)
             + _gather_rows(a_post, post_idx, 0) * s_pre[:, None])
    change = delta if w_min is None and w_max is None else jnp.clip(w + delta, w_min, w_max) - w
    return jnp.where(post_idx < n_post, change, 0.0)


def pair_update_reference(post_idx, w0, dw, c_pre, s_post, a_post, s_pre, w_min, w_max,
                          n_post: int) -> Array:
    r"""Dense :func:`pair_update`: every synapse, every step."""
    return dw + pair_change(post_idx, w0 + dw, c_pre, s_post, a_post, s_pre, w_min, w_max, n_post)


def _at_slots(x, slots):
    """``x`` (a scalar or an ``(n_pre, k)`` table) at flat ``slots`` (sentinel past the end)."""
    return x if jnp.ndim(x) == 0 else x.reshape(-1).at[slots].get(mode="fill", fill_value=0)


def _write(clipped, flat_dw, slots, delta, w0, w_min, w_max):
    """``dw <- dw + clip(w + delta) - w`` (``clipped``) or ``dw + delta`` at ``slots`` (the
    reference's expression, op for op)."""
    d = flat_dw.at[slots].get(mode="fill", fill_value=0)
    if clipped:
        w = _at_slots(w0, slots) + d
        new = d + (jnp.clip(w + delta, _at_slots(w_min, slots), _at_slots(w_max, slots)) - w)
    else:
        new = d + delta
    return flat_dw.at[slots].set(new, mode="drop")


def _row_chunk(clipped, n_post, post_idx, rows, flat_dw, w0, c_pre, s_post, a_post, s_pre, w_min, w_max):
    """Every synapse of the active presynaptic ``rows`` (both terms)."""
    n_pre, k = post_idx.shape
    posts = _gather_rows(post_idx, rows, n_post)                              # (K, k)
    slots = jnp.where(posts < n_post, rows[:, None] * k + jnp.arange(k, dtype=rows.dtype)[None, :],
                      n_pre * k)
    delta = (_gather_rows(c_pre, rows, 0)[:, None] * _gather_rows(s_post, posts, 0)
             + _gather_rows(a_post, posts, 0) * _gather_rows(s_pre, rows, 0)[:, None])
    return _write(clipped, flat_dw, slots, delta, w0, w_min, w_max)


def _post_chunk(clipped, pull, n_pre, k, posts, flat_dw, w0, c_pre, s_post, a_post, s_pre, w_min, w_max):
    """The synapses onto the active ``posts`` whose presynaptic neuron is silent (the others
    were written by :func:`_row_chunk`, from the same old values)."""
    pres = _gather_rows(pull.pre_idx, posts, n_pre)                           # (K, d)
    s_at_pre = _gather_rows(s_pre, pres, 0)
    slots = jnp.where(s_at_pre != 0, n_pre * k, _gather_rows(pull.slot, posts, n_pre * k))
    delta = (_gather_rows(c_pre, pres, 0) * _gather_rows(s_post, posts, 0)[:, None]
             + _gather_rows(a_post, posts, 0)[:, None] * s_at_pre)
    return _write(clipped, flat_dw, slots, delta, w0, w_min, w_max)


def _over_chunks(active, max_events, batched: bool, body, flat_dw):
    """``flat_dw = body(indices, flat_dw)`` over chunks of ``max_events`` active indices.

    Batched (``active`` ``(B, n)``, ``flat_dw`` ``(B, m)``, ``body`` taking ``(B, max_events)``
    indices): one loop serves the whole batch and runs as long as its busiest element needs;
    the others get sentinel indices (no-ops), so the carry is never selected element by
    element as under a ``vmap`` of :func:`_over_active_chunks`' ``while_loop``."""
    if not batched:
        return _over_active_chunks(active, max_events, body, flat_dw)[0]
    n = active.shape[-1]
    words, counts = jax.vmap(lambda a: _active_rows(a)[:2])(active)
    n_active = jnp.max(counts[:, -1]) if n else jnp.int32(0)

    def step(state):
        start, flat = state
        rows = jax.vmap(lambda w, c: _chunk_rows(ActiveRows(w, c, _WORD), start, max_events, n))(
            words, counts)
        return start + max_events, body(rows, flat)

    return lax.while_loop(lambda state: state[0] < n_active, step, (jnp.int32(0), flat_dw))[1]


_FLOATS = ("w0", "dw", "c_pre", "s_post", "a_post", "s_pre", "w_min", "w_max")


def _pair_update_events(clipped, n_post, max_events, post_idx, pull, floats, axes):
    """The event-driven update of :func:`pair_update`; ``floats`` in :data:`_FLOATS` order,
    each with batch axis 0 or None (``axes``; dw's is 0 whenever any is)."""
    n_pre, k = post_idx.shape
    args = dict(zip(_FLOATS, floats))
    batched = axes[1] == 0
    dw = args.pop("dw")
    names = tuple(args)                                   # the read-only inputs
    shared = tuple(args.values())

    def bind(chunk):
        if not batched:
            return lambda idx, flat: chunk(idx, flat, *shared)
        in_axes = (0, 0) + tuple(axes[_FLOATS.index(name)] for name in names)
        return lambda idx, flat: jax.vmap(chunk, in_axes=in_axes)(idx, flat, *shared)

    def spikes(x):
        return jnp.broadcast_to(x, dw.shape[:1] + x.shape[-1:]) if batched else x

    flat = dw.reshape(dw.shape[:-2] + (n_pre * k,))
    flat = _over_chunks(spikes(args["s_pre"]), max_events, batched,
                        bind(partial(_row_chunk, clipped, n_post, post_idx)), flat)
    flat = _over_chunks(spikes(args["s_post"]), max_events, batched,
                        bind(partial(_post_chunk, clipped, pull, n_pre, k)), flat)
    return flat.reshape(dw.shape)


@functools.lru_cache(maxsize=None)
def _pair_update_fn(n_post: int, max_events: int, clipped: bool):
    """``f(post_idx, pull, *floats)``: the event-driven update for these static sizes, with a
    ``vmap`` rule (one loop per batch) and a dense backward (the reference's VJP). Unclipped,
    the bounds in ``floats`` are placeholders."""

    def reference(post_idx, w0, dw, c_pre, s_post, a_post, s_pre, w_min, w_max):
        bounds = (w_min, w_max) if clipped else (None, None)
        return pair_update_reference(post_idx, w0, dw, c_pre, s_post, a_post, s_pre, *bounds,
                                     n_post)

    @jax.custom_batching.custom_vmap
    def events(post_idx, pull, *floats):
        return _pair_update_events(clipped, n_post, max_events, post_idx, pull, floats,
                                   (None,) * 8)

    @events.def_vmap
    def events_batched(axis_size, in_batched, post_idx, pull, *floats):
        if in_batched[0] or any(jax.tree.leaves(in_batched[1])):
            # per-element connectomes: the dense reference, vmapped
            in_axes = tuple(jax.tree.map(lambda b: 0 if b else None, list(in_batched)))
            return jax.vmap(lambda idx, _, *f: reference(idx, *f), in_axes=in_axes)(
                post_idx, pull, *floats), True
        floats = list(floats)
        if not in_batched[3]:        # dw: every element gets its own copy
            floats[1] = jnp.broadcast_to(floats[1], (axis_size,) + floats[1].shape)
        axes = tuple(0 if b or i == 1 else None for i, b in enumerate(in_batched[2:]))
        return _pair_update_events(clipped, n_post, max_events, post_idx, pull, floats,
                                   axes), True

    @jax.custom_vjp
    def update(post_idx, pull, *floats):
        return events(post_idx, pull, *floats)

    def update_fwd(post_idx, pull, *floats):
        return events(post_idx, pull, *floats), (post_idx, floats)

    def update_bwd(res, g):
        post_idx, floats = res
        _, vjp = jax.vjp(lambda *f: reference(post_idx, *f), *floats)
        return (None, None) + vjp(g)

    update.defvjp(update_fwd, update_bwd)
    return update


def pair_update(pull: PullTable, post_idx, w0, dw, c_pre, s_post, a_post, s_pre, w_min, w_max,
                n_post: int, max_events: int) -> Array:
    r"""Event-driven accumulated pair update of a plastic projection, in place.

    Returns the accumulated change after one step of a pair-based rule with hard bounds,

    $$ \Delta w' = \Delta w + \mathrm{clip}(w + \Delta W,\ w_\min, w_\max) - w, \qquad
       w = w_0 + \Delta w, \qquad
       \Delta W_{im} = c^\mathrm{pre}_i\, s^\mathrm{post}_j + a^\mathrm{post}_j\, s^\mathrm{pre}_i $$

    or without bounds (``w_min = w_max = None``) $\Delta w' = \Delta w + \Delta W$ (additive
    STDP: $c^\mathrm{pre} = a_+ x^\mathrm{pre}$, $a^\mathrm{post} = -a_- x^\mathrm{post}$),

    for every synapse $i \to j$ (slot $m$ of row $i$; 0 on padding), touching only the rows of
    active presynaptic neurons ($s^\mathrm{pre}_i \neq 0$) and, through the by-post
    ``pull`` table, the synapses onto active postsynaptic neurons ($s^\mathrm{post}_j \neq 0$):
    a step costs $O(\text{events} \times \text{degree})$ instead of $O(n_\mathrm{pre} k)$.
    Steps with more than ``max_events`` active neurons on a side take extra exact passes.

    It equals :func:`pair_update_reference` whenever the untouched synapses lie within
    ``[w_min, w_max]`` (so that the reference leaves them unchanged: true after any step of
    the rule; no condition without bounds) and the factors are finite: bit for bit when the
    spikes are 0/1 (the touched synapses evaluate the same expression, and no product with a
    spike rounds), otherwise to rounding (XLA may contract ``c s + a s'`` into a fused
    multiply-add in either version).
    Under ``vmap`` one loop serves the whole batch; the backward pass is the reference's
    (dense) VJP, so gradients reach every factor.

    Args:
        pull: :class:`~neurojax.kernels.PullTable` of ``post_idx``.
        post_idx: ``int[n_pre, k]`` table (sentinel ``n_post``).
        w0: initial weights, a scalar or ``(n_pre, k)``; dw: ``(n_pre, k)`` accumulated change.
        c_pre, s_pre: ``(n_pre,)`` factors; s_post, a_post: ``(n_post,)`` factors (the
            spikes ``s_*`` decide which neurons are active).
        w_min, w_max: bounds, scalars or ``(n_pre, k)``, or both None (no clip).
        n_post, max_events: static ints.

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax.kernels import pair_update, pull_table
        >>> idx = jnp.array([[0, 1], [1, 2]])                   # 2 = padding
        >>> dw = pair_update(pull_table(idx, 2), idx, 1.0, jnp.zeros((2, 2)),
        ...                  c_pre=jnp.array([0.75, 0.25]), s_post=jnp.array([0.0, 1.0]),
        ...                  a_post=jnp.array([-0.1, -0.2]), s_pre=jnp.array([0.0, 0.0]),
        ...                  w_min=0.0, w_max=1.5, n_post=2, max_events=1)
        >>> dw.tolist()                       # post 1 spiked: + c_pre on its synapses, clipped
        [[0.0, 0.5], [0.25, 0.0]]
    """
    n_pre = post_idx.shape[0]
    _check_pull(pull, n_pre, n_post)
    _check_sizes(post_idx, c_pre, s_post, n_post, "n_pre", "n_post", ("c_pre", "s_post"))
    _check_sizes(post_idx, s_pre, a_post, n_post, "n_pre", "n_post", ("s_pre", "a_post"))
    shape = post_idx.shape
    clipped = w_min is not None or w_max is not None
    if clipped and (w_min is None or w_max is None):
        raise ValueError("pair_update: give both bounds w_min and w_max, or neither")
    if not clipped:
        w_min = w_max = 0.0                                   # placeholders, unused
    for name, x in (("w0", w0), ("w_min", w_min), ("w_max", w_max)):
        if jnp.ndim(x) != 0 and jnp.shape(x) != shape:
            raise ValueError(f"{name} must be a scalar or have shape {shape}, got {jnp.shape(x)}")
    if jnp.shape(dw) != shape:
        raise ValueError(f"dw must have shape {shape}, got {jnp.shape(dw)}")
    dtype = jnp.result_type(dw, w0, c_pre, s_post, a_post, s_pre)
    floats = [jnp.asarray(x, dtype) for x in (w0, dw, c_pre, s_post, a_post, s_pre, w_min, w_max)]
    cap = max(1, min(check_int(max_events, "max_events", minimum=1), max(n_pre, n_post)))
    return _pair_update_fn(check_int(n_post, "n_post", minimum=0), cap, clipped)(post_idx, pull,
                                                                              *floats)
