"""COBA benchmark, side by side: neurojax vs BrainPy vs Brian2 (runtime/Cython and C++ standalone).

The network of ``experiments/coba.py`` (Vogels & Abbott 2005 / Brette et al. 2007 benchmark 1,
in the form of the Brian2 and BrainPy benchmark scripts) is simulated by every simulator with
the same model, the same parameters (read from ``coba.Config``) and the same network
statistics: N = 4k, 16k, 64k neurons (80 % E / 20 % I), every neuron projects to exactly
K = 80 targets drawn with replacement from the whole population (mean in-degree 80 at every N,
weights not rescaled), 1 s of biological time at dt = 0.1 ms (10,000 steps), float32 for the
JAX-based simulators, float64 for Brian2 (its default).

Simulators (``--peers``):

* ``neurojax``: ``coba.build`` + ``coba.simulate`` (ahead-of-time compile, then the run).
* ``brainpy``: BrainPy 2.8 ``brainpy.state`` idiom on brainstate/brainevent: ``LIFRef`` +
  ``AlignPostProj`` + ``brainstate.nn.EventFixedProb`` (event-driven, fixed out-degree, Numba
  CPU kernel) + ``Expon`` + ``COBA`` output, ``jit(for_loop(...))``. Written in physical units
  (R = 1/g_L, weights in nS, drive in pA), hard reset to ``V_reset``. This avoids two pitfalls
  of the published example (``shared/anchors/coba.md``): weights in mS with R = 1 ohm (1000x
  too weak synapses, an uncoupled network at ~50 Hz), and weakly typed initial states, which
  make the jitted loop compile a second time on its second call.
* ``brian2-runtime``: Brian2 runtime mode, Cython code generation (code objects compiled by
  ``run(0 ms)`` before the timed run), into a Cython cache inside ``--out`` (``--brian2-cache``
  selects a persistent one). An untimed warm-up process compiles it first, so the measured runs
  use a warm cache; the warm-up's (cold) compile time is reported as a ``warmup`` run.
* ``brian2-standalone``: Brian2 ``cpp_standalone`` (g++, Brian2's default flags, one thread);
  the simulation is timed inside the binary (``std::chrono`` wall, ``std::clock`` CPU) by code
  inserted around ``run()``.

Protocol: one subprocess per (simulator, N, repetition) (``JAX_PLATFORMS=cpu``), run
sequentially; repetitions are the outer loop, sizes the middle loop, simulators the inner loop.
Every child prints one JSON line. The timed section is the simulation of t = 0 .. duration from
the initial state (the synchronous start-up volley included) for every simulator. For the two
JAX-based simulators the timed run is the *second* execution of the compiled program, from a
freshly initialised state (BrainPy's first execution carries ~0.5-1 s of one-off work); the
first is reported as ``first_run_*``. Recorded per run:

* ``cpu_seconds``: process CPU time of the timed simulation (all threads); ``wall_seconds``;
  ``cores`` (``--cores k`` pins every child to the first k CPUs before it imports anything:
  XLA's intra-op worker threads keep spinning between the small parallel loops of a
  simulation step, so on a 2-core machine the JAX-based simulators burn ~1.7x their wall
  time in CPU seconds with no wall-time gain; ``--cores 1`` measures every simulator on one
  core);
* ``compile_seconds``: neurojax: AOT ``lower().compile()``; BrainPy: AOT compile + first
  execution - timed execution (the anchor's "first call - second call"); Brian2 runtime: code
  generation + Cython compile of the run's code objects; standalone: ``device.build`` (code
  generation + make);
* ``build_seconds``: network construction incl. connectivity;
* ``rate_hz``: mean population rate in the timed run;
* ``peak_mb``: peak RSS of the simulating process (the child's ``RUSAGE_SELF``; standalone: the
  binary, from ``os.wait4``); ``tree_peak_mb``: the largest process of the child's tree (incl.
  compilers), from the driver's ``os.wait4``.

Expected (2-core CPU, from the anchor ``shared/anchors/coba.md``): median rates ~20.5-22.4 Hz
(one network realisation at N = 4k can give 19-25 Hz, see ``RATE_WINDOW_HZ``); CPU seconds per
biological second BrainPy ~2.6 / 4.1 / 9.8, Brian2 standalone ~0.45 / 2.1 / 8.7, Brian2
runtime ~1.5 / 3.5 / 12 at 4k / 16k / 64k. A full run (3 sizes, 4 simulators, 1 repetition)
takes ~10 min; --smoke (N = 400, 100 ms, neurojax and BrainPy) ~20 s.

Writes results.json (``runs``: one record per process; ``summary``: medians and CPU-time ratios
vs BrainPy and vs Brian2 standalone per N), runs.jsonl (records as they finish), table.md and
cpu_vs_n.png (CPU seconds vs N, log-log) into --out.
"""
import dataclasses
import importlib.util
import json
import math
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

PEERS = ("neurojax", "brainpy", "brian2-runtime", "brian2-standalone")
RESULT_TAG = "BENCH_COBA_RESULT "
# Single network realisations of this model at N = 4000 fire at 19-25 Hz (neurojax seeds 0-7:
# 19.6-24.5 Hz, Brian2 seeds 0-7: 19.3-23.5 Hz, means 21.4 / 21.6 Hz); medians over
# repetitions and larger N lie in the anchor's 20.5-22.4 Hz. A run outside this window points
# at a modelling mismatch (e.g. BrainPy's unit pitfall gives ~50 Hz).
RATE_WINDOW_HZ = (18.0, 25.0)


@dataclasses.dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...] = (4000, 16000, 64000)   # network sizes N
    peers: tuple[str, ...] = PEERS                  # simulators to run
    reps: int = 3                                   # repetitions (median reported)
    duration: float = 1000.0                        # ms of biological time (timed)
    seed: int = 0                                   # network / initial-state seed (+ rep)
    timeout: float = 1800.0                         # s per child process
    brian2_cache: str = ""                          # Cython cache dir ("" = fresh one in --out)
    brian2_warmup: bool = True                      # untimed Brian2 runtime run to fill the cache
    cores: int = 0                                  # pin every run to its first k CPUs (0: all)
    progress: bool = True
    out: str = "results/bench_coba"

    def smoke(self) -> "Config":
        return dataclasses.replace(self, sizes=(400,), peers=("neurojax", "brainpy"), reps=1,
                                   duration=100.0, progress=False)


def check_config(cfg: Config) -> None:
    if not cfg.sizes or any(n < 10 for n in cfg.sizes):
        raise ValueError(f"sizes: need at least one size >= 10, got {cfg.sizes}")
    unknown = [p for p in cfg.peers if p not in PEERS]
    if unknown or not cfg.peers:
        raise ValueError(f"peers: {unknown or 'none given'} not in {PEERS}")
    if cfg.reps < 1:
        raise ValueError(f"reps must be >= 1, got {cfg.reps}")
    if not cfg.duration > 0:
        raise ValueError(f"duration must be > 0 ms, got {cfg.duration}")
    if not cfg.timeout > 0:
        raise ValueError(f"timeout must be > 0 s, got {cfg.timeout}")
    if not 0 <= cfg.cores <= len(os.sched_getaffinity(0)):
        raise ValueError(f"cores must be in [0, {len(os.sched_getaffinity(0))}] (0: all), "
                         f"got {cfg.cores}")


def model_params(n: int, duration: float, seed: int) -> dict:
    """The COBA parameters of ``coba.Config`` (neurojax units: ms, mV, pA, pF, nS) for one run."""
    import coba

    cfg = dataclasses.replace(coba.Config(), n=n, duration=duration, seed=seed)
    keys = ("n", "exc_fraction", "k", "duration", "dt", "tau_m", "c_m", "v_rest", "v_th",
            "v_reset", "t_ref", "i_e", "e_exc", "e_inh", "tau_exc", "tau_inh", "w_exc", "w_inh",
            "v0_mean", "v0_std", "seed")
    m = {key: getattr(cfg, key) for key in keys}
    m["n_exc"] = coba.n_excitatory(cfg)
    m["n_steps"] = int(round(cfg.duration / cfg.dt))
    return m


def availability(peers) -> dict:
    """``{peer: None if runnable else the reason it is skipped}`` (cheap: no imports)."""
    def missing(*mods):
        gone = [m for m in mods if importlib.util.find_spec(m) is None]
        return f"not installed: {', '.join(gone)}" if gone else None

    reasons = {}
    for peer in peers:
        if peer == "neurojax":
            reasons[peer] = missing("jax", "neurojax")
        elif peer == "brainpy":
            reasons[peer] = missing("brainpy", "brainstate", "brainevent", "brainunit",
                                    "braintools", "numba")
        elif peer == "brian2-runtime":
            reasons[peer] = missing("brian2", "Cython")
        else:
            reasons[peer] = missing("brian2") or (
                None if shutil.which("g++") or shutil.which("c++") else "no C++ compiler (g++)")
    return reasons


# ================================================================================ children
# Each child runs one simulation and returns a dict; ``_child_main`` prints it as JSON.


def _compile_counter():
    """Register a JAX listener counting XLA compilations; returns (list, unregister)."""
    import jax

    events = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    return events, lambda: jax.monitoring.unregister_event_duration_listener(listener)


def child_neurojax(m: dict, spec: dict) -> dict:
    import jax

    import coba
    import neurojax

    cfg = dataclasses.replace(coba.Config(), n=m["n"], duration=m["duration"], seed=m["seed"],
                              record_max=0, progress=False)      # record E/I counts only
    t0 = time.perf_counter()
    net, params, state = coba.build(cfg)
    jax.block_until_ready((net, params, state))
    build_s = time.perf_counter() - t0
    # first execution (after the AOT compile), then the timed one from the same initial state
    _, rec1, first = coba.simulate(cfg, net, params, state)
    _, rec, timed = coba.simulate(cfg, net, params, state)
    spikes = int(rec["count_exc"].sum() + rec["count_inh"].sum())
    spikes_first = int(rec1["count_exc"].sum() + rec1["count_inh"].sum())
    return dict(
        build_seconds=build_s, compile_seconds=first["compile_seconds"],
        cpu_seconds=timed["cpu_seconds"], wall_seconds=timed["sim_seconds"],
        first_run_cpu_seconds=first["cpu_seconds"], first_run_wall_seconds=first["sim_seconds"],
        compiles_during_run=first["compiles_during_run"] + timed["compiles_during_run"],
        spikes=spikes, spikes_first_run=spikes_first,
        n_synapses=sum(p.conn.n_synapses() for p in net.projections.values()),
        dtype=str(jax.numpy.result_type(float)), event_driven=cfg.event_driven,
        versions=dict(neurojax=getattr(neurojax, "__version__", None), jax=jax.__version__))


def child_brainpy(m: dict, spec: dict) -> dict:
    import brainevent
    import brainpy
    import brainstate
    import braintools
    import brainunit as u
    import jax
    import jax.numpy as jnp
    import numpy as np

    n, n_exc, k = m["n"], m["n_exc"], m["k"]
    g_leak = m["c_m"] * u.pfarad / (m["tau_m"] * u.ms)
    bst = brainpy.state

    class COBANet(brainstate.nn.Module):
        def __init__(self):
            super().__init__()
            self.pop = bst.LIFRef(
                n, R=1.0 / g_leak, tau=m["tau_m"] * u.ms, tau_ref=m["t_ref"] * u.ms,
                V_rest=m["v_rest"] * u.mV, V_th=m["v_th"] * u.mV, V_reset=m["v_reset"] * u.mV,
                V_initializer=braintools.init.Normal(m["v0_mean"] * u.mV, m["v0_std"] * u.mV),
                spk_reset="hard")
            self.exc = bst.AlignPostProj(
                comm=brainstate.nn.EventFixedProb(n_exc, n, conn_num=k,
                                                  conn_weight=m["w_exc"] * u.nS,
                                                  seed=m["seed"] * 2 + 1),
                syn=bst.Expon.desc(n, tau=m["tau_exc"] * u.ms),
                out=bst.COBA.desc(E=m["e_exc"] * u.mV), post=self.pop)
            self.inh = bst.AlignPostProj(
                comm=brainstate.nn.EventFixedProb(n - n_exc, n, conn_num=k,
                                                  conn_weight=m["w_inh"] * u.nS,
                                                  seed=m["seed"] * 2 + 2),
                syn=bst.Expon.desc(n, tau=m["tau_inh"] * u.ms),
                out=bst.COBA.desc(E=m["e_inh"] * u.mV), post=self.pop)

        def update(self, t, drive):
            with brainstate.environ.context(t=t):
                fired = self.pop.get_spike() != 0.0
                self.exc(fired[:n_exc])
                self.inh(fired[n_exc:])
                self.pop(drive)
                return jnp.sum(self.pop.get_spike() != 0.0, dtype=jnp.int32)   # count only

    def strongly_typed_states(net):
        # init/reset leave some states weakly typed; the first update makes them strong, and
        # the jitted loop would then compile again on its next call (anchor pitfall 2)
        for st in net.states().values():
            value = st.value
            mant = u.get_mantissa(value)
            if jax.typeof(mant).weak_type:
                mant = jnp.asarray(mant, dtype=mant.dtype)
                st.value = (u.Quantity(mant, unit=u.get_unit(value))
                            if isinstance(value, u.Quantity) else mant)

    brainstate.random.seed(m["seed"])
    t0 = time.perf_counter()
    net = COBANet()
    brainstate.nn.init_all_states(net)
    strongly_typed_states(net)
    jax.block_until_ready(u.get_mantissa(net.pop.V.value))
    build_s = time.perf_counter() - t0

    dt = m["dt"] * u.ms
    drive = m["i_e"] * u.pA

    @brainstate.transform.jit
    def run(times):
        with brainstate.environ.context(dt=dt):
            return brainstate.transform.for_loop(lambda t: net.update(t, drive), times)

    times = u.math.arange(0, m["n_steps"]) * dt
    events, unregister = _compile_counter()
    t0 = time.perf_counter()
    run.compile(times)
    aot_s = time.perf_counter() - t0
    n_aot = len(events)
    t0, c0 = time.perf_counter(), time.process_time()
    counts1 = jax.block_until_ready(run(times))
    first_wall, first_cpu = time.perf_counter() - t0, time.process_time() - c0
    brainstate.nn.reset_all_states(net)          # fresh initial state (new V draw), t = 0 again
    strongly_typed_states(net)
    jax.block_until_ready(u.get_mantissa(net.pop.V.value))
    n_before = len(events)
    t0, c0 = time.perf_counter(), time.process_time()
    counts = jax.block_until_ready(run(times))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    compiles_timed = len(events) - n_before
    unregister()
    return dict(
        build_seconds=build_s, compile_seconds=max(aot_s + first_wall - wall, 0.0),
        aot_compile_seconds=aot_s, cpu_seconds=cpu, wall_seconds=wall,
        first_run_cpu_seconds=first_cpu, first_run_wall_seconds=first_wall,
        compiles_during_run=compiles_timed, compiles_first_run=n_before - n_aot,
        spikes=int(np.asarray(counts).sum()), spikes_first_run=int(np.asarray(counts1).sum()),
        n_synapses=n * k, dtype=str(jnp.result_type(float)),
        versions=dict(brainpy=brainpy.__version__, brainstate=brainstate.__version__,
                      brainevent=brainevent.__version__, jax=jax.__version__))


def brian2_coba(b2, m: dict, v0, targets: dict, *, record_spikes: bool = False):
    """The COBA network of ``m`` in Brian2 (float64, exponential Euler; dt from defaultclock).

    Args:
        m: the model parameters (:func:`model_params`).
        v0: ``(n,)`` initial membrane potentials in mV.
        targets: ``{"exc": (n_exc, k), "inh": (n - n_exc, k)}`` postsynaptic indices of each
            presynaptic row (E rows are neurons ``[0, n_exc)``, I rows the rest).
        record_spikes: keep spike times in the monitor (else it only counts).

    Also used by ``tests/reference/test_coba_brian2.py`` with neurojax's own tables.
    Returns ``(network, neurons, synapses, spike_monitor)``.
    """
    import numpy as np

    n, n_exc = m["n"], m["n_exc"]
    ms, mV, pA, pF, nS = b2.ms, b2.mV, b2.pA, b2.pF, b2.nS
    consts = dict(C_m=m["c_m"] * pF, g_L=m["c_m"] / m["tau_m"] * nS, E_L=m["v_rest"] * mV,
                  V_th=m["v_th"] * mV, V_reset=m["v_reset"] * mV, I_e=m["i_e"] * pA,
                  E_exc=m["e_exc"] * mV, E_inh=m["e_inh"] * mV, tau_exc=m["tau_exc"] * ms,
                  tau_inh=m["tau_inh"] * ms, w_exc=m["w_exc"] * nS, w_inh=m["w_inh"] * nS)
    eqs = """
    dv/dt = (g_L*(E_L - v) + ge*(E_exc - v) + gi*(E_inh - v) + I_e) / C_m : volt (unless refractory)
    dge/dt = -ge / tau_exc : siemens
    dgi/dt = -gi / tau_inh : siemens
    """
    # Brian2 holds a neuron for t_ref/dt - 1 steps after the spike step, neurojax for t_ref/dt
    # (tests/reference/test_coba_brian2.py): t_ref + dt makes it the same discrete model
    pop = b2.NeuronGroup(n, eqs, threshold="v > V_th", reset="v = V_reset",
                         refractory=(m["t_ref"] + m["dt"]) * ms, method="exponential_euler",
                         namespace=consts, name="pop")
    pop.v = np.asarray(v0, dtype=np.float64) * mV
    syns = []
    for name, lo, hi, on_pre in (("exc", 0, n_exc, "ge += w_exc"), ("inh", n_exc, n, "gi += w_inh")):
        post = np.asarray(targets[name])
        syn = b2.Synapses(pop[lo:hi], pop, on_pre=on_pre, namespace=consts, name=name)
        syn.connect(i=np.repeat(np.arange(hi - lo), post.shape[1]), j=post.ravel())
        syns.append(syn)
    mon = b2.SpikeMonitor(pop, record=record_spikes, name="count")
    net = b2.Network(pop, *syns, mon)
    return net, pop, syns, mon


def _brian2_network(b2, m: dict):
    """:func:`brian2_coba` on its own draw: V(0) ~ N(v0_mean, v0_std), K targets with replacement."""
    import numpy as np

    n, n_exc, k = m["n"], m["n_exc"], m["k"]
    rng = np.random.default_rng(m["seed"])
    v0 = m["v0_mean"] + m["v0_std"] * rng.standard_normal(n)
    targets = {"exc": rng.integers(0, n, size=(n_exc, k)),
               "inh": rng.integers(0, n, size=(n - n_exc, k))}
    return brian2_coba(b2, m, v0, targets)


def child_brian2_runtime(m: dict, spec: dict) -> dict:
    import brian2 as b2

    b2.prefs.codegen.target = "cython"
    if spec.get("brian2_cache"):
        b2.prefs.codegen.runtime.cython.cache_dir = spec["brian2_cache"]
    b2.prefs.logging.file_log = False
    b2.BrianLogger.log_level_warn()
    b2.defaultclock.dt = m["dt"] * b2.ms
    t0 = time.perf_counter()
    net, pop, syns, mon = _brian2_network(b2, m)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    net.run(0 * b2.ms)                            # code generation + Cython compile, no steps
    compile_s = time.perf_counter() - t0
    start = int(mon.num_spikes)
    t0, c0 = time.perf_counter(), time.process_time()
    net.run(m["duration"] * b2.ms)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return dict(build_seconds=build_s, compile_seconds=compile_s, cpu_seconds=cpu,
                wall_seconds=wall, spikes=int(mon.num_spikes) - start,
                n_synapses=sum(len(s) for s in syns), dtype="float64",
                codegen_target=b2.prefs.codegen.target,
                cython_cache=b2.prefs.codegen.runtime.cython.cache_dir,
                versions=dict(brian2=b2.__version__))


# Runs the standalone binary and writes its own rusage (peak RSS, CPU) next to it.
_RUSAGE_WRAPPER = (
    "import json, os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:])\n"
    "_, status, ru = os.wait4(p.pid, 0)\n"
    "p.returncode = code = os.waitstatus_to_exitcode(status)\n"
    "with open('bench_rusage.json', 'w') as f:\n"
    "    json.dump(dict(maxrss_kb=ru.ru_maxrss, user_s=ru.ru_utime, sys_s=ru.ru_stime), f)\n"
    "sys.exit(code)\n")


def child_brian2_standalone(m: dict, spec: dict) -> dict:
    import brian2 as b2

    project = tempfile.mkdtemp(prefix="brian2_standalone_", dir=spec["tmp"])
    b2.set_device("cpp_standalone", directory=project, build_on_run=False)
    b2.prefs.devices.cpp_standalone.run_cmd_unix = [sys.executable, "-c", _RUSAGE_WRAPPER,
                                                    "./main"]
    b2.prefs.codegen.cpp.headers += ["<chrono>", "<ctime>", "<fstream>"]
    b2.prefs.logging.file_log = False
    b2.BrianLogger.log_level_warn()
    b2.defaultclock.dt = m["dt"] * b2.ms
    t0 = time.perf_counter()
    net, pop, syns, mon = _brian2_network(b2, m)
    b2.device.insert_code("main", "std::clock_t bench_c0 = std::clock(); "
                          "auto bench_w0 = std::chrono::steady_clock::now();")
    net.run(m["duration"] * b2.ms)
    b2.device.insert_code("main", "{ std::clock_t bench_c1 = std::clock(); "
                          "auto bench_w1 = std::chrono::steady_clock::now(); "
                          "std::ofstream bench_f(\"bench_timing.txt\"); "
                          "bench_f << double(bench_c1 - bench_c0) / CLOCKS_PER_SEC << ' ' "
                          "<< std::chrono::duration<double>(bench_w1 - bench_w0).count() "
                          "<< std::endl; }")
    build_s = time.perf_counter() - t0           # Python-side definition (connectivity drawn)
    t0 = time.perf_counter()
    b2.device.build(directory=project, compile=True, run=False, clean=True, with_output=False)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    b2.device.run(directory=project, with_output=False)
    binary_wall = time.perf_counter() - t0
    with open(os.path.join(project, "bench_timing.txt")) as f:
        cpu, wall = (float(x) for x in f.read().split())
    with open(os.path.join(project, "bench_rusage.json")) as f:
        ru = json.load(f)
    out = dict(build_seconds=build_s, compile_seconds=compile_s, cpu_seconds=cpu,
               wall_seconds=wall, spikes=int(mon.num_spikes),
               n_synapses=sum(int(len(s)) for s in syns), dtype="float64",
               peak_mb=ru["maxrss_kb"] / 1024.0, binary_wall_seconds=binary_wall,
               binary_cpu_seconds=ru["user_s"] + ru["sys_s"],
               brian2_last_run_time=float(b2.device._last_run_time),   # std::clock: CPU s
               openmp_threads=b2.prefs.devices.cpp_standalone.openmp_threads,
               versions=dict(brian2=b2.__version__))
    shutil.rmtree(project, ignore_errors=True)
    return out


CHILDREN = {"neurojax": child_neurojax, "brainpy": child_brainpy,
            "brian2-runtime": child_brian2_runtime, "brian2-standalone": child_brian2_standalone}


def _child_main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if spec.get("cores"):        # before any import that starts thread pools
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:spec["cores"]])
    m = spec["model"]
    res = CHILDREN[spec["simulator"]](m, spec)
    seconds = m["n_steps"] * m["dt"] * 1e-3
    res["rate_hz"] = res["spikes"] / m["n"] / seconds
    res.setdefault("peak_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    print(RESULT_TAG + json.dumps(res), flush=True)


# ================================================================================ driver


def run_child(spec: dict, timeout: float, log_path: str) -> dict:
    """One simulation in its own process; returns the child's record plus process metrics."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", TMPDIR=spec["tmp"])
    env.pop("JAX_ENABLE_X64", None)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)]
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=spec["tmp"],
                                env=env, start_new_session=True)
        timed_out = False
        try:
            while True:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() - t0 > timeout:
                    timed_out = True
                    os.killpg(proc.pid, signal.SIGKILL)    # the child's own process group
                    pid, status, ru = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.1)
        except BaseException:                              # e.g. Ctrl-C: don't leave it running
            os.killpg(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    rec = dict(process_wall_seconds=time.perf_counter() - t0, returncode=proc.returncode,
               tree_peak_mb=ru.ru_maxrss / 1024.0, loadavg_start=load0,
               loadavg_end=os.getloadavg()[0])
    with open(log_path) as f:
        text = f.read()
    lines = [ln for ln in text.splitlines() if ln.startswith(RESULT_TAG)]
    if lines and proc.returncode == 0:
        rec.update(json.loads(lines[-1][len(RESULT_TAG):]))
    else:
        rec["error"] = ("timeout after %.0f s; " % timeout if timed_out else "") + text[-2000:]
    return rec


def _median(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(values) if values else None


def summarize(runs, sizes, peers) -> list:
    """Medians per (simulator, N) and CPU-time ratios (of medians) vs BrainPy / Brian2 standalone."""
    ok = [r for r in runs if "error" not in r and not r.get("warmup")]
    rows = []
    keys = ("cpu_seconds", "wall_seconds", "compile_seconds", "build_seconds", "rate_hz",
            "peak_mb", "tree_peak_mb")
    for n in sizes:
        med = {}
        for peer in peers:
            sel = [r for r in ok if r["simulator"] == peer and r["n"] == n]
            if sel:
                med[peer] = {key: _median([r.get(key) for r in sel]) for key in keys}
                med[peer]["reps"] = len(sel)
        for peer, row in med.items():
            for ref, label in (("brainpy", "brainpy"), ("brian2-standalone", "brian2_standalone")):
                ref_cpu = med.get(ref, {}).get("cpu_seconds")
                row[f"cpu_ratio_vs_{label}"] = (row["cpu_seconds"] / ref_cpu
                                                if ref_cpu and row["cpu_seconds"] else None)
            rows.append(dict(simulator=peer, n=n, **row))
    return rows


def _fmt(x, digits=3):
    if x is None:
        return "-"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:.0f}"


def table_markdown(summary) -> str:
    head = ("| simulator | N | CPU s | wall s | CPU / BrainPy | CPU / Brian2 standalone | "
            "compile s | build s | rate Hz | peak MB | reps |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    body = "".join(
        f"| {r['simulator']} | {r['n']} | {_fmt(r['cpu_seconds'])} | {_fmt(r['wall_seconds'])} | "
        f"{_fmt(r['cpu_ratio_vs_brainpy'])} | {_fmt(r['cpu_ratio_vs_brian2_standalone'])} | "
        f"{_fmt(r['compile_seconds'])} | {_fmt(r['build_seconds'])} | {_fmt(r['rate_hz'], 4)} | "
        f"{_fmt(r['peak_mb'])} | {r['reps']} |\n" for r in summary)
    return head + body


def plot(runs, summary, duration: float, path: str) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.ticker
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    sims = [p for p in PEERS if any(r["simulator"] == p for r in summary)]
    for color, sim in zip(("C0", "C1", "C2", "C3"), sims):
        rows = [r for r in summary if r["simulator"] == sim]
        pts = [r for r in runs if r.get("simulator") == sim and "error" not in r
               and not r.get("warmup")]
        for ax, key in zip(axes, ("cpu_seconds", "wall_seconds")):
            ax.plot([r["n"] for r in rows], [r[key] for r in rows], "o-", color=color, label=sim)
            ax.plot([r["n"] for r in pts], [r[key] for r in pts], ".", color=color, alpha=0.4)
    sizes = sorted({r["n"] for r in summary})
    for ax, label in zip(axes, ("process CPU seconds", "wall seconds")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sizes, [f"{n / 1000:g}k" if n >= 1000 else str(n) for n in sizes])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel("neurons N (out-degree K each)")
        ax.set_ylabel(f"{label} for {duration:g} ms simulated")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    axes[0].set_title("COBA: CPU time of the simulation")
    axes[1].set_title("wall time (machine shared)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _log(msg, bar=None):
    if bar is not None:
        bar.write(msg, file=sys.stderr)      # above the progress bar
    else:
        print(msg, flush=True)


def run(cfg: Config) -> dict:
    check_config(cfg)
    os.makedirs(cfg.out, exist_ok=True)
    t_start = time.perf_counter()
    reasons = availability(cfg.peers)
    peers = tuple(p for p in cfg.peers if reasons[p] is None)
    skipped = {p: r for p, r in reasons.items() if r is not None}
    for p, r in skipped.items():
        _log(f"[bench_coba] skipping {p}: {r}")
    tmp = tempfile.mkdtemp(prefix="_bench_coba_tmp_", dir=os.path.abspath(cfg.out))
    cache = os.path.abspath(cfg.brian2_cache) if cfg.brian2_cache else os.path.join(tmp, "cython")
    jsonl = os.path.join(cfg.out, "runs.jsonl")
    open(jsonl, "w").close()
    runs = []
    jobs = []
    if "brian2-runtime" in peers and cfg.brian2_warmup:
        jobs.append(("brian2-runtime", min(cfg.sizes), 0, True))
    jobs += [(p, n, rep, False) for rep in range(1, cfg.reps + 1) for n in cfg.sizes
             for p in peers]
    bar = None
    if cfg.progress:
        try:
            from tqdm import tqdm
            bar = tqdm(total=len(jobs), unit="run", desc="bench_coba")
        except ImportError:
            bar = None
    try:
        for i, (peer, n, rep, warmup) in enumerate(jobs):
            duration = min(cfg.duration, 1.0) if warmup else cfg.duration
            spec = dict(simulator=peer, model=model_params(n, duration, cfg.seed + rep),
                        tmp=tmp, brian2_cache=cache, cores=cfg.cores)
            rec = dict(simulator=peer, n=n, rep=rep, warmup=warmup, cores=cfg.cores)
            rec.update(run_child(spec, cfg.timeout, os.path.join(tmp, f"child_{i}.log")))
            rec.update(simulator=peer, n=n, rep=rep, warmup=warmup)
            runs.append(rec)
            with open(jsonl, "a") as f:
                f.write(json.dumps(rec) + "\n")
            if "error" in rec:
                msg = f"FAILED: {rec['error'][-300:]}"
            else:
                msg = (f"cpu={rec['cpu_seconds']:.2f}s wall={rec['wall_seconds']:.2f}s "
                       f"compile={rec['compile_seconds']:.2f}s build={rec['build_seconds']:.2f}s "
                       f"rate={rec['rate_hz']:.2f}Hz peak={rec['peak_mb']:.0f}MB")
            _log(f"[bench_coba] {'warm-up ' if warmup else ''}rep {rep} N={n} {peer}: {msg} "
                 f"(load {rec['loadavg_start']:.1f})", bar)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        shutil.rmtree(tmp, ignore_errors=True)

    summary = summarize(runs, cfg.sizes, peers)
    warnings = []
    for r in runs:
        if "error" in r:
            warnings.append(f"{r['simulator']} N={r['n']} rep {r['rep']} failed")
        elif r.get("compiles_during_run"):
            warnings.append(f"{r['simulator']} N={r['n']} rep {r['rep']}: "
                            f"{r['compiles_during_run']} XLA compilations inside the timed run")
        elif (not r["warmup"] and cfg.duration >= 1000.0 and r["n"] >= 4000
              and not RATE_WINDOW_HZ[0] <= r["rate_hz"] <= RATE_WINDOW_HZ[1]):
            warnings.append(f"{r['simulator']} N={r['n']} rep {r['rep']}: rate "
                            f"{r['rate_hz']:.2f} Hz outside {RATE_WINDOW_HZ} (model mismatch?)")
    table = table_markdown(summary)
    with open(os.path.join(cfg.out, "table.md"), "w") as f:
        f.write(table)
    png = plot(runs, summary, cfg.duration, os.path.join(cfg.out, "cpu_vs_n.png")) if summary else None
    ok = [r for r in runs if "error" not in r]
    return dict(
        runs=runs, summary=summary, table_md=table, skipped=skipped, warnings=warnings,
        model=model_params(max(cfg.sizes), cfg.duration, cfg.seed),
        n_runs=len(ok), n_failed=len(runs) - len(ok), total_seconds=time.perf_counter() - t_start,
        plot_png=png,
        protocol=("one process per (simulator, N, rep); timed: simulation of t = 0..duration "
                  "from the initial state; JAX-based simulators: second execution of the "
                  "compiled program (fresh initial state), Brian2 runtime: after run(0 ms) "
                  "compiled the code objects, standalone: timed inside the binary; CPU = process "
                  "CPU time of that section; ratios are ratios of medians"),
        rate_window_hz=list(RATE_WINDOW_HZ),
        anchor="shared/anchors/coba.md")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--child"]:
        _child_main(argv[1])
        return
    import _cli

    cfg = _cli.parse(Config, argv)
    metrics = run(cfg)
    path = _cli.save_results(cfg, metrics)
    print(metrics["table_md"])
    for w in metrics["warnings"]:
        print("WARNING:", w)
    for p, r in metrics["skipped"].items():
        print(f"skipped {p}: {r}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
