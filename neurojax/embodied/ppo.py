r"""Compact PPO (clipped objective, GAE, flax value network, optax Adam) on the C swimmer.

Set-up after the NCAP paper's Tonic defaults (specs/ncap.md §3), shortened where noted:

* data: on-policy segments of ``n_envs`` whole episodes on :class:`~neurojax.embodied.swimmer.SwimmerC`
  (4 x 1000 = 4000 steps by default, Tonic: 4096 steps). The episode ends at the time limit
  and the observation carries the time feature, so the last step is treated as terminal;
* actor: a Gaussian around the deterministic policy's action,
  $a \sim \mathcal N(\mu_\theta(o, k), \sigma^2)$ with $\mu$ = NCAP's output and a fixed
  $\sigma = 0.1$ (the paper's NCAP actor), or $\mu$ = the MLP's tanh output and a learned
  per-action $\log\sigma$ (:class:`~neurojax.embodied.rollout.MLPPolicy` with ``log_std=True``).
  The environment clips the sampled action to $[-1, 1]$; the log-probability is that of the
  unclipped sample;
* advantages: GAE, $\delta_t = r_t + \gamma V(s_{t+1})(1 - d_t) - V(s_t)$,
  $A_t = \delta_t + \gamma\lambda (1 - d_t) A_{t+1}$, $\gamma = 0.99$, $\lambda = 0.97$;
  returns $R_t = A_t + V(s_t)$; advantages standardised per segment;
* losses: $-\mathbb E[\min(\rho A, \mathrm{clip}(\rho, 1 \pm 0.2) A)]$ (no entropy bonus),
  critic $\mathbb E[(V - R)^2]$; up to 80 full-batch epochs each per segment, the actor stopping
  early once the approximate KL $\mathbb E[\log\pi_{old} - \log\pi]$ exceeds 0.015;
* optimisers: Adam, actor 3e-4, critic 1e-3; critic = MLP(64, 64, tanh) on observations
  standardised with running mean/std.

Examples:
    >>> import numpy as np
    >>> from neurojax.embodied.ppo import gae
    >>> adv, ret = gae(np.array([[1.0], [1.0]]), np.array([[0.5], [0.5]]), np.array([0.0]),
    ...                np.array([[0.0], [1.0]]), gamma=0.5, lam=0.5)
    >>> adv[:, 0].tolist(), ret[:, 0].tolist()
    ([0.875, 0.5], [1.375, 1.0])
"""
import dataclasses
import time

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

__all__ = ["PPOConfig", "gae", "ppo_train", "gaussian_logp"]


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    iterations: int = 20            # segments
    n_envs: int = 4                 # episodes per segment
    episode_steps: int = 1000
    gamma: float = 0.99
    lam: float = 0.97
    clip: float = 0.2
    max_kl: float = 0.015
    actor_epochs: int = 80
    critic_epochs: int = 80
    actor_lr: float = 3e-4
    critic_lr: float = 1e-3
    critic_hidden: tuple = (64, 64)
    fixed_std: float = 0.1          # used when the actor params have no "log_std"
    eval_seeds: tuple = (30_000, 30_001, 30_002)
    eval_every: int = 1


def gae(rewards, values, last_value, dones, gamma: float = 0.99, lam: float = 0.97):
    """Generalised advantage estimates and returns for ``(T, B)`` arrays.

    ``values[t]`` = V(s_t) (the state the action at t was taken in), ``last_value`` = V(s_T)
    (B,), ``dones[t]`` = 1 when the episode ended after step t (then nothing is bootstrapped).
    """
    rewards, values, dones = (np.asarray(x, float) for x in (rewards, values, dones))
    T = rewards.shape[0]
    next_v = np.concatenate([values[1:], np.asarray(last_value, float)[None]], 0)
    adv = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[1:])
    for t in reversed(range(T)):
        nonterm = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_v[t] * nonterm - values[t]
        running = delta + gamma * lam * nonterm * running
        adv[t] = running
    return adv, adv + values


def gaussian_logp(a, mean, log_std):
    """Log density of a diagonal Gaussian, summed over the last axis."""
    log_std = jnp.broadcast_to(log_std, jnp.shape(mean))
    z = (a - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z ** 2 - log_std - 0.5 * jnp.log(2 * jnp.pi), axis=-1)


def _log_std(params, n, fixed_std, dtype):
    if isinstance(params, dict) and "log_std" in params:
        return params["log_std"]
    return jnp.full((n,), np.log(fixed_std), dtype)


def _critic_module(hidden):
    import flax.linen as nn

    class _V(nn.Module):
        @nn.compact
        def __call__(self, x):
            for h in hidden:
                x = nn.tanh(nn.Dense(h)(x))
            return nn.Dense(1)(x)[..., 0]
    return _V()


def ppo_train(env_c, policy, actor_params, cfg: PPOConfig = PPOConfig(), seed: int = 0,
              log=print) -> dict:
    """PPO on the C backend; returns the learning curve (deterministic evaluation returns of
    the mean action on ``cfg.eval_seeds`` vs environment steps) and diagnostics."""
    import optax

    from neurojax.embodied.rollout import _batched_act, rollout_c
    n_act = env_c.n_joints
    dtype = jnp.result_type(float)
    critic = _critic_module(tuple(cfg.critic_hidden))
    key = jax.random.PRNGKey(seed)
    critic_params = critic.init(key, jnp.zeros((env_c.obs_size,), dtype))["params"]
    a_opt, c_opt = optax.adam(cfg.actor_lr), optax.adam(cfg.critic_lr)
    a_state, c_state = a_opt.init(actor_params), c_opt.init(critic_params)
    act = _batched_act(policy, False)
    rng = np.random.default_rng(seed)
    obs_mean, obs_var, obs_count = np.zeros(env_c.obs_size), np.ones(env_c.obs_size), 1e-4
    fixed = cfg.fixed_std

    mean_fn = jax.vmap(policy.act, in_axes=(None, 0, 0))

    def logp_fn(p, obs, k, a):
        return gaussian_logp(a, mean_fn(p, obs, k), _log_std(p, n_act, fixed, dtype))

    @jax.jit
    def actor_step(p, s, obs, k, a, logp_old, adv):
        def loss(p):
            logp = logp_fn(p, obs, k, a)
            ratio = jnp.exp(logp - logp_old)
            l = -jnp.mean(jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - cfg.clip, 1 + cfg.clip) * adv))
            return l, jnp.mean(logp_old - logp)
        (l, kl), g = jax.value_and_grad(loss, has_aux=True)(p)
        upd, s = a_opt.update(g, s, p)
        return optax.apply_updates(p, upd), s, l, kl

    @jax.jit
    def kl_of(p, obs, k, a, logp_old):
        return jnp.mean(logp_old - logp_fn(p, obs, k, a))

    @jax.jit
    def critic_step(cp, s, x, ret):
        def loss(cp):
            return jnp.mean((critic.apply({"params": cp}, x) - ret) ** 2)
        l, g = jax.value_and_grad(loss)(cp)
        upd, s = c_opt.update(g, s, cp)
        return optax.apply_updates(cp, upd), s, l

    value_fn = jax.jit(lambda cp, x: critic.apply({"params": cp}, x))

    curve = {"iteration": [], "env_steps": [], "eval_return": [], "train_return": [],
             "actor_epochs": [], "kl": [], "critic_loss": []}
    env_steps, t_start = 0, time.perf_counter()
    timing = {"collect_s": 0.0, "update_s": 0.0, "eval_s": 0.0}

    def evaluate():
        t0 = time.perf_counter()
        r = rollout_c(env_c, policy, actor_params, seeds=list(cfg.eval_seeds),
                      n_steps=cfg.episode_steps)["returns"]
        timing["eval_s"] += time.perf_counter() - t0
        return float(np.mean(r))

    for it in range(cfg.iterations + 1):
        if it % cfg.eval_every == 0 or it == cfg.iterations:
            curve["iteration"].append(it)
            curve["env_steps"].append(env_steps)
            curve["eval_return"].append(evaluate())
        if it == cfg.iterations:
            break
        # ---- collect one segment: n_envs whole episodes
        t0 = time.perf_counter()
        seeds = rng.integers(0, 2**31 - 1, cfg.n_envs).tolist()
        datas, obs = env_c.reset(seeds)
        std = np.exp(np.asarray(_log_std(actor_params, n_act, fixed, dtype), float))
        T = cfg.episode_steps
        O = np.zeros((T, cfg.n_envs, env_c.obs_size))
        A = np.zeros((T, cfg.n_envs, n_act))
        R = np.zeros((T, cfg.n_envs))
        for k in range(T):
            mu = np.asarray(act(actor_params, obs, k), float)
            a = mu + std * rng.standard_normal(mu.shape)
            O[k], A[k] = obs, a
            obs, R[k] = env_c.step(datas, a, k)
        timing["collect_s"] += time.perf_counter() - t0
        env_steps += T * cfg.n_envs
        t0 = time.perf_counter()
        # ---- observation normaliser (running mean / variance over all collected states)
        flat = O.reshape(-1, env_c.obs_size)
        bm, bv, bc = flat.mean(0), flat.var(0), flat.shape[0]
        tot = obs_count + bc
        delta = bm - obs_mean
        obs_mean = obs_mean + delta * bc / tot
        obs_var = (obs_var * obs_count + bv * bc + delta ** 2 * obs_count * bc / tot) / tot
        obs_count = tot

        def norm(x):
            return jnp.asarray(np.clip((x - obs_mean) / np.sqrt(obs_var + 1e-8), -10, 10), dtype)
        V = np.asarray(value_fn(critic_params, norm(flat)), float).reshape(T, cfg.n_envs)
        dones = np.zeros((T, cfg.n_envs))
        dones[-1] = 1.0
        adv, ret = gae(R, V, np.zeros(cfg.n_envs), dones, cfg.gamma, cfg.lam)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        obs_j = jnp.asarray(flat, dtype)
        k_j = jnp.asarray(np.repeat(np.arange(T), cfg.n_envs), jnp.int32)
        a_j = jnp.asarray(A.reshape(-1, n_act), dtype)
        logp_old = jax.jit(logp_fn)(actor_params, obs_j, k_j, a_j)
        adv_j = jnp.asarray(adv.reshape(-1), dtype)
        n_ep, kl = 0, 0.0
        for _ in range(cfg.actor_epochs):
            new_p, new_s, _, _ = actor_step(actor_params, a_state, obs_j, k_j, a_j, logp_old, adv_j)
            kl = float(kl_of(new_p, obs_j, k_j, a_j, logp_old))
            if kl > cfg.max_kl:
                break
            actor_params, a_state, n_ep = new_p, new_s, n_ep + 1
        x_j, ret_j = norm(flat), jnp.asarray(ret.reshape(-1), dtype)
        closs = np.nan
        for _ in range(cfg.critic_epochs):
            critic_params, c_state, closs = critic_step(critic_params, c_state, x_j, ret_j)
        timing["update_s"] += time.perf_counter() - t0
        curve["train_return"].append(float(R.sum(0).mean()))
        curve["actor_epochs"].append(n_ep)
        curve["kl"].append(kl)
        curve["critic_loss"].append(float(closs))
        log(f"  PPO it {it:3d}: steps {env_steps:7d}  train {R.sum(0).mean():7.1f}  eval "
            f"{curve['eval_return'][-1]:7.1f}  actor epochs {n_ep:2d}  critic {float(closs):.3g}"
            f"  ({time.perf_counter() - t_start:.0f} s)")
    flat_p = jax.flatten_util.ravel_pytree(actor_params)[0]
    return {"curve": curve, "final_params": np.asarray(flat_p).tolist() if flat_p.size <= 64 else None,
            "timing": timing, "wall_s": time.perf_counter() - t_start,
            "config": dataclasses.asdict(cfg)}
