r"""Closed-loop rollouts (controller + body) and the MLP baseline policy.

* :func:`rollout`: controller and MJX body in ONE ``lax.scan`` over control steps (the
  physics substeps are an inner scan inside :meth:`Swimmer.step`). Pure, so
  ``jax.vmap`` batches it over bodies/seeds (``qpos``) and parameter populations
  (``params``), and ``jax.grad`` differentiates it (reverse mode needs a
  ``Swimmer(solver_iterations=1)``).
* :func:`rollout_c`: the same closed loop on the MuJoCo C backend (:class:`SwimmerC`), a
  Python loop over control steps calling the jitted, batched policy once per step.
* :class:`MLPPolicy`: the MLP baseline (flax), ``tanh`` hidden layers and a ``tanh`` output,
  reading the full observation (joint angles, body velocities, time feature).

A policy is any hashable object with ``act(params, obs, k) -> action`` (``obs`` the flat
swimmer observation, ``k`` the integer control step) and a ``needs_velocities`` flag (False
lets the MJX body skip the sensor refresh).

Examples:
    >>> import jax
    >>> from neurojax.embodied import NCAP, SwimmerC
    >>> from neurojax.embodied.rollout import rollout_c
    >>> env, ctrl = SwimmerC(n_links=6), NCAP(n_joints=5)
    >>> out = rollout_c(env, ctrl, ctrl.init_params(), seeds=[0], n_steps=50)
    >>> out["returns"].shape
    (1,)
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["rollout", "rollout_c", "MLPPolicy", "mlp_param_count"]


def rollout(env, policy, params, qpos, n_steps: int = None, record: bool = False):
    """One episode of ``policy`` driving the MJX body ``env`` from ``qpos``, as one scan.

    Args:
        env: a :class:`~neurojax.embodied.swimmer.Swimmer`.
        policy: e.g. :class:`~neurojax.embodied.ncap.NCAP` or :class:`MLPPolicy`.
        params: the policy's parameters.
        qpos: initial ``qpos`` (e.g. ``env.reset_qpos(seed)``).
        n_steps: control steps (default ``env.episode_steps``).
        record: also return the observations (before each action) and actions.

    Returns:
        dict with ``return`` (sum of rewards), ``rewards`` (T,), ``speed`` (T,) head forward
        speed after each step (m/s; a smooth objective for gradients), and with ``record``
        ``obs`` (T, d) and ``actions`` (T, n_joints).
    """
    from neurojax.embodied.swimmer import forward_speed
    T = env.episode_steps if n_steps is None else int(n_steps)
    observe = bool(getattr(policy, "needs_velocities", True))
    state, obs = env.init(qpos)

    def body(carry, _):
        state, obs = carry
        a = policy.act(params, obs, state.k)
        new, obs2, r = env.step(state, a, observe=observe)
        y = {"rewards": r, "speed": forward_speed(new.data.qpos, new.data.qvel)}
        if record:
            y["obs"], y["actions"] = obs, a
        return (new, obs2), y

    _, ys = jax.lax.scan(body, (state, obs), None, length=T)
    ys["return"] = ys["rewards"].sum()
    return ys


def rollout_c(env, policy, params, seeds=(), qpos=None, n_steps: int = None,
              batched_params: bool = False, record: bool = False):
    """Closed-loop episodes on the MuJoCo C backend (:class:`SwimmerC`), one body per seed.

    Args:
        batched_params: ``params`` has a leading axis, one parameter set per body (an ES
            population); otherwise every body uses the same ``params``.

    Returns:
        :meth:`SwimmerC.episode`'s dict (``returns`` (B,), ``rewards`` (T, B), ...).
    """
    act = _batched_act(policy, batched_params)
    return env.episode(lambda obs, k: np.asarray(act(params, obs, k)), seeds=seeds, qpos=qpos,
                       n_steps=n_steps, record=record)


_ACT_CACHE = {}


def _batched_act(policy, batched_params):
    key = (policy, batched_params)
    if key not in _ACT_CACHE:
        _ACT_CACHE[key] = jax.jit(jax.vmap(policy.act, in_axes=(0 if batched_params else None, 0, None)))
    return _ACT_CACHE[key]


def mlp_param_count(n_in: int, hidden, n_out: int) -> int:
    """Weights and biases of a dense MLP ``n_in -> hidden... -> n_out``."""
    sizes = [n_in, *hidden, n_out]
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))


@dataclasses.dataclass(frozen=True)
class MLPPolicy:
    """MLP baseline actor: ``tanh(W_L ... tanh(W_1 obs + b_1) ... + b_L)`` (flax ``nn.Dense``).

    Reads the whole observation (joint angles, 3 velocities per link, time feature); the
    Tonic baselines used 2 x 256 (PPO / DDPG); 2 x 64 is Tonic's PPO default.

    Args:
        obs_size: observation size (``4 n_links`` for the swimmer).
        n_actions: ``n_links - 1``.
        hidden: hidden layer widths.
        log_std: add a learned per-action log standard deviation (Gaussian PPO head); it is
            not used by :meth:`act` (the deterministic mean).
    """

    obs_size: int
    n_actions: int
    hidden: tuple = (64, 64)
    log_std: bool = False

    needs_velocities = True

    def module(self):
        import flax.linen as nn
        hidden, n_out = self.hidden, self.n_actions

        class _MLP(nn.Module):
            @nn.compact
            def __call__(self, x):
                for h in hidden:
                    x = nn.tanh(nn.Dense(h)(x))
                return nn.tanh(nn.Dense(n_out)(x))
        return _MLP()

    def init_params(self, key):
        """Flax (LeCun-normal) weights; ``{"net": ..., "log_std": zeros}`` with ``log_std``."""
        net = self.module().init(key, jnp.zeros((self.obs_size,)))["params"]
        out = {"net": net}
        if self.log_std:
            out["log_std"] = jnp.zeros((self.n_actions,))
        return out

    @property
    def n_params(self) -> int:
        return mlp_param_count(self.obs_size, self.hidden, self.n_actions) + \
            (self.n_actions if self.log_std else 0)

    def act(self, params, obs, k):
        del k
        return self.module().apply({"params": params["net"]}, jnp.asarray(obs))
