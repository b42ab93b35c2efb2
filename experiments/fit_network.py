"""Fit the E/I weights and the external drive of a COBA network to target rates and ISI CV.

The network is the Vogels & Abbott (2005) COBA network of ``coba.py`` (same builder,
``coba.build``), smaller (default N = 800, 80 % E) and run for short windows (default
200 ms at dt = 0.25 ms). Three parameters are fitted by gradient descent
(``neurojax.fitting.fit``, Adam on the unconstrained coordinates of a ``ParamSpace``):

    w_exc (nS)  weight of every E synapse            Bounded(1, 15)
    w_inh (nS)  weight of every I synapse            Bounded(20, 200)
    i_e   (pA)  constant drive of every neuron       Bounded(110, 400)

to three population statistics measured after a ``warmup`` (default 25 ms):

    rate_exc, rate_inh   mean rate of the E and of the I neurons (Hz)
    cv                   mean over neurons of the CV of their ISIs (neurons with at least
                         ``cv_min_isi + 1`` spikes in the window), as ``coba.py`` reports it

with the loss  ((r_E - r_E*) / r_E*)^2 + ((r_I - r_I*) / r_I*)^2 + cv_weight (cv - cv*)^2.

Gradients. Spikes are the LIF's surrogate spikes (``nj.LIF().spike_fn``, SuperSpike on the
threshold-normalised membrane potential): the forward pass is the exact spiking network, the
backward pass differentiates through the surrogate. The statistics are computed from the
recorded spike trains with values equal to the exact ones (checked at run time against
``nj.metrics``, ``soft_equals_exact_max_abs_diff`` in results.json):

* rates: sums of the surrogate spike trains (gradient through the surrogate);
* CV: a scan over the spike train keeps, per neuron, the time of its last spike and whether
  it has spiked; a spike ends an ISI unless it is the neuron's first. The sums of the ISI
  counts, ISIs and squared ISIs give each neuron's mean and variance. Two gradients
  (``cv_gradient``):

  - ``"timing"`` (default): spikes are held fixed and each spike time is the sub-step
    threshold crossing interpolated from the recorded membrane potential and conductances
    (``crossing_times``), a smooth function of the parameters; the CV of these times
    supplies the gradient, the value is the CV on the step grid (straight-through);
  - ``"surrogate"``: the ISIs on the step grid, differentiated through the surrogate spikes
    (a fractional spike adds a fractional ISI and splits the current one).

  In both the square root of the variance is differentiated as
  sqrt(var + (cv_grad_floor * mean)^2), since sqrt has an infinite slope at a regular train.

Measured at the truth (N = 800, dt = 0.25 ms, 200 ms, tbptt 25 ms, 3 networks; finite
differences by regression over +-2 steps of 0.3 nS / 3 nS / 5 pA): the rate rows of the
surrogate Jacobian point the same way as the finite-difference ones (cosine 0.997 and 0.999;
magnitudes within a factor 2.5), but d cv / d w_exc is +77 per nS with the surrogate CV
gradient (+16 with the square-root floor) while finite differences give 0.00 +- 0.04: a
surrogate spike inserted anywhere raises the CV, whereas a real parameter change mostly
shifts spike times. The timing gradient gives -0.009 per nS, consistent with the flat CV.
The CV at this operating point is therefore nearly insensitive to the three parameters over
small changes; fits match it only as far as the rates allow (see the README numbers).

Back-propagation through the whole chaotic recurrent network diverges (measured at the
default point, N = 400: d rate_E / d w_exc is 3 Hz/nS over 25 ms, -250 over 100 ms and
+29,000 over 200 ms, while finite differences give a few Hz/nS). The loss therefore uses
truncated BPTT: the run is cut into segments of ``tbptt`` ms (default 25 ms); the state
passed from one segment to the next is ``stop_gradient``-ed, so every segment contributes the
gradient of its own spikes to the parameters. The forward pass is unchanged.

Two fits are run:

1. recovery: targets are the statistics of a ground-truth parameter set (default the COBA
   values 6 nS, 67 nS, 200 pA) on the same network and initial state; the fit starts from
   ``init_*`` (and ``n_starts - 1`` random draws of the space). Reported: recovered vs true
   parameters, achieved vs target statistics, plus the finite-difference Jacobian of the
   statistics at the truth (its singular values say how identifiable the parameters are from
   these three numbers) and the surrogate (truncated-BPTT) Jacobian for comparison.
2. user: targets ``(target_rate_exc, target_rate_inh, target_cv)`` from the command line.

Both fits are re-evaluated on ``eval_seeds`` other networks (other connectivity and initial
potentials) to show how much of the match is specific to the fitted network instance.

E and I neurons of this model are identical cells with the same in-degree statistics, so
their rates differ only by chance and network structure (a few Hz at N = 800): targets with
rate_E far from rate_I cannot be reached with these three parameters.

Writes results.json, loss_curve.png, profiles.png (the recovery loss along each parameter
through the truth) and raster_{recovery,user}_{before,after}.png into --out.
"""
import dataclasses
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import neurojax as nj
from neurojax import fitting

import coba  # experiments/ is on sys.path when this file runs as a script

NAMES = ("w_exc", "w_inh", "i_e")
UNITS = {"w_exc": "nS", "w_inh": "nS", "i_e": "pA"}
STATS = ("rate_exc", "rate_inh", "cv")


@dataclasses.dataclass(frozen=True)
class Config:
    n: int = 800                   # neurons (E + I)
    exc_fraction: float = 0.8
    k: int = 80                    # out-degree (coba.py)
    dt: float = 0.25               # ms
    duration: float = 200.0        # ms simulated per loss evaluation
    warmup: float = 25.0           # ms at the start excluded from the statistics
    tbptt: float = 25.0            # ms per truncated-BPTT segment (must divide duration)
    seed: int = 0                  # network (connectivity, initial potentials)
    event_driven: bool = True      # event-driven spike propagation (coba.py)
    true_w_exc: float = 6.0        # nS  ground truth of the recovery fit
    true_w_inh: float = 67.0       # nS
    true_i_e: float = 200.0        # pA
    init_w_exc: float = 3.0        # nS  first start of both fits
    init_w_inh: float = 120.0      # nS
    init_i_e: float = 300.0        # pA
    w_exc_bounds: tuple[float, float] = (1.0, 15.0)
    w_inh_bounds: tuple[float, float] = (20.0, 200.0)
    i_e_bounds: tuple[float, float] = (110.0, 400.0)
    user: bool = True              # also fit the user-specified targets below
    target_rate_exc: float = 10.0  # Hz
    target_rate_inh: float = 12.0  # Hz
    target_cv: float = 0.8
    cv_weight: float = 1.0         # weight of (cv - cv*)^2 against squared relative rate errors
    cv_min_isi: int = 2            # a neuron enters the CV with at least this many ISIs
    cv_gradient: str = "timing"    # "timing" (interpolated spike times) or "surrogate"
    cv_grad_floor: float = 0.2     # gradient of the CV uses sqrt(var + (floor mean)^2)
    fit_params: tuple[str, ...] = ("w_exc", "w_inh", "i_e")  # the others stay at true_*
    n_starts: int = 2              # starts per fit (first = init_*, others space.sample)
    n_steps: int = 100             # Adam steps
    lr: float = 0.05               # Adam learning rate (unconstrained coordinates), cosine
    lr_final: float = 0.1          # ... decayed to lr * lr_final at the last step
    chunk: int = 25                # optimiser steps per compiled call
    eval_seeds: int = 3            # other networks on which the fitted parameters are checked
    fd_jacobian: bool = True       # finite-difference + surrogate Jacobians at the truth
    profile_points: int = 25       # loss profiles through the truth: points per parameter (0: none)
    raster_neurons: int = 200
    progress: bool = True
    out: str = "results/fit_network"

    def smoke(self) -> "Config":
        return dataclasses.replace(self, n=400, dt=0.5, duration=80.0, warmup=20.0, tbptt=20.0,
                                   n_starts=1, n_steps=10, chunk=10, eval_seeds=1,
                                   fd_jacobian=False, profile_points=5, raster_neurons=100)


# ------------------------------------------------------------------------------------------
# Statistics with surrogate gradients
# ------------------------------------------------------------------------------------------

def _isi_moments(spikes, times, dt: float):
    """Per-neuron sums over ISIs: (count, sum ISI, sum ISI^2) on the step grid and with the
    interpolated spike ``times`` (ms, ``(T, n)``, used where a spike occurs; None: grid only)."""
    n = spikes.shape[1]
    interp = times is not None
    if not interp:
        times = jnp.zeros_like(spikes)

    def body(carry, x):
        tau, seen, last = carry
        s_t, t_t = x
        tau = tau + dt                           # grid time since the last spike
        w = s_t * seen                           # an ISI ends here (not the first spike)
        isi = t_t - last                         # interpolated ISI (if it ends here)
        out = (w, w * tau, w * tau * tau, w * isi, w * isi * isi)
        tau = tau * (1.0 - s_t)                  # reset on a spike
        last = last + s_t * (t_t - last)         # time of the last spike
        seen = seen + s_t - seen * s_t           # OR
        return (tau, seen, last), out

    zeros = jnp.zeros((n,), spikes.dtype)
    _, outs = jax.lax.scan(body, (zeros, zeros, zeros), (spikes, times))
    c, g1, g2, i1, i2 = (o.sum(0) for o in outs)
    return c, (g1, g2), ((i1, i2) if interp else None)


def _mean_cv(c, m1, m2, min_isi: int, floor: float):
    """Mean over qualifying neurons of sqrt(var)/mean; the gradient uses
    sqrt(var + (floor * mean)^2) / mean (finite for regular trains), the value is exact."""
    ok = jax.lax.stop_gradient(c) > min_isi - 0.5
    c_safe = jnp.where(ok, c, 1.0)
    mean = jnp.where(ok, m1 / c_safe, 1.0)
    var = jnp.maximum(m2 / c_safe - mean * mean, 0.0)
    exact = jnp.sqrt(var) / mean
    smooth = jnp.sqrt(var + (floor * mean) ** 2) / mean
    cv = smooth + jax.lax.stop_gradient(exact - smooth)
    return jnp.sum(jnp.where(ok, cv, 0.0)) / jnp.maximum(jnp.sum(ok), 1)


def soft_isi_cv(spikes, dt: float, min_isi: int, *, times=None, mode: str = "timing",
                floor: float = 0.2):
    """Mean CV of the ISIs over neurons with ``>= min_isi`` ISIs, with a surrogate gradient.

    ``spikes``: ``(T, n)`` 0/1 floats (surrogate spikes). The value always equals
    ``np.nanmean(nj.metrics.isi_cv(spikes, dt, min_spikes=min_isi + 1))`` (0 if no neuron
    qualifies). The gradient (see the module docstring):

    * ``mode="surrogate"``: through the spikes, the ISIs on the step grid;
    * ``mode="timing"``: through the interpolated spike ``times`` only (spikes held fixed):
      the CV of the sub-step threshold-crossing times, whose value is replaced by the grid
      value (straight-through).
    """
    if mode == "surrogate":
        c, (g1, g2), _ = _isi_moments(spikes, None, dt)
        return _mean_cv(c, g1, g2, min_isi, floor)
    if mode != "timing":
        raise ValueError(f"cv_gradient must be 'timing' or 'surrogate', got {mode!r}")
    s = jax.lax.stop_gradient(spikes)
    c, (g1, g2), (i1, i2) = _isi_moments(s, times, dt)
    grid = _mean_cv(c, g1, g2, min_isi, floor)
    interp = _mean_cv(c, i1, i2, min_isi, floor)
    return interp + jax.lax.stop_gradient(grid - interp)


@dataclasses.dataclass(frozen=True)
class SpikeVoltageRecord:
    """Records spikes, membrane potential and the two conductances of population "P" (what
    :func:`crossing_times` needs). Hashable, so ``simulate`` compiles once."""

    def __call__(self, state):
        return {"spike": state.pops["P"].spike, "v": state.pops["P"].v,
                "g_exc": state.projs["exc"].syn.g, "g_inh": state.projs["inh"].syn.g}


RECORD = SpikeVoltageRecord()


def crossing_times(p, v0, rec, dt: float):
    r"""Sub-step threshold-crossing times (ms, ``(T, n)``; meaningful where a spike occurs).

    At record index $r$ (the step from $r\,\Delta t$ to $(r+1)\,\Delta t$) the LIF integrates
    $V_{r-1} \to V^\mathrm{free}_r$ exactly with the conductances of that step (recorded);
    the crossing time is interpolated linearly, $t = (r + \phi)\Delta t$ with
    $\phi = (V_\mathrm{th} - V_{r-1}) / (V^\mathrm{free}_r - V_{r-1})$. It depends smoothly
    on the parameters, so the CV of these times has a gradient at fixed spike count.
    """
    v_prev = jnp.concatenate([v0[None], rec["v"][:-1]], axis=0)
    g_leak = p.c_m / p.tau_m
    g_tot = g_leak + rec["g_exc"] + rec["g_inh"]
    v_inf = (g_leak * p.v_rest + rec["g_exc"] * p.e_exc + rec["g_inh"] * p.e_inh + p.i_e) / g_tot
    v_free = v_inf + (v_prev - v_inf) * jnp.exp(-dt * g_tot / p.c_m)
    spiked = jax.lax.stop_gradient(rec["spike"]) > 0
    den = jnp.where(spiked, v_free - v_prev, 1.0)
    phi = jnp.clip(jnp.where(spiked, (p.v_th - v_prev) / den, 1.0), 0.0, 1.0)
    r = jnp.arange(rec["v"].shape[0], dtype=v_prev.dtype)[:, None]
    return (r + phi) * dt


def coba_config(cfg: Config, seed=None) -> coba.Config:
    return dataclasses.replace(
        coba.Config(), n=cfg.n, exc_fraction=cfg.exc_fraction, k=cfg.k, dt=cfg.dt,
        duration=cfg.duration, seed=cfg.seed if seed is None else seed,
        event_driven=cfg.event_driven, w_exc=cfg.true_w_exc, w_inh=cfg.true_w_inh,
        i_e=cfg.true_i_e, progress=False)


def steps(cfg: Config):
    """(total steps, warm-up steps, steps per truncated-BPTT segment), checked."""
    def count(ms, what):
        s = int(round(ms / cfg.dt))
        if abs(s * cfg.dt - ms) > 1e-9 * max(1.0, ms):
            raise ValueError(f"{what}={ms} ms is not a multiple of dt={cfg.dt} ms")
        return s
    T, W, S = count(cfg.duration, "duration"), count(cfg.warmup, "warmup"), count(cfg.tbptt, "tbptt")
    if S < 1 or T % S:
        raise ValueError(f"tbptt={cfg.tbptt} ms must divide duration={cfg.duration} ms")
    if not 0 <= W < T:
        raise ValueError(f"warmup={cfg.warmup} ms must be shorter than duration={cfg.duration} ms")
    return T, W, S


def make_model(cfg: Config, seed=None):
    """``(stats_fn, sim_fn, n_exc)`` for the network of ``seed`` (default ``cfg.seed``).

    ``stats_fn(theta) -> {rate_exc, rate_inh, cv}`` (truncated BPTT, differentiable);
    ``sim_fn(theta) -> (T, n)`` spikes (forward only, jitted). ``theta`` = ``{w_exc, w_inh, i_e}``.
    """
    ccfg = coba_config(cfg, seed)
    net, params, state = coba.build(ccfg)
    n_exc = coba.n_excitatory(ccfg)
    n = cfg.n
    T, W, S = steps(cfg)
    seconds = (T - W) * cfg.dt * 1e-3

    def with_theta(theta):
        p = dict(params)
        p["P"] = p["P"]._replace(i_e=theta["i_e"])
        p["exc"] = p["exc"]._replace(w=theta["w_exc"])
        p["inh"] = p["inh"]._replace(w=theta["w_inh"])
        return p

    def run_segments(theta, truncate):
        p = with_theta(theta)

        def segment(st, _):
            if truncate:
                st = jax.lax.stop_gradient(st)
            st, rec = nj.simulate(net, p, st, n_steps=S, record=RECORD)
            return st, rec

        _, rec = jax.lax.scan(segment, state, None, length=T // S)
        rec = jax.tree.map(lambda x: x.reshape(T, n), rec)
        return p, rec

    def stats_fn(theta):
        p, rec = run_segments(theta, True)
        s = rec["spike"]
        times = None
        if cfg.cv_gradient == "timing":
            times = crossing_times(p["P"], state.pops["P"].v, rec, cfg.dt)[W:]
        s = s[W:]
        return {"rate_exc": s[:, :n_exc].sum() / (n_exc * seconds),
                "rate_inh": s[:, n_exc:].sum() / ((n - n_exc) * seconds),
                "cv": soft_isi_cv(s, cfg.dt, cfg.cv_min_isi, times=times, mode=cfg.cv_gradient,
                                  floor=cfg.cv_grad_floor)}

    @jax.jit
    def sim_fn(theta):
        return run_segments(theta, False)[1]["spike"]

    return stats_fn, sim_fn, n_exc


def exact_stats(cfg: Config, s, n_exc) -> dict:
    """Host-side statistics of 0/1 spikes with nj.metrics (the reference for the soft ones)."""
    _, W, _ = steps(cfg)
    s = np.asarray(s)[W:]
    rates = np.asarray(nj.metrics.firing_rates(s, cfg.dt))
    cv = nj.metrics.isi_cv(s, cfg.dt, min_spikes=cfg.cv_min_isi + 1)
    return {"rate_exc": float(rates[:n_exc].mean()), "rate_inh": float(rates[n_exc:].mean()),
            "cv": float(np.nanmean(cv)) if np.isfinite(cv).any() else 0.0,
            "cv_neurons": int(np.isfinite(cv).sum())}


def loss_of(cfg: Config, stats: dict, target: dict):
    return (((stats["rate_exc"] - target["rate_exc"]) / target["rate_exc"]) ** 2
            + ((stats["rate_inh"] - target["rate_inh"]) / target["rate_inh"]) ** 2
            + cfg.cv_weight * (stats["cv"] - target["cv"]) ** 2)


def fitted(cfg: Config) -> tuple:
    bad = [k for k in cfg.fit_params if k not in NAMES]
    if bad or not cfg.fit_params or len(set(cfg.fit_params)) != len(cfg.fit_params):
        raise ValueError(f"fit_params must be distinct names among {NAMES}, got {cfg.fit_params}")
    return tuple(k for k in NAMES if k in cfg.fit_params)


def truth_of(cfg: Config) -> dict:
    return {"w_exc": cfg.true_w_exc, "w_inh": cfg.true_w_inh, "i_e": cfg.true_i_e}


def space_of(cfg: Config) -> fitting.ParamSpace:
    bounds = {"w_exc": cfg.w_exc_bounds, "w_inh": cfg.w_inh_bounds, "i_e": cfg.i_e_bounds}
    return fitting.ParamSpace({k: fitting.Bounded(*bounds[k]) for k in fitted(cfg)})


def theta_of(d: dict) -> dict:
    return {k: jnp.asarray(d[k], jnp.result_type(float)) for k in NAMES}


def floats(d: dict) -> dict:
    return {k: float(v) for k, v in d.items()}


# ------------------------------------------------------------------------------------------
# Fitting
# ------------------------------------------------------------------------------------------

def run_fit(cfg: Config, stats_fn, target: dict, key, label: str) -> dict:
    space = space_of(cfg)
    names = fitted(cfg)
    target = {k: float(target[k]) for k in STATS}
    frozen = {k: v for k, v in truth_of(cfg).items() if k not in names}

    def loss_fn(theta):
        return loss_of(cfg, stats_fn({**frozen, **theta}), target)

    start = {k: float(getattr(cfg, f"init_{k}")) for k in names}
    init = {k: np.full((cfg.n_starts,), start[k]) for k in names}
    if cfg.n_starts > 1:
        draws = space.sample(key, cfg.n_starts - 1)
        for k in names:
            init[k][1:] = np.asarray(draws[k])
    print(f"[{label}] target {target}; fitting {names} (frozen {frozen}); {cfg.n_starts} "
          f"start(s), {cfg.n_steps} Adam steps")
    lr = optax.cosine_decay_schedule(cfg.lr, cfg.n_steps, alpha=cfg.lr_final)
    res = fitting.fit(loss_fn, space, key=key, n_starts=cfg.n_starts, n_steps=cfg.n_steps,
                      optimizer=optax.adam(lr), init=init, progress=cfg.progress,
                      chunk=cfg.chunk)
    full = lambda d, j=None: {**frozen, **{k: float(np.asarray(d[k]) if j is None
                                                    else np.asarray(d[k])[j]) for k in names}}
    return dict(target=target, init={**frozen, **start}, result=res, seconds=res.seconds,
                history=np.asarray(res.history), best_params=full(res.best_params),
                best_loss=res.best_loss, fitted=list(names), frozen=frozen,
                starts=[full(init, j) for j in range(cfg.n_starts)],
                final_params_per_start=[full(res.params, j) for j in range(cfg.n_starts)],
                final_loss_per_start=np.asarray(res.losses).tolist())


def jacobians(cfg: Config, stats_fn, truth: dict) -> dict:
    """Finite-difference (forward, regression over +-1, +-2 steps) and surrogate Jacobians of
    the statistics at the truth, in units of stat per parameter unit, plus singular values of
    the FD Jacobian scaled to relative changes (stat / target per parameter / range)."""
    f = jax.jit(stats_fn)
    vec = lambda d: np.array([float(d[k]) for k in STATS])
    h = {"w_exc": 0.3, "w_inh": 3.0, "i_e": 5.0}
    offsets = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    fd = np.zeros((3, 3))
    for j, name in enumerate(NAMES):
        vals = []
        for m in offsets:
            th = dict(truth)
            th[name] = truth[name] + m * h[name]
            vals.append(vec(f(theta_of(th))))
        vals = np.array(vals)
        fd[:, j] = (offsets[:, None] * (vals - vals.mean(0))).sum(0) / (offsets ** 2).sum() / h[name]
    t0 = time.perf_counter()
    jac = jax.jit(jax.jacrev(stats_fn))(theta_of(truth))
    sur = np.array([[float(jac[s][p]) for p in NAMES] for s in STATS])
    sur_s = time.perf_counter() - t0
    at = vec(f(theta_of(truth)))
    ranges = np.array([cfg.w_exc_bounds[1] - cfg.w_exc_bounds[0],
                       cfg.w_inh_bounds[1] - cfg.w_inh_bounds[0],
                       cfg.i_e_bounds[1] - cfg.i_e_bounds[0]])
    scale_rows = np.array([1 / at[0], 1 / at[1], np.sqrt(cfg.cv_weight)])   # loss metric
    rel = fd * scale_rows[:, None] * ranges[None, :]
    cos = [float(fd[i] @ sur[i] / (np.linalg.norm(fd[i]) * np.linalg.norm(sur[i]) + 1e-30))
           for i in range(3)]
    return dict(rows=list(STATS), cols=list(NAMES), fd_steps=h, fd=fd, surrogate_tbptt=sur,
                surrogate_seconds=sur_s, row_cosine_fd_vs_surrogate=cos,
                singular_values_relative=np.linalg.svd(rel, compute_uv=False))


def profiles(cfg: Config, stats_jit, truth: dict, target: dict) -> dict:
    """Recovery loss along each parameter over its bounds, the others at the truth (forward
    runs; the values are the exact statistics)."""
    bounds = {"w_exc": cfg.w_exc_bounds, "w_inh": cfg.w_inh_bounds, "i_e": cfg.i_e_bounds}
    out = {}
    for name in NAMES:
        grid = np.linspace(*bounds[name], cfg.profile_points)
        rows = []
        for x in grid:
            st = floats(stats_jit(theta_of({**truth, name: float(x)})))
            rows.append(dict(value=float(x), loss=float(loss_of(cfg, st, target)), **st))
        out[name] = rows
    return out


def plot_profiles(prof: dict, truth: dict, path: str) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(prof), figsize=(4 * len(prof), 3.4))
    for ax, (name, rows) in zip(np.atleast_1d(axes), prof.items()):
        ax.semilogy([r["value"] for r in rows], [max(r["loss"], 1e-6) for r in rows], "o-", ms=3)
        ax.axvline(truth[name], color="k", ls=":", label="truth")
        ax.set_xlabel(f"{name} ({UNITS[name]})")
        ax.set_ylabel("recovery loss")
        ax.legend(fontsize=8)
    fig.suptitle("loss along each parameter, the others at the truth")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_loss(fits: dict, path: str) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, fr in fits.items():
        h = fr["history"]
        for j in range(h.shape[1]):
            ax.semilogy(np.arange(h.shape[0]), h[:, j], lw=1.2,
                        label=f"{label} start {j}")
    ax.set_xlabel("Adam step")
    ax.set_ylabel("loss")
    ax.set_title("fit_network: loss per start")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def raster(cfg: Config, s, n_exc, path, title) -> str:
    show_e = min(n_exc, int(round(cfg.raster_neurons * cfg.exc_fraction)))
    show_i = min(cfg.n - n_exc, cfg.raster_neurons - show_e)
    cols = np.concatenate([np.arange(show_e), n_exc + np.arange(show_i)])
    return nj.plotting.raster(np.asarray(s)[:, cols], cfg.dt, path, title=title,
                              groups={"E": (0, show_e), "I": (show_e, show_e + show_i)})


def evaluate(cfg: Config, label: str, fr: dict, sim_fn, stats_jit, n_exc, others) -> dict:
    """Achieved statistics (exact and soft) before/after, other seeds, rasters."""
    out = {}
    for when, theta in (("before", fr["init"]), ("after", fr["best_params"])):
        s = np.asarray(sim_fn(theta_of(theta)))
        ex = exact_stats(cfg, s, n_exc)
        soft = floats(stats_jit(theta_of(theta)))
        out[when] = dict(params=theta, stats=ex, soft_stats=soft,
                         loss=float(loss_of(cfg, ex, fr["target"])))
        st = ex
        out[f"raster_{when}_png"] = raster(
            cfg, s, n_exc, os.path.join(cfg.out, f"raster_{label}_{when}.png"),
            f"{label}, {when}: w_exc {theta['w_exc']:.2f} nS, w_inh {theta['w_inh']:.1f} nS, "
            f"i_e {theta['i_e']:.0f} pA\nrate E {st['rate_exc']:.1f} Hz, I {st['rate_inh']:.1f}"
            f" Hz, CV {st['cv']:.2f}")
    out["soft_equals_exact_max_abs_diff"] = max(
        abs(out["after"]["soft_stats"][k] - out["after"]["stats"][k]) for k in STATS)
    seeds = []
    for seed, (sim_o, n_exc_o) in others.items():
        s = np.asarray(sim_o(theta_of(fr["best_params"])))
        ex = exact_stats(cfg, s, n_exc_o)
        seeds.append(dict(seed=seed, stats=ex, loss=float(loss_of(cfg, ex, fr["target"]))))
    out["other_seeds"] = seeds
    return out


def run(cfg: Config) -> dict:
    t_start = time.perf_counter()
    os.makedirs(cfg.out, exist_ok=True)
    fitted(cfg)
    if cfg.cv_gradient not in ("timing", "surrogate"):
        raise ValueError(f"cv_gradient must be 'timing' or 'surrogate', got {cfg.cv_gradient!r}")
    stats_fn, sim_fn, n_exc = make_model(cfg)
    stats_jit = jax.jit(stats_fn)
    truth = truth_of(cfg)
    t0 = time.perf_counter()
    s_true = np.asarray(sim_fn(theta_of(truth)))
    truth_stats = exact_stats(cfg, s_true, n_exc)
    target_rec = {k: truth_stats[k] for k in STATS}
    truth_sim_s = time.perf_counter() - t0
    print(f"truth {truth}: {truth_stats} ({truth_sim_s:.1f} s incl. compile)")
    others = {}
    for j in range(cfg.eval_seeds):
        seed = cfg.seed + 1 + j
        _, sim_o, n_exc_o = make_model(cfg, seed)
        others[seed] = (sim_o, n_exc_o)
    truth_other = [exact_stats(cfg, np.asarray(sim_o(theta_of(truth))), n_o)
                   for sim_o, n_o in others.values()]
    # the true parameters scored against this network's targets on the other networks: the
    # loss that network-to-network variability alone produces
    floor = [float(loss_of(cfg, st, target_rec)) for st in truth_other]

    key = jax.random.PRNGKey(cfg.seed)
    k_rec, k_user = jax.random.split(key)
    fits = {"recovery": run_fit(cfg, stats_fn, target_rec, k_rec, "recovery")}
    if cfg.user:
        fits["user"] = run_fit(cfg, stats_fn, {"rate_exc": cfg.target_rate_exc,
                                               "rate_inh": cfg.target_rate_inh,
                                               "cv": cfg.target_cv}, k_user, "user")
    metrics = dict(n_neurons=cfg.n, n_exc=n_exc, n_steps_sim=steps(cfg)[0],
                   truth=truth, truth_stats=truth_stats, truth_stats_other_seeds=truth_other,
                   truth_loss_other_seeds=floor,
                   device=str(jax.devices()[0]), dtype=str(jnp.result_type(float)))
    for label, fr in fits.items():
        ev = evaluate(cfg, label, fr, sim_fn, stats_jit, n_exc, others)
        m = dict(target=fr["target"], fitted=fr["fitted"], frozen=fr["frozen"],
                 init=fr["init"], best_params=fr["best_params"],
                 best_loss_soft=fr["best_loss"], fit_seconds=fr["seconds"],
                 n_evals=int(fr["result"].n_evals), n_nan=int(fr["result"].n_nan),
                 seconds_per_step=fr["seconds"] / max(1, fr["history"].shape[0]),
                 loss_curve=fr["history"], starts=fr["starts"],
                 final_params_per_start=fr["final_params_per_start"],
                 final_loss_per_start=fr["final_loss_per_start"], **ev)
        if label == "recovery":
            m["param_rel_error"] = {k: (fr["best_params"][k] - truth[k]) / truth[k]
                                    for k in NAMES}
            m["init_rel_error"] = {k: (fr["init"][k] - truth[k]) / truth[k] for k in NAMES}
        metrics[label] = m
        print(f"[{label}] best {fr['best_params']} loss {fr['best_loss']:.4g}; achieved "
              f"{ev['after']['stats']} vs target {fr['target']} ({fr['seconds']:.1f} s)")
    if cfg.fd_jacobian:
        t0 = time.perf_counter()
        metrics["jacobian_at_truth"] = jacobians(cfg, stats_fn, truth)
        metrics["jacobian_seconds"] = time.perf_counter() - t0
    if cfg.profile_points > 0:
        t0 = time.perf_counter()
        metrics["profiles"] = profiles(cfg, stats_jit, truth, target_rec)
        metrics["profiles_seconds"] = time.perf_counter() - t0
        metrics["profiles_png"] = plot_profiles(metrics["profiles"], truth,
                                                os.path.join(cfg.out, "profiles.png"))
    metrics["loss_curve_png"] = plot_loss(fits, os.path.join(cfg.out, "loss_curve.png"))
    metrics["total_seconds"] = time.perf_counter() - t_start
    return metrics


def main(argv=None):
    import _cli

    cfg = _cli.parse(Config, argv)
    metrics = run(cfg)
    path = _cli.save_results(cfg, metrics)
    summary = {label: {"best_params": metrics[label]["best_params"],
                       "achieved": metrics[label]["after"]["stats"],
                       "target": metrics[label]["target"],
                       "fit_seconds": metrics[label]["fit_seconds"]}
               for label in ("recovery", "user") if label in metrics}
    summary["total_seconds"] = metrics["total_seconds"]
    print(json.dumps(summary, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
