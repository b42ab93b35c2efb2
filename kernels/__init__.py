"""Sparse spike-propagation kernels (installed as ``neurojax.kernels``).

Every kernel has a plain-``jnp`` ``*_reference`` twin in ``reference.py`` that defines it.
"""
from neurojax.kernels.event import (PULL_ABOVE, PullTable, event_gather, event_scatter,
                                    event_scatter_with_info, propagate, pull_table)
from neurojax.kernels.plasticity import (pair_update, pair_update_reference, post_events,
                                         post_events_reference, pre_events,
                                         pre_events_reference)
from neurojax.kernels.procedural import (jit_connectivity_dense, jit_event_scatter, pair_bits,
                                         to_connectivity, uniform01)
from neurojax.kernels.reference import event_scatter_reference

__all__ = ["PULL_ABOVE", "PullTable", "event_gather", "event_scatter", "event_scatter_pallas",
           "event_scatter_reference", "event_scatter_with_info", "propagate", "pull_table",
           "pair_update", "pair_update_reference", "pre_events", "pre_events_reference",
           "post_events", "post_events_reference",
           "jit_connectivity_dense", "jit_event_scatter", "pair_bits", "to_connectivity",
           "uniform01"]


def __getattr__(name):
    # the Pallas kernel is imported on first use: jax.experimental.pallas adds ~0.3 s to import
    if name == "event_scatter_pallas":
        from neurojax.kernels.pallas_gpu import event_scatter_pallas
        return event_scatter_pallas
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
