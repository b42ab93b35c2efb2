"""Synaptic plasticity as pure, composable ``(init, update)`` rules (see :mod:`.base`).

Use a rule through ``Projection(plasticity=rule)``; its hyper-parameters live in
``params[proj].plast`` and its traces in ``state.projs[proj].plast``.
"""
from neurojax.plasticity.base import (Chain, ClipWeights, ClipWeightsParams, KeepSign,
                                      PlasticityContext, absorb_plasticity, chain)
from neurojax.plasticity.homeostasis import (ActivityState, InhibitorySTDP, InhibitorySTDPParams,
                                             RateHomeostasis, RateHomeostasisParams,
                                             SynapticScaling, SynapticScalingParams)
from neurojax.plasticity.nalsm import (NALSM_TRACE_DECAY, ActivityDependentSTDP,
                                       ActivityDependentSTDPParams, ActivityDependentSTDPState,
                                       AstrocyteSTDP, AstrocyteSTDPParams, AstrocyteSTDPState)
from neurojax.plasticity.stdp import STDP, STDPParams, TraceState
from neurojax.plasticity.three_factor import (Eligibility, EligibilityParams, EligibilityState,
                                              GatedErrorHebbian, GatedErrorHebbianParams,
                                              GatedErrorHebbianState, RLSReadout,
                                              RLSReadoutParams, RLSReadoutState,
                                              ScaleByModulator, ScaleByModulatorParams,
                                              consolidate, reset_rule_state)
from neurojax.plasticity.triplet import TripletSTDP, TripletSTDPParams, TripletTraceState

__all__ = [
    "PlasticityContext", "Chain", "chain", "ClipWeights", "ClipWeightsParams", "KeepSign",
    "absorb_plasticity", "STDP", "STDPParams", "TraceState", "TripletSTDP", "TripletSTDPParams",
    "TripletTraceState", "Eligibility", "EligibilityParams", "EligibilityState",
    "ScaleByModulator", "ScaleByModulatorParams", "GatedErrorHebbian", "GatedErrorHebbianParams",
    "GatedErrorHebbianState", "consolidate", "RLSReadout", "RLSReadoutParams", "RLSReadoutState",
    "reset_rule_state", "AstrocyteSTDP", "AstrocyteSTDPParams", "AstrocyteSTDPState",
    "ActivityDependentSTDP", "ActivityDependentSTDPParams", "ActivityDependentSTDPState",
    "NALSM_TRACE_DECAY", "RateHomeostasis", "RateHomeostasisParams", "InhibitorySTDP",
    "InhibitorySTDPParams", "SynapticScaling", "SynapticScalingParams", "ActivityState",
]
