"""Tune an echo-state network's hyper-parameters by gradient descent through the scan, and
compare with a grid search of equal cost.

For each reservoir seed, a base reservoir (``random_esn`` with spectral radius 1 and input
scaling 1, dense input) is reparametrised by three hyper-parameters

    leak alpha = sigmoid(theta_0),  input scale = exp(theta_1),  spectral scale = exp(theta_2),

and scored by the validation NRMSE of a ridge readout: teacher-forced run over the training
rows, readout fitted in closed form (float64 Cholesky), prediction of the validation rows.
The whole chain -- scan (checkpointed in chunks), ridge solve, NRMSE -- is differentiated by
``jax.value_and_grad`` and minimised with Adam on log NRMSE.

The grid search evaluates the same validation loss on a regular grid over the same box
(leak, log input scale, log spectral scale) with as many points as fit into the CPU time the
gradient run took (measured: points = gradient CPU seconds / CPU seconds per loss
evaluation), one jitted evaluation per point. Both winners are then scored on an independent
test series (fresh data of the task, same reservoir and the readout refit on the training
rows).

Writes results.json (per seed and mean validation/test NRMSE and CPU seconds of both methods,
the gradient trajectory) and tuning.png (validation loss vs CPU seconds for both).
"""
import dataclasses
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

import neurojax as nj  # noqa: E402
from neurojax.reservoirs import tasks  # noqa: E402

TASKS = ("narma10", "mg_1")


@dataclasses.dataclass(frozen=True)
class Config:
    task: str = "narma10"                 # narma10 or mg_1
    n: int = 100                          # reservoir units
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    n_train: int = 2000                   # training rows after the washout
    n_val: int = 1000                     # validation rows
    n_test: int = 2000                    # rows of the independent test series
    washout: int = 200
    ridge: float = 1e-7
    steps: int = 60                       # Adam steps
    learning_rate: float = 0.1
    checkpoint_every: int = 100           # scan chunk under jax.checkpoint (divides the lengths)
    init: tuple[float, float, float] = (0.5, 0.3, 0.8)    # leak, input scale, spectral scale
    leak_range: tuple[float, float] = (0.05, 1.0)
    input_range: tuple[float, float] = (0.01, 3.0)        # log-spaced
    spectral_range: tuple[float, float] = (0.3, 1.5)      # log-spaced
    out: str = "results/esn_gradient_tuning"

    def smoke(self):
        return dataclasses.replace(self, n=30, seeds=(0,), n_train=300, n_val=200, n_test=200,
                                   washout=50, steps=4, checkpoint_every=50)


def _make_task(cfg, seed: int, n_test: int):
    if cfg.task == "narma10":
        return tasks.narma10(seed, washout=cfg.washout, n_train=cfg.n_train, n_test=n_test)
    return tasks.mackey_glass(seed, 1, washout=cfg.washout, n_train=cfg.n_train, n_test=n_test)


def hyper(theta):
    """Unconstrained theta -> (leak, input scale, spectral scale)."""
    return jax.nn.sigmoid(theta[0]), jnp.exp(theta[1]), jnp.exp(theta[2])


def to_theta(leak, inputs, spectral):
    return jnp.array([jnp.log(leak / (1.0 - leak)) if leak < 1 else 8.0, jnp.log(inputs),
                      jnp.log(spectral)])


def esn_at(base, theta):
    """The base reservoir with the hyper-parameters ``theta``."""
    leak, inputs, spectral = hyper(theta)
    return nj.reservoirs.rescale(base._replace(leak=leak), spectral=spectral, inputs=inputs)


def make_loss(base, task, cfg):
    """theta -> validation NRMSE (a pure, jittable, differentiable function)."""
    def loss(theta):
        return nj.reservoirs.score(esn_at(base, theta), cfg.ridge, task,
                                   checkpoint_every=cfg.checkpoint_every)
    return loss


def _cpu(f, *args):
    t0 = time.process_time()
    out = jax.block_until_ready(f(*args))
    return out, time.process_time() - t0


def gradient_search(loss, cfg):
    import optax
    opt = optax.adam(cfg.learning_rate)
    value_and_grad = jax.jit(jax.value_and_grad(lambda th: jnp.log(loss(th))))
    theta = to_theta(*cfg.init)
    state = opt.init(theta)
    _cpu(value_and_grad, theta)                                   # compile
    best, best_theta, trace, cpu = np.inf, theta, [], 0.0
    for _ in range(cfg.steps):
        (log_val, grad), dt = _cpu(value_and_grad, theta)
        cpu += dt
        val = float(np.exp(log_val))
        trace.append((cpu, val))
        if val < best:
            best, best_theta = val, theta
        updates, state = opt.update(grad, state)
        theta = optax.apply_updates(theta, updates)
    return best_theta, best, cpu, trace


def grid_search(loss, cfg, budget_cpu: float):
    evaluate = jax.jit(loss)
    _cpu(evaluate, to_theta(*cfg.init))                           # compile
    _, per_eval = _cpu(evaluate, to_theta(*cfg.init))
    m = max(2, int(round((budget_cpu / per_eval) ** (1 / 3))))
    leaks = np.linspace(*cfg.leak_range, m)
    inputs = np.geomspace(*cfg.input_range, m)
    spectral = np.geomspace(*cfg.spectral_range, m)
    best, best_theta, trace, cpu = np.inf, None, [], 0.0
    for a in leaks:
        for s_in in inputs:
            for s_rec in spectral:
                theta = to_theta(min(a, 1 - 1e-6), s_in, s_rec)
                val, dt = _cpu(evaluate, theta)
                cpu += dt
                if float(val) < best:
                    best, best_theta = float(val), theta
                trace.append((cpu, best))
    return best_theta, best, cpu, trace, m ** 3


def run(cfg):
    if cfg.task not in TASKS:
        raise ValueError(f"--task must be one of {TASKS}, got {cfg.task!r}")
    score = jax.jit(nj.reservoirs.score)
    per_seed = []
    for seed in cfg.seeds:
        base = nj.reservoirs.random_esn(jax.random.key(seed), cfg.n, spectral_radius=1.0,
                                        input_scaling=1.0, input_connectivity=1.0)
        loss = make_loss(base, _make_task(cfg, seed, cfg.n_val), cfg)
        test_task = _make_task(cfg, 1000 + seed, cfg.n_test)
        g_theta, g_val, g_cpu, g_trace = gradient_search(loss, cfg)
        s_theta, s_val, s_cpu, s_trace, n_points = grid_search(loss, cfg, g_cpu)

        def test(theta):
            return float(score(esn_at(base, theta), cfg.ridge, test_task))

        per_seed.append(dict(
            seed=seed, grad_val_nrmse=g_val, grid_val_nrmse=s_val,
            grad_test_nrmse=test(g_theta), grid_test_nrmse=test(s_theta),
            grad_cpu_seconds=g_cpu, grid_cpu_seconds=s_cpu, grid_points=n_points,
            grad_hyper=[float(x) for x in hyper(g_theta)],
            grid_hyper=[float(x) for x in hyper(s_theta)],
            grad_trace=g_trace, grid_trace=s_trace))
        print(json.dumps({k: v for k, v in per_seed[-1].items() if "trace" not in k}))
    mean = lambda key: float(np.mean([r[key] for r in per_seed]))
    metrics = dict(
        task=cfg.task, n=cfg.n, per_seed=per_seed,
        grad_val_nrmse=mean("grad_val_nrmse"), grid_val_nrmse=mean("grid_val_nrmse"),
        grad_test_nrmse=mean("grad_test_nrmse"), grid_test_nrmse=mean("grid_test_nrmse"),
        grad_cpu_seconds=mean("grad_cpu_seconds"), grid_cpu_seconds=mean("grid_cpu_seconds"),
        grad_at_least_as_good_val=bool(all(r["grad_val_nrmse"] <= r["grid_val_nrmse"] * (1 + 1e-9)
                                           for r in per_seed)),
        seeds_grad_wins_val=int(sum(r["grad_val_nrmse"] <= r["grid_val_nrmse"] for r in per_seed)))
    metrics["plot_png"] = plot(per_seed, cfg.out)
    return metrics


def plot(per_seed, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(out_dir, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, r in enumerate(per_seed):
        g = np.array(r["grad_trace"])
        ax.plot(g[:, 0], np.minimum.accumulate(g[:, 1]), color="C0", alpha=0.8,
                label="gradient (Adam)" if i == 0 else None)
        s = np.array(r["grid_trace"])
        ax.plot(s[:, 0], s[:, 1], color="C1", alpha=0.8, label="grid search" if i == 0 else None)
    ax.set_xlabel("CPU seconds")
    ax.set_ylabel("best validation NRMSE so far")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    path = os.path.join(out_dir, "tuning.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None):
    import _cli  # experiments/ is on sys.path when this file runs as a script

    cfg = _cli.parse(Config, argv)
    metrics = run(cfg)
    path = _cli.save_results(cfg, metrics)
    keys = ("grad_val_nrmse", "grid_val_nrmse", "grad_test_nrmse", "grid_test_nrmse",
            "grad_cpu_seconds", "grid_cpu_seconds", "seeds_grad_wins_val")
    print(json.dumps({k: metrics[k] for k in keys}))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
