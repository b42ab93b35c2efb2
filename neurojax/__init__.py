"""neurojax: a JAX differentiable brain simulator.

Three pytrees (``net`` / ``params`` / ``state``), pure model steps, and one scan-based
:func:`simulate`. Units: ms, mV, pA, pF, nS.
"""
from neurojax.connectivity import Connectivity, fixed_out_degree, from_edges
from neurojax.network import (Network, Population, SimState, init_params, init_state,
                              validate)
from neurojax.neurons import LIF, LIFParams, LIFState, SpikeSource
from neurojax.projections import ProjParams, ProjState, Projection
from neurojax.simulate import Record, check_finite, run_chunked, simulate, spikes, step
from neurojax.surrogates import Arctan, Sigmoid, SuperSpike, Triangle
from neurojax.synapses import Exponential, ExponentialParams, ExponentialState
# (helper-neurons) extra neuron imports go on the next line
# (helper-synapses) extra synapse / connectivity imports go on the next line
# (helper-io) inputs / metrics / plotting imports go on the next line

__version__ = "0.1.0"

__all__ = [
    "Arctan", "Connectivity", "Exponential", "ExponentialParams", "ExponentialState", "LIF",
    "LIFParams", "LIFState", "Network", "Population", "ProjParams", "ProjState", "Projection",
    "Record", "Sigmoid", "SimState", "SpikeSource", "SuperSpike", "Triangle", "check_finite",
    "fixed_out_degree", "from_edges", "init_params", "init_state", "run_chunked", "simulate",
    "spikes", "step", "validate",
]
