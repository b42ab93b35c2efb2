"""Benchmark of the Pallas (Triton) GPU push kernel against the jnp push and the pull.

On a GPU, times three forwards of $y = W^\\top s$ inside one jitted ``lax.scan`` of ``steps``
propagation steps (``acc += y_t``), as ``bench_kernels.py`` does:

* ``pallas``: ``event_scatter_pallas`` (compaction in jnp, then one Triton kernel that
  gathers the active rows and ``atomic_add``\\ s into ``y``), once per ``block_rows``;
* ``push``: the plain-jnp push (``event_scatter`` with ``PALLAS_MODE = "off"``: compaction,
  gather, one XLA scatter-add);
* ``gather``: the scatter-free pull (``event_gather``, touches every synapse);

plus ``fwd+bwd`` (``jax.grad`` of ``sum_t <tanh(y_t), r_t>`` w.r.t. the weights and a spike
gain) for the Pallas kernel (first ``block_rows``) and the jnp push: the backward is the same
dense one, so this shows how much of a training step the forward still is.

Without a GPU it times only the jnp paths (``push``, ``gather``) at ``cpu_n``, and checks
the Pallas kernel in interpret mode on a tiny network against the reference. ``results.json``
then says ``gpu_available: false``. Interpret mode is a correctness harness, not a CPU
backend, so it is not timed.

Connectivity: ``fixed_in_degree`` (in-degree ``k``); spikes: a pool of 16 vectors with exactly
``round(p N)`` active rows; capacity ``max_events = p N + 6 sqrt(p N + 1) + 16`` (as in
``bench_kernels.py``). Each time is the median over ``reps`` round-robin repetitions, wall
clock per step (``*_us``). Every kernel is also checked against the dense reference on the
first spike vector (``max_rel_err_vs_reference``).

Writes results.json into --out.
"""
import dataclasses
import math
import os
import sys
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cli  # noqa: E402
from bench_kernels import (_fwd_scan, _grad_scan, _Kernel, _rel_err,  # noqa: E402
                           _time_round_robin, capacity, spike_pool)

from neurojax.connectivity import fixed_in_degree  # noqa: E402
from neurojax.kernels import (event_gather, event_scatter, event_scatter_pallas,  # noqa: E402
                              event_scatter_reference, pull_table)
from neurojax.kernels import event as _event  # noqa: E402  (PALLAS_MODE)

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    def tqdm(x, **_):
        return x


@dataclasses.dataclass(frozen=True)
class Config:
    n: tuple[int, ...] = (4000, 16000, 64000, 256000)   # neurons on a GPU (n_pre = n_post)
    cpu_n: tuple[int, ...] = (4000, 16000)              # neurons without a GPU (jnp paths only)
    k: int = 80                                         # in-degree
    activity: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1)
    steps: int = 1000                                   # propagation steps per jitted scan
    reps: int = 3                                       # round-robin repetitions (median)
    block_rows: tuple[int, ...] = (4, 16)               # Pallas active rows per program (sweep)
    num_warps: int = 4
    num_stages: int = 1
    grad: bool = True                                   # also time forward+backward
    check_n: int = 200                                  # interpret-mode correctness check size
    seed: int = 0
    progress: bool = True
    out: str = "results/bench_pallas"

    def smoke(self) -> "Config":
        return dataclasses.replace(self, n=(500,), cpu_n=(500,), activity=(0.05,), steps=20,
                                   reps=1, block_rows=(8,), check_n=64, progress=False)


def gpu_available() -> bool:
    return jax.default_backend() == "gpu"


def interpret_check(cfg: Config, rng) -> dict:
    """The Pallas kernel in interpret mode vs the reference on a tiny network (values and the
    spike gradient), at 5 % and 50 % activity with overflow (capacity ~ 2 % of rows)."""
    n, key = cfg.check_n, jax.random.PRNGKey(cfg.seed + 1)
    conn = fixed_in_degree(key, n, n, min(8, n))
    idx = jnp.asarray(conn.post_idx)
    w = jnp.asarray(rng.standard_normal(idx.shape), jnp.float32)
    c = jnp.asarray(rng.standard_normal(n), jnp.float32)
    cap = max(2, n // 50)
    activity = (0.05, 0.5)
    spikes = jnp.asarray(np.stack([spike_pool(n, p, rng)[0] for p in activity]))

    def both(s):
        out = {}
        for name, f in (("pallas", lambda w_, s_: event_scatter_pallas(idx, w_, s_, n, cap,
                                                                       interpret=True)),
                        ("reference", lambda w_, s_: event_scatter_reference(idx, w_, s_, n))):
            y, vjp = jax.vjp(f, w, s)
            out[name] = (y,) + vjp(c)
        return out

    res = jax.jit(jax.vmap(both))(spikes)                 # one compile for both levels
    errs = [_rel_err(a[b], r[b]) for b in range(len(activity))
            for a, r in zip(res["pallas"], res["reference"])]
    return {"interpret_check_n": n, "interpret_check_max_events": cap,
            "interpret_check_max_rel_err": max(errs)}


def run(cfg: Config) -> dict:
    rng = np.random.default_rng(cfg.seed)
    key = jax.random.PRNGKey(cfg.seed)
    gpu = gpu_available()
    sizes = cfg.n if gpu else cfg.cpu_n
    saved_mode, _event.PALLAS_MODE = _event.PALLAS_MODE, "off"    # "push" = the jnp push
    try:
        metrics = {"gpu_available": gpu, "device": str(jax.devices()[0]),
                   "backend": jax.default_backend()}
        if not gpu:
            metrics["note"] = ("no GPU available: only the jnp push and the pull were timed; "
                               "the Pallas kernel was checked in interpret mode only")
            t0 = time.perf_counter()
            metrics.update(interpret_check(cfg, rng))
            metrics["interpret_check_seconds"] = time.perf_counter() - t0
            print(f"interpret-mode check (N={cfg.check_n}): max rel err "
                  f"{metrics['interpret_check_max_rel_err']:.2e}", flush=True)
        rows, max_err = [], 0.0
        configs = [(n, p) for n in sizes for p in cfg.activity]
        conn_cache = {}
        for n, p in tqdm(configs, desc="bench_pallas", disable=not cfg.progress):
            if n not in conn_cache:
                conn_cache.clear()
                conn = fixed_in_degree(key, n, n, cfg.k)
                conn_cache[n] = (conn, pull_table(np.asarray(conn.post_idx), n))
            conn, pull = conn_cache[n]
            post_idx = jnp.asarray(conn.post_idx)
            valid = np.asarray(conn.post_idx) < n
            w = jnp.asarray(np.where(valid, rng.standard_normal(valid.shape) / math.sqrt(cfg.k),
                                     0.0), jnp.float32)
            pool = jnp.asarray(spike_pool(n, p, rng))
            cap = capacity(n, p)
            kernels = {"push": _Kernel(partial(event_scatter, n_post=n, max_events=cap), n),
                       "gather": _Kernel(lambda i, w_, s, pull=pull, n=n:
                                         event_gather(pull, i, w_, s, n), n)}
            if gpu:
                for br in cfg.block_rows:
                    kernels[f"pallas_b{br}"] = _Kernel(partial(
                        event_scatter_pallas, n_post=n, max_events=cap, block_rows=br,
                        num_warps=cfg.num_warps, num_stages=cfg.num_stages), n)

            ref = jax.jit(lambda i, w_, s: event_scatter_reference(i, w_, s, n))(post_idx, w,
                                                                                 pool[0])
            for kern in kernels.values():
                max_err = max(max_err, _rel_err(jax.jit(kern.__call__)(post_idx, w, pool[0]), ref))

            calls = {f"fwd_{name}": partial(_fwd_scan(k_, cfg.steps, 0), post_idx, w, pool)
                     for name, k_ in kernels.items()}
            if cfg.grad:
                gain = jnp.ones((n,), jnp.float32)
                grad_names = ["push"] + ([f"pallas_b{cfg.block_rows[0]}"] if gpu else [])
                for name in grad_names:
                    calls[f"grad_{name}"] = partial(_grad_scan(kernels[name], cfg.steps), w,
                                                    gain, post_idx, pool)
            times = _time_round_robin(calls, cfg.reps, cfg.steps)
            row = {"n": n, "k": cfg.k, "activity": p, "max_events": cap, "width": conn.k,
                   "n_synapses": int(valid.sum())}
            for name, (us, _cpu_us) in times.items():
                row[f"{name}_us"] = us
            pallas = [name for name in kernels if name.startswith("pallas")]
            if pallas:
                best = min(pallas, key=lambda name: row[f"fwd_{name}_us"])
                row["fwd_pallas_best"] = best
                row["fwd_pallas_speedup_vs_push"] = row["fwd_push_us"] / row[f"fwd_{best}_us"]
                row["fwd_pallas_speedup_vs_gather"] = row["fwd_gather_us"] / row[f"fwd_{best}_us"]
            rows.append(row)
            print(" ".join([f"N={n} p={p:.3%} K={cap}:"] + [
                f"{name} {us:.1f} us" for name, (us, _) in times.items()]), flush=True)
    finally:
        _event.PALLAS_MODE = saved_mode

    metrics.update({"rows": rows, "max_rel_err_vs_reference": max_err,
                    "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
                    "cpu_count": os.cpu_count()})
    speedups = [r["fwd_pallas_speedup_vs_push"] for r in rows if "fwd_pallas_speedup_vs_push" in r]
    if speedups:
        metrics["fwd_pallas_speedup_vs_push_min"] = min(speedups)
        metrics["fwd_pallas_speedup_vs_push_max"] = max(speedups)
    return metrics


if __name__ == "__main__":
    cfg = _cli.parse(Config)
    print(_cli.save_results(cfg, run(cfg)))
