"""Vogels & Abbott (2005) COBA network - benchmark 1 of Brette et al. (2007).

A sparsely connected network of N = 4000 leaky integrate-and-fire neurons (80 % excitatory,
20 % inhibitory) with exponentially decaying conductance synapses, in the form used by the
Brian2 and BrainPy benchmark scripts: a constant drive of 20 mV keeps the neurons firing
(instead of the paper's 50 ms initial Poisson kick) and every presynaptic neuron projects to
exactly K = 80 targets drawn with replacement from the whole population, so the mean in-degree
is 80 (64 E + 16 I) at every N and weights are not rescaled with N.

Model, in neurojax units (the benchmark states conductances in units of the leak conductance
g_L = C_m / tau_m = 200 pF / 20 ms = 10 nS):

    C_m dV/dt = g_L (V_rest - V) + g_e (E_exc - V) + g_i (E_inh - V) + I_e
    tau_m 20 ms, V_rest -60 mV, V_th -50 mV, V_reset -60 mV, t_ref 5 ms,
    I_e = 20 mV * g_L = 200 pA, E_exc 0 mV, E_inh -80 mV,
    g_e, g_i: exponential synapses, tau_exc 5 ms, tau_inh 10 ms,
    w_exc = 0.6 g_L = 6 nS, w_inh = 6.7 g_L = 67 nS, one step (0.1 ms) transmission delay,
    V(0) ~ N(-55 mV, (2 mV)^2), dt = 0.1 ms, exact exponential integration, float32.

Expected: population rate ~20-22 Hz at N = 4000 (Brian2 20.8-21.6 Hz, BrainPy 21.4-21.7 Hz,
plain JAX 20.5-22.4 Hz on the same model; shared/anchors/coba.md), mean CV of the ISIs
~1.4-1.5 (neurons fire in irregular bursts; Brian2 gives the same on identical networks, see
tests/reference/test_coba_brian2.py). Full run: 1 s of biological time, 10,000 steps, ~10 s on
a 2-core CPU; --smoke (N = 400, 100 ms) finishes in seconds.

``--stdp event`` (or ``dense``) makes every excitatory synapse plastic: additive pair STDP
(a_+ = 0.06 nS, a_- = 0.066 nS, tau_+- = 20 ms) clipped to [0, 12] nS, updated in place for
the neurons that spiked (``Projection(learn_events=...)``) or for every synapse every step;
both give the same spikes and weights, and the run reports the mean final E weight.

Writes results.json (rate, CV, timings), raster.png and rate.png into --out.
"""
import dataclasses
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import neurojax as nj


@dataclasses.dataclass(frozen=True)
class Config:
    n: int = 4000                 # neurons (E + I)
    exc_fraction: float = 0.8     # fraction of excitatory neurons
    k: int = 80                   # out-degree of every neuron (targets drawn with replacement)
    duration: float = 1000.0      # ms of biological time
    dt: float = 0.1               # ms
    tau_m: float = 20.0           # ms
    c_m: float = 200.0            # pF (g_L = c_m / tau_m = 10 nS)
    v_rest: float = -60.0         # mV
    v_th: float = -50.0           # mV
    v_reset: float = -60.0        # mV
    t_ref: float = 5.0            # ms
    i_e: float = 200.0            # pA constant drive (20 mV * g_L)
    e_exc: float = 0.0            # mV
    e_inh: float = -80.0          # mV
    tau_exc: float = 5.0          # ms
    tau_inh: float = 10.0         # ms
    w_exc: float = 6.0            # nS (0.6 g_L)
    w_inh: float = 67.0           # nS (6.7 g_L)
    v0_mean: float = -55.0        # mV initial membrane potential mean
    v0_std: float = 2.0           # mV initial membrane potential s.d.
    seed: int = 0
    chunk: int = 1000             # steps per jitted call (progress-bar granularity)
    event_driven: bool = True     # event-driven kernel (capacity n_type // 200 + 32 spikes/step)
    stdp: str = "off"             # "off" | "event" | "dense": plastic E synapses (see above)
    stdp_a_plus: float = 0.06     # nS potentiation per pair
    stdp_a_minus: float = 0.066   # nS depression per pair
    stdp_tau: float = 20.0        # ms trace time constants
    stdp_w_max: float = 12.0      # nS upper bound (lower bound 0)
    record_max: int = 20000       # keep full spike trains of at most this many neurons
    raster_neurons: int = 400     # neurons shown in raster.png
    progress: bool = True
    out: str = "results/coba"

    def smoke(self) -> "Config":
        return dataclasses.replace(self, n=400, duration=100.0, raster_neurons=100)


@dataclasses.dataclass(frozen=True)
class CobaRecord:
    """Per-step record: spike trains of a stratified subset plus E/I spike counts of all.

    Records ``spikes`` (bool, the first ``keep_exc`` E and first ``keep_inh`` I neurons),
    ``count_exc`` and ``count_inh`` (int32). Hashable, so ``simulate`` compiles once.
    """

    n_exc: int
    keep_exc: int
    keep_inh: int

    def __call__(self, state):
        s = state.pops["P"].spike > 0
        kept = jnp.concatenate([s[: self.keep_exc], s[self.n_exc: self.n_exc + self.keep_inh]])
        return {"spikes": kept,
                "count_exc": jnp.sum(s[: self.n_exc], dtype=jnp.int32),
                "count_inh": jnp.sum(s[self.n_exc:], dtype=jnp.int32)}


def n_excitatory(cfg: Config) -> int:
    n_exc = int(round(cfg.exc_fraction * cfg.n))
    if not 0 < n_exc < cfg.n:
        raise ValueError(f"n={cfg.n} with exc_fraction={cfg.exc_fraction} leaves no E or no I "
                         "neurons")
    return n_exc


def capacity(cfg: Config, n_rows: int):
    """Event capacity per step for ``n_rows`` spiking rows: a few times the ~0.2 % of them that
    fire in a step at ~20 Hz, dt = 0.1 ms (bursts take extra exact passes); ``None`` selects
    the dense reference kernel."""
    return n_rows // 200 + 32 if cfg.event_driven else None


STDP_MODES = ("off", "event", "dense")


def _stdp(cfg: Config):
    """``(projection fields, plast params)`` of the plastic E synapses (``cfg.stdp``)."""
    if cfg.stdp not in STDP_MODES:
        raise ValueError(f"stdp must be one of {STDP_MODES}, got {cfg.stdp!r}")
    if cfg.stdp == "off":
        return {}, None
    rule = nj.plasticity.chain(nj.plasticity.STDP(), nj.plasticity.ClipWeights())
    # active E rows or posts per pass: ~0.2 % of n fire in a step; every chunk costs its full
    # capacity times the degree, so it is tighter than the propagation's
    events = cfg.n // 500 + 16 if cfg.stdp == "event" else None
    plast = (nj.plasticity.STDPParams.default(a_plus=cfg.stdp_a_plus, a_minus=cfg.stdp_a_minus,
                                              tau_plus=cfg.stdp_tau, tau_minus=cfg.stdp_tau),
             nj.plasticity.ClipWeightsParams.default(w_min=0.0, w_max=cfg.stdp_w_max))
    return dict(plasticity=rule, learn_events=events), plast


def build(cfg: Config):
    """The network, its params and its initial state, deterministic from ``cfg.seed``.

    One population ``"P"`` (E = indices ``[0, n_exc)``, I = the rest) and two projections,
    ``"exc"`` (the E rows, ``pre_rows=(0, n_exc)``, receptor ``g_exc``; plastic with
    ``cfg.stdp``) and ``"inh"`` (the I rows, ``pre_rows=(n_exc, n)``, receptor ``g_inh``),
    each an ``(n_rows, k)`` table.

    Returns:
        ``(net, params, state)``.
    """
    n, k = cfg.n, cfg.k
    n_exc = n_excitatory(cfg)
    key_e, key_i, key_v = jax.random.split(jax.random.PRNGKey(cfg.seed), 3)
    rows = {"exc": (0, n_exc), "inh": (n_exc, n)}
    keys = {"exc": key_e, "inh": key_i}
    plastic, plast = _stdp(cfg)
    projections = {
        name: nj.Projection(nj.fixed_out_degree(keys[name], stop - start, n, k), pre="P", post="P",
                            receptor=f"g_{name}", synapse=nj.Exponential(), pre_rows=(start, stop),
                            max_events=capacity(cfg, stop - start),
                            **(plastic if name == "exc" else {}))
        for name, (start, stop) in rows.items()}
    net = nj.Network(populations={"P": nj.Population(nj.LIF(), n)}, projections=projections,
                     dt=cfg.dt)
    params = nj.init_params(net, {
        "P": dict(tau_m=cfg.tau_m, c_m=cfg.c_m, v_rest=cfg.v_rest, v_th=cfg.v_th,
                  v_reset=cfg.v_reset, t_ref=cfg.t_ref, e_exc=cfg.e_exc, e_inh=cfg.e_inh,
                  i_e=cfg.i_e),
        "exc": nj.ProjParams(w=cfg.w_exc, syn=nj.ExponentialParams.default(tau=cfg.tau_exc),
                             plast=plast),
        "inh": nj.ProjParams(w=cfg.w_inh, syn=nj.ExponentialParams.default(tau=cfg.tau_inh)),
    })
    v0 = cfg.v0_mean + cfg.v0_std * jax.random.normal(key_v, (n,))
    state = nj.init_state(net, params, {"P": {"v": v0}})
    return net, params, state


def record_for(cfg: Config) -> CobaRecord:
    n_exc = n_excitatory(cfg)
    keep = min(cfg.n, cfg.record_max)
    keep_exc = min(n_exc, int(round(keep * n_exc / cfg.n)))
    return CobaRecord(n_exc=n_exc, keep_exc=keep_exc, keep_inh=min(cfg.n - n_exc, keep - keep_exc))


def simulate(cfg: Config, net, params, state, *, progress: bool = False):
    """Compile (timed apart), then run ``cfg.duration`` ms with ``nj.run_chunked`` (timed).

    Returns ``(final_state, records, timings)``; ``timings`` has ``compile_seconds``,
    ``sim_seconds`` (wall, simulation only) and ``cpu_seconds`` (process CPU time of it).
    """
    n_steps = int(round(cfg.duration / cfg.dt))
    if n_steps < 1:
        raise ValueError(f"duration={cfg.duration} ms is shorter than one step of {cfg.dt} ms")
    chunk = min(cfg.chunk, n_steps)
    record = record_for(cfg)
    t0 = time.perf_counter()
    for size in sorted({chunk, n_steps % chunk} - {0}):
        # ahead-of-time compile with the exact call signature run_chunked uses (inputs = {}),
        # which fills simulate's jit cache
        nj.simulate.lower(net, params, state, {}, n_steps=size, record=record).compile()
    compile_s = time.perf_counter() - t0
    compiles = []                              # XLA compilations inside the timed section

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        final, rec = nj.run_chunked(net, params, state, n_steps=n_steps, chunk=chunk,
                                    record=record, progress=progress)
        jax.block_until_ready(final)
        sim_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    timings = dict(compile_seconds=compile_s, sim_seconds=sim_s, cpu_seconds=cpu_s,
                   compiles_during_run=len(compiles))   # must be 0 for clean timings
    return final, rec, timings


def analyse(cfg: Config, rec) -> dict:
    """Rates (Hz, all neurons), CV of the ISIs (recorded neurons with >= 2 spikes)."""
    n_exc = n_excitatory(cfg)
    n_steps = rec["count_exc"].shape[0]
    seconds = n_steps * cfg.dt * 1e-3
    spikes_e, spikes_i = int(rec["count_exc"].sum()), int(rec["count_inh"].sum())
    cv = nj.metrics.isi_cv(rec["spikes"], cfg.dt)
    return dict(
        rate_hz=(spikes_e + spikes_i) / cfg.n / seconds,
        rate_exc_hz=spikes_e / n_exc / seconds,
        rate_inh_hz=spikes_i / (cfg.n - n_exc) / seconds,
        cv_isi=float(np.nanmean(cv)) if np.isfinite(cv).any() else float("nan"),
        cv_isi_neurons=int(np.isfinite(cv).sum()),
        n_spikes=spikes_e + spikes_i,
        max_spikes_per_step=int((rec["count_exc"] + rec["count_inh"]).max()),
    )


def plot(cfg: Config, rec, out_dir: str) -> dict:
    """raster.png (stratified E/I subset) and rate.png (1 ms bins, recorded neurons)."""
    record = record_for(cfg)
    spikes = rec["spikes"]
    show_e = min(record.keep_exc, int(round(cfg.raster_neurons * cfg.exc_fraction)))
    show_i = min(record.keep_inh, cfg.raster_neurons - show_e)
    cols = np.concatenate([np.arange(show_e), record.keep_exc + np.arange(show_i)])
    raster = nj.plotting.raster(
        spikes[:, cols], cfg.dt, os.path.join(out_dir, "raster.png"),
        groups={"E": (0, show_e), "I": (show_e, show_e + show_i)},
        title=f"COBA, N = {cfg.n}: {show_e} E + {show_i} I neurons")
    bin_ms = 1.0 if abs(round(1.0 / cfg.dt) * cfg.dt - 1.0) < 1e-9 else cfg.dt
    pop = np.asarray(nj.metrics.population_rate(spikes, cfg.dt, bin_ms=bin_ms))
    rate = nj.plotting.traces(pop, bin_ms, os.path.join(out_dir, "rate.png"),
                              ylabel="rate (Hz)",
                              title=f"population rate ({bin_ms:g} ms bins)")
    return dict(raster_png=raster, rate_png=rate)


def run(cfg: Config) -> dict:
    t0 = time.perf_counter()
    net, params, state = build(cfg)
    jax.block_until_ready((net, params, state))
    build_s = time.perf_counter() - t0
    final, rec, timings = simulate(cfg, net, params, state, progress=cfg.progress)
    metrics = analyse(cfg, rec)
    metrics.update(timings)
    if cfg.stdp != "off":
        exc = net.projections["exc"]
        w = params["exc"].w + final.projs["exc"].dw
        metrics["mean_w_exc_final_ns"] = float(jnp.sum(jnp.where(exc.conn.mask, w, 0.0))
                                               / exc.conn.n_synapses())
    metrics.update(
        build_seconds=build_s,
        n_neurons=cfg.n,
        n_synapses=sum(p.conn.n_synapses() for p in net.projections.values()),
        n_steps=int(rec["count_exc"].shape[0]),
        dtype=str(jnp.result_type(float)),
        device=str(jax.devices()[0]),
        expected_rate_hz=[15.0, 25.0],
        anchor_rate_hz=[20.5, 22.4],
    )
    metrics.update(plot(cfg, rec, cfg.out))
    return metrics


def main(argv=None):
    import _cli  # experiments/ is on sys.path when this file runs as a script

    cfg = _cli.parse(Config, argv)
    metrics = run(cfg)
    path = _cli.save_results(cfg, metrics)
    keys = ("rate_hz", "rate_exc_hz", "rate_inh_hz", "cv_isi", "n_neurons", "n_synapses",
            "compile_seconds", "sim_seconds", "cpu_seconds")
    print(json.dumps({k: metrics[k] for k in keys}))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
