"""NCAP swimmer (Bhattasali, Zador & Engel 2022) on neurojax: returns at initialisation,
ablations, body-length transfer, MJX vs MuJoCo C (returns and speed), and evolution-strategies
training of NCAP vs an MLP baseline.

Parts (each writes its metrics into results.json):

* ``--eval-init`` (the acceptance run; alone it skips training): NCAP (4 shared weights at
  their constant init) on ``--links`` links, ``--seeds`` dm_control-seeded episodes of 1000
  control steps -> ``init_return_mean``, ``init_return_std``, ``n_params``; ablations at init
  (no proprioception, no oscillator, unconstrained signs (+-1 at random), sign-constrained
  random init); transfer of the untrained weights to 4-14 links (with the spec's dm_control
  numbers and relative errors); a check that the MJX body gives the C body's returns on short
  episodes; speed of both backends side by side.
* ``--train-apg`` (runs only this part, with ``--train-ppo`` if also given): analytic policy
  gradients of NCAP's 4 weights through the differentiable MJX body over truncated windows
  (neurojax.embodied.apg), from the constant and a random init, each iterate scored on the
  C backend -> ncap_apg_curves.png.
* ``--train-ppo`` (runs only this part, with ``--train-apg`` if also given): PPO with the
  paper's Tonic-like set-up (neurojax.embodied.ppo) for NCAP and the MLP, ``--ppo-seeds``
  seeds each -> ncap_ppo_curves.png and ``ppo.summary``.
* training (default, ``--no-train`` to skip): OpenAI-style ES (antithetic Gaussian
  perturbations, centred-rank returns, Adam via optax, L2 decay), the population evaluated as
  one batch of bodies on the C backend (``--train-backend mjx`` evaluates it with
  ``jax.vmap`` of the one-scan MJX rollout instead, far slower on CPU), for NCAP (4 weights) and
  a 2x64 tanh MLP (6,085 weights) over several seeds; learning curves vs environment steps.

Both training parts store ``summary[name]`` (:func:`curve_summary`): per seed the return at the
start, at the end and best, and the first environment step at which the return reaches NCAP's
return at initialisation (None: not within the budget). The curve plots show every seed, the
mean +- sd across seeds and the parameter counts.

Returns use the C backend (``--backend c``, float64 MuJoCo + the same JAX controller) unless
``--backend mjx``. Writes results.json, ncap_learning_curves.png, ncap_transfer.png into --out.

Usage:
    python experiments/ncap_swimmer.py --eval-init --links 6 --seeds 5 --out DIR
    python experiments/ncap_swimmer.py --out DIR          # eval-init + ES curves
    python experiments/ncap_swimmer.py --smoke --out DIR  # tiny, < 3 min
    python experiments/ncap_swimmer.py --train-apg --out DIR
    python experiments/ncap_swimmer.py --no-ablations --mjx-check-steps 0 --train-seeds 5
        --es-generations 20 --out DIR                     # (one line) ES curves, 5 seeds
    python experiments/ncap_swimmer.py --train-ppo --ppo-iterations 30 --ppo-seeds 5 --out DIR
"""
import dataclasses
import json
import os
import time

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

# specs/ncap.md §4.2 (dm_control 1.0.50 / MuJoCo 3.17, seeds 0-4): transfer of the init weights
SPEC_TRANSFER = {4: 342.0, 6: 799.2, 8: 903.0, 10: 908.0, 12: 905.0, 14: 916.0}
SPEC_ABLATIONS_6 = {"no_proprioception": 131.2, "no_oscillator": 53.4}


@dataclasses.dataclass(frozen=True)
class Config:
    links: int = 6
    seeds: int = 5                       # evaluation episodes (dm_control seeds 0..seeds-1)
    eval_init: bool = False              # run only the evaluation at init (no training)
    backend: str = "c"                   # "c" or "mjx" for the init evaluation
    episode_steps: int = 1000
    transfer_links: tuple[int, ...] = (4, 6, 8, 10, 12, 14)
    ablations: bool = True
    mjx_check_steps: int = 100           # short MJX episodes compared with C (0: skip)
    mjx_check_seeds: int = 2
    speed: bool = True
    train: bool = True
    train_backend: str = "c"
    train_seeds: int = 3
    es_generations: int = 25
    es_pairs: int = 8                    # antithetic pairs per generation (population 16)
    es_sigma: float = 0.02
    es_lr: float = 0.01
    es_l2: float = 0.005
    es_eval_seeds: int = 2               # fixed seeds on which the centre is scored each gen.
    mlp_hidden: tuple[int, ...] = (64, 64)
    # analytic policy gradients through the MJX body (--train-apg; runs only this part)
    train_apg: bool = False
    apg_iterations: int = 10
    apg_window: int = 50                 # control steps per truncated window
    apg_windows: int = 8                 # windows per gradient (spread over apg_train_seeds)
    apg_train_seeds: int = 2
    apg_lr: float = 0.05
    apg_objective: str = "speed"         # "speed" (unclipped v / 0.1) or "reward" (clipped)
    apg_timestep: float = 0.01           # physics dt of the MJX gradient body (C eval: 0.002)
    apg_inits: tuple[str, ...] = ("constant", "random")
    apg_eval_seeds: int = 3
    # PPO on the C backend (--train-ppo; runs only the gradient-training parts asked for)
    train_ppo: bool = False
    ppo_iterations: int = 10             # segments of ppo_envs whole episodes
    ppo_envs: int = 4
    ppo_seeds: int = 1
    ppo_policies: tuple[str, ...] = ("ncap", "mlp")
    out: str = "results/ncap_swimmer"

    def smoke(self):
        # no MJX program in the smoke run: compiling one takes 30-120 s on a loaded 2-core CPU
        # (tests/test_swimmer.py checks MJX against the C backend)
        return dataclasses.replace(self, seeds=1, episode_steps=60, transfer_links=(4, 6),
                                   mjx_check_steps=0, train_seeds=1,
                                   es_generations=2, es_pairs=2, es_eval_seeds=1)


def _stats(x):
    x = np.asarray(x, float)
    return {"mean": float(x.mean()), "std": float(x.std()), "values": x.tolist()}


def curve_summary(runs: list, target: float) -> dict:
    """Per-seed numbers of learning curves (``run["curve"]`` with ``env_steps`` and
    ``eval_return``): return at the start, at the end and best, and the first environment step
    at which the return reaches ``target`` (None: not within the budget)."""
    seeds = []
    for r in runs:
        x, y = np.asarray(r["curve"]["env_steps"]), np.asarray(r["curve"]["eval_return"], float)
        hit = np.flatnonzero(y >= target)
        seeds.append({"initial": float(y[0]), "final": float(y[-1]), "best": float(y.max()),
                      "steps_to_target": int(x[hit[0]]) if hit.size else None,
                      "budget_env_steps": int(x[-1])})
    reached = [s["steps_to_target"] for s in seeds if s["steps_to_target"] is not None]
    return {"target": float(target), "seeds": seeds, "n_reached": len(reached),
            "steps_to_target_median": float(np.median(reached)) if reached else None}


def _returns(cfg, links, ctrl, params, seeds, batched=False, backend=None):
    from neurojax.embodied import Swimmer, SwimmerC, rollout, rollout_c
    backend = backend or cfg.backend
    if backend == "c":
        env = SwimmerC(links, episode_steps=cfg.episode_steps)
        return rollout_c(env, ctrl, params, seeds=seeds, batched_params=batched)["returns"]
    env = Swimmer(links, episode_steps=cfg.episode_steps)
    q = jnp.asarray(np.stack([env.reset_qpos(s) for s in seeds]))
    fn = jax.jit(jax.vmap(lambda p, q: rollout(env, ctrl, p, q)["return"],
                          in_axes=(0 if batched else None, 0)))
    return np.asarray(fn(params, q))


def eval_init(cfg: Config) -> dict:
    from neurojax.embodied import NCAP
    seeds = list(range(cfg.seeds))
    N = cfg.links - 1
    ctrl = NCAP(N)
    t0 = time.perf_counter()
    ret = _returns(cfg, cfg.links, ctrl, ctrl.init_params(), seeds)
    out = {"init_return_mean": float(np.mean(ret)), "init_return_std": float(np.std(ret)),
           "init_returns": np.asarray(ret).tolist(), "n_params": ctrl.n_params,
           "n_params_unshared": NCAP(N, shared=False).n_params,
           "init_eval_seconds": time.perf_counter() - t0, "backend": cfg.backend}
    print(f"NCAP init, {cfg.links} links: {out['init_return_mean']:.2f} +- "
          f"{out['init_return_std']:.2f} over seeds {seeds} ({cfg.backend})", flush=True)
    if cfg.ablations:
        abl = {}
        variants = {"no_proprioception": (NCAP(N, proprioception=False), "constant"),
                    "no_oscillator": (NCAP(N, oscillator=False), "constant"),
                    "unconstrained_signs": (NCAP(N, sign_constraint=False), "constant"),
                    "random_init": (NCAP(N), "random"),
                    "unshared_constant": (NCAP(N, shared=False), "constant")}
        for name, (c, mag) in variants.items():
            if mag == "constant" and c.sign_constraint:
                r = _returns(cfg, cfg.links, c, c.init_params(), seeds)
            else:   # one random draw per seed (key = seed), evaluated on that seed's body
                ps = [c.init_params(jax.random.PRNGKey(s), mag) for s in seeds]
                pop = jax.tree.map(lambda *xs: jnp.stack(xs), *ps)
                r = _returns(cfg, cfg.links, c, pop, seeds, batched=True)
            abl[name] = _stats(r)
            print(f"  ablation {name:22s} {np.mean(r):7.1f} +- {np.std(r):5.1f}", flush=True)
        out["ablations"] = abl
    transfer = {}
    for links in cfg.transfer_links:
        c = NCAP(links - 1)
        r = _returns(cfg, links, c, c.init_params(), seeds)
        entry = _stats(r)
        if links in SPEC_TRANSFER and cfg.episode_steps == 1000:
            entry["spec"] = SPEC_TRANSFER[links]
            entry["rel_err_vs_spec"] = abs(entry["mean"] - SPEC_TRANSFER[links]) / SPEC_TRANSFER[links]
        transfer[str(links)] = entry
        print(f"  transfer {links:2d} links: {entry['mean']:7.1f} +- {entry['std']:5.1f}", flush=True)
    out["transfer"] = transfer
    return out


def mjx_check(cfg: Config) -> dict:
    """Short closed-loop NCAP episodes on MJX (float32 unless x64) and on C: returns and speed."""
    from neurojax.embodied import NCAP, Swimmer, SwimmerC, rollout, rollout_c
    N, T = cfg.links - 1, cfg.mjx_check_steps
    seeds = list(range(cfg.mjx_check_seeds))
    ctrl = NCAP(N)
    p = ctrl.init_params()
    env = Swimmer(cfg.links)
    q = jnp.asarray(np.stack([env.reset_qpos(s) for s in seeds]))
    fn = jax.jit(jax.vmap(lambda q: rollout(env, ctrl, p, q, T)["return"]))
    t0, c0 = time.perf_counter(), time.process_time()
    r_mjx = np.asarray(jax.block_until_ready(fn(q)))
    first = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    r_mjx = np.asarray(jax.block_until_ready(fn(q)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    envc = SwimmerC(cfg.links)
    t1, c1 = time.perf_counter(), time.process_time()
    r_c = rollout_c(envc, ctrl, p, seeds=seeds, n_steps=T)["returns"]
    wall_c, cpu_c = time.perf_counter() - t1, time.process_time() - c1
    steps = len(seeds) * T * env.n_substeps
    out = {"steps": T, "seeds": seeds, "returns_mjx": r_mjx.tolist(), "returns_c": r_c.tolist(),
           "max_abs_return_diff": float(np.abs(r_mjx - r_c).max()),
           "dtype": str(jnp.result_type(float)), "mjx_first_call_s": first,
           "mjx_physics_steps_per_s": steps / wall, "mjx_physics_steps_per_cpu_s": steps / cpu,
           "c_closed_loop_physics_steps_per_s": steps / wall_c,
           "c_closed_loop_physics_steps_per_cpu_s": steps / max(cpu_c, 1e-9)}
    print(f"MJX vs C, {T} steps x {len(seeds)} seeds: returns {r_mjx.round(4).tolist()} vs "
          f"{np.round(r_c, 4).tolist()} (max diff {out['max_abs_return_diff']:.2e}); MJX "
          f"{out['mjx_physics_steps_per_s']:.0f} physics steps/s (first call {first:.0f} s)", flush=True)
    return out


def speed(cfg: Config) -> dict:
    """Raw MuJoCo C physics throughput (one body, open loop, zero controls); the MJX figures
    come from :func:`mjx_check` (closed loop, after compilation), so only one MJX program is
    compiled per run."""
    import mujoco

    from neurojax.embodied import SwimmerC
    n = 3000 if cfg.episode_steps < 1000 else 30000
    envc = SwimmerC(cfg.links)
    datas, _ = envc.reset([0])
    t0, c0 = time.perf_counter(), time.process_time()
    mujoco.mj_step(envc.mj_model, datas[0], n)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {"c_raw_physics_steps_per_s": n / wall, "c_raw_physics_steps_per_cpu_s": n / max(cpu, 1e-9),
           "loadavg": list(os.getloadavg())}
    print(f"speed: MuJoCo C raw {out['c_raw_physics_steps_per_s']:.0f} physics steps/s", flush=True)
    return out


# ------------------------------------------------------------------------ evolution strategies
def centered_ranks(x):
    """Ranks of ``x`` mapped linearly to [-0.5, 0.5] (Salimans et al. 2017)."""
    r = np.empty(len(x))
    r[np.argsort(x)] = np.arange(len(x))
    return r / (len(x) - 1) - 0.5


def es_train(cfg: Config, policy, params0, seed: int, label: str) -> dict:
    """Antithetic ES with centred ranks and Adam (optax); returns the learning curve."""
    import optax

    from neurojax.embodied import Swimmer, SwimmerC, rollout, rollout_c
    flat0, unravel = jax.flatten_util.ravel_pytree(params0)
    theta = np.asarray(flat0, np.float64)
    opt = optax.adam(cfg.es_lr)
    opt_state = opt.init(jnp.asarray(theta))
    rng = np.random.default_rng(1000 + seed)
    n_eval = cfg.es_eval_seeds
    eval_seeds = [10_000 + i for i in range(n_eval)]
    if cfg.train_backend == "mjx":
        env = Swimmer(cfg.links, episode_steps=cfg.episode_steps)
        fn = jax.jit(jax.vmap(lambda p, q: rollout(env, policy, p, q)["return"]))

        def evaluate(flat_batch, seeds):
            q = jnp.asarray(np.stack([env.reset_qpos(s) for s in seeds]))
            return np.asarray(fn(jax.vmap(unravel)(jnp.asarray(flat_batch)), q))
    else:
        envc = SwimmerC(cfg.links, episode_steps=cfg.episode_steps)

        def evaluate(flat_batch, seeds):
            pop = jax.vmap(unravel)(jnp.asarray(flat_batch, jnp.result_type(float)))
            return rollout_c(envc, policy, pop, seeds=seeds, batched_params=True)["returns"]
    curve = {"generation": [], "env_steps": [], "eval_return": [], "pop_mean_return": []}
    env_steps = 0
    t0 = time.perf_counter()
    for gen in range(cfg.es_generations + 1):
        eps = rng.standard_normal((cfg.es_pairs, theta.size))
        members = np.concatenate([theta + cfg.es_sigma * eps, theta - cfg.es_sigma * eps])
        reset_seeds = list(rng.integers(0, 2**31 - 1, cfg.es_pairs))
        batch = np.concatenate([members, np.repeat(theta[None], n_eval, 0)])
        last = gen == cfg.es_generations        # final generation: score the centre only
        if last:
            batch, seeds = batch[-n_eval:], eval_seeds
        else:
            seeds = reset_seeds * 2 + eval_seeds
        ret = np.asarray(evaluate(batch, seeds))
        centre = float(ret[-n_eval:].mean())
        curve["generation"].append(gen)
        curve["env_steps"].append(env_steps)
        curve["eval_return"].append(centre)
        if last:
            curve["pop_mean_return"].append(None)
            break
        pop_ret = ret[:-n_eval]
        curve["pop_mean_return"].append(float(pop_ret.mean()))
        env_steps += 2 * cfg.es_pairs * cfg.episode_steps      # training episodes only
        w = centered_ranks(pop_ret)
        g = (w[:cfg.es_pairs] - w[cfg.es_pairs:]) @ eps / (2 * cfg.es_pairs * cfg.es_sigma)
        grad = -g + cfg.es_l2 * theta          # minimise -return + l2/2 |theta|^2
        upd, opt_state = opt.update(jnp.asarray(grad), opt_state)
        theta = theta + np.asarray(upd, np.float64)
        print(f"  ES {label} seed {seed} gen {gen:3d}: centre {centre:7.1f}  pop {pop_ret.mean():7.1f}"
              f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    return {"curve": curve, "final_params": theta.tolist() if theta.size <= 64 else None,
            "wall_s": time.perf_counter() - t0}


def train(cfg: Config) -> dict:
    from neurojax.embodied import NCAP, MLPPolicy, NCAPParams
    ctrl = NCAP(cfg.links - 1)
    mlp = MLPPolicy(4 * cfg.links, cfg.links - 1, tuple(cfg.mlp_hidden))
    out = {"ncap": [], "mlp": [], "n_params": {"ncap": ctrl.n_params, "mlp": mlp.n_params},
           "es": {"pairs": cfg.es_pairs, "sigma": cfg.es_sigma, "lr": cfg.es_lr, "l2": cfg.es_l2,
                  "generations": cfg.es_generations, "backend": cfg.train_backend}}
    for s in range(cfg.train_seeds):
        out["ncap"].append(es_train(cfg, ctrl, ctrl.init_params(), s, "ncap"))
        out["mlp"].append(es_train(cfg, mlp, mlp.init_params(jax.random.PRNGKey(s)), s, "mlp"))
    for name in ("ncap", "mlp"):
        curves = np.array([r["curve"]["eval_return"] for r in out[name]])
        out[f"{name}_initial_mean"] = float(curves[:, 0].mean())
        out[f"{name}_final_mean"] = float(curves[:, -1].mean())
        out[f"{name}_best_mean"] = float(curves.max(1).mean())
    out["ncap_improved"] = out["ncap_final_mean"] > out["ncap_initial_mean"]
    # per seed: start / end / best, and env steps until the return reaches NCAP's at init
    out["summary"] = {name: curve_summary(out[name], out["ncap_initial_mean"])
                      for name in ("ncap", "mlp")}
    # transfer of the trained shared weights (first training seed) to other body lengths
    trained = NCAPParams(*(jnp.asarray(x) for x in out["ncap"][0]["final_params"]))
    seeds = list(range(cfg.seeds))
    out["transfer_trained"] = {}
    for links in cfg.transfer_links:
        r = _returns(cfg, links, NCAP(links - 1), trained, seeds, backend="c")
        out["transfer_trained"][str(links)] = _stats(r)
        print(f"  trained NCAP on {links:2d} links: {np.mean(r):7.1f} +- {np.std(r):5.1f}", flush=True)
    return out


# ------------------------------------------------------------------ analytic policy gradients
def train_apg(cfg: Config) -> dict:
    """Windowed analytic policy gradients of NCAP through the MJX body (neurojax.embodied.apg);
    each iterate scored on the C backend (float64, dt 0.002) on fixed evaluation seeds."""
    from neurojax.embodied import NCAP, Swimmer, SwimmerC
    from neurojax.embodied.apg import apg_train
    if not jax.config.jax_compilation_cache_dir:   # the MJX gradient program compiles for minutes
        jax.config.update("jax_compilation_cache_dir", os.environ.get(
            "NEUROJAX_JAX_CACHE", os.path.expanduser("~/.cache/neurojax-jax")))
    ctrl = NCAP(cfg.links - 1)
    env = Swimmer(cfg.links, timestep=cfg.apg_timestep, solver_iterations=1,
                  episode_steps=cfg.episode_steps)
    env_ref = SwimmerC(cfg.links, timestep=cfg.apg_timestep, episode_steps=cfg.episode_steps)
    env_eval = SwimmerC(cfg.links, episode_steps=cfg.episode_steps)
    out = {"config": {"window": cfg.apg_window, "windows": cfg.apg_windows, "lr": cfg.apg_lr,
                      "objective": cfg.apg_objective, "mjx_timestep": cfg.apg_timestep,
                      "iterations": cfg.apg_iterations}, "runs": {}}
    eval_seeds = [20_000 + i for i in range(cfg.apg_eval_seeds)]
    for init in cfg.apg_inits:
        key = jax.random.PRNGKey(7) if init == "random" else None
        p0 = ctrl.init_params(key, init)
        print(f"APG from the {init} init {np.round(np.asarray(jax.flatten_util.ravel_pytree(p0)[0]), 3)}",
              flush=True)
        t0 = time.perf_counter()
        res = apg_train(env, env_ref, ctrl, p0, iterations=cfg.apg_iterations,
                        window=min(cfg.apg_window, cfg.episode_steps),
                        n_windows=cfg.apg_windows, train_seeds=list(range(cfg.apg_train_seeds)),
                        eval_seeds=eval_seeds, lr=cfg.apg_lr, objective=cfg.apg_objective,
                        episode_steps=cfg.episode_steps, eval_env_c=env_eval,
                        log=lambda m: print(m, flush=True))
        res["wall_s"] = time.perf_counter() - t0
        c = res["curve"]["eval_return"]
        res["initial_return"], res["final_return"], res["best_return"] = c[0], c[-1], max(c)
        out["runs"][init] = res
    return out


def train_ppo(cfg: Config) -> dict:
    """PPO (neurojax.embodied.ppo, Tonic-like defaults) for NCAP (Gaussian, std 0.1 fixed)
    and the MLP (learned log-std) on the C backend."""
    from neurojax.embodied import NCAP, MLPPolicy, SwimmerC
    from neurojax.embodied.ppo import PPOConfig, ppo_train
    env = SwimmerC(cfg.links, episode_steps=cfg.episode_steps)
    pcfg = PPOConfig(iterations=cfg.ppo_iterations, n_envs=cfg.ppo_envs,
                     episode_steps=cfg.episode_steps)
    ctrl = NCAP(cfg.links - 1)
    mlp = MLPPolicy(4 * cfg.links, cfg.links - 1, tuple(cfg.mlp_hidden), log_std=True)
    out = {"config": dataclasses.asdict(pcfg), "n_params": {"ncap": ctrl.n_params, "mlp": mlp.n_params}}
    for name in cfg.ppo_policies:
        out[name] = []
        for s in range(cfg.ppo_seeds):
            print(f"PPO {name} seed {s}", flush=True)
            if name == "ncap":
                pol, p0 = ctrl, ctrl.init_params()
            else:
                pol, p0 = mlp, mlp.init_params(jax.random.PRNGKey(s))
            out[name].append(ppo_train(env, pol, p0, pcfg, seed=s,
                                       log=lambda m: print(m, flush=True)))
        curves = np.array([r["curve"]["eval_return"] for r in out[name]])
        out[f"{name}_initial_mean"] = float(curves[:, 0].mean())
        out[f"{name}_final_mean"] = float(curves[:, -1].mean())
    if "ncap_initial_mean" in out:   # env steps until each seed reaches NCAP's return at init
        out["summary"] = {name: curve_summary(out[name], out["ncap_initial_mean"])
                          for name in cfg.ppo_policies}
    return out


def _plot_curves(part: dict, path: str, xlabel: str, ylabel: str, title: str) -> str:
    """NCAP vs MLP learning curves (``part[name]``: one run per seed): every seed thin, the
    mean across seeds thick with a +-1 sd band; parameter counts and seeds in the legend; a
    dotted line at NCAP's return at initialisation."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, color in (("ncap", "C0"), ("mlp", "C3")):
        runs = part.get(name, [])
        if not runs:
            continue
        xs = [np.asarray(r["curve"]["env_steps"]) for r in runs]
        ys = [np.asarray(r["curve"]["eval_return"], float) for r in runs]
        label = (f"{name.upper()} ({part['n_params'][name]:,} params, {len(runs)} "
                 f"seed{'s' if len(runs) > 1 else ''})")
        for x, y in zip(xs, ys):
            ax.plot(x, y, color=color, alpha=0.35, lw=0.8)
        if all(len(x) == len(xs[0]) and np.array_equal(x, xs[0]) for x in xs):
            y = np.stack(ys)
            m, sd = y.mean(0), y.std(0)
            ax.plot(xs[0], m, color=color, lw=2, label=label + (", mean +- sd" if len(runs) > 1 else ""))
            if len(runs) > 1:
                ax.fill_between(xs[0], m - sd, m + sd, color=color, alpha=0.15, lw=0)
        else:
            ax.plot([], [], color=color, lw=2, label=label)
    if "ncap_initial_mean" in part:
        ax.axhline(part["ncap_initial_mean"], color="0.4", ls=":", lw=1,
                   label=f"NCAP at init ({part['ncap_initial_mean']:.0f})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot(metrics: dict, out_dir: str) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    paths = {}
    if "train" in metrics:
        es = metrics["train"]["es"]
        paths["curves_png"] = _plot_curves(
            metrics["train"], os.path.join(out_dir, "ncap_learning_curves.png"),
            "environment steps (ES training episodes)", "return of the ES centre (max 1000)",
            f"ES on the {metrics['config_links']}-link swimmer ({2 * es['pairs']} episodes / gen.)")
    if "apg" in metrics:
        fig, ax = plt.subplots(figsize=(6, 4))
        for i, (init, r) in enumerate(metrics["apg"]["runs"].items()):
            ax.plot(r["curve"]["iteration"], r["curve"]["eval_return"], marker="o", color=f"C{i}",
                    label=f"NCAP, {init} init")
        cfg_apg = metrics["apg"]["config"]
        ax.set_xlabel(f"APG iteration ({cfg_apg['windows']} windows x {cfg_apg['window']} steps)")
        ax.set_ylabel("return on the C backend (max 1000)")
        ax.set_title(f"analytic policy gradients ({cfg_apg['objective']} objective)")
        ax.legend()
        fig.tight_layout()
        paths["apg_png"] = os.path.join(out_dir, "ncap_apg_curves.png")
        fig.savefig(paths["apg_png"], dpi=120)
        plt.close(fig)
    if "ppo" in metrics:
        paths["ppo_png"] = _plot_curves(
            metrics["ppo"], os.path.join(out_dir, "ncap_ppo_curves.png"),
            "environment steps (PPO)", "deterministic return, C backend (max 1000)",
            f"PPO on the {metrics['config_links']}-link swimmer")
    if "transfer" in metrics:
        links = sorted(int(k) for k in metrics["transfer"])
        m = [metrics["transfer"][str(k)]["mean"] for k in links]
        s = [metrics["transfer"][str(k)]["std"] for k in links]
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.errorbar(links, m, yerr=s, marker="o", label="neurojax (C backend)")
        spec = [(k, SPEC_TRANSFER[k]) for k in links if k in SPEC_TRANSFER]
        ax.plot(*zip(*spec), "k+", ms=10, label="spec (dm_control)")
        ax.set_xlabel("links")
        ax.set_ylabel("return at init")
        ax.legend()
        fig.tight_layout()
        paths["transfer_png"] = os.path.join(out_dir, "ncap_transfer.png")
        fig.savefig(paths["transfer_png"], dpi=120)
        plt.close(fig)
    return paths


def run(cfg: Config) -> dict:
    if cfg.backend not in ("c", "mjx") or cfg.train_backend not in ("c", "mjx"):
        raise ValueError(f"backend/train_backend must be 'c' or 'mjx', got {cfg.backend!r}, "
                         f"{cfg.train_backend!r}")
    os.makedirs(cfg.out, exist_ok=True)
    t0 = time.perf_counter()
    if cfg.train_apg or cfg.train_ppo:       # only the gradient-training parts asked for
        metrics = {"config_links": cfg.links}
        if cfg.train_apg:
            metrics["apg"] = train_apg(cfg)
        if cfg.train_ppo:
            metrics["ppo"] = train_ppo(cfg)
        metrics.update(plot(metrics, cfg.out))
        metrics["wall_s"] = time.perf_counter() - t0
        return metrics
    metrics = eval_init(cfg)
    metrics["config_links"] = cfg.links
    if cfg.mjx_check_steps > 0:
        metrics["mjx_check"] = mjx_check(cfg)
    if cfg.speed:
        metrics["speed"] = speed(cfg)
        if "mjx_check" in metrics:
            mc = metrics["mjx_check"]
            metrics["speed"]["c_raw_over_mjx_per_cpu_s"] = (
                metrics["speed"]["c_raw_physics_steps_per_cpu_s"] / mc["mjx_physics_steps_per_cpu_s"])
            metrics["speed"]["c_closed_loop_over_mjx_per_cpu_s"] = (
                mc["c_closed_loop_physics_steps_per_cpu_s"] / mc["mjx_physics_steps_per_cpu_s"])
    if cfg.train and not cfg.eval_init:
        metrics["train"] = train(cfg)
    metrics.update(plot(metrics, cfg.out))
    metrics["wall_s"] = time.perf_counter() - t0
    return metrics


def main(argv=None):
    import _cli  # experiments/ is on sys.path when this file runs as a script

    cfg = _cli.parse(Config, argv)
    metrics = run(cfg)
    path = _cli.save_results(cfg, metrics)
    keys = ("init_return_mean", "init_return_std", "n_params")
    print(json.dumps({k: metrics[k] for k in keys if k in metrics}))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
