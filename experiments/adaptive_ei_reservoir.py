r"""Self-adapting E/I reservoir vs globally tuned balance (Srinivasan, Plenz & Girvan 2025).

The reservoir is :mod:`neurojax.reservoirs.ei` (SigmoidRate units, Dale's law, fixed in-degree,
``Instant`` synapses, run by ``nj.simulate``; specs/reservoirs.md §4). For every seed, input
scaling $\sigma_\mathrm{in}$ and task input, four ways of setting the inhibition are compared
on the same network (same connectivity, magnitudes and input weights):

* ``global``: no adaptation, the balance $\beta$ swept over ``betas`` (the globally tuned
  baseline is the best $\beta$ of this grid, per task and $\sigma_\mathrm{in}$);
* ``adapt``: local adaptive inhibition (``RateHomeostasis``, the paper's Eq. 7 with
  ``rule="additive"``) to a homogeneous target $\rho$ from $\beta_0 = 0$, ``t_adapt`` steps on the
  task's training input (then ``anneal`` steps at $\delta\times$``anneal_factor``), frozen;
  $\rho$ swept over ``rhos`` (its best value is the adaptive reservoir's tuned result);
* ``het``: the same with heterogeneous targets $\rho_i = \bar\rho\,X_i (a+b)/a$,
  $X_i \sim \mathrm{Beta}(a, b)$ clipped to [0.02, 0.98], $\bar\rho$ over ``rhos``;
* ``design``: the closed-form one-step design (per-unit gains, no online adaptation) for the
  homogeneous targets ``rhos`` and the mean training input;
* ``adapt_from``: ``adapt`` at $\rho$ = ``rho_start`` started from each mis-tuned
  $\beta_0$ in ``start_betas`` (the "repair" of a mis-tuned reservoir).

Tasks (``neurojax.reservoirs.tasks``, fixed splits): memory capacity ($k_\max = 2N$, higher is
better), NARMA-10, Mackey-Glass one-step and 84-step direct (NRMSE, lower is better). The two
Mackey-Glass tasks share their input, so one adaptation and one harvest serve both. Scores
use ``ei.score_harvest``'s protocol (``neurojax.reservoirs.score``: one run from the initial
state, ridge readout of $r(t)$ fitted on the training rows after the washout).

Improvement (specs/reservoirs.md §4.7): ``score_new / score_base - 1`` for memory capacity and
``NRMSE_base / NRMSE_new - 1`` for errors, on seed means. "vs best global" compares the best
grid point of a mode with the best $\beta$ (a grid of ``len(betas)`` points, at least as large as
the mode's ``rhos`` grid, so the baseline gets at least as much tuning); ``paired`` repeats the
comparison seed by seed at the selected hyper-parameters. "vs mis-tuned" compares ``adapt_from``
with ``global`` at the same $\beta$. The paper reports "up to 130 %" (definition not visible).

Rate errors: ``rate_error_adapt`` is $\frac1N\sum_i|\langle r_i\rangle - \rho_i|$ over the last
``measure`` adaptation steps; ``rate_error_frozen`` the same for the frozen reservoir on the
training harvest after the washout (what the readout sees).

All constants are the reconstructed defaults of specs/reservoirs.md §4 (unverified against the
paper). Writes ``results.json``, ``performance_vs_beta.png`` (score vs $\beta$ per task: global
sweep, adaptation started at each $\beta$, best of each mode) and ``performance_vs_rho.png``
into ``--out``.
"""
import dataclasses
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import neurojax as nj
from neurojax.reservoirs import ei
from neurojax.reservoirs.tasks import make_task, score_states

MODES = ("adapt", "het", "design")


@dataclasses.dataclass(frozen=True)
class Config:
    n: int = 200                          # units N
    k: int = 50                           # in-degree
    f_e: float = 0.8                      # excitatory fraction
    indegree: str = "split"               # k_E = round(f_E k), k_I = k - k_E ("each": k from each)
    jitter: float = 0.2                   # weights |N(mu, jitter mu)|
    f_in: float = 0.3                     # fraction of units receiving the input
    c: float = 10.0                       # sigmoid gain
    theta: float = 0.0                    # threshold
    lam: float = 0.0                      # leak of v per step
    sigma_in: tuple[float, ...] = (0.25, 0.5, 1.0)   # input scalings (each compared separately)
    betas: tuple[float, ...] = tuple(float(b) for b in np.arange(-3.0, 1.001, 0.25))
    start_betas: tuple[float, ...] = (1.0, 0.5, -0.5, -1.0, -2.0, -3.0)   # mis-tuned starts
    rhos: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)   # targets (homogeneous / mean of het)
    rho_start: float = 0.5                # target of the adapt_from runs
    rule: str = "additive"                # "additive" (Eq. 7) or "gain"
    delta: float = 1e-3                   # learning rate per step
    t_adapt: int = 20000                  # adaptation steps
    anneal: int = 10000                   # further steps at delta * anneal_factor
    anneal_factor: float = 0.05
    measure: int = 1000                   # adaptation steps averaged for the rate error
    het_dist: str = "beta"                # heterogeneous targets: "beta" or "lognormal"
    het_a: float = 2.0
    het_b: float = 2.0
    het_sigma: float = 0.5                # lognormal spread
    g_max: float = 10.0                   # one-step design gain clip
    tasks: tuple[str, ...] = ("mc", "narma10", "mg_1", "mg_84_direct")
    alpha_mc: float = 1e-8                # ridge strengths
    alpha_narma10: float = 1e-7
    alpha_mg: float = 1e-8
    seeds: tuple[int, ...] = (100, 101, 102, 103, 104)
    width: int = 100                      # synapse-table width (same shapes for every seed)
    x64: bool = True
    plot: bool = True
    progress: bool = True
    out: str = "results/adaptive_ei_reservoir"

    def smoke(self):
        return dataclasses.replace(self, n=40, k=10, sigma_in=(0.5,), betas=(-1.0, 0.0, 1.0),
                                   start_betas=(1.0,), rhos=(0.5,), t_adapt=1000, anneal=200,
                                   measure=200, tasks=("mc", "mg_1"), seeds=(0,), width=40,
                                   progress=False)


def _alpha(cfg: Config, task: str) -> float:
    return cfg.alpha_mc if task == "mc" else (
        cfg.alpha_narma10 if task == "narma10" else cfg.alpha_mg)


def _groups(cfg: Config, seed: int):
    """Tasks grouped by identical inputs: [(inputs, {name: Task})]."""
    groups = []
    for name in cfg.tasks:
        task = make_task(name, cfg.n, seed)
        for inputs, members in groups:
            if inputs.shape == task.inputs.shape and bool(jnp.array_equal(inputs, task.inputs)):
                members[name] = task
                break
        else:
            groups.append((task.inputs, {name: task}))
    return groups


def _score_group(cfg, net, params, w_in, inputs, members, rho=None):
    """Harvest once, score every task of the group; mean rate and (if rho) the frozen rate
    error over the training rows after the washout."""
    _, r = ei.harvest(net, params, w_in, inputs)
    out = {}
    for name, task in members.items():
        score = score_states(r[:task.n_train], r[task.n_train:], _alpha(cfg, name), task)
        rows = r[task.washout:task.n_train]
        out[name] = dict(score=float(score), mean_rate=float(rows.mean()),
                         rate_error_frozen=None if rho is None else float(ei.rate_error(rows, rho)))
    return out


def evaluate_seed(cfg: Config, seed: int, sigma_in: float, bar=None) -> dict:
    """All modes for one seed and input scaling: {mode: {task: {key: [per grid point]}}}."""
    net, base = ei.ei_reservoir(jax.random.key(seed), cfg.n, f_e=cfg.f_e, k=cfg.k,
                                indegree=cfg.indegree, jitter=cfg.jitter, f_in=cfg.f_in,
                                rule=cfg.rule, width=cfg.width)
    unit = nj.SigmoidRateParams.default(c=cfg.c, theta=cfg.theta, lam=cfg.lam)
    static_net, _ = ei.freeze(net, ei.ei_params(net, base, unit=unit)[0])
    het_key = jax.random.fold_in(jax.random.key(seed), 7)
    res = {m: {} for m in ("global", "adapt_from") + MODES}

    def add(mode, scored, **extra):
        for name, d in scored.items():
            cell = res[mode].setdefault(name, {})
            for key, value in dict(d, **extra).items():
                cell.setdefault(key, []).append(value)

    def tick():
        if bar is not None:
            bar.update(1)

    for inputs, members in _groups(cfg, seed):
        train = next(iter(members.values()))
        u_train = inputs[:train.n_train]
        for beta in cfg.betas:
            params, w_in = ei.ei_params(static_net, base, beta, sigma_in, unit=unit)
            add("global", _score_group(cfg, static_net, params, w_in, inputs, members))
            tick()

        def adapted(beta0, rho):
            params, w_in = ei.ei_params(net, base, beta0, sigma_in, unit=unit, rho=rho,
                                        delta=cfg.delta)
            out = ei.adapt(net, params, w_in, u_train, cfg.t_adapt, anneal=cfg.anneal,
                           anneal_factor=cfg.anneal_factor, measure=cfg.measure)
            scored = _score_group(cfg, out.net, out.params, w_in, inputs, members, rho)
            tick()
            return scored, float(out.rate_error)

        for rho in cfg.rhos:
            scored, err = adapted(0.0, rho)
            add("adapt", scored, rate_error_adapt=err)
            rho_het = ei.target_rates(het_key, cfg.n, rho, dist=cfg.het_dist, a=cfg.het_a,
                                      b=cfg.het_b, sigma=cfg.het_sigma)
            scored, err = adapted(0.0, rho_het)
            add("het", scored, rate_error_adapt=err)
            _, w_in = ei.ei_params(static_net, base, 0.0, sigma_in, unit=unit)
            g = ei.one_step_design(net, base, rho, w_in, u_train.mean(0), unit=unit,
                                   g_max=cfg.g_max)
            params, w_in = ei.ei_params(static_net, base, 0.0, sigma_in, gain=g, unit=unit)
            add("design", _score_group(cfg, static_net, params, w_in, inputs, members, rho),
                gain_mean=float(g.mean()), gain_clipped=float(((g <= 0) | (g >= cfg.g_max)).mean()))
            tick()
        for beta0 in cfg.start_betas:
            scored, err = adapted(beta0, cfg.rho_start)
            add("adapt_from", scored, rate_error_adapt=err)
    return res


def _improvement(new, base, higher_is_better):
    return new / base - 1.0 if higher_is_better else base / new - 1.0


def summarize(cfg: Config, per_seed: dict) -> dict:
    """Seed means, best grid points and improvements, per sigma_in and task."""
    summary = {}
    for sig, seeds in per_seed.items():
        out = {}
        for name in cfg.tasks:
            hib = name == "mc"
            best = np.argmax if hib else np.argmin

            def stack(mode, key="score"):
                return np.array([seeds[s][mode][name][key] for s in cfg.seeds], float)

            g = stack("global")
            g_mean = g.mean(0)
            ib = int(best(g_mean))
            t = dict(higher_is_better=hib, betas=list(cfg.betas),
                     global_mean=g_mean, global_std=g.std(0),
                     global_mean_rate=stack("global", "mean_rate").mean(0),
                     best_global_beta=cfg.betas[ib], best_global=float(g_mean[ib]))
            for mode in MODES:
                m = stack(mode)
                m_mean = m.mean(0)
                im = int(best(m_mean))
                paired = _improvement(m[:, im], g[:, ib], hib)
                t[mode] = dict(
                    rhos=list(cfg.rhos), mean=m_mean, std=m.std(0),
                    rate_error_frozen=stack(mode, "rate_error_frozen").mean(0),
                    best_rho=cfg.rhos[im], best=float(m_mean[im]),
                    improvement_vs_best_global=_improvement(float(m_mean[im]),
                                                            float(g_mean[ib]), hib),
                    paired_improvement_mean=float(paired.mean()),
                    paired_improvement_min=float(paired.min()),
                    seeds_better=int((paired > 0).sum()))
                if mode != "design":
                    t[mode]["rate_error_adapt"] = stack(mode, "rate_error_adapt").mean(0)
                else:
                    t[mode]["gain_clipped"] = stack(mode, "gain_clipped").mean(0)
            f = stack("adapt_from").mean(0)
            at = [cfg.betas.index(b) if b in cfg.betas else None for b in cfg.start_betas]
            vs = [None if j is None else _improvement(float(f[i]), float(g_mean[j]), hib)
                  for i, j in enumerate(at)]
            t["adapt_from"] = dict(start_betas=list(cfg.start_betas), rho=cfg.rho_start,
                                   mean=f, improvement_vs_global_same_beta=vs,
                                   improvement_vs_best_global=[
                                       _improvement(float(x), float(g_mean[ib]), hib) for x in f])
            valid = [v for v in vs if v is not None]
            t["max_improvement_vs_mistuned"] = max(valid) if valid else None
            out[name] = t
        summary[sig] = out
    return summary


def overall(cfg: Config, summary: dict) -> dict:
    """Best over every input scaling too: the best (sigma_in, beta) of the global sweep vs the
    best (sigma_in, rho) of each mode (both grids grow by the same factor)."""
    out = {}
    for name in cfg.tasks:
        hib = name == "mc"
        pick = max if hib else min
        g = pick(((t[name]["best_global"], sig, t[name]["best_global_beta"])
                  for sig, t in summary.items()), key=lambda x: x[0])
        out[name] = dict(best_global=g[0], sigma_in=float(g[1]), beta=g[2])
        for mode in MODES:
            m = pick(((t[name][mode]["best"], sig, t[name][mode]["best_rho"])
                      for sig, t in summary.items()), key=lambda x: x[0])
            out[name][mode] = dict(best=m[0], sigma_in=float(m[1]), rho=m[2],
                                   improvement_vs_best_global=_improvement(m[0], g[0], hib))
    return out


def _yerr(mean, std, task):
    """Symmetric s.d. bars, the lower one kept above 0 on the log axes of the error tasks."""
    mean, std = np.asarray(mean), np.asarray(std)
    return np.stack([std if task == "mc" else np.minimum(std, 0.9 * mean), std])


def plot(cfg: Config, summary: dict, out_dir: str) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = {}
    ylabel = {"mc": "memory capacity", "narma10": "NARMA-10 NRMSE", "mg_1": "MG-17 1-step NRMSE",
              "mg_84_direct": "MG-17 84-step NRMSE"}
    colors = {"adapt": "C1", "het": "C2", "design": "C3"}
    for fname, xkey in (("performance_vs_beta.png", "beta"), ("performance_vs_rho.png", "rho")):
        ncol = min(len(cfg.tasks), 2)
        nrow = -(-len(cfg.tasks) // ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.6 * nrow), squeeze=False)
        for ax, name in zip(axes.flat, cfg.tasks):
            for si, (sig, tasks) in enumerate(summary.items()):
                t = tasks[name]
                ls = ["-", "--", ":", "-."][si % 4]
                tag = f" σin={sig}" if len(summary) > 1 else ""
                if xkey == "beta":
                    ax.errorbar(cfg.betas, t["global_mean"],
                                yerr=_yerr(t["global_mean"], t["global_std"], name),
                                color="C0", ls=ls, marker="o", ms=3, capsize=2,
                                label="global β" + tag)
                    xs, ys = list(cfg.start_betas), list(t["adapt_from"]["mean"])
                    if cfg.rho_start in cfg.rhos and 0.0 not in xs:   # the adapt grid's start
                        xs.append(0.0)
                        ys.append(t["adapt"]["mean"][cfg.rhos.index(cfg.rho_start)])
                    ax.plot(xs, ys, color="C1", ls=ls, marker="s", ms=4, lw=0,
                            label=f"adapted from β (ρ={cfg.rho_start})" + tag)
                    for mode in MODES:
                        ax.axhline(t[mode]["best"], color=colors[mode], ls=ls, lw=1,
                                   label=f"best {mode} (over ρ)" + tag)
                else:
                    for mode in MODES:
                        ax.errorbar(cfg.rhos, t[mode]["mean"],
                                    yerr=_yerr(t[mode]["mean"], t[mode]["std"], name),
                                    color=colors[mode], ls=ls, marker="o", ms=3, capsize=2,
                                    label=mode + tag)
                    ax.axhline(t["best_global"], color="C0", ls=ls, lw=1,
                               label="best global (over β)" + tag)
            if name != "mc":
                ax.set_yscale("log")
            ax.set(xlabel="β (balance; initial β for adapted)" if xkey == "beta"
                   else "target rate ρ (mean for het)", ylabel=ylabel.get(name, name))
        for ax in list(axes.flat)[len(cfg.tasks):]:
            ax.axis("off")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=7,
                   frameon=False)
        fig.suptitle(f"E/I reservoir N={cfg.n}, c={cfg.c}, {len(cfg.seeds)} seeds "
                     "(mean ± s.d.; lines: best ρ of each mode)" if xkey == "beta" else
                     f"E/I reservoir N={cfg.n}, c={cfg.c}, {len(cfg.seeds)} seeds "
                     "(mean ± s.d.; lines: best β of the global sweep)", fontsize=9)
        fig.tight_layout(rect=(0, 0.03 * (1 + len(labels) // 4), 1, 1))
        paths[fname.replace(".png", "_png")] = os.path.join(out_dir, fname)
        fig.savefig(paths[fname.replace(".png", "_png")], dpi=110)
        plt.close(fig)
    return paths


def run(cfg: Config) -> dict:
    if cfg.x64:
        jax.config.update("jax_enable_x64", True)
    if not set(cfg.betas) >= {0.0}:
        raise ValueError("betas must include 0.0 (the balanced start of the adaptive modes)")
    if len(cfg.betas) < len(cfg.rhos):
        raise ValueError("the global baseline needs a beta grid at least as large as the rho "
                         f"grid (fair tuning), got {len(cfg.betas)} < {len(cfg.rhos)}")
    os.makedirs(cfg.out, exist_ok=True)
    t0 = time.perf_counter()
    n_groups = len({"mg" if t.startswith("mg") else t for t in cfg.tasks})
    total = len(cfg.seeds) * len(cfg.sigma_in) * n_groups * (
        len(cfg.betas) + 3 * len(cfg.rhos) + len(cfg.start_betas))
    bar = None
    if cfg.progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, unit="run", desc="adaptive_ei_reservoir")
    per_seed = {}
    for sig in cfg.sigma_in:
        per_seed[str(sig)] = {s: evaluate_seed(cfg, s, sig, bar) for s in cfg.seeds}
    if bar is not None:
        bar.close()
    summary = summarize(cfg, per_seed)
    metrics = dict(summary=summary, overall=overall(cfg, summary), per_seed=per_seed)
    headline = {}
    for sig, tasks in summary.items():
        for name, t in tasks.items():
            for mode in MODES:
                headline[f"improvement_{mode}_{name}_sigma{sig}"] = \
                    t[mode]["improvement_vs_best_global"]
            headline[f"best_global_{name}_sigma{sig}"] = t["best_global"]
            headline[f"best_adapt_{name}_sigma{sig}"] = t["adapt"]["best"]
    metrics.update(headline)
    best = metrics["overall"]
    for name in cfg.tasks:
        metrics[f"improvement_adapt_{name}_overall"] = \
            best[name]["adapt"]["improvement_vs_best_global"]
    metrics["adaptive_beats_global_on_mc"] = bool(
        "mc" in best and best["mc"]["adapt"]["improvement_vs_best_global"] > 0)
    metrics["adaptive_beats_global_on_a_prediction_task"] = bool(any(
        best[name]["adapt"]["improvement_vs_best_global"] > 0
        for name in cfg.tasks if name != "mc"))
    if cfg.plot:
        metrics.update(plot(cfg, summary, cfg.out))
    metrics["total_seconds"] = time.perf_counter() - t0
    metrics["command"] = " ".join([os.path.basename(sys.executable)] + sys.argv)
    metrics["dtype"] = str(jnp.result_type(float))
    return metrics


def _table(cfg: Config, metrics: dict) -> str:
    lines = []
    for sig, tasks in metrics["summary"].items():
        for name, t in tasks.items():
            row = [f"σin={sig} {name:13s} global {t['best_global']:.4g} (β={t['best_global_beta']})"]
            for mode in MODES:
                m = t[mode]
                row.append(f"{mode} {m['best']:.4g} (ρ={m['best_rho']}) "
                           f"{100 * m['improvement_vs_best_global']:+.1f}% "
                           f"[{m['seeds_better']}/{len(cfg.seeds)} seeds]")
            lines.append(" | ".join(row))
    for name, t in metrics["overall"].items():
        row = [f"best over σin {name:13s} global {t['best_global']:.4g} "
               f"(σin={t['sigma_in']}, β={t['beta']})"]
        for mode in MODES:
            m = t[mode]
            row.append(f"{mode} {m['best']:.4g} (σin={m['sigma_in']}, ρ={m['rho']}) "
                       f"{100 * m['improvement_vs_best_global']:+.1f}%")
        lines.append(" | ".join(row))
    return "\n".join(lines)


def main(argv=None):
    import _cli  # experiments/ is on sys.path when this file runs as a script

    cfg = _cli.parse(Config, argv)
    metrics = run(cfg)
    path = _cli.save_results(cfg, metrics)
    print(_table(cfg, metrics))
    print(json.dumps({k: metrics[k] for k in ("adaptive_beats_global_on_mc",
                                              "adaptive_beats_global_on_a_prediction_task",
                                              "total_seconds")}))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
