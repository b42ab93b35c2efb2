"""Embodied control: bodies as pure environments and neural controllers that drive them.

* :mod:`neurojax.embodied.swimmer`: the dm_control swimmer + NCAP swim task on MJX
  (:class:`Swimmer`, differentiable, one-scan) and on MuJoCo C (:class:`SwimmerC`, fast CPU).
* :mod:`neurojax.embodied.ncap`: the NCAP circuit on neurojax graded units.
* :mod:`neurojax.embodied.rollout`: the one-scan rollout, the C-backend rollout and the MLP
  baseline (flax).
* :mod:`neurojax.embodied.apg`: analytic policy gradients through the MJX body over truncated
  windows started from C-backend reference states.
* :mod:`neurojax.embodied.ppo`: compact PPO (GAE, clipped objective, flax critic, optax Adam) on
  the C backend.

MuJoCo (``mujoco``, ``mujoco-mjx``) is needed only by the swimmer; it is imported lazily.
"""
from neurojax.embodied.ncap import NCAP, NCAPParams, ncap_closed_form
from neurojax.embodied.swimmer import (Swimmer, SwimmerC, SwimState, forward_speed, reset_qpos,
                                       swim_reward, swimmer_model, swimmer_xml)
from neurojax.embodied.rollout import MLPPolicy, mlp_param_count, rollout, rollout_c
from neurojax.embodied.apg import apg_train, make_window_grad, reference_states, window_objective
from neurojax.embodied.ppo import PPOConfig, gae, ppo_train

__all__ = ["NCAP", "NCAPParams", "ncap_closed_form", "Swimmer", "SwimmerC", "SwimState",
           "forward_speed", "reset_qpos", "swim_reward", "swimmer_model", "swimmer_xml",
           "MLPPolicy", "mlp_param_count", "rollout", "rollout_c", "apg_train", "make_window_grad",
           "reference_states", "window_objective", "PPOConfig", "gae", "ppo_train"]
