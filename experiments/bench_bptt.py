"""Training micro-benchmark: one surrogate-gradient BPTT step, neurojax vs plain JAX vs spyx.

The task (the same in every library; issue 3): 64 inputs -> 256 LIF -> 10 LIF, ``t_steps``
= 100 steps of 1 ms, batch 128, float32, full BPTT through the time loop; logits = output
spikes summed over time; softmax cross-entropy; Adam (optax, lr 1e-3). The ``rec`` variant
adds a 256 x 256 recurrent weight matrix on the hidden layer. Inputs are seeded
class-dependent Poisson spike trains (:func:`make_data`, NumPy only, generated identically in
every process), and every library starts from the same weights (:func:`init_weights`:
uniform +-1/sqrt(fan_in), NumPy), so the losses can be compared too.

Neurons (kept close, not identical; per-step decay beta = 0.9, threshold 1, SuperSpike /
fast-sigmoid surrogate 1 / (1 + 25|x|)^2 on the distance to threshold):

* ``neurojax (nj.LIF)``: an ``nj.Network`` of an ``nj.SpikeSource`` input population and two
  ``nj.LIF`` populations (``spike_fn=nj.SuperSpike(25)``; ``tau_m = -dt / ln(beta)``,
  ``c_m = tau_m (1 - beta)`` so that one exact step is ``v <- beta v + I``; ``v_rest = v_reset
  = 0``, ``v_th = 1``, ``t_ref = 0``; the bias is the trainable ``i_e``), connected by
  ``nj.Projection`` s over ``nj.all_to_all`` connectivity (propagated as a matrix product
  ``s @ W``) with ``nj.Instant`` synapses (current = W s) and the minimum delay of one step; ``nj.simulate`` under
  ``jax.vmap`` over the batch (time-major input mapped on axis 1), recording only the output
  spikes. LIF resets *to* ``v_reset``
  with the reset's gradient kept (the model's default).
* ``neurojax (nj.Leaky)`` (``--neurojax-modes``): the same network of ``nj.Leaky``, the
  discrete-time unit of surrogate-gradient training (state ``v, spike``;
  ``v <- beta v + I + b - thr * stopgrad(s_prev)``: subtractive, detached reset, no
  refractoriness), the formulation spyx/snntorch use.
* ``neurojax (nj.LIF, generic table)`` (mode ``lif-table``, not run by default): the same
  weights on a generic padded table, propagated by the reference scatter-add kernel (what
  neurojax did before ``nj.all_to_all``: 25x (ff) and 86x (rec) spyx's step on this CPU).
* ``plain JAX``: one ``lax.scan`` over time with the batch inside the body, both matmuls in the
  body, subtractive reset with the reset detached, output spike count kept in the carry.
* ``spyx 1.0.0``: ``spyx.nn.Sequential(nnx.Linear, LIF | RLIF, nnx.Linear, LIF)`` with
  ``spyx.axn.superspike(25)`` and ``beta=0.9`` (a trainable scalar in spyx), run by
  ``spyx.nn.run``; weights overwritten with the shared initial values. Two ways to jit:
  ``split`` (``nnx.split`` once, plain ``jax.jit``) and ``nnxjit`` (spyx's own
  ``spyx.optimize.make_train_step``). spyx runs in its own environment (``--spyx-python``,
  default /work/venv_spyx/bin/python: ``python3.11 -m venv /work/venv_spyx &&
  /work/venv_spyx/bin/pip install spyx==1.0.0 jax==0.10.2 jaxlib==0.10.2 optax==0.2.8``); if
  that interpreter is missing or cannot import spyx, its rows are skipped with the reason.

Measurement: every (library, variant) row runs in a fresh subprocess of this file per round,
``rounds`` rounds, each round running every row back to back (interleaved, so they share the
machine's background load). All processes get one intra-op thread (``OMP_NUM_THREADS=1``,
``MKL_NUM_THREADS=1``, ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1``, set here for the children) and ``JAX_PLATFORMS=cpu``, and are
pinned to one CPU (``--cores 1``, the default: XLA's worker threads otherwise spin on the
second core and double the CPU time of every JAX-based row without a wall-time gain). In a
worker: the first training step (trace + compile + run) is ``compile_s``; ``warmup - 1`` more
steps; then up to ``steps`` timed steps (fewer, but at least 3, if they would take longer
than ``row_budget_s``), each ending in a host sync (``float(loss)``), timed by wall clock and
by process CPU time (``time.process_time``, all threads of the process; the number to
compare on a shared machine). Then the forward pass alone (the jitted loss, same inputs) is
timed the same way. ``backward_over_forward = (step - forward) / forward`` on CPU medians
(the step includes the Adam update of ~70k parameters, well under 1 % of it).

results.json ``metrics``: ``runs`` (one record per library x variant: medians over all
timed steps of all rounds), ``rounds`` (the raw per-round records), ``ratios`` (CPU ms per
step over the fastest spyx row of the same variant, and over plain JAX), ``targets`` (issue
3: BPTT step <= 0.5 x spyx, backward <= 3 x forward: met or not per row) and
``bptt_bar.png`` (CPU ms per step, log scale, and backward / forward per row).
"""
import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Optional

import numpy as np

THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}
SPYX_MODES = ("split", "nnxjit")
NJ_MODES = ("lif", "leaky", "lif-table")
LABELS = {("neurojax", "lif"): "neurojax (nj.LIF)",
          ("neurojax", "leaky"): "neurojax (nj.Leaky)",
          ("neurojax", "lif-table"): "neurojax (nj.LIF, generic table)",
          ("plain_jax", "scan"): "plain JAX (lax.scan)",
          ("spyx", "split"): "spyx (split + jax.jit)",
          ("spyx", "nnxjit"): "spyx (nnx.jit train step)"}


@dataclasses.dataclass(frozen=True)
class Config:
    n_in: int = 64
    n_hidden: int = 256
    n_out: int = 10
    t_steps: int = 100
    batch: int = 128
    lr: float = 1e-3
    beta: float = 0.9                 # per-step membrane decay (dt = 1 ms)
    threshold: float = 1.0
    slope: float = 25.0               # SuperSpike / fast-sigmoid slope
    seed: int = 0
    variants: tuple[str, ...] = ("ff", "rec")
    rounds: int = 3
    warmup: int = 3                   # untimed steps, the first one compiles
    steps: int = 10                   # timed steps per row and round (at most)
    row_budget_s: float = 30.0        # fewer timed steps (>= 3) if they would take longer
    # neurojax rows: nj.LIF and nj.Leaky on nj.all_to_all ("lif-table": generic table)
    neurojax_modes: tuple[str, ...] = ("lif", "leaky")
    plain_jax: bool = True
    spyx: bool = True
    spyx_python: str = "/work/venv_spyx/bin/python"
    spyx_modes: tuple[str, ...] = SPYX_MODES
    worker_timeout: int = 1200        # s per worker process
    cores: int = 1                    # pin every worker to its first k CPUs (0: no pinning)
    plot: bool = True
    out: str = "results/bench_bptt"

    def smoke(self) -> "Config":
        return dataclasses.replace(self, n_hidden=32, t_steps=10, batch=8, variants=("rec",),
                                   neurojax_modes=("lif",), rounds=1, warmup=1, steps=2, row_budget_s=5.0,
                                   spyx_modes=("split",), worker_timeout=240)


# ------------------------------------------------------------------------------------------
# Shared pieces (NumPy + stdlib only: the spyx worker imports this module without neurojax)
# ------------------------------------------------------------------------------------------

def make_data(spec: dict):
    """Seeded class-dependent Poisson spikes: ``x`` (T, B, n_in) float32 0/1, ``y`` (B,) int32.

    Each class has its own rate profile over the inputs (uniform in [0.01, 0.25] per step),
    so the task is learnable and a falling loss shows that gradients flow.
    """
    rng = np.random.default_rng(spec["seed"])
    rates = rng.uniform(0.01, 0.25, size=(spec["n_out"], spec["n_in"])).astype(np.float32)
    y = rng.integers(0, spec["n_out"], size=spec["batch"])
    u = rng.random((spec["t_steps"], spec["batch"], spec["n_in"]))
    x = (u < rates[y][None]).astype(np.float32)
    return x, y.astype(np.int32)


def init_weights(spec: dict, rec: bool) -> dict:
    """The shared initial weights, uniform in +-1/sqrt(fan_in) (float32 NumPy arrays)."""
    rng = np.random.default_rng(spec["seed"] + 1)
    n_in, n_h, n_o = spec["n_in"], spec["n_hidden"], spec["n_out"]

    def uni(shape, fan_in):
        lim = 1.0 / math.sqrt(fan_in)
        return rng.uniform(-lim, lim, size=shape).astype(np.float32)

    w = {"w_in": uni((n_in, n_h), n_in), "b_hid": uni((n_h,), n_in),
         "w_out": uni((n_h, n_o), n_h), "b_out": uni((n_o,), n_h)}
    if rec:
        w["w_rec"] = uni((n_h, n_h), n_h)
    return w


def _rss_kb(field: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def _time_calls(fn, warmup: int, max_steps: int, budget_s: float) -> dict:
    """Call ``fn`` (one synchronised step) ``warmup`` times untimed, then time up to ``max_steps``."""
    t0 = time.perf_counter()
    values = [fn()]
    first = time.perf_counter() - t0
    last = first
    for _ in range(max(warmup, 1) - 1):
        t = time.perf_counter()
        values.append(fn())
        last = time.perf_counter() - t
    n = int(min(max_steps, max(min(3, max_steps), budget_s // max(last, 1e-6))))
    wall, cpu = [], []
    for _ in range(n):
        c, t = time.process_time(), time.perf_counter()
        values.append(fn())
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"first_s": first, "wall_ms": [1000 * v for v in wall],
            "cpu_ms": [1000 * v for v in cpu], "values": values}


def _measure(train_step, forward, spec: dict) -> dict:
    """Time the training step, then the forward pass alone; one record (per round)."""
    train = _time_calls(train_step, spec["warmup"], spec["steps"], spec["row_budget_s"])
    fwd = _time_calls(forward, spec["warmup"], spec["steps"], spec["row_budget_s"] / 2)
    losses = train["values"]
    return {"compile_s": train["first_s"], "forward_compile_s": fwd["first_s"],
            "step_cpu_ms": train["cpu_ms"], "step_wall_ms": train["wall_ms"],
            "forward_cpu_ms": fwd["cpu_ms"], "forward_wall_ms": fwd["wall_ms"],
            "loss_first": float(losses[0]), "loss_last": float(losses[-1]),
            "n_train_steps": len(losses), "peak_rss_mb": _rss_kb("VmHWM") / 1024.0}


# ------------------------------------------------------------------------------------------
# spyx worker (runs in the spyx environment; never imports neurojax)
# ------------------------------------------------------------------------------------------

def spyx_worker(spec: dict) -> dict:
    import importlib.metadata as md

    import jax
    import jax.numpy as jnp
    import optax
    import spyx
    from flax import nnx

    rec = spec["variant"] == "rec"
    x_np, y_np = make_data(spec)
    w = init_weights(spec, rec)
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)
    rngs = nnx.Rngs(spec["seed"])
    act = spyx.axn.superspike(k=spec["slope"])
    n_h, n_o = spec["n_hidden"], spec["n_out"]
    hidden = (spyx.nn.RLIF if rec else spyx.nn.LIF)((n_h,), beta=spec["beta"],
                                                    threshold=spec["threshold"],
                                                    activation=act, rngs=rngs)
    model = spyx.nn.Sequential(
        nnx.Linear(spec["n_in"], n_h, rngs=rngs), hidden, nnx.Linear(n_h, n_o, rngs=rngs),
        spyx.nn.LIF((n_o,), beta=spec["beta"], threshold=spec["threshold"], activation=act,
                    rngs=rngs))
    model.layers[0].kernel[...] = jnp.asarray(w["w_in"])
    model.layers[0].bias[...] = jnp.asarray(w["b_hid"])
    model.layers[2].kernel[...] = jnp.asarray(w["w_out"])
    model.layers[2].bias[...] = jnp.asarray(w["b_out"])
    if rec:
        model.layers[1].recurrent_w[...] = jnp.asarray(w["w_rec"])
    for layer in (model.layers[1], model.layers[3]):
        # spyx stores beta as a weak-typed scalar; Adam's update makes it strong, which would
        # retrace the step twice (inside the timed steps with a short warm-up)
        layer.beta = nnx.Param(jnp.full((), spec["beta"], jnp.float32))

    def loss_of(m, xs, ys):
        out, _ = spyx.nn.run(m, xs)                       # time-major (T, B, n_out)
        return optax.softmax_cross_entropy_with_integer_labels(out.sum(0), ys).mean()

    version = f"spyx {md.version('spyx')} / flax {md.version('flax')} / jax {jax.__version__}"
    if spec["mode"] != "nnxjit":                 # split once, then the plain-JAX train step
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)

        def loss_p(p, xs, ys):
            return loss_of(nnx.merge(graphdef, p, rest), xs, ys)

        return _train_and_measure(loss_p, params, x, y, spec, version)

    optimizer = nnx.Optimizer(model, optax.adam(spec["lr"]), wrt=nnx.Param)
    step_fn = spyx.optimize.make_train_step(loss_of)
    fwd_fn = nnx.jit(loss_of)

    def train_step():
        return float(step_fn(model, optimizer, x, y))

    def forward():
        return float(fwd_fn(model, x, y))

    rec_out = _measure(train_step, forward, spec)
    rec_out["version"] = version
    return rec_out


# ------------------------------------------------------------------------------------------
# neurojax and plain-JAX workers (run in neurojax's environment)
# ------------------------------------------------------------------------------------------

def neurojax_worker(spec: dict) -> dict:
    import jax
    import jax.numpy as jnp
    import optax
    import neurojax as nj

    rec = spec["variant"] == "rec"
    mode = spec["mode"]
    x_np, y_np = make_data(spec)
    w = init_weights(spec, rec)
    n_in, n_h, n_o = spec["n_in"], spec["n_hidden"], spec["n_out"]

    def all_to_all(n_pre, n_post):
        if mode != "lif-table":
            return nj.all_to_all(n_pre, n_post)
        idx = np.tile(np.arange(n_post, dtype=np.int32), (n_pre, 1))   # same table, scatter path
        return nj.Connectivity(post_idx=jnp.asarray(idx), n_pre=n_pre, n_post=n_post)

    beta, thr = spec["beta"], spec["threshold"]
    surrogate = nj.SuperSpike(spec["slope"])
    if mode.startswith("lif"):
        tau = -1.0 / math.log(beta)            # ms, dt = 1 ms: exp(-dt / tau) = beta
        model = nj.LIF(spike_fn=surrogate)
        pop = dict(tau_m=tau, c_m=tau * (1.0 - beta), v_rest=0.0, v_th=thr, v_reset=0.0,
                   t_ref=0.0)
        bias = "i_e"
    else:
        model = nj.Leaky(spike_fn=surrogate)
        pop = dict(beta=beta, thr=thr)
        bias = "bias"
    populations = {"inp": nj.Population(nj.SpikeSource(), n_in),
                   "hid": nj.Population(model, n_h), "out": nj.Population(model, n_o)}
    projections = {"in_hid": nj.Projection(all_to_all(n_in, n_h), "inp", "hid",
                                           synapse=nj.Instant()),
                   "hid_out": nj.Projection(all_to_all(n_h, n_o), "hid", "out",
                                            synapse=nj.Instant())}
    names = {"in_hid": "w_in", "hid_out": "w_out"}
    if rec:
        projections["hid_hid"] = nj.Projection(all_to_all(n_h, n_h), "hid", "hid",
                                               synapse=nj.Instant())
        names["hid_hid"] = "w_rec"
    net = nj.Network(populations, projections, dt=1.0)
    overrides = {proj: w[key] for proj, key in names.items()}
    overrides["hid"] = dict(pop, **{bias: w["b_hid"]})
    overrides["out"] = dict(pop, **{bias: w["b_out"]})
    base = nj.init_params(net, overrides)
    state0 = nj.init_state(net, base)
    record = nj.Record(("out", "spike"))
    trainable = {"w_in": base["in_hid"].w, "w_out": base["hid_out"].w,
                 "b_hid": getattr(base["hid"], bias), "b_out": getattr(base["out"], bias)}
    if rec:
        trainable["w_rec"] = base["hid_hid"].w

    def full_params(tr):
        p = dict(base)
        for proj, key in names.items():
            p[proj] = p[proj]._replace(w=tr[key])
        p["hid"] = p["hid"]._replace(**{bias: tr["b_hid"]})
        p["out"] = p["out"]._replace(**{bias: tr["b_out"]})
        return p

    def loss_fn(tr, xb, y):
        p = full_params(tr)

        def one(x_trial):                                     # (T, n_in) -> (n_out,) counts
            _, rec_ = nj.simulate(net, p, state0, {"inp": x_trial}, record=record)
            return rec_["out"]["spike"].sum(0)

        # x stays time-major (T, B, n_in) and is batched on axis 1: a batch-major (B, T, n_in)
        # argument mapped on axis 0 made the training step ~1.5x slower (sliced per step)
        logits = jax.vmap(one, in_axes=1)(xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    xb = jnp.asarray(x_np)                                           # (T, B, n_in)
    return _train_and_measure(loss_fn, trainable, xb, jnp.asarray(y_np), spec,
                              f"neurojax {nj.__version__} / jax {jax.__version__}")


def _train_and_measure(loss_fn, params, x, y, spec, version):
    import jax
    import optax

    tx = optax.adam(spec["lr"])

    @jax.jit
    def step_fn(p, s, xs, ys):
        loss, g = jax.value_and_grad(loss_fn)(p, xs, ys)
        upd, s = tx.update(g, s, p)
        return optax.apply_updates(p, upd), s, loss

    fwd_fn = jax.jit(loss_fn)
    state = {"p": params, "s": tx.init(params)}

    def train_step():
        state["p"], state["s"], loss = step_fn(state["p"], state["s"], x, y)
        return float(loss)

    def forward():
        return float(fwd_fn(state["p"], x, y))

    out = _measure(train_step, forward, spec)
    out["version"] = version
    return out


def plain_jax_worker(spec: dict) -> dict:
    import jax
    import jax.numpy as jnp

    rec = spec["variant"] == "rec"
    x_np, y_np = make_data(spec)
    w = {k: jnp.asarray(v) for k, v in init_weights(spec, rec).items()}
    beta, thr, slope = spec["beta"], spec["threshold"], spec["slope"]

    @jax.custom_jvp
    def heaviside(v):
        return (v > 0).astype(v.dtype)

    @heaviside.defjvp
    def _heaviside_jvp(primals, tangents):
        (v,), (dv,) = primals, tangents
        return heaviside(v), dv / (1.0 + slope * jnp.abs(v)) ** 2

    def loss_fn(p, xs, ys):
        def body(carry, x_t):
            v1, s1, v2, s2, count = carry
            i1 = x_t @ p["w_in"] + p["b_hid"]
            if rec:
                i1 = i1 + s1 @ p["w_rec"]
            v1 = beta * v1 + i1 - jax.lax.stop_gradient(s1) * thr
            s1 = heaviside(v1 - thr)
            v2 = beta * v2 + s1 @ p["w_out"] + p["b_out"] - jax.lax.stop_gradient(s2) * thr
            s2 = heaviside(v2 - thr)
            return (v1, s1, v2, s2, count + s2), None

        b = xs.shape[1]
        zh, zo = jnp.zeros((b, spec["n_hidden"]), xs.dtype), jnp.zeros((b, spec["n_out"]), xs.dtype)
        (_, _, _, _, logits), _ = jax.lax.scan(body, (zh, zh, zo, zo, zo), xs)
        import optax
        return optax.softmax_cross_entropy_with_integer_labels(logits, ys).mean()

    return _train_and_measure(loss_fn, w, jnp.asarray(x_np), jnp.asarray(y_np), spec,
                              f"jax {jax.__version__}")


def worker_main(spec_path: str, out_path: str) -> None:
    with open(spec_path) as f:
        spec = json.load(f)
    if spec.get("cores"):        # before jax starts its thread pools
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:spec["cores"]])
    fn = {"spyx": spyx_worker, "neurojax": neurojax_worker, "plain_jax": plain_jax_worker}
    result = fn[spec["library"]](spec)
    with open(out_path, "w") as f:
        json.dump(result, f)


# ------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------

def _child_env() -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu", **THREAD_ENV)
    env.pop("JAX_ENABLE_X64", None)
    return env


def spyx_unavailable(cfg: Config) -> Optional[str]:
    """None if the spyx interpreter can import spyx/flax/optax/jax, else the reason."""
    if not cfg.spyx:
        return "disabled (--no-spyx)"
    py = cfg.spyx_python
    if not (os.path.isfile(py) and os.access(py, os.X_OK)):
        return (f"spyx interpreter {py!r} not found (create it: python3.11 -m venv /work/venv_spyx"
                " && /work/venv_spyx/bin/pip install spyx==1.0.0 jax==0.10.2 jaxlib==0.10.2 "
                "optax==0.2.8)")
    try:
        probe = subprocess.run([py, "-c", "import spyx, flax, optax, jax"], capture_output=True,
                               text=True, timeout=300, env=_child_env())
    except (OSError, subprocess.SubprocessError) as err:
        return f"{py} failed to start: {err}"
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["(no message)"])[-1]
        return f"{py} cannot import spyx/flax/optax/jax: {last}"
    return None


def run_worker(cfg: Config, python: str, spec: dict) -> dict:
    """One (library, mode, variant) measurement in a fresh process; a record with ``error`` on failure."""
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, out_path = os.path.join(tmp, "spec.json"), os.path.join(tmp, "out.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([python, os.path.abspath(__file__), "--bptt-worker", spec_path,
                                   out_path], capture_output=True, text=True,
                                  timeout=cfg.worker_timeout, env=_child_env())
            rc, err = proc.returncode, proc.stderr
        except subprocess.TimeoutExpired:
            rc, err = -1, f"timed out after {cfg.worker_timeout} s"
        seconds = time.perf_counter() - t0
        if rc != 0 or not os.path.exists(out_path):
            return {"error": f"worker failed (exit {rc})", "stderr_tail": err[-3000:],
                    "process_seconds": seconds}
        with open(out_path) as f:
            out = json.load(f)
    out["process_seconds"] = seconds
    return out


def _median(xs):
    return statistics.median(xs) if xs else None


def summarise(rounds: list) -> list:
    """One record per (library, mode, variant): medians over every timed step of every round."""
    keys = []
    for r in rounds:
        k = (r["library"], r["mode"], r["variant"])
        if k not in keys:
            keys.append(k)
    runs = []
    for lib, mode, variant in keys:
        rs = [r for r in rounds if (r["library"], r["mode"], r["variant"]) == (lib, mode, variant)
              and "error" not in r]
        failed = sum(1 for r in rounds if (r["library"], r["mode"], r["variant"])
                     == (lib, mode, variant) and "error" in r)
        rec = {"library": lib, "mode": mode, "label": LABELS.get((lib, mode), f"{lib} ({mode})"),
               "variant": variant, "n_rounds": len(rs), "n_failed_rounds": failed}
        if rs:
            cpu = [v for r in rs for v in r["step_cpu_ms"]]
            wall = [v for r in rs for v in r["step_wall_ms"]]
            fcpu = [v for r in rs for v in r["forward_cpu_ms"]]
            step, fwd = _median(cpu), _median(fcpu)
            rec.update(
                cpu_ms_step=step, wall_ms_step=_median(wall),
                wall_ms_round_medians=[_median(r["step_wall_ms"]) for r in rs],
                cpu_ms_round_medians=[_median(r["step_cpu_ms"]) for r in rs],
                wall_ms_min=min(wall), forward_cpu_ms=fwd,
                forward_wall_ms=_median([v for r in rs for v in r["forward_wall_ms"]]),
                backward_cpu_ms=step - fwd, backward_over_forward=(step - fwd) / fwd,
                compile_s=_median([r["compile_s"] for r in rs]),
                forward_compile_s=_median([r["forward_compile_s"] for r in rs]),
                n_timed_steps=len(cpu), peak_rss_mb=max(r["peak_rss_mb"] for r in rs),
                loss_first=rs[0]["loss_first"], loss_last=rs[0]["loss_last"],
                version=rs[0]["version"])
        runs.append(rec)
    return runs


def ratios_and_targets(runs: list) -> tuple:
    """CPU ms/step over the fastest spyx row and over plain JAX (same variant); target checks."""
    ok = [r for r in runs if r.get("cpu_ms_step") is not None]
    ratios, targets = [], []
    for variant in sorted({r["variant"] for r in ok}):
        rows = [r for r in ok if r["variant"] == variant]
        spyx_rows = [r for r in rows if r["library"] == "spyx"]
        spyx_best = min(spyx_rows, key=lambda r: r["cpu_ms_step"]) if spyx_rows else None
        plain = next((r for r in rows if r["library"] == "plain_jax"), None)
        for r in rows:
            if r["library"] == "spyx":
                continue
            rec = {"label": r["label"], "variant": variant, "cpu_ms_step": r["cpu_ms_step"]}
            if spyx_best is not None:
                rec["spyx_reference"] = spyx_best["label"]
                rec["x_spyx"] = r["cpu_ms_step"] / spyx_best["cpu_ms_step"]
                rec["wall_x_spyx"] = r["wall_ms_step"] / spyx_best["wall_ms_step"]
            if plain is not None:
                rec["x_plain_jax"] = r["cpu_ms_step"] / plain["cpu_ms_step"]
            ratios.append(rec)
            tgt = {"label": r["label"], "variant": variant,
                   "backward_over_forward": r["backward_over_forward"],
                   "backward_le_3x_forward": r["backward_over_forward"] <= 3.0}
            if spyx_best is not None:
                tgt["x_spyx"] = rec["x_spyx"]
                tgt["step_le_half_spyx"] = rec["x_spyx"] <= 0.5
            targets.append(tgt)
    return ratios, targets


def plot(runs: list, path: str) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in runs if r.get("cpu_ms_step") is not None]
    variants = sorted({r["variant"] for r in ok}, key=lambda v: (v != "ff", v))
    labels = [lab for lab in LABELS.values() if any(r["label"] == lab for r in ok)]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    width = 0.8 / max(len(variants), 1)
    for j, variant in enumerate(variants):
        vals = {r["label"]: r for r in ok if r["variant"] == variant}
        xs = np.arange(len(labels)) + (j - (len(variants) - 1) / 2) * width
        step = [vals[lab]["cpu_ms_step"] if lab in vals else np.nan for lab in labels]
        fwd = [vals[lab]["forward_cpu_ms"] if lab in vals else np.nan for lab in labels]
        ratio = [vals[lab]["backward_over_forward"] if lab in vals else np.nan for lab in labels]
        bars = axes[0].bar(xs, step, width, label=f"{variant}: step (fwd + bwd + Adam)")
        axes[0].bar(xs, fwd, width * 0.5, color="k", alpha=0.35,
                    label="forward only" if j == 0 else None)
        for b, v in zip(bars, step):
            if np.isfinite(v):
                axes[0].text(b.get_x() + b.get_width() / 2, v, f"{v:.0f}", ha="center",
                             va="bottom", fontsize=7)
        axes[1].bar(xs, ratio, width, label=variant)
    for ax in axes:
        ax.set_xticks(np.arange(len(labels)))
        ax.set_xticklabels([lab.replace(" (", "\n(").replace(" + jax", "\n+ jax") for lab in labels],
                           fontsize=7)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("process CPU ms per training step (median)")
    axes[0].set_title("BPTT step, 1 thread (lower is better)")
    axes[0].legend(fontsize=7)
    axes[1].axhline(3.0, color="r", ls="--", lw=1, label="target 3")
    axes[1].set_ylabel("backward / forward (CPU)")
    axes[1].set_title("backward over forward")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run(cfg: Config) -> dict:
    t_start = time.perf_counter()
    for v in cfg.variants:
        if v not in ("ff", "rec"):
            raise ValueError(f"--variants: unknown variant {v!r} (ff, rec)")
    for m in cfg.spyx_modes:
        if m not in SPYX_MODES:
            raise ValueError(f"--spyx-modes: unknown mode {m!r} ({', '.join(SPYX_MODES)})")
    if not 0 <= cfg.cores <= len(os.sched_getaffinity(0)):
        raise ValueError(f"--cores must be in [0, {len(os.sched_getaffinity(0))}], got {cfg.cores}")
    if cfg.rounds < 1 or cfg.steps < 1 or cfg.warmup < 1:
        raise ValueError("--rounds, --steps and --warmup must be >= 1")
    spyx_skip = spyx_unavailable(cfg)
    for m in cfg.neurojax_modes:
        if m not in NJ_MODES:
            raise ValueError(f"--neurojax-modes: unknown mode {m!r} ({', '.join(NJ_MODES)})")
    rows = [("neurojax", m) for m in cfg.neurojax_modes]
    if cfg.plain_jax:
        rows.append(("plain_jax", "scan"))
    if spyx_skip is None:
        rows += [("spyx", m) for m in cfg.spyx_modes]
    base = {k: getattr(cfg, k) for k in ("n_in", "n_hidden", "n_out", "t_steps", "batch", "lr",
                                         "beta", "threshold", "slope", "seed", "warmup",
                                         "steps", "row_budget_s", "cores")}
    rounds = []
    for rnd in range(cfg.rounds):
        for variant in cfg.variants:
            for lib, mode in rows:
                spec = dict(base, library=lib, mode=mode, variant=variant)
                python = cfg.spyx_python if lib == "spyx" else sys.executable
                load = os.getloadavg()[0]
                out = run_worker(cfg, python, spec)
                rec = dict(library=lib, mode=mode, variant=variant, round=rnd + 1,
                           loadavg_start=round(load, 2), **out)
                rounds.append(rec)
                brief = (f"step {_median(out['step_cpu_ms']):.1f} ms CPU, forward "
                         f"{_median(out['forward_cpu_ms']):.1f} ms, first step "
                         f"{out['compile_s']:.1f} s" if "error" not in out else out["error"])
                print(f"round {rnd + 1} {variant:3s} {LABELS[(lib, mode)]:42s} {brief}",
                      flush=True)
    runs = summarise(rounds)
    ratios, targets = ratios_and_targets(runs)
    metrics = {"runs": runs, "ratios": ratios, "targets": targets, "rounds": rounds,
               "n_runs": len(runs), "n_failed": sum(1 for r in rounds if "error" in r),
               "spyx_skipped": spyx_skip, "thread_env": THREAD_ENV,
               "wall_seconds": time.perf_counter() - t_start}
    if cfg.plot:
        os.makedirs(cfg.out, exist_ok=True)
        metrics["plot_png"] = plot(runs, os.path.join(cfg.out, "bptt_bar.png"))
    return metrics


def format_table(runs: list, ratios: list) -> str:
    by = {(r["label"], r["variant"]): r for r in ratios}
    lines = ["| variant | library | CPU ms/step | wall ms/step | forward CPU ms | bwd/fwd | "
             "x spyx | x plain JAX | first step s |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in runs:
        if r.get("cpu_ms_step") is None:
            lines.append(f"| {r['variant']} | {r['label']} | failed | | | | | | |")
            continue
        q = by.get((r["label"], r["variant"]), {})
        fmt = lambda v, f="{:.2f}": "" if v is None else f.format(v)
        lines.append(f"| {r['variant']} | {r['label']} | {r['cpu_ms_step']:.1f} | "
                     f"{r['wall_ms_step']:.1f} | {r['forward_cpu_ms']:.1f} | "
                     f"{r['backward_over_forward']:.2f} | {fmt(q.get('x_spyx'))} | "
                     f"{fmt(q.get('x_plain_jax'))} | {r['compile_s']:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--bptt-worker"]:
        worker_main(argv[1], argv[2])
        return
    import _cli  # experiments/ is on sys.path when this file runs as a script

    cfg = _cli.parse(Config, argv)
    metrics = run(cfg)
    path = _cli.save_results(cfg, metrics)
    print(format_table(metrics["runs"], metrics["ratios"]))
    if metrics["spyx_skipped"]:
        print(f"spyx skipped: {metrics['spyx_skipped']}")
    print(f"wrote {path} ({metrics['wall_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
