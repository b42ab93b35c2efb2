r"""Plain-``jnp`` reference kernels: the specification every fast kernel is tested against.

Layout: a projection from ``n_pre`` to ``n_post`` neurons is stored as a *padded-row* table
``post_idx: int32[n_pre, k]`` (row ``i`` lists the targets of presynaptic neuron ``i``; unused
slots hold the sentinel ``n_post``) with weights ``w`` of the same shape or a scalar.
"""
import jax
import jax.numpy as jnp


def event_scatter_reference(post_idx: jax.Array, w: jax.Array, signal: jax.Array,
                            n_post: int) -> jax.Array:
    r"""Synaptic input $y_j = \sum_{i,k:\ \mathrm{post\_idx}[i,k]=j} w_{ik}\, s_i$.

    Dense over all stored synapses (work $\propto n_\mathrm{pre} k$ whatever the activity);
    differentiable in ``w`` and ``signal`` by plain autodiff. Sentinel entries
    (``post_idx == n_post``) are dropped.

    Args:
        post_idx: ``int32[n_pre, k]`` target table.
        w: weights, ``[n_pre, k]`` or a scalar.
        signal: ``[n_pre]`` presynaptic signal (spikes as 0/1 floats, or a continuous value).
        n_post: number of postsynaptic neurons (static).

    Returns:
        ``[n_post]`` summed input.

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax.kernels import event_scatter_reference
        >>> idx = jnp.array([[0, 1], [1, 2]])          # 2 = sentinel for n_post = 2
        >>> event_scatter_reference(idx, 0.5, jnp.array([1.0, 1.0]), 2).tolist()
        [0.5, 1.0]
    """
    contrib = jnp.broadcast_to(w, post_idx.shape) * signal[:, None]
    out = jnp.zeros((n_post,), contrib.dtype)
    return out.at[post_idx.reshape(-1)].add(contrib.reshape(-1), mode="drop")
