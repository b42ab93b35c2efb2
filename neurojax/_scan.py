"""``lax.scan`` with optional segment-wise rematerialisation, shared by every time loop."""
from typing import Optional

import jax


def scan(body, init, xs, *, length: int, checkpoint_every: Optional[int] = None,
         unroll: int = 1):
    """``jax.lax.scan(body, init, xs, length=length)``, optionally checkpointed.

    With ``checkpoint_every`` the ``length`` steps run as segments of that many steps, each
    under ``jax.checkpoint``: reverse mode stores the carry at segment boundaries only and
    recomputes the inside, so BPTT memory grows with ``length / checkpoint_every`` instead of
    ``length``. ``xs`` (any pytree with a leading time axis, or ``None``) and the stacked
    outputs keep their ``(length, ...)`` layout.
    """
    if checkpoint_every is None:
        return jax.lax.scan(body, init, xs, length=length, unroll=unroll)
    if (not isinstance(checkpoint_every, int) or isinstance(checkpoint_every, bool)
            or checkpoint_every < 1 or length % checkpoint_every):
        raise ValueError(f"checkpoint_every={checkpoint_every!r} must be a positive int and "
                         f"must divide the {length} steps")
    n_seg = length // checkpoint_every
    xs = jax.tree.map(lambda x: x.reshape(n_seg, checkpoint_every, *x.shape[1:]), xs)

    @jax.checkpoint
    def segment(carry, xs_seg):
        return jax.lax.scan(body, carry, xs_seg, length=checkpoint_every, unroll=unroll)

    carry, ys = jax.lax.scan(segment, init, xs, length=n_seg)
    return carry, jax.tree.map(lambda y: y.reshape(length, *y.shape[2:]), ys)
