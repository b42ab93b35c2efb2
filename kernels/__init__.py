"""Sparse spike-propagation kernels (installed as ``neurojax.kernels``).

Every kernel has a plain-``jnp`` ``*_reference`` twin in ``reference.py`` that defines it.
"""
from neurojax.kernels.reference import event_scatter_reference

__all__ = ["event_scatter_reference"]
