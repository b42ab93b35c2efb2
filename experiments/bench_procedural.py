"""Procedural ("just-in-time") connectivity vs a stored table: memory and time per step (CPU).

The same random projection (N -> N, connection probability p = k / N, so mean out-degree k) is
propagated two ways:

* **stored**: the table materialised once by ``neurojax.kernels.to_connectivity`` and
  propagated with the event-driven ``event_scatter`` (capacity ``max_events = pN + 6 sqrt(pN
  + 1) + 16`` as in ``bench_kernels.py``), with a scalar weight (``stored_scalar``) or the
  per-synapse normal weights of the table (``stored_table``);
* **procedural**: ``jit_event_scatter``, connections and weights regenerated every step from
  ``(seed, pre, post)`` (Threefry-2x32-20), with a scalar weight (``proc_scalar``) or normal
  weights N(mu, sigma^2) (``proc_normal``); ``max_events = rows_per_iter``.

Both compute the same ``y`` (checked: ``max_rel_err``). Memory: bytes that must live for the
whole simulation (the table: ``post_idx`` int32 plus the float32 weights; procedural: the
seed and the weight parameters) and the XLA temporary buffer of one compiled step
(``memory_analysis().temp_size_in_bytes``). Time: wall and process-CPU microseconds per step
inside one jitted ``lax.scan`` of ``steps`` steps (median of ``reps`` round-robin repetitions),
at ``activity`` (fraction of rows spiking per step). ``fwd+bwd`` (sizes in ``grad_n``): the
gradient of ``sum_t <tanh(y_t), r_t>`` w.r.t. the weights and a spike gain, i.e. including the
dense spike gradient, which for the procedural kernel hashes all ``N^2`` pairs per step.

Expected: the procedural forward hashes ``n_active * N`` pairs per step (1/p times the
synapses a stored table touches), so it is slower than the stored table by roughly ``1/p``
times the ratio of a hash to a gather, and saves ``8 k N`` bytes (int32 index + float32
weight per synapse). --smoke (N = 500) runs in ~20 s.

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
from jax import lax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cli  # noqa: E402
from bench_kernels import _rel_err, _time_round_robin, capacity  # noqa: E402

from neurojax.kernels import event_scatter, jit_event_scatter, to_connectivity  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    def tqdm(x, **_):
        return x

POOL = 8
METHODS = ("stored_scalar", "stored_table", "proc_scalar", "proc_normal")


@dataclasses.dataclass(frozen=True)
class Config:
    n: tuple[int, ...] = (4000, 16000, 64000)     # neurons (n_pre = n_post)
    k: float = 80.0                               # mean out-degree: p = k / n
    activity: float = 0.01                        # fraction of rows active per step
    steps: int = 20                               # propagation steps per jitted scan
    reps: int = 3                                 # round-robin repetitions (median)
    rows_per_iter: int = 32                       # procedural max_events
    grad_n: tuple[int, ...] = (4000,)             # sizes at which fwd+bwd is timed
    grad_steps: int = 5                           # steps per fwd+bwd scan
    w: float = 0.5                                # scalar weight / mean of the normal weights
    w_scale: float = 0.1                          # standard deviation of the normal weights
    seed: int = 0
    progress: bool = True
    out: str = "results/bench_procedural"

    def smoke(self) -> "Config":
        return dataclasses.replace(self, n=(500,), k=20.0, activity=0.02, steps=5, reps=1,
                                   grad_n=(500,), grad_steps=2, progress=False)


def spike_pool(n: int, p: float, rng) -> np.ndarray:
    out = np.zeros((POOL, n), np.float32)
    m = max(1, int(round(p * n)))
    for i in range(POOL):
        out[i, rng.choice(n, size=m, replace=False)] = 1.0
    return out


def _kernels(cfg, n, p, post_idx, cap):
    """name -> f(params, spikes) -> y; params is each method's weight pytree."""
    seed = cfg.seed
    return {
        "stored_scalar": lambda w, s: event_scatter(post_idx, w, s, n, cap),
        "stored_table": lambda w, s: event_scatter(post_idx, w, s, n, cap),
        "proc_scalar": lambda w, s: jit_event_scatter(seed, p, s, n, cfg.rows_per_iter, weight=w),
        "proc_normal": lambda w, s: jit_event_scatter(seed, p, s, n, cfg.rows_per_iter,
                                                      w_loc=w[0], w_scale=w[1], dist="normal"),
    }


def _fwd_scan(kernel, steps, n):
    def run(w, pool):
        def body(acc, t):
            return acc + kernel(w, pool[t % POOL]), None
        return lax.scan(body, jnp.zeros((n,), jnp.float32), jnp.arange(steps))[0]
    return jax.jit(run)


def _grad_scan(kernel, steps, n):
    def loss(w, gain, pool):
        base = jnp.arange(n, dtype=jnp.float32)

        def body(acc, t):
            y = kernel(w, gain * pool[t % POOL])
            return acc + jnp.dot(jnp.tanh(y), jnp.cos(base * (t + 1.0))), None

        return lax.scan(body, jnp.zeros((), jnp.float32), jnp.arange(steps))[0]
    return jax.jit(jax.grad(loss, argnums=(0, 1)))


def _one_step(kernel, w, s):
    """``(y, temp_bytes)``: one compiled step and XLA's temporary buffer size for it (None if
    the backend does not report it)."""
    compiled = jax.jit(kernel).lower(w, s).compile()
    try:
        stats = compiled.memory_analysis()
        temp = None if stats is None else int(stats.temp_size_in_bytes)
    except Exception:  # pragma: no cover - backend without memory analysis
        temp = None
    return compiled(w, s), temp


def run(cfg: Config) -> dict:
    rng = np.random.default_rng(cfg.seed)
    rows, max_err = [], 0.0
    for n in tqdm(cfg.n, desc="bench_procedural", disable=not cfg.progress):
        p = min(1.0, cfg.k / n)
        t0 = time.perf_counter()
        conn, w_table = to_connectivity(cfg.seed, p, n, n, w_loc=jnp.float32(cfg.w),
                                        w_scale=jnp.float32(cfg.w_scale), dist="normal")
        build_s = time.perf_counter() - t0
        post_idx = conn.post_idx
        cap = capacity(n, cfg.activity)
        pool = jnp.asarray(spike_pool(n, cfg.activity, rng))
        params = {"stored_scalar": jnp.float32(cfg.w), "stored_table": w_table,
                  "proc_scalar": jnp.float32(cfg.w),
                  "proc_normal": (jnp.float32(cfg.w), jnp.float32(cfg.w_scale))}
        kernels = _kernels(cfg, n, p, post_idx, cap)

        # same y from the stored table and the procedural kernel
        one = {name: _one_step(f, params[name], pool[0]) for name, f in kernels.items()}
        ys = {name: y for name, (y, _) in one.items()}
        errs = {"scalar": _rel_err(ys["proc_scalar"], ys["stored_scalar"]),
                "normal": _rel_err(ys["proc_normal"], ys["stored_table"])}
        max_err = max(max_err, *errs.values())

        calls = {f"fwd_{name}": partial(_fwd_scan(f, cfg.steps, n), params[name], pool)
                 for name, f in kernels.items()}
        steps = {name: cfg.steps for name in calls}
        if n in cfg.grad_n:
            gain = jnp.ones((n,), jnp.float32)
            for name, f in kernels.items():
                calls[f"grad_{name}"] = partial(_grad_scan(f, cfg.grad_steps, n), params[name],
                                                gain, pool)
                steps[f"grad_{name}"] = cfg.grad_steps
        times = _time_round_robin(calls, cfg.reps, steps)

        table_bytes = int(post_idx.size * post_idx.dtype.itemsize)
        row = {"n": n, "p": p, "activity": cfg.activity, "n_synapses": conn.n_synapses(),
               "width": conn.k, "max_events_stored": cap, "max_events_procedural": cfg.rows_per_iter,
               "table_build_s": build_s,
               "pairs_per_step": n * cfg.rows_per_iter * math.ceil(
                   max(1, round(cfg.activity * n)) / cfg.rows_per_iter),
               "bytes_stored_scalar": table_bytes,
               "bytes_stored_table": table_bytes + int(w_table.size * w_table.dtype.itemsize),
               "bytes_proc_scalar": 4 + 4, "bytes_proc_normal": 4 + 8,
               "rel_err_scalar": errs["scalar"], "rel_err_normal": errs["normal"]}
        for name, (_, temp) in one.items():
            row[f"temp_bytes_{name}"] = temp
        for name, (us, cpu_us) in times.items():
            row[f"{name}_us"], row[f"{name}_cpu_us"] = us, cpu_us
        for kind in ("fwd", "grad"):
            for a, b in (("proc_scalar", "stored_scalar"), ("proc_normal", "stored_table")):
                if f"{kind}_{a}_us" in row:     # slowdown, by wall and by process-CPU time
                    row[f"{kind}_{a}_over_{b}"] = row[f"{kind}_{a}_us"] / row[f"{kind}_{b}_us"]
                    row[f"{kind}_{a}_over_{b}_cpu"] = (row[f"{kind}_{a}_cpu_us"]
                                                       / row[f"{kind}_{b}_cpu_us"])
        rows.append(row)
        _print_row(row)

    return {
        "rows": rows,
        "max_rel_err": max_err,
        "fwd_slowdown_normal": [r["fwd_proc_normal_over_stored_table"] for r in rows],
        "fwd_slowdown_normal_cpu": [r["fwd_proc_normal_over_stored_table_cpu"] for r in rows],
        "fwd_slowdown_scalar_cpu": [r["fwd_proc_scalar_over_stored_scalar_cpu"] for r in rows],
        # process-CPU ns per hashed pair of the procedural forward (rows padded to max_events)
        "fwd_proc_scalar_cpu_ns_per_pair": [r["fwd_proc_scalar_cpu_us"] * 1e3 / r["pairs_per_step"]
                                            for r in rows],
        "bytes_saved_normal": [r["bytes_stored_table"] - r["bytes_proc_normal"] for r in rows],
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "cpu_count": os.cpu_count(),
        "device": str(jax.devices()[0]),
    }


def _print_row(row):
    mb = 2.0 ** 20
    parts = [f"N={row['n']} p={row['p']:.4g} nnz={row['n_synapses']}:",
             f"stored {row['bytes_stored_table'] / mb:.1f} MiB (index {row['bytes_stored_scalar'] / mb:.1f})"
             f" vs procedural {row['bytes_proc_normal']} B;"]
    for kind in ("fwd", "grad"):
        for name in METHODS:
            if f"{kind}_{name}_us" in row:
                parts.append(f"{kind}_{name} {row[f'{kind}_{name}_us']:.0f} us"
                             f" (cpu {row[f'{kind}_{name}_cpu_us']:.0f})")
    print(" ".join(parts), flush=True)


if __name__ == "__main__":
    cfg = _cli.parse(Config)
    print(_cli.save_results(cfg, run(cfg)))
