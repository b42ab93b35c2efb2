r"""Event-driven plasticity terms on the padded-row synapse layout ("on pre" / "on post").

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

Both are ``custom_vjp`` functions whose backward passes are dense (all neurons), so surrogate
gradients reach silent neurons exactly as with the ``*_reference`` twins.
"""
from functools import partial

import jax
import jax.numpy as jnp

from neurojax.kernels.event import PullTable, _check_pull, _gather_rows, _over_active_chunks

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
