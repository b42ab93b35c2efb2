"""Micro-benchmark of the spike-propagation kernels (CPU): event-driven vs dense reference.

Times ``event_scatter`` (push: compaction + gather + one scatter-add, exact on overflow),
``event_gather`` (pull: scatter-free over a by-post table) and ``event_scatter_reference``
(dense over all synapse slots) inside one jitted ``lax.scan`` of ``steps`` propagation steps,
which amortises the dispatch cost as in a simulation. Two workloads per (N, activity):

* ``fwd``: ``acc += y_t`` over the steps;
* ``fwd+bwd``: ``jax.grad`` of ``sum_t <tanh(y_t), r_t>`` w.r.t. the weights and a spike
  gain ``a`` (``s_t = a * pool_t``), i.e. both the weight and the dense spike gradient of a
  surrogate-gradient rollout (the ``tanh`` keeps the forward alive: with a loss linear in
  ``y`` XLA drops the forward pass).

plus a ``vmap`` workload (a batch of trials sharing the table) that compares the kernel's
overflow handling (a ``while_loop`` over chunks of ``max_events`` active rows) with the
``lax.cond``-to-dense alternative, which ``vmap`` turns into "run both branches", and a
``learn`` workload: ``steps`` clipped pair-STDP updates of the accumulated change ``dw``
(``pair_update``: in place, only the synapses of active pre rows and onto active posts) vs
``pair_update_reference`` (every synapse every step); both must end bit-identical.

Connectivity: ``neurojax.connectivity.fixed_in_degree`` (in-degree ``k``, padded rows by
presynaptic neuron); spikes: a pool of 16 vectors with exactly ``round(p N)`` active rows;
capacity ``max_events = p N + 6 sqrt(p N + 1) + 16``. Each timing is the median over ``reps``
round-robin repetitions (methods alternate, so background load hits all alike); ``*_us`` is
wall-clock time per step, ``*_cpu_us`` process CPU time per step (both cores).

Expected (2-core CPU): the push is ~5-25x faster than the reference at <= 1 % activity, the
pull beats the push from ~10 % activity; the in-place plasticity update is ~7-19x faster than
the dense one at 0.1 % activity, ~2-3x at 1 %, slower above ~3 % (docs/benchmarks.md).
--smoke (N = 500, 50 steps) runs in ~15 s.

Writes results.json (one row per configuration, and the largest deviation from the reference)
into --out.
"""
import dataclasses
import math
import os
import statistics
import sys
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cli  # noqa: E402

from neurojax.connectivity import fixed_in_degree  # noqa: E402
from neurojax.kernels import (event_gather, event_scatter, event_scatter_reference,  # noqa: E402
                              pair_update, pair_update_reference, pull_table)
from neurojax.kernels import event as _event  # noqa: E402  (private pieces for the cond variant)

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    def tqdm(x, **_):
        return x

POOL = 16


@dataclasses.dataclass(frozen=True)
class Config:
    n: tuple[int, ...] = (4000, 16000)          # neurons (n_pre = n_post)
    k: int = 80                                 # in-degree
    activity: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1)   # fraction active per step
    steps: int = 1000                           # propagation steps per jitted scan
    reps: int = 3                               # round-robin repetitions (median)
    batch: int = 4                              # vmap batch for the overflow comparison (0: skip)
    vmap_activity: float = 0.01                 # activity of the vmap workload
    pull: bool = True                           # also time the pull path (event_gather)
    grad: bool = True                           # also time forward+backward
    learn: bool = True                          # also time the plasticity update (pair_update)
    seed: int = 0
    progress: bool = True
    out: str = "results/bench_kernels"

    def smoke(self) -> "Config":
        return dataclasses.replace(self, n=(500,), activity=(0.01, 0.1), steps=50, reps=1,
                                   batch=2, progress=False)


def capacity(n: int, p: float) -> int:
    mu = p * n
    return int(min(n, math.ceil(mu + 6 * math.sqrt(mu + 1) + 16)))


def spike_pool(n: int, p: float, rng) -> np.ndarray:
    out = np.zeros((POOL, n), np.float32)
    m = int(round(p * n))
    for i in range(POOL):
        out[i, rng.choice(n, size=m, replace=False)] = 1.0
    return out


def _scatter_cond(post_idx, w, spikes, n_post, max_events):
    """The rejected overflow policy: one chunk, or lax.cond to the dense path."""
    n_pre = spikes.shape[0]
    index = _event._active_rows(spikes)
    dtype = jnp.result_type(w, spikes)

    def push():
        rows = _event._chunk_rows(index, 0, max_events, n_pre)
        targets = _event._gather_rows(post_idx, rows, n_post)
        vals = _event._gather_rows(w, rows, 0) * _event._gather_rows(spikes, rows, 0)[:, None]
        return jnp.zeros((n_post,), dtype).at[targets.reshape(-1)].add(vals.reshape(-1),
                                                                        mode="drop")

    return lax.cond(index.block_count[-1] > max_events,
                    lambda: event_scatter_reference(post_idx, w, spikes, n_post), push)


def _fwd_scan(kernel, steps, batch):
    def run(post_idx, w, pool):
        n_post = kernel.n_post

        def body(acc, t):
            if batch:
                s = jnp.stack([pool[(t + b) % POOL] for b in range(batch)])
                y = jax.vmap(lambda s_: kernel(post_idx, w, s_))(s)
            else:
                y = kernel(post_idx, w, pool[t % POOL])
            return acc + y, None

        init = jnp.zeros((batch, n_post) if batch else (n_post,), w.dtype)
        return lax.scan(body, init, jnp.arange(steps))[0]
    return jax.jit(run)


def _grad_scan(kernel, steps):
    def loss(w, gain, post_idx, pool):
        n_post = kernel.n_post
        base = jnp.arange(n_post, dtype=w.dtype)

        def body(acc, t):
            y = kernel(post_idx, w, gain * pool[t % POOL])
            return acc + jnp.dot(jnp.tanh(y), jnp.cos(base * (t + 1.0))), None

        return lax.scan(body, jnp.zeros((), w.dtype), jnp.arange(steps))[0]
    return jax.jit(jax.grad(loss, argnums=(0, 1)))


def _learn_scan(update, steps):
    """``steps`` updates of ``dw``; the pre spikes of step t are pool[t], the post spikes
    pool[t + 1]."""
    def run(pull, post_idx, w0, pool, c_pre, a_post):
        def body(dw, t):
            return update(pull, post_idx, w0, dw, c_pre, pool[(t + 1) % POOL], a_post,
                          pool[t % POOL]), None
        return lax.scan(body, jnp.zeros(post_idx.shape, w0.dtype), jnp.arange(steps))[0]
    return jax.jit(run)


def _learn_row(n, pull, post_idx, pool, cap, cfg, rng) -> dict:
    """Time ``pair_update`` against its dense reference (bounds [0, 1], w0 inside them)."""
    w0 = jnp.asarray(rng.uniform(0.2, 0.8, post_idx.shape), jnp.float32)
    c_pre = jnp.asarray(0.01 * rng.standard_normal(n), jnp.float32)
    a_post = jnp.asarray(0.01 * rng.standard_normal(n), jnp.float32)
    updates = {
        "events": partial(pair_update, w_min=0.0, w_max=1.0, n_post=n, max_events=cap),
        "reference": lambda _, idx, *a: pair_update_reference(idx, *a, 0.0, 1.0, n),
    }
    calls = {f"learn_{name}": partial(_learn_scan(u, cfg.steps), pull, post_idx, w0, pool, c_pre,
                                      a_post) for name, u in updates.items()}
    out = {name: np.asarray(f()) for name, f in calls.items()}
    times = _time_round_robin(calls, cfg.reps, cfg.steps)
    row = {f"{name}_us": us for name, (us, _) in times.items()}
    row["learn_speedup"] = row["learn_reference_us"] / row["learn_events_us"]
    row["learn_max_abs_diff"] = float(np.max(np.abs(out["learn_events"] - out["learn_reference"])))
    return row


class _Kernel:
    """A named kernel with static n_post (hashable, so each jit compiles once)."""

    def __init__(self, fn, n_post):
        self.fn, self.n_post = fn, n_post

    def __call__(self, post_idx, w, s):
        return self.fn(post_idx, w, s)


def _time_round_robin(calls: dict, reps: int, steps) -> dict:
    """Median (wall, CPU) µs per step of each call, ``reps`` round-robin repetitions after a
    warm-up; ``steps`` is one step count for all calls or a dict ``name -> steps``."""
    if not isinstance(steps, dict):
        steps = dict.fromkeys(calls, steps)
    for f in calls.values():                       # compile + warm up
        jax.block_until_ready(f())
    wall = {k: [] for k in calls}
    cpu = {k: [] for k in calls}
    for _ in range(reps):
        for name, f in calls.items():
            t0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(f())
            wall[name].append((time.perf_counter() - t0) / steps[name] * 1e6)
            cpu[name].append((time.process_time() - c0) / steps[name] * 1e6)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in calls}


def _rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def run(cfg: Config) -> dict:
    rng = np.random.default_rng(cfg.seed)
    key = jax.random.PRNGKey(cfg.seed)
    rows, max_err = [], 0.0
    configs = [(n, p) for n in cfg.n for p in cfg.activity]
    for n, p in tqdm(configs, desc="bench_kernels", disable=not cfg.progress):
        conn = fixed_in_degree(key, n, n, cfg.k)
        post_idx = jnp.asarray(conn.post_idx)
        valid = np.asarray(conn.post_idx) < n
        w = jnp.asarray(np.where(valid, rng.standard_normal(valid.shape) / math.sqrt(cfg.k), 0.0),
                        jnp.float32)
        pool = jnp.asarray(spike_pool(n, p, rng))
        cap = capacity(n, p)
        pull = pull_table(np.asarray(conn.post_idx), n)
        kernels = {"reference": _Kernel(partial(event_scatter_reference, n_post=n), n),
                   "scatter": _Kernel(partial(event_scatter, n_post=n, max_events=cap), n)}
        if cfg.pull:
            kernels["gather"] = _Kernel(lambda i, w_, s, pull=pull: event_gather(pull, i, w_, s, n), n)

        # correctness on the first pool vector
        ref = kernels["reference"](post_idx, w, pool[0])
        for name, kern in kernels.items():
            max_err = max(max_err, _rel_err(kern(post_idx, w, pool[0]), ref))

        calls = {f"fwd_{name}": partial(_fwd_scan(k_, cfg.steps, 0), post_idx, w, pool)
                 for name, k_ in kernels.items()}
        if cfg.grad:
            gain = jnp.ones((n,), jnp.float32)
            for name, k_ in kernels.items():
                calls[f"grad_{name}"] = partial(_grad_scan(k_, cfg.steps), w, gain, post_idx, pool)
        times = _time_round_robin(calls, cfg.reps, cfg.steps)
        row = {"n": n, "k": cfg.k, "activity": p, "max_events": cap, "width": conn.k,
               "n_synapses": int(valid.sum())}
        for name, (us, cpu_us) in times.items():
            row[f"{name}_us"], row[f"{name}_cpu_us"] = us, cpu_us
        for kind in ("fwd", "grad"):
            for name in ("scatter", "gather"):
                if f"{kind}_{name}_us" in row:
                    row[f"{kind}_{name}_speedup"] = row[f"{kind}_reference_us"] / row[f"{kind}_{name}_us"]
        if cfg.learn:
            row.update(_learn_row(n, pull, post_idx, pool, cap, cfg, rng))
        rows.append(row)
        _print_row(row)

    vmap_rows = []
    if cfg.batch:
        for n in tqdm(cfg.n, desc="bench_kernels vmap", disable=not cfg.progress):
            p = cfg.vmap_activity
            conn = fixed_in_degree(key, n, n, cfg.k)
            post_idx = jnp.asarray(conn.post_idx)
            w = jnp.asarray(rng.standard_normal(conn.post_idx.shape) / math.sqrt(cfg.k), jnp.float32)
            pool = jnp.asarray(spike_pool(n, p, rng))
            cap = capacity(n, p)
            kernels = {"reference": _Kernel(partial(event_scatter_reference, n_post=n), n),
                       "scatter": _Kernel(partial(event_scatter, n_post=n, max_events=cap), n),
                       "scatter_cond": _Kernel(partial(_scatter_cond, n_post=n, max_events=cap), n)}
            calls = {f"vmap_{name}": partial(_fwd_scan(k_, cfg.steps, cfg.batch), post_idx, w, pool)
                     for name, k_ in kernels.items()}
            times = _time_round_robin(calls, cfg.reps, cfg.steps)
            row = {"n": n, "k": cfg.k, "activity": p, "batch": cfg.batch, "max_events": cap}
            for name, (us, cpu_us) in times.items():
                row[f"{name}_us"], row[f"{name}_cpu_us"] = us, cpu_us
            vmap_rows.append(row)
            print(f"vmap B={cfg.batch} N={n} p={p:.3%}: " + ", ".join(
                f"{name} {row[f'vmap_{name}_us']:.0f} us" for name in kernels), flush=True)

    fwd_speedups = [r["fwd_scatter_speedup"] for r in rows]
    learn = {"learn_max_abs_diff": max(r["learn_max_abs_diff"] for r in rows)} if cfg.learn else {}
    return {
        "rows": rows,
        "vmap_rows": vmap_rows,
        "max_rel_err_vs_reference": max_err,
        "fwd_scatter_speedup_min": min(fwd_speedups),
        "fwd_scatter_speedup_max": max(fwd_speedups),
        **learn,
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "cpu_count": os.cpu_count(),
        "device": str(jax.devices()[0]),
    }


def _print_row(row):
    parts = [f"N={row['n']} p={row['activity']:.3%} K={row['max_events']}:"]
    for kind, names in (("fwd", ("reference", "scatter", "gather")),
                        ("grad", ("reference", "scatter", "gather")), ("learn", ("reference", "events"))):
        for name in names:
            if f"{kind}_{name}_us" in row:
                parts.append(f"{kind}_{name} {row[f'{kind}_{name}_us']:.0f} us")
    print(" ".join(parts), flush=True)


if __name__ == "__main__":
    cfg = _cli.parse(Config)
    print(_cli.save_results(cfg, run(cfg)))
