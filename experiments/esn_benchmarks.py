"""Echo-state network benchmarks side by side: neurojax vs reservoirpy on the same matrices.

For every task and reservoir size N (``--sizes``, or one size with ``--n``) the reservoir is
built ONCE by reservoirpy 0.4 (``Reservoir(N, sr=, input_scaling=, lr=, input_connectivity=,
seed=)``, initialised before any timing) and its ``W`` / ``Win`` / bias / leak are copied into
a :class:`neurojax.reservoirs.ESN`. Both libraries then solve the same task on the same data:

* reservoirpy, with its documented idioms: ``Reservoir >> Ridge``, ``model.fit(U, Y,
  warmup=washout)`` then ``model.run(U_test)``; memory capacity with
  ``reservoirpy.observables.memory_capacity(model, k_max, seed)`` (which fits a deep copy);
  the closed loop as in the team's anchor (``shared/anchors/reservoirs/bench_reservoirpy.py``):
  fit, ``reservoir.run`` through the test window, then 84-step NumPy rollouts
  ``x <- (1-lr) x + lr tanh(W x + Win y + b)``, ``y <- x Wout + b`` from every 50th test state,
  with reservoirpy's own (scipy-sparse) ``W``.
* neurojax: :func:`neurojax.reservoirs.score` under ``jax.jit`` in float64 (x64 on; the parity
  reference) and, with ``--float32``, with the ESN cast to float32 (float32 ``lax.scan``) while
  the ridge solve stays float64 (``solver="cholesky"`` upcasts the states).

Tasks (``neurojax.reservoirs.tasks``; fixed seeds and splits, specs/reservoirs.md §3): ``mc``
(memory capacity, k_max = 2N unless ``--mc-k-max-cap``), ``narma10``, ``mg_1``,
``mg_84_direct``, ``mg_84_closed``, plus the pure speed task ``drive10k`` (specs §7.3:
``--drive-steps`` = 10,000 training + 10,000 test steps, u ~ U[-1, 1], target
u(t-3) u(t-1), warm-up 100, one output, sr 0.9, input scaling 0.5, ridge 1e-6). Reservoir
hyper-parameters are the selected configurations of specs §7.1 (N = 500's for N >= 300,
N = 100's below).

Timing (per record): ``cpu_seconds_*`` is the process CPU time (all threads) and
``wall_seconds_*`` the wall time of one call, the median of up to ``--repeats`` calls (fewer
when a call exceeds ``--repeat-budget`` s). neurojax: the steady state of the compiled
function (``jit(...).lower().compile()`` is timed as ``compile_seconds``, then one untimed
warm-up call, then the timed calls); data generation and reservoir construction excluded.
reservoirpy: fit + run (+ rollouts) on a deep copy of the initialised reservoir (the copy is
not timed); reservoirpy's initialisation (W draw + spectral-radius rescale) is reported
separately as ``init_*_seconds_reservoirpy``. Speedups are reservoirpy / neurojax.

A sweep (``--sweep``) scores 64 configurations (4 leaks x 4 input scalings x 4 ridge
strengths) of one NARMA-10 reservoir (N = ``--sweep-n``, neurojax's own ``random_esn``): 64
calls of the single jitted score vs one ``vmap`` over the 64 configurations, a nested ``vmap``
(16 reservoirs x 4 ridges, so the 4 ridges share their reservoir's scan and Gram matrix) and a
``lax.map`` in one program (see :func:`run_sweep`).

reservoirpy is optional: if it cannot be imported the peer is skipped (the reason is printed
and stored in results.json), neurojax builds its own reservoirs with ``random_esn`` and the
reservoirpy columns are null.

Writes results.json (``tasks``: one record per (task, N); ``sweep``), table.md, and the plots
score_parity.png and speedups.png into --out. Full run (``--sizes 100 500 2000``): ~20-30 min
on a 2-core CPU (N = 2000 memory capacity dominates); ``--smoke`` (N = 50, short series,
float64 only): ~15 s, mostly XLA compilation.
"""
import copy
import dataclasses
import functools
import json
import os
import statistics
import sys
import time
from typing import Optional

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _cli import parse, save_results  # noqa: E402

TASKS = ("mc", "narma10", "mg_1", "mg_84_direct", "mg_84_closed", "drive10k")

# specs/reservoirs.md §7.1 selected configurations (reservoirpy grid search, selection seeds
# 0-2): sr = spectral radius, iss = input scaling, lr = leak, in_conn = input connectivity.
SELECTED = {
    "mc": {100: dict(sr=1.0, iss=0.01, lr=1.0, in_conn=0.1, ridge=1e-8),
           500: dict(sr=1.0, iss=0.01, lr=1.0, in_conn=0.1, ridge=1e-8)},
    "narma10": {100: dict(sr=0.9, iss=0.1, lr=1.0, in_conn=1.0, ridge=1e-7),
                500: dict(sr=0.8, iss=0.5, lr=1.0, in_conn=0.1, ridge=1e-7)},
    "mg_1": {100: dict(sr=0.9, iss=0.1, lr=1.0, in_conn=1.0, ridge=1e-8),
             500: dict(sr=0.9, iss=0.1, lr=1.0, in_conn=1.0, ridge=1e-8)},
    "mg_84_direct": {100: dict(sr=0.9, iss=0.1, lr=0.3, in_conn=1.0, ridge=1e-8),
                     500: dict(sr=1.25, iss=1.0, lr=0.3, in_conn=1.0, ridge=1e-8)},
    "mg_84_closed": {100: dict(sr=0.9, iss=0.1, lr=0.3, in_conn=1.0, ridge=1e-4),
                     500: dict(sr=0.9, iss=0.1, lr=0.3, in_conn=1.0, ridge=1e-8)},
    # specs §7.3 speed workload (reservoirpy defaults otherwise)
    "drive10k": {100: dict(sr=0.9, iss=0.5, lr=1.0, in_conn=0.1, ridge=1e-6),
                 500: dict(sr=0.9, iss=0.5, lr=1.0, in_conn=0.1, ridge=1e-6)},
}
DRIVE_WARMUP = 100
MG_HORIZON = 84
MG_START_EVERY = 50


@dataclasses.dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...] = (100, 500, 2000)        # reservoir sizes N
    n: Optional[int] = None                          # one size (overrides sizes)
    tasks: tuple[str, ...] = TASKS
    seed: int = 10                                   # data + reservoir seed (specs report seed)
    reservoirpy: bool = True                         # run the peer (if installed)
    float32: bool = True                             # also float32 scan + float64 solve
    mc_k_max_cap: Optional[int] = None               # cap MC's k_max (None: k_max = 2N)
    narma_split: tuple[int, int, int] = (200, 4000, 2000)   # washout, train, test
    mg_split: tuple[int, int, int] = (500, 5000, 2000)      # washout, train, test
    drive_steps: int = 10000                         # drive10k: training = test steps
    repeats: int = 3                                 # timed calls per variant (median)
    repeat_budget: float = 20.0                      # s: no more repeats after a call this long
    sweep: bool = True                               # 64-configuration vmapped NARMA sweep
    sweep_n: int = 100
    plot: bool = True
    progress: bool = True
    out: str = "results/esn_benchmarks"

    def smoke(self) -> "Config":
        return dataclasses.replace(self, sizes=(50,), narma_split=(50, 400, 200),
                                   mg_split=(100, 400, 300), drive_steps=500, repeats=1,
                                   float32=False, sweep_n=50, progress=False)


def check_config(cfg: Config) -> None:
    sizes = (cfg.n,) if cfg.n is not None else cfg.sizes
    if not sizes or any(n < 10 for n in sizes):
        raise ValueError(f"sizes/n: need sizes >= 10, got {sizes}")
    unknown = [t for t in cfg.tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"tasks: unknown {unknown}; choose from {TASKS}")
    if cfg.mc_k_max_cap is not None and cfg.mc_k_max_cap < 1:
        raise ValueError(f"mc_k_max_cap must be >= 1, got {cfg.mc_k_max_cap}")
    for name in ("narma_split", "mg_split"):
        w, tr, te = getattr(cfg, name)
        if not (0 <= w < tr and te > 0):
            raise ValueError(f"{name}: need 0 <= washout < train and test > 0, got {w, tr, te}")
    if cfg.mg_split[2] <= MG_HORIZON + 1 and "mg_84_closed" in cfg.tasks:
        raise ValueError(f"mg_split: the closed loop needs more than {MG_HORIZON + 1} test "
                         f"steps, got {cfg.mg_split[2]}")
    if cfg.drive_steps <= DRIVE_WARMUP:
        raise ValueError(f"drive_steps must exceed the warm-up {DRIVE_WARMUP}")
    if cfg.repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {cfg.repeats}")
    if cfg.sweep_n < 10:
        raise ValueError(f"sweep_n must be >= 10, got {cfg.sweep_n}")


def selected_config(task: str, n: int) -> dict:
    """The §7.1 configuration of ``task`` for size ``n`` (N=500's for n >= 300)."""
    return dict(SELECTED[task][500 if n >= 300 else 100])


def import_reservoirpy():
    """``(modules, None)`` or ``(None, reason)`` when reservoirpy cannot be imported."""
    try:
        import reservoirpy
        from reservoirpy.nodes import Reservoir, Ridge
        from reservoirpy.observables import memory_capacity
    except ImportError as err:
        return None, (f"reservoirpy is not installed ({err}); the reservoirpy peer is skipped "
                      "(pip install reservoirpy to compare)")
    return dict(version=reservoirpy.__version__, Reservoir=Reservoir, Ridge=Ridge,
                memory_capacity=memory_capacity), None


# ================================================================================ tasks


def make_task(name: str, n: int, cfg: Config):
    """The neurojax :class:`Task` (float64 arrays) and its description."""
    from neurojax.reservoirs import tasks as T

    seed = cfg.seed
    if name == "mc":
        k_max = 2 * n if cfg.mc_k_max_cap is None else min(2 * n, cfg.mc_k_max_cap)
        return T.memory_capacity(k_max, seed), dict(k_max=k_max)
    if name == "narma10":
        w, tr, te = cfg.narma_split
        return T.narma10(seed, washout=w, n_train=tr, n_test=te), {}
    w, tr, te = cfg.mg_split
    if name == "mg_1":
        return T.mackey_glass(seed, 1, washout=w, n_train=tr, n_test=te), {}
    if name == "mg_84_direct":
        return T.mackey_glass(seed, MG_HORIZON, washout=w, n_train=tr, n_test=te), {}
    if name == "mg_84_closed":
        return T.mackey_glass(seed, MG_HORIZON, closed=True, washout=w, n_train=tr, n_test=te,
                              start_every=MG_START_EVERY), {}
    if name == "drive10k":
        steps = cfg.drive_steps
        rng = np.random.default_rng(seed)
        u = rng.uniform(-1.0, 1.0, (2 * steps + 5, 1))
        y = np.roll(u, 3, axis=0) * np.roll(u, 1, axis=0)      # u(t-3) u(t-1), as specs §7.3
        import jax.numpy as jnp
        task = T.Task(inputs=jnp.asarray(u[:2 * steps]), targets=jnp.asarray(y[:2 * steps]),
                      truth=None, name="drive10k", metric="nrmse", washout=DRIVE_WARMUP,
                      n_train=steps)
        return task, dict(steps=2 * steps)
    raise ValueError(name)


# ================================================================================ timing


def _clock():
    return time.process_time(), time.perf_counter()


def time_calls(fn, repeats: int, budget: float):
    """Run ``fn`` up to ``repeats`` times (fewer once a call takes > ``budget`` s wall);
    returns (last output, [cpu seconds], [wall seconds])."""
    import jax

    cpus, walls, out = [], [], None
    for _ in range(repeats):
        c0, w0 = _clock()
        out = jax.block_until_ready(fn())
        c1, w1 = _clock()
        cpus.append(c1 - c0)
        walls.append(w1 - w0)
        if walls[-1] > budget:
            break
    return out, cpus, walls


# ================================================================================ neurojax


@functools.lru_cache(maxsize=None)
def _jitted_score():
    import jax

    from neurojax.reservoirs import score
    return jax.jit(functools.partial(score, solver="cholesky"))


def run_neurojax(esn, alpha, task, cfg: Config, dtype) -> dict:
    """Score + steady-state timing of the jitted ``score`` with the ESN cast to ``dtype``
    (the task stays float64; the ridge solve is float64 either way)."""
    import jax
    import jax.numpy as jnp

    esn = jax.tree.map(lambda a: jnp.asarray(a, dtype), esn)
    alpha = jnp.asarray(alpha, jnp.float64)
    c0, w0 = _clock()
    compiled = _jitted_score().lower(esn, alpha, task).compile()
    c1, w1 = _clock()
    first = jax.block_until_ready(compiled(esn, alpha, task))       # warm-up call
    c2, w2 = _clock()
    value, cpus, walls = time_calls(lambda: compiled(esn, alpha, task), cfg.repeats,
                                    cfg.repeat_budget)
    return dict(score=float(value), cpu=statistics.median(cpus), wall=statistics.median(walls),
                cpus=cpus, walls=walls, compile_cpu=c1 - c0, compile=w1 - w0,
                first_call_wall=w2 - w1,
                repeatable=bool(float(value) == float(first)))   # same program, same inputs


# ================================================================================ reservoirpy


def _dense(m):
    return m.toarray() if hasattr(m, "toarray") else np.asarray(m)


def build_reservoirpy(rpy, n: int, hp: dict, seed: int):
    """An initialised reservoirpy Reservoir and its init times (cpu, wall)."""
    c0, w0 = _clock()
    res = rpy["Reservoir"](n, sr=hp["sr"], input_scaling=hp["iss"], lr=hp["lr"],
                           input_connectivity=hp["in_conn"], seed=seed)
    res.initialize(np.zeros((1, 1)))
    c1, w1 = _clock()
    return res, c1 - c0, w1 - w0


def esn_from_reservoirpy(res):
    import jax.numpy as jnp

    from neurojax.reservoirs import ESN
    n = res.units
    return ESN(w=jnp.asarray(_dense(res.W), jnp.float64),
               w_in=jnp.asarray(_dense(res.Win), jnp.float64),
               bias=jnp.asarray(np.broadcast_to(np.asarray(res.bias, np.float64).ravel(), (n,))
                                if np.size(res.bias) in (1, n) else res.bias, jnp.float64),
               leak=jnp.asarray(res.lr, jnp.float64))


def _nrmse(y, y_hat):
    y, y_hat = np.asarray(y, np.float64), np.asarray(y_hat, np.float64)
    return float(np.sqrt(np.mean((y - y_hat) ** 2)) / np.std(y))


def reservoirpy_call(rpy, template, task, info: dict, alpha: float):
    """A zero-argument function running the task once with reservoirpy (on a fresh deep copy
    of the initialised reservoir, made before the clock starts) and returning the score."""
    inputs = np.asarray(task.inputs, np.float64)
    targets = np.asarray(task.targets, np.float64)
    n_tr, washout = task.n_train, task.washout

    def fresh():
        res = copy.deepcopy(template)
        ro = rpy["Ridge"](ridge=alpha)
        return res, ro, res >> ro

    if task.metric == "memory_capacity":
        def call(res, ro, model):
            return float(rpy["memory_capacity"](model, k_max=info["k_max"], seed=info["seed"]))
    elif task.metric == "nrmse":
        def call(res, ro, model):
            model.fit(inputs[:n_tr], targets[:n_tr], warmup=washout)
            return _nrmse(targets[n_tr:], model.run(inputs[n_tr:]))
    else:
        truth = np.asarray(task.truth, np.float64)[:, -1, 0]
        starts, horizon = list(task.starts), task.horizon
        sd = float(np.std(inputs[n_tr:]))

        def call(res, ro, model):
            model.fit(inputs[:n_tr], targets[:n_tr], warmup=washout)
            states = res.run(inputs[n_tr:])          # teacher-forced test window
            W, Win, bias, lr = res.W, res.Win, res.bias, res.lr
            wout, b = np.asarray(ro.Wout), np.asarray(ro.bias).ravel()
            err = []
            for s in starts:                          # anchor: NumPy generative rollouts
                x = states[s].copy()
                y = x @ wout + b
                for _ in range(horizon - 1):
                    x = (1 - lr) * x + lr * np.tanh(W @ x + Win @ y + bias)
                    y = x @ wout + b
                err.append(y[0] - truth[len(err)])
            return float(np.sqrt(np.mean(np.square(err))) / sd)

    def run_once():
        parts = fresh()
        c0, w0 = _clock()
        value = call(*parts)
        c1, w1 = _clock()
        return value, c1 - c0, w1 - w0

    return run_once


def run_reservoirpy(run_once, cfg: Config) -> dict:
    scores, cpus, walls = [], [], []
    for _ in range(cfg.repeats):
        value, c, w = run_once()
        scores.append(value)
        cpus.append(c)
        walls.append(w)
        if w > cfg.repeat_budget:
            break
    return dict(score=scores[-1], cpu=statistics.median(cpus), wall=statistics.median(walls),
                cpus=cpus, walls=walls, scores=scores)


# ================================================================================ one record


def _ratio(a, b):
    return a / b if (a is not None and b is not None and b > 0) else None


def bench_one(name: str, n: int, cfg: Config, rpy, log) -> dict:
    import jax
    import jax.numpy as jnp

    from neurojax.reservoirs import random_esn

    hp = selected_config(name, n)
    task, info = make_task(name, n, cfg)
    info = dict(info, seed=cfg.seed)
    rec = dict(task=name, n=n, config=hp, metric=task.metric, seed=cfg.seed,
               higher_is_better=task.higher_is_better,
               n_steps=int(task.inputs.shape[0]), n_outputs=int(task.targets.shape[1]), **{
                   k: v for k, v in info.items() if k != "seed"})
    if rpy is not None:
        res, init_cpu, init_wall = build_reservoirpy(rpy, n, hp, cfg.seed)
        esn = esn_from_reservoirpy(res)
        rec.update(init_cpu_seconds_reservoirpy=init_cpu, init_wall_seconds_reservoirpy=init_wall,
                   matrices="reservoirpy")
    else:
        res = None
        esn = random_esn(jax.random.key(cfg.seed), n, spectral_radius=hp["sr"], leak=hp["lr"],
                         input_scaling=hp["iss"], input_connectivity=hp["in_conn"],
                         dtype=jnp.float64)
        rec.update(matrices="neurojax.random_esn")

    nj64 = run_neurojax(esn, hp["ridge"], task, cfg, jnp.float64)
    rec.update(score_neurojax=nj64["score"], cpu_seconds_neurojax=nj64["cpu"],
               wall_seconds_neurojax=nj64["wall"], compile_seconds_neurojax=nj64["compile"],
               compile_cpu_seconds_neurojax=nj64["compile_cpu"],
               first_call_wall_seconds_neurojax=nj64["first_call_wall"],
               repeatable_neurojax=nj64["repeatable"],
               cpu_seconds_neurojax_all=nj64["cpus"], wall_seconds_neurojax_all=nj64["walls"])
    if cfg.float32:
        nj32 = run_neurojax(esn, hp["ridge"], task, cfg, jnp.float32)
        rec.update(score_neurojax_f32=nj32["score"], cpu_seconds_neurojax_f32=nj32["cpu"],
                   wall_seconds_neurojax_f32=nj32["wall"],
                   compile_seconds_neurojax_f32=nj32["compile"],
                   cpu_seconds_neurojax_f32_all=nj32["cpus"],
                   wall_seconds_neurojax_f32_all=nj32["walls"],
                   abs_diff_f32_vs_f64=abs(nj32["score"] - nj64["score"]))
    rec.update(score_reservoirpy=None, cpu_seconds_reservoirpy=None,
               wall_seconds_reservoirpy=None)
    if res is not None:
        run_once = reservoirpy_call(rpy, res, task, info, hp["ridge"])
        r = run_reservoirpy(run_once, cfg)
        rec.update(score_reservoirpy=r["score"], cpu_seconds_reservoirpy=r["cpu"],
                   wall_seconds_reservoirpy=r["wall"], cpu_seconds_reservoirpy_all=r["cpus"],
                   wall_seconds_reservoirpy_all=r["walls"], scores_reservoirpy_all=r["scores"])
        rec["abs_diff"] = abs(nj64["score"] - r["score"])
        rec["rel_diff"] = rec["abs_diff"] / abs(r["score"]) if r["score"] else None
        rec["cpu_speedup"] = _ratio(r["cpu"], nj64["cpu"])
        rec["wall_speedup"] = _ratio(r["wall"], nj64["wall"])
        rec["cpu_speedup_incl_rpy_init"] = _ratio(r["cpu"] + rec["init_cpu_seconds_reservoirpy"],
                                                  nj64["cpu"])
        if cfg.float32:
            rec["abs_diff_f32"] = abs(nj32["score"] - r["score"])
            rec["cpu_speedup_f32"] = _ratio(r["cpu"], nj32["cpu"])
            rec["wall_speedup_f32"] = _ratio(r["wall"], nj32["wall"])
    rec["loadavg_1min"] = os.getloadavg()[0]
    log(_summary_line(rec))
    return rec


def _fmt(x, spec=".4g"):
    return "-" if x is None else format(x, spec)


def _summary_line(r: dict) -> str:
    s = (f"{r['task']:>13s} N={r['n']:<5d} nj={_fmt(r['score_neurojax'], '.8g')} "
         f"rpy={_fmt(r['score_reservoirpy'], '.8g')} |d|={_fmt(r.get('abs_diff'), '.2e')} "
         f"cpu nj64={_fmt(r['cpu_seconds_neurojax'], '.3f')}")
    if "cpu_seconds_neurojax_f32" in r:
        s += f" nj32={_fmt(r['cpu_seconds_neurojax_f32'], '.3f')}"
    s += (f" rpy={_fmt(r['cpu_seconds_reservoirpy'], '.3f')} s  speedup(cpu) "
          f"f64 {_fmt(r.get('cpu_speedup'), '.2f')}x f32 {_fmt(r.get('cpu_speedup_f32'), '.2f')}x")
    return s


# ================================================================================ sweep

SWEEP_LEAKS = (1.0, 0.7, 0.5, 0.3)
SWEEP_SCALINGS = (0.05, 0.1, 0.2, 0.5)
SWEEP_RIDGES = (1e-8, 1e-7, 1e-6, 1e-5)


def run_sweep(cfg: Config, log) -> dict:
    """64 NARMA-10 configurations (4 leaks x 4 input scalings x 4 ridges) of one reservoir,
    scored four ways, all jitted, float64, steady state:

    * ``singles``: 64 calls of the jitted single-configuration score;
    * ``vmap``: one ``vmap`` over the 64 configurations (64 batched scans);
    * ``vmap_nested``: ``vmap`` over the 16 (leak, scaling) reservoirs of a ``vmap`` over the
      4 ridges: ``vmap`` batches only what depends on the mapped argument, so each reservoir's
      scan and Gram matrix are computed once and shared by its 4 ridge strengths;
    * ``lax_map``: ``lax.map`` over the 64 configurations inside one jitted program
      (sequential, one dispatch).
    """
    import itertools

    import jax
    import jax.numpy as jnp

    from neurojax.reservoirs import random_esn, score
    from neurojax.reservoirs import tasks as T

    n = cfg.sweep_n
    w, tr, te = cfg.narma_split
    task = T.narma10(cfg.seed, washout=w, n_train=tr, n_test=te)
    base = random_esn(jax.random.key(cfg.seed), n, spectral_radius=0.9, leak=1.0,
                      input_scaling=1.0, input_connectivity=1.0, dtype=jnp.float64)
    grid = np.array(list(itertools.product(SWEEP_LEAKS, SWEEP_SCALINGS, SWEEP_RIDGES)))
    leaks, scalings, ridges = (jnp.asarray(grid[:, i]) for i in range(3))
    n_r = len(SWEEP_RIDGES)
    leaks16, scalings16 = leaks[::n_r], scalings[::n_r]      # ridge is the fastest axis
    ridges4 = jnp.asarray(SWEEP_RIDGES)

    def one(esn, task, leak, scaling, alpha):
        return score(esn._replace(leak=leak, w_in=scaling * esn.w_in), alpha, task,
                     solver="cholesky")

    nested = jax.vmap(jax.vmap(one, in_axes=(None, None, None, None, 0)),
                      in_axes=(None, None, 0, 0, None))
    programs = {
        "singles": (jax.jit(one), (base, task, leaks[0], scalings[0], ridges[0])),
        "vmap": (jax.jit(jax.vmap(one, in_axes=(None, None, 0, 0, 0))),
                 (base, task, leaks, scalings, ridges)),
        "vmap_nested": (jax.jit(lambda e, t, l, s, a: nested(e, t, l, s, a).reshape(-1)),
                        (base, task, leaks16, scalings16, ridges4)),
        "lax_map": (jax.jit(lambda e, t, l, s, a: jax.lax.map(
            lambda z: one(e, t, *z), (l, s, a))), (base, task, leaks, scalings, ridges)),
    }
    out = dict(task="narma10", n=n, n_configs=int(grid.shape[0]), leaks=SWEEP_LEAKS,
               input_scalings=SWEEP_SCALINGS, ridges=SWEEP_RIDGES, methods={})
    scores = {}
    for name, (fn, args) in programs.items():
        c0, w0 = _clock()
        compiled = fn.lower(*args).compile()
        c1, w1 = _clock()
        jax.block_until_ready(compiled(*args))                       # warm-up
        if name == "singles":
            def call(compiled=compiled):
                return jnp.stack([compiled(base, task, leaks[i], scalings[i], ridges[i])
                                  for i in range(grid.shape[0])])
        else:
            def call(compiled=compiled, args=args):
                return compiled(*args)
        value, cpus, walls = time_calls(call, cfg.repeats, cfg.repeat_budget)
        scores[name] = np.asarray(value, np.float64)
        out["methods"][name] = dict(cpu_seconds=statistics.median(cpus),
                                    wall_seconds=statistics.median(walls),
                                    compile_seconds=w1 - w0)
    ref = scores["singles"]
    for name, m in out["methods"].items():
        m["max_abs_diff_vs_singles"] = float(np.nanmax(np.abs(scores[name] - ref)))
        m["cpu_ratio_singles_over_this"] = _ratio(out["methods"]["singles"]["cpu_seconds"],
                                                  m["cpu_seconds"])
    best = int(np.nanargmin(ref))
    ms = out["methods"]
    out.update(
        scores=ref.tolist(), best_score=float(ref[best]),
        best_config=dict(leak=float(grid[best, 0]), input_scaling=float(grid[best, 1]),
                         ridge=float(grid[best, 2])),
        cpu_seconds_64_singles=ms["singles"]["cpu_seconds"],
        wall_seconds_64_singles=ms["singles"]["wall_seconds"],
        cpu_seconds_vmap=ms["vmap"]["cpu_seconds"], wall_seconds_vmap=ms["vmap"]["wall_seconds"],
        cpu_seconds_vmap_nested=ms["vmap_nested"]["cpu_seconds"],
        wall_seconds_vmap_nested=ms["vmap_nested"]["wall_seconds"],
        max_abs_diff_vmap_vs_singles=max(m["max_abs_diff_vs_singles"] for m in ms.values()))
    log(f"sweep NARMA-10 N={n}, 64 configs (CPU s / wall s / x vs singles): " + ", ".join(
        f"{k} {m['cpu_seconds']:.3f} / {m['wall_seconds']:.3f} / "
        f"{m['cpu_ratio_singles_over_this']:.2f}x" for k, m in ms.items())
        + f"; max |diff| {out['max_abs_diff_vmap_vs_singles']:.1e}; best NRMSE "
        f"{out['best_score']:.4f} at {out['best_config']}")
    return out


# ================================================================================ output


def write_table(records, path):
    head = ("| task | N | score neurojax f64 | score reservoirpy | abs diff | score nj f32+f64solve "
            "| CPU s nj f64 | CPU s nj f32 | CPU s rpy | rpy init CPU s | speedup CPU f64 "
            "| speedup CPU f32 | wall s nj f64 / f32 / rpy | compile s f64 |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in records:
        lines.append(
            f"| {r['task']} | {r['n']} | {_fmt(r['score_neurojax'], '.6g')} | "
            f"{_fmt(r['score_reservoirpy'], '.6g')} | {_fmt(r.get('abs_diff'), '.1e')} | "
            f"{_fmt(r.get('score_neurojax_f32'), '.6g')} | "
            f"{_fmt(r['cpu_seconds_neurojax'], '.3g')} | "
            f"{_fmt(r.get('cpu_seconds_neurojax_f32'), '.3g')} | "
            f"{_fmt(r['cpu_seconds_reservoirpy'], '.3g')} | "
            f"{_fmt(r.get('init_cpu_seconds_reservoirpy'), '.3g')} | "
            f"{_fmt(r.get('cpu_speedup'), '.2f')} | {_fmt(r.get('cpu_speedup_f32'), '.2f')} | "
            f"{_fmt(r['wall_seconds_neurojax'], '.3g')} / "
            f"{_fmt(r.get('wall_seconds_neurojax_f32'), '.3g')} / "
            f"{_fmt(r['wall_seconds_reservoirpy'], '.3g')} | "
            f"{_fmt(r['compile_seconds_neurojax'], '.2g')} |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return "\n".join(lines)


def plot_results(records, out_dir) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = {}
    tasks = [t for t in TASKS if any(r["task"] == t for r in records)]
    sizes = sorted({r["n"] for r in records})
    markers = dict(zip(TASKS, "osD^v*"))
    colours = dict(zip(sizes, plt.cm.viridis(np.linspace(0.0, 0.85, max(len(sizes), 1)))))
    paired = [r for r in records if r["score_reservoirpy"] is not None
              and r["score_neurojax"] is not None]
    if paired:
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.6))
        for r in paired:
            ax.loglog(r["score_reservoirpy"], r["score_neurojax"], markers[r["task"]],
                      color=colours[r["n"]], ms=8, mfc="none", mew=1.6)
            d = max(r["abs_diff"], 1e-17)
            bx.semilogy(tasks.index(r["task"]) + 0.2 * (sizes.index(r["n"]) - (len(sizes) - 1) / 2), d,
                        markers[r["task"]], color=colours[r["n"]], ms=8)
            if r.get("abs_diff_f32") is not None:
                bx.semilogy(tasks.index(r["task"]) + 0.2 * (sizes.index(r["n"]) - (len(sizes) - 1) / 2),
                            max(r["abs_diff_f32"], 1e-17), markers[r["task"]],
                            color=colours[r["n"]], ms=8, mfc="none")
        lo = min(min(r["score_reservoirpy"], r["score_neurojax"]) for r in paired)
        hi = max(max(r["score_reservoirpy"], r["score_neurojax"]) for r in paired)
        ax.plot([lo / 2, hi * 2], [lo / 2, hi * 2], "k:", lw=1)
        ax.set_xlabel("score, reservoirpy")
        ax.set_ylabel("score, neurojax (float64)")
        ax.set_title("same matrices, same data")
        for t in tasks:
            ax.plot([], [], markers[t], color="gray", mfc="none", label=t)
        for n in sizes:
            ax.plot([], [], "s", color=colours[n], label=f"N={n}")
        ax.legend(fontsize=7, ncol=2)
        bx.set_xticks(range(len(tasks)), tasks, rotation=30, fontsize=8)
        bx.set_ylabel("|score neurojax - score reservoirpy|")
        bx.set_title("filled: float64, open: float32 scan + float64 solve")
        bx.axhline(1e-6, color="k", ls=":", lw=1)
        fig.tight_layout()
        paths["parity_png"] = os.path.join(out_dir, "score_parity.png")
        fig.savefig(paths["parity_png"], dpi=110)
        plt.close(fig)
    timed = [r for r in records if r.get("cpu_speedup") is not None]
    if timed:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
        width = 0.8 / max(len(sizes), 1)
        for ax, key, title in ((axes[0], "cpu_speedup", "float64"),
                               (axes[1], "cpu_speedup_f32", "float32 scan + float64 solve")):
            for j, n in enumerate(sizes):
                xs, ys = [], []
                for r in timed:
                    if r["n"] == n and r.get(key) is not None:
                        xs.append(tasks.index(r["task"]) + (j - (len(sizes) - 1) / 2) * width)
                        ys.append(r[key])
                ax.bar(xs, ys, width=width, color=colours[n], label=f"N={n}")
            ax.set_yscale("log")
            ax.axhline(1.0, color="k", lw=1)
            ax.axhline(5.0, color="r", ls=":", lw=1, label="5x")
            ax.set_xticks(range(len(tasks)), tasks, rotation=30, fontsize=8)
            ax.set_title(f"neurojax {title}")
            ax.legend(fontsize=7)
        axes[0].set_ylabel("CPU-time speedup vs reservoirpy (steady state)")
        fig.tight_layout()
        paths["speedup_png"] = os.path.join(out_dir, "speedups.png")
        fig.savefig(paths["speedup_png"], dpi=110)
        plt.close(fig)
    return paths


# ================================================================================ main


def main(argv=None) -> dict:
    cfg = parse(Config, argv)
    check_config(cfg)
    import jax

    jax.config.update("jax_enable_x64", True)
    os.makedirs(cfg.out, exist_ok=True)
    sizes = (cfg.n,) if cfg.n is not None else cfg.sizes

    def log(msg):
        print(msg, flush=True)

    rpy, reason = (None, "disabled with --no-reservoirpy")
    if cfg.reservoirpy:
        rpy, reason = import_reservoirpy()
    if rpy is None:
        log(f"NOTE: {reason}")
    else:
        import warnings
        warnings.filterwarnings("ignore", module="reservoirpy")

    units = [(t, n) for n in sizes for t in cfg.tasks]
    bar = None
    if cfg.progress:
        from tqdm import tqdm
        bar = tqdm(total=len(units) + int(cfg.sweep), desc="esn benchmarks", file=sys.stderr)
        log = bar.write  # noqa: F811
    t_start = time.perf_counter()
    loadavg_start = list(os.getloadavg())
    records = []
    with open(os.path.join(cfg.out, "records.jsonl"), "w") as jl:
        for name, n in units:
            rec = bench_one(name, n, cfg, rpy, log)
            records.append(rec)
            jl.write(json.dumps(rec) + "\n")
            jl.flush()
            if bar is not None:
                bar.update()
    sweep = run_sweep(cfg, log) if cfg.sweep else None
    if bar is not None:
        bar.update()
        bar.close()
    table = write_table(records, os.path.join(cfg.out, "table.md"))
    print(table)
    paths = plot_results(records, cfg.out) if cfg.plot else {}

    diffs = [r["abs_diff"] for r in records if r.get("abs_diff") is not None]
    open_loop = [r["abs_diff"] for r in records
                 if r.get("abs_diff") is not None and r["metric"] != "closed_loop_nrmse"]
    metrics = dict(
        tasks=records, sweep=sweep,
        reservoirpy_available=rpy is not None,
        reservoirpy_version=None if rpy is None else rpy["version"],
        reservoirpy_skipped_reason=None if rpy is not None else reason,
        sizes=list(sizes), n_records=len(records),
        mc_k_max_capped=cfg.mc_k_max_cap is not None and any(
            r.get("k_max", 0) < 2 * r["n"] for r in records if r["task"] == "mc"),
        max_abs_diff=max(diffs) if diffs else None,
        max_abs_diff_open_loop=max(open_loop) if open_loop else None,
        total_wall_seconds=time.perf_counter() - t_start,
        cpu_count=os.cpu_count(), loadavg_start=loadavg_start,
        loadavg_end=list(os.getloadavg()),
        **paths)
    path = save_results(cfg, metrics)
    log(f"wrote {path} ({metrics['total_wall_seconds']:.1f} s)")
    return metrics


if __name__ == "__main__":
    main()
