"""neurojax: a JAX differentiable brain simulator.

Three pytrees (``net`` / ``params`` / ``state``), pure model steps, and one scan-based
:func:`simulate`. Units: ms, mV, pA, pF, nS.
"""
from neurojax import (datasets, distributed, fitting, inputs, lsm, lsm_encoder,  # noqa: F401
                      lsm_gradient, metrics, plasticity, plotting, readouts, reservoirs)  # plotting imports matplotlib lazily
from neurojax.astrocytes import (GChI, GChIParams, GChIState, LeakyIntegratorAstrocyte,
                                 LeakyIntegratorAstrocyteParams, LeakyIntegratorAstrocyteState,
                                 LiRinzel, LiRinzelParams, LiRinzelState, Neuromodulator,
                                 NeuromodulatorParams, NeuromodulatorState, TripartiteTM,
                                 TripartiteTMParams, TripartiteTMState, li_rinzel_sic)
from neurojax.connectivity import (MAASS_C, NALSM_C, Connectivity, all_to_all, apply_dale,
                                   connection_probability, dale_signs, distance_based,
                                   fixed_in_degree, fixed_out_degree, fixed_prob, fixed_total,
                                   from_edges, from_scipy, grid_positions, to_dense)
from neurojax.network import (Network, Population, SimState, init_params, init_state,
                              validate)
from neurojax.neurons import (ALIF, ALL_NEURONS, HH, LIF, AdEx, AdExParams, AdExState,
                              ALIFParams, ALIFState, ClippedLinear, ClippedLinearParams,
                              ClippedLinearState, DiscreteLIF, DiscreteLIFParams, DiscreteLIFState,
                              Leaky, LeakyParams, LeakyState,
                              SigmoidRate, SigmoidRateParams, SigmoidRateState, HHParams, HHState, Izhikevich,
                              IzhikevichParams, IzhikevichState, LeakyTanh, LeakyTanhParams,
                              LeakyTanhState, LIFParams, LIFState, SpikeSource)
from neurojax.projections import ProjParams, ProjState, Projection
from neurojax.simulate import Record, check_finite, run_chunked, simulate, spikes, step
from neurojax.surrogates import Arctan, Sigmoid, SuperSpike, Triangle
from neurojax.plasticity import absorb_plasticity
from neurojax.synapses import (Alpha, AlphaParams, AlphaState, DualExponential,
                               DualExponentialParams, DualExponentialState, Exponential,
                               ExponentialParams, ExponentialState, Instant, InstantParams,
                               InstantState, ResetKernel, ResetKernelParams, ResetKernelState,
                               TsodyksMarkram,
                               TsodyksMarkramParams, TsodyksMarkramState)

__version__ = "0.1.0"

__all__ = [
    # neurons
    "LIF", "LIFParams", "LIFState", "ALIF", "ALIFParams", "ALIFState", "Izhikevich",
    "IzhikevichParams", "IzhikevichState", "AdEx", "AdExParams", "AdExState", "HH", "HHParams",
    "HHState", "LeakyTanh", "LeakyTanhParams", "LeakyTanhState", "ClippedLinear",
    "ClippedLinearParams", "ClippedLinearState", "DiscreteLIF", "DiscreteLIFParams",
    "Leaky", "LeakyParams", "LeakyState",
    "DiscreteLIFState", "SigmoidRate", "SigmoidRateParams", "SigmoidRateState", "SpikeSource",
    "ALL_NEURONS",
    # surrogates
    "SuperSpike", "Sigmoid", "Triangle", "Arctan",
    # synapses
    "Exponential", "ExponentialParams", "ExponentialState", "DualExponential",
    "DualExponentialParams", "DualExponentialState", "Alpha", "AlphaParams", "AlphaState",
    "TsodyksMarkram", "TsodyksMarkramParams", "TsodyksMarkramState", "Instant", "InstantParams",
    "InstantState", "ResetKernel", "ResetKernelParams", "ResetKernelState",
    # astrocytes and neuromodulators
    "LeakyIntegratorAstrocyte", "LeakyIntegratorAstrocyteParams", "LeakyIntegratorAstrocyteState",
    "Neuromodulator", "NeuromodulatorParams", "NeuromodulatorState", "LiRinzel", "LiRinzelParams",
    "LiRinzelState", "li_rinzel_sic", "GChI", "GChIParams", "GChIState", "TripartiteTM",
    "TripartiteTMParams", "TripartiteTMState",
    # connectivity
    "Connectivity", "from_edges", "from_scipy", "fixed_prob", "fixed_in_degree",
    "all_to_all", "fixed_out_degree", "fixed_total", "distance_based", "grid_positions",
    "connection_probability", "NALSM_C", "MAASS_C", "dale_signs", "apply_dale", "to_dense",
    # networks and simulation
    "Population", "Projection", "ProjParams", "ProjState", "Network", "SimState",
    "init_params", "init_state", "validate", "simulate", "step", "run_chunked", "spikes",
    "Record", "check_finite", "absorb_plasticity",
    # submodules
    "inputs", "metrics", "plasticity", "plotting", "fitting", "distributed", "readouts",
    "reservoirs", "datasets", "lsm", "lsm_encoder", "lsm_gradient",
]
