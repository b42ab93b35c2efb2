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

With ``--reservoir ei`` the same comparison tunes the E/I rate reservoir of
``neurojax.reservoirs.ei`` (Srinivasan, Plenz & Girvan 2025; ``rule=None``, a static
reservoir): its balance and input scaling,

    beta = -3 + 4 sigmoid(theta_0)  (the paper's sweep box [-3, 1]),  sigma_in = exp(theta_1),

built by ``ei.ei_params`` (traced arithmetic, so ``jax.grad`` reaches both), harvested by
``ei.harvest`` through ``nj.simulate`` (checkpointed scan) and scored by ``ei.score_ei`` (one
run over the training and validation rows, ridge readout of the rates). The bounded transform
keeps beta <= 1 (Dale's law: beta > 1 would make the inhibitory weights excitatory) and lets
Adam and the grid search the same box; the grid is regular in (beta, log sigma_in). The
gradient starts at ``ei_params``' defaults (balanced, beta = 0, sigma_in = 0.5; ``--ei-init``
moves it: from the over-excited plateau, beta = 0.5, Adam is local and can stall). Once per run
(first seed, starting point) dLoss/dbeta from ``jax.grad`` is compared with a central finite
difference in float64 (``fd_check`` in results.json, relative tolerance ``fd_rtol``).

Writes results.json (per seed and mean validation/test NRMSE and CPU seconds of both methods,
the gradient trajectory) and tuning.png (validation loss vs CPU seconds for both); for ``ei``
also landscape.png (the grid's validation NRMSE over (beta, sigma_in), first seed, with the
gradient's path).
"""
import dataclasses
import itertools
import json
import os
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

import neurojax as nj  # noqa: E402
from neurojax.reservoirs import ei, tasks  # noqa: E402

TASKS = ("narma10", "mg_1")
RESERVOIRS = ("esn", "ei")


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
    reservoir: str = "esn"                # esn or ei (the E/I rate reservoir)
    ei_k: int = 50                        # ei: in-degree
    ei_init: tuple[float, float] = (0.0, 0.5)             # ei: beta, sigma_in (ei_params defaults)
    beta_range: tuple[float, float] = (-3.0, 1.0)         # ei: box of beta (transform and grid)
    sigma_range: tuple[float, float] = (0.02, 2.0)        # ei: sigma_in, log-spaced
    fd_step: float = 1e-5                 # ei: central-difference step in beta (float64)
    fd_rtol: float = 1e-5                 # ei: |grad - fd| <= fd_rtol |fd| (float64)
    out: str = "results/esn_gradient_tuning"

    def smoke(self):
        return dataclasses.replace(self, n=30, seeds=(0,), n_train=300, n_val=200, n_test=200,
                                   washout=50, steps=4, checkpoint_every=50, ei_k=10)


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


# ------------------------------------------------------------------ E/I reservoir (--reservoir ei)

def ei_hyper(theta, beta_range=(-3.0, 1.0)):
    """Unconstrained theta -> (beta, sigma_in): beta = lo + (hi - lo) sigmoid(theta_0)."""
    lo, hi = beta_range
    return lo + (hi - lo) * jax.nn.sigmoid(theta[0]), jnp.exp(theta[1])


def ei_to_theta(beta, sigma_in, beta_range=(-3.0, 1.0)):
    """(beta, sigma_in) -> theta; beta is clipped just inside the box (the ends are limits)."""
    lo, hi = beta_range
    p = min(max((beta - lo) / (hi - lo), 1e-6), 1.0 - 1e-6)
    return jnp.array([np.log(p / (1.0 - p)), np.log(sigma_in)])


def ei_loss_raw(net, base, task, cfg):
    """(beta, sigma_in) -> validation NRMSE of the E/I reservoir (pure, differentiable)."""
    def loss(beta, sigma_in):
        params, w_in = ei.ei_params(net, base, beta, sigma_in)
        return ei.score_ei(net, params, w_in, cfg.ridge, task,
                           checkpoint_every=cfg.checkpoint_every)
    return loss


def fd_check_beta(raw_loss, beta, sigma_in, h, rtol):
    """dLoss/dbeta by ``jax.grad`` (one jit of value_and_grad) vs the central difference
    (L(beta + h) - L(beta - h)) / 2h from the same compiled function."""
    vg = jax.jit(jax.value_and_grad(raw_loss, argnums=0))
    b, s = jnp.asarray(beta, jnp.float64), jnp.asarray(sigma_in, jnp.float64)
    value, grad = vg(b, s)
    fd = (float(vg(b + h, s)[0]) - float(vg(b - h, s)[0])) / (2 * h)
    rel = abs(float(grad) - fd) / max(abs(fd), 1e-300)
    return dict(beta=float(beta), sigma_in=float(sigma_in), loss=float(value), grad=float(grad),
                fd=fd, h=h, rel_err=rel, rtol=rtol, ok=bool(rel <= rtol))


@dataclasses.dataclass(frozen=True)
class Space:
    """A search space: theta -> named hyper-parameters, the gradient's start and the grid."""

    hyper: Callable            # theta -> tuple of hyper-parameters
    point: Callable            # one grid point (hyper-parameters) -> theta
    theta0: jax.Array          # the gradient's starting point (also the grid's compile point)
    axes: tuple                # per axis (lo, hi, "lin" | "log")


def esn_space(cfg):
    return Space(hyper=hyper, theta0=to_theta(*cfg.init),
                 point=lambda a, s_in, s_rec: to_theta(min(a, 1 - 1e-6), s_in, s_rec),
                 axes=((*cfg.leak_range, "lin"), (*cfg.input_range, "log"),
                       (*cfg.spectral_range, "log")))


def ei_space(cfg):
    box = tuple(cfg.beta_range)
    return Space(hyper=lambda th: ei_hyper(th, box), theta0=ei_to_theta(*cfg.ei_init, box),
                 point=lambda b, s: ei_to_theta(b, s, box),
                 axes=((*box, "lin"), (*cfg.sigma_range, "log")))


def _cpu(f, *args):
    t0 = time.process_time()
    out = jax.block_until_ready(f(*args))
    return out, time.process_time() - t0


def gradient_search(loss, cfg, theta0=None):
    import optax
    opt = optax.adam(cfg.learning_rate)
    value_and_grad = jax.jit(jax.value_and_grad(lambda th: jnp.log(loss(th))))
    theta = to_theta(*cfg.init) if theta0 is None else theta0
    state = opt.init(theta)
    _cpu(value_and_grad, theta)                                   # compile
    best, best_theta, trace, cpu = np.inf, theta, [], 0.0
    for _ in range(cfg.steps):
        (log_val, grad), dt = _cpu(value_and_grad, theta)
        cpu += dt
        val = float(np.exp(log_val))
        trace.append((cpu, val, *[float(x) for x in theta]))
        if val < best:
            best, best_theta = val, theta
        updates, state = opt.update(grad, state)
        theta = optax.apply_updates(theta, updates)
    return best_theta, best, cpu, trace


def grid_search(loss, cfg, budget_cpu: float, space=None, record=None):
    """The best point of a regular grid over ``space.axes`` (default: the ESN's box) with
    ``m`` points per axis, ``m ** d`` evaluations fitting into ``budget_cpu`` CPU seconds.
    A dict ``record`` receives the axes and every grid value (row-major)."""
    space = esn_space(cfg) if space is None else space
    evaluate = jax.jit(loss)
    _cpu(evaluate, space.theta0)                                  # compile
    _, per_eval = _cpu(evaluate, space.theta0)
    d = len(space.axes)
    m = max(2, int(round((budget_cpu / per_eval) ** (1 / d))))
    axes = [(np.linspace if kind == "lin" else np.geomspace)(lo, hi, m)
            for lo, hi, kind in space.axes]
    best, best_theta, trace, values, cpu = np.inf, None, [], [], 0.0
    for point in itertools.product(*axes):
        theta = space.point(*point)
        val, dt = _cpu(evaluate, theta)
        cpu += dt
        values.append(float(val))
        if float(val) < best:
            best, best_theta = float(val), theta
        trace.append((cpu, best))
    if record is not None:
        record.update(axes=[a.tolist() for a in axes], values=values)
    return best_theta, best, cpu, trace, m ** d


def run(cfg):
    if cfg.task not in TASKS:
        raise ValueError(f"--task must be one of {TASKS}, got {cfg.task!r}")
    if cfg.reservoir not in RESERVOIRS:
        raise ValueError(f"--reservoir must be one of {RESERVOIRS}, got {cfg.reservoir!r}")
    if cfg.reservoir == "ei":
        return run_ei(cfg)
    score = jax.jit(nj.reservoirs.score)
    per_seed = []
    for seed in cfg.seeds:
        base = nj.reservoirs.random_esn(jax.random.key(seed), cfg.n, spectral_radius=1.0,
                                        input_scaling=1.0, input_connectivity=1.0)
        loss = make_loss(base, _make_task(cfg, seed, cfg.n_val), cfg)
        test_task = _make_task(cfg, 1000 + seed, cfg.n_test)
        g_theta, g_val, g_cpu, g_trace = gradient_search(loss, cfg)
        g_trace = [t[:2] for t in g_trace]
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
    metrics = dict(task=cfg.task, n=cfg.n, per_seed=per_seed, **_summary(per_seed))
    metrics["plot_png"] = plot(per_seed, cfg.out)
    return metrics


def _summary(per_seed):
    mean = lambda key: float(np.mean([r[key] for r in per_seed]))
    return dict(
        grad_val_nrmse=mean("grad_val_nrmse"), grid_val_nrmse=mean("grid_val_nrmse"),
        grad_test_nrmse=mean("grad_test_nrmse"), grid_test_nrmse=mean("grid_test_nrmse"),
        grad_cpu_seconds=mean("grad_cpu_seconds"), grid_cpu_seconds=mean("grid_cpu_seconds"),
        grad_at_least_as_good_val=bool(all(r["grad_val_nrmse"] <= r["grid_val_nrmse"] * (1 + 1e-9)
                                           for r in per_seed)),
        seeds_grad_wins_val=int(sum(r["grad_val_nrmse"] <= r["grid_val_nrmse"] for r in per_seed)))


def balance_regime(beta: float, tol: float = 0.1) -> str:
    """'balanced' (|beta| <= tol), 'over-inhibited' (beta < -tol) or 'over-excited'."""
    return "balanced" if abs(beta) <= tol else ("over-inhibited" if beta < 0 else "over-excited")


def run_ei(cfg):
    """The comparison for the E/I reservoir's (beta, sigma_in) (see the module docstring)."""
    lo, hi = cfg.beta_range
    if not lo < hi <= 1.0:
        raise ValueError(f"--beta-range must satisfy lo < hi <= 1 (Dale's law), "
                         f"got {cfg.beta_range}")
    if not (lo <= cfg.ei_init[0] <= hi and cfg.ei_init[1] > 0):
        raise ValueError(f"--ei-init: need beta in --beta-range {cfg.beta_range} and sigma_in > 0, "
                         f"got {cfg.ei_init}")
    space = ei_space(cfg)
    per_seed, fd, landscape = [], None, None
    for seed in cfg.seeds:
        net, base = ei.ei_reservoir(jax.random.key(seed), cfg.n, k=cfg.ei_k, rule=None,
                                    width=cfg.n)
        raw = ei_loss_raw(net, base, _make_task(cfg, seed, cfg.n_val), cfg)
        loss = lambda theta, raw=raw: raw(*space.hyper(theta))
        if fd is None:
            fd = fd_check_beta(raw, *cfg.ei_init, cfg.fd_step, cfg.fd_rtol)
            print(json.dumps({"fd_check": fd}))
        test_task = _make_task(cfg, 1000 + seed, cfg.n_test)
        test_raw = jax.jit(ei_loss_raw(net, base, test_task,
                                       dataclasses.replace(cfg, checkpoint_every=None)))
        g_theta, g_val, g_cpu, g_trace = gradient_search(loss, cfg, space.theta0)
        grid = {}
        s_theta, s_val, s_cpu, s_trace, n_points = grid_search(loss, cfg, g_cpu, space, grid)
        if landscape is None:
            landscape = dict(grid, seed=seed,
                             path=[[float(x) for x in space.hyper(jnp.array(t[2:]))]
                                   for t in g_trace])

        def test(theta):
            return float(test_raw(*space.hyper(theta)))

        g_hyper = [float(x) for x in space.hyper(g_theta)]
        per_seed.append(dict(
            seed=seed, grad_val_nrmse=g_val, grid_val_nrmse=s_val,
            grad_test_nrmse=test(g_theta), grid_test_nrmse=test(s_theta),
            grad_cpu_seconds=g_cpu, grid_cpu_seconds=s_cpu, grid_points=n_points,
            grad_hyper=g_hyper, grid_hyper=[float(x) for x in space.hyper(s_theta)],
            grad_regime=balance_regime(g_hyper[0]),
            grad_trace=[t[:2] for t in g_trace], grid_trace=s_trace))
        print(json.dumps({k: v for k, v in per_seed[-1].items() if "trace" not in k}))
    betas = [r["grad_hyper"][0] for r in per_seed]
    metrics = dict(task=cfg.task, n=cfg.n, reservoir="ei", hyper_names=["beta", "sigma_in"],
                   per_seed=per_seed, **_summary(per_seed), fd_check=fd,
                   grad_beta_mean=float(np.mean(betas)),
                   grid_beta_mean=float(np.mean([r["grid_hyper"][0] for r in per_seed])),
                   grad_sigma_in_mean=float(np.mean([r["grad_hyper"][1] for r in per_seed])),
                   grad_regimes={k: sum(balance_regime(b) == k for b in betas)
                                 for k in ("over-inhibited", "balanced", "over-excited")},
                   landscape=landscape)
    metrics["plot_png"] = plot(per_seed, cfg.out)
    metrics["landscape_png"] = plot_landscape(landscape, cfg.out)
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


def plot_landscape(landscape, out_dir):
    """The grid's validation NRMSE over (beta, sigma_in) with the gradient's path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(out_dir, exist_ok=True)
    betas, sigmas = (np.array(a) for a in landscape["axes"])
    values = np.array(landscape["values"]).reshape(betas.size, sigmas.size)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    mesh = ax.pcolormesh(betas, sigmas, values.T, shading="nearest", cmap="viridis")
    fig.colorbar(mesh, ax=ax, label="validation NRMSE")
    path = np.array(landscape["path"])
    ax.plot(path[:, 0], path[:, 1], ".-", color="w", ms=3, label="gradient (Adam)")
    ax.plot(path[0, 0], path[0, 1], "o", color="w")
    ax.set_yscale("log")
    ax.set_xlabel(r"balance $\beta$")
    ax.set_ylabel(r"input scaling $\sigma_\mathrm{in}$")
    ax.set_title(f"E/I reservoir, seed {landscape['seed']}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    out = os.path.join(out_dir, "landscape.png")
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main(argv=None):
    import _cli  # experiments/ is on sys.path when this file runs as a script

    cfg = _cli.parse(Config, argv)
    metrics = run(cfg)
    path = _cli.save_results(cfg, metrics)
    keys = ("grad_val_nrmse", "grid_val_nrmse", "grad_test_nrmse", "grid_test_nrmse",
            "grad_cpu_seconds", "grid_cpu_seconds", "seeds_grad_wins_val")
    if cfg.reservoir == "ei":
        keys += ("grad_beta_mean", "grid_beta_mean", "grad_regimes")
    print(json.dumps({k: metrics[k] for k in keys}))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
