"""STDP protocols run inside the simulator: the pair-STDP window and the triplet rule's
frequency dependence (Sjöström, Turrigiano & Nelson 2001; Pfister & Gerstner 2006).

Both protocols drive plastic synapses between spike sources (presynaptic neurons firing at
chosen steps) and one LIF neuron made to fire at chosen steps by 1e5 pA one-step pulses, with
a 1e-12 weight so that the synapses cannot change when the post neuron fires. So the learned
changes are those of the rule alone, measured through ``nj.simulate``:

* window: pre neuron ``i`` fires once at lag ``l_i`` from a single post spike; pair STDP
  (``nj.plasticity.STDP``, all-to-all traces) gives ``a+ exp(-|l|/tau+)`` for pre-before-post
  and ``-a- exp(-|l|/tau-)`` for post-before-pre; the run reports the largest deviation from
  this closed form.
* frequency: ``n_pairs`` pairings at frequency ``f`` with the post spike 10 ms after (+10) or
  before (-10) the pre spike, triplet STDP with the paper's visual-cortex minimal all-to-all
  parameters (``nj.plasticity.TripletSTDP`` defaults). Expected qualitatively (Sjöström 2001):
  -10 ms depresses at low frequency and potentiates at high frequency; +10 ms potentiation
  grows with frequency and vanishes at 0.1 Hz.

Writes results.json, stdp_window.png and triplet_frequency.png into --out.
"""
import dataclasses
import json
import os

import jax.numpy as jnp
import numpy as np

import neurojax as nj
from neurojax import plasticity as pl

KICK_PA = 1e5
W_TINY = 1e-12


@dataclasses.dataclass(frozen=True)
class Config:
    dt: float = 1.0                                   # ms
    max_lag: int = 60                                 # ms, window half-width
    lag_step: int = 2                                 # ms
    n_pairs: int = 60                                 # pairings per frequency
    pair_lag: float = 10.0                            # ms between pre and post in a pairing
    frequencies: tuple[float, ...] = (0.1, 1.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0)   # Hz
    chunk: int = 20000                                # steps per progress-bar chunk
    progress: bool = True
    out: str = "results/stdp_protocols"

    def smoke(self):
        return dataclasses.replace(self, max_lag=20, lag_step=5,
                                   frequencies=(1.0, 20.0, 50.0), progress=False)


def plastic_net(rule, n_pre: int, dt: float):
    """``n_pre`` spike sources -> one pulse-driven LIF neuron through plastic synapses."""
    conn = nj.from_edges(np.arange(n_pre), np.zeros(n_pre, int), n_pre, 1)
    net = nj.Network({"pre": nj.Population(nj.SpikeSource(), n_pre),
                      "post": nj.Population(nj.LIF(), 1)},
                     {"syn": nj.Projection(conn, "pre", "post", receptor="i", plasticity=rule)},
                     dt=dt, allow_large_dt=True)
    return net, nj.init_params(net, {"syn": W_TINY})


def run_protocol(net, params, pre_steps, post_steps, n_steps, cfg):
    """Learned change per synapse for pre neuron ``i`` firing at ``pre_steps[i]`` and the post
    neuron at ``post_steps``; checks that the post neuron fired exactly there."""
    n_pre = len(pre_steps)
    pre = np.zeros((n_steps, n_pre))
    for i, steps in enumerate(pre_steps):
        pre[np.asarray(steps, int), i] = 1.0
    post = np.zeros((n_steps, 1))
    post[np.asarray(post_steps, int), 0] = KICK_PA
    final, rec = nj.run_chunked(net, params, nj.init_state(net, params),
                                {"pre": jnp.asarray(pre), "post": jnp.asarray(post)},
                                chunk=min(cfg.chunk, n_steps), progress=cfg.progress)
    fired = np.nonzero(np.asarray(rec["post"][:, 0]))[0]
    if not np.array_equal(fired, np.sort(np.asarray(post_steps, int))):
        raise RuntimeError("the post neuron did not fire exactly at the pulses")
    return np.asarray(final.projs["syn"].dw[:, 0])


def stdp_window(cfg: Config) -> dict:
    lags = np.arange(-cfg.max_lag, cfg.max_lag + 1, cfg.lag_step)          # pre - post, ms
    lag_steps = np.round(lags / cfg.dt).astype(int)
    t_post = int(lag_steps.max() - lag_steps.min())                        # room on both sides
    net, params = plastic_net(pl.STDP(), len(lags), cfg.dt)
    dw = run_protocol(net, params, [[t_post + s] for s in lag_steps], [t_post],
                      2 * t_post + 2, cfg)
    p = params["syn"].plast
    closed = np.where(lags < 0, float(p.a_plus) * np.exp(lags / float(p.tau_plus)),
                      np.where(lags > 0, -float(p.a_minus) * np.exp(-lags / float(p.tau_minus)), 0.0))
    return dict(lags_ms=lags, dw=dw, closed_form=closed,
                max_abs_error=float(np.abs(dw - closed).max()))


def triplet_frequency(cfg: Config) -> dict:
    """Delta w after ``n_pairs`` pairings at each frequency: synapse 0 is pre->post (+lag),
    synapse 1 post->pre (-lag), sharing one post spike train."""
    lag = int(round(cfg.pair_lag / cfg.dt))
    rule = pl.TripletSTDP()
    net, params = plastic_net(rule, 2, cfg.dt)
    plus, minus = [], []
    for f in cfg.frequencies:
        period = int(round(1000.0 / f / cfg.dt))
        if period <= lag:
            raise ValueError(f"frequency {f} Hz leaves no room for a {cfg.pair_lag} ms pairing")
        post = lag + period * np.arange(cfg.n_pairs)
        dw = run_protocol(net, params, [post - lag, post + lag], post, int(post[-1]) + lag + 2, cfg)
        plus.append(float(dw[0]))
        minus.append(float(dw[1]))
    return dict(frequencies_hz=list(cfg.frequencies), dw_plus=plus, dw_minus=minus)


def plot(window: dict, freq: dict, out_dir: str) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = {}
    fig, ax = plt.subplots(figsize=(5, 3.2))
    lags = np.asarray(window["lags_ms"])
    fine = np.linspace(lags.min(), lags.max(), 400)
    ax.plot(lags, window["dw"], "o", ms=4, label="neurojax simulate")
    ax.plot(lags, window["closed_form"], "-", lw=1, alpha=0.7, label="closed form")
    ax.axhline(0, color="0.7", lw=0.5)
    ax.set(xlabel="t_pre - t_post (ms)", ylabel="Δw", title="pair STDP window", xlim=(fine[0], fine[-1]))
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    paths["window_png"] = os.path.join(out_dir, "stdp_window.png")
    fig.savefig(paths["window_png"], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(freq["frequencies_hz"], freq["dw_plus"], "o-", label="+10 ms (pre→post)")
    ax.plot(freq["frequencies_hz"], freq["dw_minus"], "s-", label="−10 ms (post→pre)")
    ax.axhline(0, color="0.7", lw=0.5)
    ax.set(xlabel="pairing frequency (Hz)", ylabel="Δw after the protocol",
           title="triplet STDP, Sjöström protocol")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    paths["frequency_png"] = os.path.join(out_dir, "triplet_frequency.png")
    fig.savefig(paths["frequency_png"], dpi=120)
    plt.close(fig)
    return paths


def run(cfg: Config) -> dict:
    os.makedirs(cfg.out, exist_ok=True)
    window = stdp_window(cfg)
    freq = triplet_frequency(cfg)
    plus, minus = np.asarray(freq["dw_plus"]), np.asarray(freq["dw_minus"])
    metrics = dict(
        window_max_abs_error=window["max_abs_error"],
        window=window,
        frequency=freq,
        plus_grows_with_frequency=bool(np.all(np.diff(plus) > 0)),
        minus_ltd_at_lowest_frequency=bool(minus[0] < 0),
        minus_ltp_at_highest_frequency=bool(minus[-1] > 0),
    )
    metrics.update(plot(window, freq, cfg.out))
    return metrics


def main(argv=None):
    import _cli  # experiments/ is on sys.path when this file runs as a script

    cfg = _cli.parse(Config, argv)
    metrics = run(cfg)
    path = _cli.save_results(cfg, metrics)
    keys = ("window_max_abs_error", "plus_grows_with_frequency", "minus_ltd_at_lowest_frequency",
            "minus_ltp_at_highest_frequency")
    print(json.dumps({k: metrics[k] for k in keys}))
    print(json.dumps({"frequencies_hz": metrics["frequency"]["frequencies_hz"],
                      "dw_plus": metrics["frequency"]["dw_plus"],
                      "dw_minus": metrics["frequency"]["dw_minus"]}))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
