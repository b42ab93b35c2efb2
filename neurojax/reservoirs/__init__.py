"""Reservoir computing: echo-state networks, their readouts and the standard benchmarks.

* :mod:`~neurojax.reservoirs.esn`: leaky tanh reservoirs (:class:`ESN`), teacher-forced
  :func:`run` and :func:`fit`, generative :func:`closed_loop`.
* :mod:`~neurojax.reservoirs.tasks`: memory capacity, NARMA-10, Mackey-Glass (one-step,
  84-step direct and closed loop) with fixed splits, and :func:`score`.
* :mod:`~neurojax.reservoirs.ei`: the self-adapting Dale's-law E/I rate reservoir
  (Srinivasan, Plenz & Girvan 2025) on the core simulator.
* Readouts (ridge regression, NRMSE, filtered spikes) live in :mod:`neurojax.readouts`.
"""
from neurojax.reservoirs import ei, tasks  # noqa: F401
from neurojax.reservoirs.esn import (ESN, closed_loop, fit, random_esn, rescale, run,
                                     spectral_radius, update)
from neurojax.reservoirs.tasks import Task, make_task, score

__all__ = ["ESN", "random_esn", "spectral_radius", "rescale", "update", "run", "fit",
           "closed_loop", "tasks", "ei", "Task", "make_task", "score"]
