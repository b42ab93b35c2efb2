"""Parameter fitting: parameter spaces, differentiable objectives, multi-start gradient fits,
gradient-free baselines (random search, CMA-ES) and recording loaders.

Typical use: build a :class:`ParamSpace` of the parameters to fit, write a pure
``loss_fn(params) -> scalar`` that simulates the model with them and compares the result to
the data with an objective (:func:`trace_mse`, :func:`van_rossum`, ...), then call
:func:`fit` (or :func:`cma_es` / :func:`random_search` at the same budget).

Submodules: :mod:`~neurojax.fitting.space`, :mod:`~neurojax.fitting.objectives`,
:mod:`~neurojax.fitting.fit` (shadowed by the function :func:`fit` as an attribute; import it
with ``importlib.import_module("neurojax.fitting.fit")`` if needed) and
:mod:`~neurojax.fitting.data`.
"""
from neurojax.fitting import data, objectives, space
from neurojax.fitting.data import (Recording, from_arrays, load_csv, load_nwb_like,
                                   spike_times_to_train)
from neurojax.fitting.fit import FitResult, cma_es, fit, random_search
from neurojax.fitting.objectives import (cv, fi_curve, firing_rate, first_spike_time, isi_cv,
                                         pairwise_correlation, rate, spike_aware_trace_loss,
                                         spike_count, trace_mse, van_rossum, windowed_trace_mse)
from neurojax.fitting.space import Bounded, Free, ParamSpace, Positive

__all__ = [
    # parameter spaces
    "Bounded", "Positive", "Free", "ParamSpace",
    # fitting
    "fit", "random_search", "cma_es", "FitResult",
    # objectives
    "trace_mse", "windowed_trace_mse", "spike_aware_trace_loss", "van_rossum", "spike_count",
    "first_spike_time", "firing_rate", "fi_curve", "isi_cv", "rate", "cv",
    "pairwise_correlation",
    # data
    "Recording", "from_arrays", "load_csv", "load_nwb_like", "spike_times_to_train",
    # submodules
    "data", "objectives", "space",
]
