r"""Analytic policy gradients (APG) through the differentiable MJX swimmer, over truncated windows.

The full-episode gradient of the return (1000 control steps = 15,000 physics steps) is costly
to compute by reverse mode and, for a chaotic closed loop, can have a large variance. APG over
truncated windows instead:

1. runs a *reference* episode of the current policy on the fast MuJoCo C backend
   (:class:`~neurojax.embodied.swimmer.SwimmerC`) and stores the body state
   $(q, \dot q, k)$ at a set of window starts $k_0$;
2. restarts the MJX body (:class:`~neurojax.embodied.swimmer.Swimmer`, which must have
   ``solver_iterations=1`` for reverse mode) from each stored state, treated as a constant
   (the gradient does not flow into the window's initial state: ``stop_gradient`` at the
   window start), and rolls the same policy forward $L$ control steps in one ``lax.scan``;
3. differentiates the window objective with respect to the policy parameters $\theta$ and
   averages over windows:

$$ \hat g = \frac{1}{W} \sum_{w=1}^{W} \nabla_\theta \, \frac{1}{L} \sum_{k=k_w}^{k_w + L - 1} f(s_{k+1}(\theta; s_{k_w})) . $$

Objectives $f$ (``objective``):

* ``"reward"``: the task reward $\mathrm{clip}(v / 0.1, 0, 1)$ (the true objective; its gradient is
  zero at every step where the head is faster than 0.1 m/s or moving backwards);
* ``"speed"``: the unclipped $v / 0.1$ (a smooth surrogate: mean forward speed in units of the
  desired speed; its gradient never vanishes through the clip).

The value is reported per control step, so ``1000 * value`` is on the episode-return scale.

Examples:
    >>> import jax.numpy as jnp
    >>> from neurojax.embodied import NCAP, SwimmerC
    >>> from neurojax.embodied.apg import reference_states
    >>> env, ctrl = SwimmerC(n_links=4), NCAP(n_joints=3)
    >>> ref = reference_states(env, ctrl, ctrl.init_params(), seeds=[0, 1], starts=[0, 20])
    >>> ref["qpos"].shape, ref["k"].tolist()
    ((4, 6), [0, 20, 0, 20])
"""
import time

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

__all__ = ["reference_states", "window_objective", "make_window_grad", "apg_train",
           "gradient_stats"]

OBJECTIVES = ("reward", "speed")


def reference_states(env_c, policy, params, seeds, starts, episode_steps=None) -> dict:
    """Body states of a reference episode of ``policy`` on the C backend at control steps ``starts``.

    Args:
        env_c: a :class:`~neurojax.embodied.swimmer.SwimmerC`.
        seeds: dm_control reset seeds, one body each.
        starts: control steps $k_0$ (steps taken before the window) at which to record.

    Returns:
        dict of NumPy arrays, seed-major (``len(seeds) * len(starts)`` rows): ``qpos``, ``qvel``,
        ``k`` (int), ``seed``; and ``returns_prefix`` (B,), the reward summed up to the last start.
    """
    from neurojax.embodied.rollout import _batched_act
    starts = sorted(int(s) for s in starts)
    if not starts or starts[0] < 0:
        raise ValueError(f"starts must be non-empty and >= 0, got {starts!r}")
    T = max(starts)
    act = _batched_act(policy, False)
    datas, obs = env_c.reset(list(seeds))
    B = len(datas)
    qpos = np.zeros((B, len(starts), env_c.mj_model.nq))
    qvel = np.zeros((B, len(starts), env_c.mj_model.nv))
    prefix = np.zeros(B)
    j = 0
    for k in range(T + 1):
        while j < len(starts) and starts[j] == k:
            qpos[:, j] = np.stack([d.qpos for d in datas])
            qvel[:, j] = np.stack([d.qvel for d in datas])
            j += 1
        if k == T:
            break
        obs, r = env_c.step(datas, np.asarray(act(params, obs, k)), k)
        prefix += r
    ks = np.tile(np.asarray(starts), B)
    return {"qpos": qpos.reshape(B * len(starts), -1), "qvel": qvel.reshape(B * len(starts), -1),
            "k": ks, "seed": np.repeat(np.asarray(list(seeds)), len(starts)),
            "returns_prefix": prefix}


def _start_state(env, qpos, qvel, k0):
    """MJX state and observation from a stored ``(qpos, qvel, k0)``, as constants."""
    from neurojax.embodied.swimmer import SwimState, _import_mjx, _observation
    mjx = _import_mjx()
    qpos, qvel = jax.lax.stop_gradient(qpos), jax.lax.stop_gradient(qvel)
    with jax.numpy_rank_promotion("allow"):
        d = mjx.make_data(env.mjx_model)
        d = d.replace(qpos=jnp.asarray(qpos, d.qpos.dtype), qvel=jnp.asarray(qvel, d.qvel.dtype))
        d = mjx.forward(env.mjx_model, d)
    k = jnp.asarray(k0, jnp.int32)
    return SwimState(d, k), _observation(d.qpos, d.sensordata, k, env.episode_steps)


def window_objective(env, policy, params, qpos, qvel, k0, n_steps: int, objective: str = "speed"):
    """Mean per-step objective of ``policy`` over ``n_steps`` control steps of the MJX body
    ``env`` started from the constant state ``(qpos, qvel)`` at control step ``k0``.

    Differentiable in ``params`` (reverse mode needs ``env.solver_iterations == 1``).
    """
    from neurojax.embodied.swimmer import forward_speed
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if int(n_steps) < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps!r}")
    observe = bool(getattr(policy, "needs_velocities", True))
    state, obs = _start_state(env, qpos, qvel, k0)

    def body(carry, _):
        state, obs = carry
        a = policy.act(params, obs, state.k)
        new, obs2, r = env.step(state, a, observe=observe)
        if objective == "speed":
            r = forward_speed(new.data.qpos, new.data.qvel) / env.desired_speed
        return (new, obs2), r

    _, rs = jax.lax.scan(body, (state, obs), None, length=int(n_steps))
    return rs.mean()


def make_window_grad(env, policy, n_steps: int, objective: str = "speed"):
    """Jitted ``f(params, qpos (W, nq), qvel (W, nv), k (W,)) -> (values (W,), grads)``: the
    window objective and its gradient for a batch of windows (``grads`` has a leading W axis)."""
    key = (env, policy, int(n_steps), objective)
    if key in _GRAD_CACHE:
        return _GRAD_CACHE[key]
    if env.solver_iterations != 1:
        raise ValueError("reverse-mode gradients through MJX need Swimmer(solver_iterations=1); "
                         f"got solver_iterations={env.solver_iterations!r}")

    def one(params, q, v, k):
        return jax.value_and_grad(window_objective, argnums=2)(env, policy, params, q, v, k,
                                                               n_steps, objective)
    _GRAD_CACHE[key] = jax.jit(jax.vmap(one, in_axes=(None, 0, 0, 0)))
    return _GRAD_CACHE[key]


_GRAD_CACHE = {}


def gradient_stats(grads_flat) -> dict:
    """Spread of per-window gradients ``(W, P)``: norm of the mean, mean per-window norm,
    signal-to-noise ratio ``|mean| / (std / sqrt(W))`` per component and the mean pairwise
    cosine between windows."""
    g = np.asarray(grads_flat, float)
    W = g.shape[0]
    mean = g.mean(0)
    std = g.std(0, ddof=1) if W > 1 else np.zeros_like(mean)
    norms = np.linalg.norm(g, axis=1)
    unit = g / np.maximum(norms[:, None], 1e-30)
    cos = unit @ unit.T
    off = cos[~np.eye(W, dtype=bool)] if W > 1 else np.array([1.0])
    snr = np.abs(mean) / np.maximum(std / np.sqrt(W), 1e-30)
    return {"mean_norm": float(np.linalg.norm(mean)), "window_norm_mean": float(norms.mean()),
            "window_norm_std": float(norms.std()), "component_mean": mean.tolist(),
            "component_std": std.tolist(), "snr": snr.tolist(),
            "mean_pairwise_cosine": float(off.mean())}


def apg_train(env, env_c, policy, params0, *, iterations: int = 10, window: int = 50,
              n_windows: int = 8, train_seeds=(0, 1), eval_seeds=(100, 101), lr: float = 0.02,
              objective: str = "speed", episode_steps: int = 1000, seed: int = 0,
              eval_env_c=None, log=print) -> dict:
    """Adam ascent on the windowed APG estimate; the policy is scored on the C backend.

    Each iteration: reference episode(s) of the current policy on ``env_c`` (float64 MuJoCo),
    ``n_windows`` window starts drawn uniformly from ``[0, episode_steps - window]`` (spread
    over ``train_seeds``), the MJX gradient of each window (``env``, solver_iterations = 1),
    their mean as the ascent direction (optax Adam, step ``lr``), and the full-episode return of
    the current parameters on ``eval_seeds`` (C backend, ``eval_env_c`` or ``env_c``).

    Returns:
        dict with the curve (``iteration``, ``eval_return``, ``window_value``, ``grad_norm``,
        ``mean_pairwise_cosine``, ``params``), the final parameters, timings (``grad_s`` per
        iteration: MJX gradient of all windows after compile; ``ref_s``: C reference rollouts;
        ``first_call_s``: first gradient call, which includes compilation unless this process
        already compiled the same program) and the physics steps simulated.
    """
    import optax

    from neurojax.embodied.rollout import rollout_c
    flat0, unravel = jax.flatten_util.ravel_pytree(params0)
    theta = jnp.asarray(flat0)
    opt = optax.adam(lr)
    opt_state = opt.init(theta)
    gfn = make_window_grad(env, policy, window, objective)
    rng = np.random.default_rng(seed)
    eval_env = eval_env_c or env_c
    train_seeds = list(train_seeds)
    curve = {"iteration": [], "eval_return": [], "window_value": [], "grad_norm": [],
             "mean_pairwise_cosine": [], "params": []}
    timing = {"first_call_s": None, "grad_s": [], "ref_s": [], "eval_s": []}
    mjx_steps = 0
    c_steps = 0
    per_seed = max(1, n_windows // len(train_seeds))
    for it in range(iterations + 1):
        params = unravel(theta)
        t0 = time.perf_counter()
        ev = rollout_c(eval_env, policy, params, seeds=list(eval_seeds), n_steps=episode_steps)
        timing["eval_s"].append(time.perf_counter() - t0)
        curve["iteration"].append(it)
        curve["eval_return"].append(float(np.mean(ev["returns"])))
        curve["params"].append(np.asarray(theta).tolist() if theta.size <= 64 else None)
        if it == iterations:
            curve["window_value"].append(None)
            curve["grad_norm"].append(None)
            curve["mean_pairwise_cosine"].append(None)
            log(f"  APG it {it:3d}: eval {curve['eval_return'][-1]:7.1f}")
            break
        # distinct starts (a fixed window count keeps one compiled program)
        starts = sorted(rng.choice(episode_steps - window + 1, per_seed, replace=False).tolist())
        t0 = time.perf_counter()
        ref = reference_states(env_c, policy, params, train_seeds, starts)
        timing["ref_s"].append(time.perf_counter() - t0)
        c_steps += len(train_seeds) * max(starts) * env_c.n_substeps
        t0 = time.perf_counter()
        vals, grads = gfn(params, jnp.asarray(ref["qpos"]), jnp.asarray(ref["qvel"]),
                          jnp.asarray(ref["k"]))
        gflat = np.asarray(jax.vmap(lambda g: jax.flatten_util.ravel_pytree(g)[0])(grads))
        dt = time.perf_counter() - t0
        if timing["first_call_s"] is None:
            timing["first_call_s"] = dt
        else:
            timing["grad_s"].append(dt)
        mjx_steps += len(ref["k"]) * window * env.n_substeps
        stats = gradient_stats(gflat)
        g = gflat.mean(0)
        upd, opt_state = opt.update(jnp.asarray(-g, theta.dtype), opt_state)   # ascent
        theta = theta + upd
        curve["window_value"].append(float(np.mean(vals)))
        curve["grad_norm"].append(stats["mean_norm"])
        curve["mean_pairwise_cosine"].append(stats["mean_pairwise_cosine"])
        log(f"  APG it {it:3d}: eval {curve['eval_return'][-1]:7.1f}  window {np.mean(vals):.3f}"
            f"  |g| {stats['mean_norm']:.3g}  cos {stats['mean_pairwise_cosine']:+.2f}"
            f"  grad {dt:.1f} s")
    return {"curve": curve, "final_params": np.asarray(theta).tolist() if theta.size <= 64 else None,
            "timing": timing, "mjx_physics_steps": mjx_steps, "c_reference_physics_steps": c_steps,
            "window": window, "n_windows": len(ref["k"]) if iterations else 0, "lr": lr,
            "objective": objective}
