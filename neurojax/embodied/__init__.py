"""Embodied control: bodies as pure environments and neural controllers that drive them.

* :mod:`neurojax.embodied.swimmer`: the dm_control swimmer + NCAP swim task on MJX
  (:class:`Swimmer`, differentiable, one-scan) and on MuJoCo C (:class:`SwimmerC`, fast CPU).
* :mod:`neurojax.embodied.ncap`: the NCAP circuit on neurojax graded units.
* :mod:`neurojax.embodied.rollout`: the one-scan rollout, the C-backend rollout and the MLP
  baseline (flax).

MuJoCo (``mujoco``, ``mujoco-mjx``) is needed only by the swimmer; it is imported lazily.
"""
from neurojax.embodied.ncap import NCAP, NCAPParams, ncap_closed_form
from neurojax.embodied.swimmer import (Swimmer, SwimmerC, SwimState, forward_speed, reset_qpos,
                                       swim_reward, swimmer_model, swimmer_xml)
from neurojax.embodied.rollout import MLPPolicy, mlp_param_count, rollout, rollout_c

__all__ = ["NCAP", "NCAPParams", "ncap_closed_form", "Swimmer", "SwimmerC", "SwimState",
           "forward_speed", "reset_qpos", "swim_reward", "swimmer_model", "swimmer_xml",
           "MLPPolicy", "mlp_param_count", "rollout", "rollout_c"]
