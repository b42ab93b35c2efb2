"""Sparse spike-propagation kernels (installed as ``neurojax.kernels``).

Every kernel has a plain-``jnp`` ``*_reference`` twin in ``reference.py`` that defines it.
"""
from neurojax.kernels.event import (PULL_ABOVE, PullTable, event_gather, event_scatter,
                                    event_scatter_with_info, propagate, pull_table)
from neurojax.kernels.plasticity import (post_events, post_events_reference, pre_events,
                                         pre_events_reference)
from neurojax.kernels.reference import event_scatter_reference

__all__ = ["PULL_ABOVE", "PullTable", "event_gather", "event_scatter", "event_scatter_reference",
           "event_scatter_with_info", "propagate", "pull_table", "pre_events", "pre_events_reference",
           "post_events", "post_events_reference"]
