"""Ivanov & Michmizos (2021) - neuron-astrocyte liquid state machine (NALSM), Table 1, Figs. 2-4.

A 3-D liquid of discrete-time LIF neurons (80 % E / 20 % I, distance-based recurrent synapses,
15 % random input synapses) classifies digits from the spike counts of its neurons through a
linear softmax readout (neurojax.lsm; spec shared/specs/nalsm_astro.md section 1). Models:

* ``nalsm``: weights start at |w| = 3; phase 1 (``--n-warmup`` 20 ms snapshots, weights carried
  over) and every 250 ms sample use STDP whose depression rate is a global leaky-integrator
  astrocyte (``--astro-weights`` w_A, ``--astro-density`` fraction of neurons on it, Fig. 4);
* ``lsm_stdp``: the same with symmetric STDP (no astrocyte);
* ``lsm_apstdp``: |w| = 1, activity-dependent STDP in phase 1 only, frozen liquid in phase 2;
* ``lsm``: static liquid with one weight magnitude w, swept over ``--w-sweep``; the reported
  accuracy is each network's best w chosen on validation (the paper chose on test, also
  reported as ``test_accuracy_best_w_by_test``).

Per network (``--networks`` K seeds; the connectome depends only on the seed, so all models see
the same liquids and the same input draws): phase 1, phase 2 features of the train/val/test
samples, the readout (test accuracy at the best-validation epoch), the branching factor from
the rasters of ``--bf-samples`` test samples (section 1.10), and the kernel quality: mean matrix
rank of class-balanced spike-count sets of clean (SP) and noisy (AP) test inputs (section 1.11).

Data (``--data``): ``digits`` (scikit-learn 8x8, 64 inputs), ``digits28`` (upsampled to 28x28,
784 inputs, the offline MNIST stand-in; ``--digits-layout mnist``, the default, puts the digit in
MNIST's centred 20x20 box with thinned strokes so that the encoding drives the liquid as MNIST
does, ~24 vs ~20 input spikes per ms; ``fill`` stretches it over the frame: ~154 per ms), ``mnist`` / ``fashion`` (IDX files in ``--data-dir``),
``mnist1d`` (generated, 40 inputs), ``nmnist`` (N-MNIST .bin files in ``--data-dir``) and
``saccade`` (digits28, or MNIST with ``--data-dir``, moved along N-MNIST-like saccades into
2 x 34 x 34 events). Static inputs use the NALSM encoding (per-image L1 normalisation, dataset
max, Bernoulli per ms, 100 per event).

Expected (paper, 1000 neurons, MNIST, 10 networks): NALSM 95.96 +- 0.13 %, LSM+AP-STDP 95.49,
LSM (best w) 95.30, LSM+STDP 89.46; branching factor NALSM ~1.25, LSM+STDP ~1.42. Scaled-down
runs should reproduce the ordering NALSM >= AP-STDP >~ LSM >> LSM+STDP (spec section 1.14).
The full MNIST protocol (50,000 snapshots + 70,000 samples x 250 ms per network) is a GPU job;
results.json reports the measured samples/s and the extrapolated time of the full protocol.
--smoke (4x4x4 liquid, digits 8x8, a few samples) finishes in well under a minute on CPU.

Writes results.json, raster.png, warmup.png (phase-1 weights) and, for sweeps, sweep.png.
"""
import dataclasses
import itertools
import json
import os
import time
from typing import Optional

import jax
import numpy as np

import neurojax as nj
from neurojax import datasets, lsm

DATA = ("digits", "digits28", "mnist", "fashion", "mnist1d", "nmnist", "saccade")
EVENT_MS = 300          # event recordings: phase-1 windows come from the first 300 ms
FULL_PROTOCOL = dict(n_warmup=50000, n_samples=70000)      # MNIST: 50k + 10k + 10k samples


@dataclasses.dataclass(frozen=True)
class Config:
    data: str = "digits28"                        # one of DATA
    data_dir: Optional[str] = None                # IDX / N-MNIST files (mnist, fashion, nmnist)
    digits_layout: str = "mnist"                  # digits28: "mnist" (20x20 box, thin strokes) | "fill"
    model: str = "nalsm"                          # lsm | lsm_stdp | lsm_apstdp | nalsm
    liquid: tuple[int, int, int] = (10, 10, 10)   # grid d1 x d2 x d3 (paper: 10^3 and 20^3)
    n_train: Optional[int] = None                 # None: all of the split
    n_val: Optional[int] = None                   # None: all, or n_train // 5 if n_train is set
    n_test: Optional[int] = None
    n_warmup: int = 50000                         # phase-1 snapshots (paper 50,000)
    networks: int = 10                            # liquids (seeds); paper 10 for N = 1000
    seed: int = 0
    w_sweep: tuple[float, ...] = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4)   # lsm
    astro_weights: tuple[float, ...] = (0.015,)   # nalsm w_A (paper 0.015 for 1000, 0.0075 for 8000)
    astro_density: tuple[float, ...] = (1.0,)     # nalsm fraction of neurons on the astrocyte
    c_theta: float = 37.0                         # lsm_apstdp gate (Hz); N-MNIST 10
    delta_c: float = 22.0                         # lsm_apstdp half-width (Hz); N-MNIST 2-3
    sample_ms: int = 250
    snapshot_ms: int = 20
    keep_traces: bool = True                      # phase 1 carries STDP traces (reference code)
    sim_batch: Optional[int] = None               # phase-2 vmap batch; None: 4 on CPU, 250 else
    learn_events: Optional[int] = None            # event-driven STDP updates (LiquidConfig)
    warmup_chunk: int = 250                       # snapshots per jitted phase-1 call
    epochs: int = 2000                            # readout passes (code default 5000, [UNCONFIRMED])
    readout_batch: int = 250
    bf_samples: int = 20                          # test rasters for the branching factor
    kernel_quality: bool = True
    kq_per_class: int = 100                       # samples per class per rank draw
    kq_draws: int = 1000                          # rank draws (paper 1000)
    noise_sigma: float = 125.0                    # AP: pixel noise (0..255 scale)
    shared_p_max: bool = False                    # test inputs use the train+val p_max (the
                                                  # reference: its own; small test sets shift)
    event_shift_ms: float = 10.0                  # AP: s.d. of the event-time shift
    progress: bool = True
    plot: bool = True
    out: str = "results/nalsm"

    def smoke(self) -> "Config":
        return dataclasses.replace(
            self, data="digits", liquid=(4, 4, 4), n_train=60, n_val=30, n_test=30, n_warmup=30,
            networks=1, w_sweep=(0.8, 1.2), epochs=40, readout_batch=20, bf_samples=3,
            kq_per_class=2, kq_draws=3, sim_batch=10, warmup_chunk=16, progress=False)


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


def _take(xy, n):
    return xy if n is None else datasets.XY(xy.x[:n], xy.y[:n])


def _n_val(cfg):
    """Validation size: as given; else all (full protocol) or n_train // 5 (50k : 10k)."""
    if cfg.n_val is not None or cfg.n_train is None:
        return cfg.n_val
    return max(1, cfg.n_train // 5)


def _subset(split, cfg):
    return datasets.Split(_take(split.train, cfg.n_train), _take(split.val, _n_val(cfg)),
                          _take(split.test, cfg.n_test))


def _noisy_images(key, images, sigma):
    """AP inputs: N(0, sigma) pixel noise, clipped to [0, 255], then the NALSM encoding."""
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    noisy = np.clip(images + rng.normal(0.0, sigma, images.shape), 0.0, 255.0)
    return datasets.nalsm_input_probabilities(noisy).reshape(len(images), -1)


def _shifted_events(key, events, sigma_ms, T):
    """AP inputs: every event of a sample moved by one N(0, sigma) draw, reflected into [0, T)."""
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    out = np.zeros((len(events), T, events.shape[2]), events.dtype)
    t = np.arange(T)
    for i, shift in enumerate(np.rint(rng.normal(0.0, sigma_ms, len(events))).astype(int)):
        new = t + shift
        new = np.abs(new)                                   # reflect at 0
        new = np.where(new > T - 1, 2 * (T - 1) - new, new)  # reflect at T - 1
        new = np.clip(new, 0, T - 1)
        np.maximum.at(out[i], new, events[i, :T])
    return out


def load_data(cfg: Config, key) -> dict:
    """Inputs of every split ready for neurojax.lsm: probabilities ``(n, n_in)`` or events
    ``(n, T, n_in)``; a noisy copy of the test inputs for the kernel quality (AP)."""
    kind = "rate"
    if cfg.data in ("digits", "digits28", "mnist", "fashion", "mnist1d"):
        if cfg.data in ("digits", "digits28"):
            raw = (datasets.load_digits(8) if cfg.data == "digits"
                   else datasets.load_digits(28, layout=cfg.digits_layout))
        elif cfg.data == "mnist1d":
            n_train = 4000 if cfg.n_train is None else cfg.n_train
            n_val = 500 if _n_val(cfg) is None else _n_val(cfg)
            n_test = 1000 if cfg.n_test is None else cfg.n_test
            raw = datasets.load_mnist1d(n_train, n_test, n_val=n_val)
            lo = raw.train.x.min()           # signals are standardised: shift to >= 0 first
            scale = 255.0 / (raw.train.x.max() - lo)
            raw = datasets.Split(*[datasets.XY(np.clip((s.x - lo) * scale, 0, 255), s.y)
                                   for s in raw])
        else:
            if cfg.data_dir is None:
                raise ValueError(f"--data {cfg.data} needs --data-dir (the four IDX files)")
            raw = datasets.load_mnist(cfg.data_dir, cfg.data)
        enc = datasets.nalsm_normalise_split(raw)        # p_max over the full train+val / test
        if cfg.shared_p_max:
            p_max = datasets.nalsm_p_max(np.concatenate([raw.train.x, raw.val.x]))
            enc = enc._replace(test=datasets.XY(
                datasets.nalsm_input_probabilities(raw.test.x, p_max), raw.test.y))
        enc, raw = _subset(enc, cfg), _subset(raw, cfg)
        splits = {name: (s.x.reshape(len(s.x), -1), s.y) for name, s in zip(("train", "val", "test"), enc)}
        noisy = _noisy_images(jax.random.fold_in(key, 7), raw.test.x, cfg.noise_sigma)
    elif cfg.data in ("nmnist", "saccade"):
        kind = "events"
        if cfg.data == "nmnist":
            if cfg.data_dir is None:
                raise ValueError("--data nmnist needs --data-dir (Train/ and Test/ of N-MNIST)")
            limits = {"train": cfg.n_train, "val": _n_val(cfg), "test": cfg.n_test}
            parts = {name: datasets.load_nmnist(cfg.data_dir, name, limit=limits[name],
                                                n_steps=EVENT_MS) for name in limits}
        else:
            imgs = (datasets.load_mnist(cfg.data_dir, "mnist") if cfg.data_dir is not None
                    else datasets.load_digits(28, layout=cfg.digits_layout))
            imgs = _subset(imgs, cfg)
            parts = {name: datasets.XY(datasets.saccade_events(s.x, jax.random.fold_in(key, i),
                                                               n_steps=EVENT_MS), s.y)
                     for i, (name, s) in enumerate(zip(("train", "val", "test"), imgs))}
        splits = {name: (s.x, s.y) for name, s in parts.items()}
        noisy = _shifted_events(jax.random.fold_in(key, 7), splits["test"][0],
                                cfg.event_shift_ms, cfg.sample_ms)
    else:
        raise ValueError(f"--data must be one of {DATA}, got {cfg.data!r}")
    n_in = splits["train"][0].shape[-1]
    return {"kind": kind, "n_in": n_in, "noisy_test": noisy, **splits}


def warmup_inputs(data: dict, cfg: Config, key) -> np.ndarray:
    """Phase-1 snapshots: training samples in random-permutation order (a new permutation
    every pass), static ones as probabilities, event ones as a random 20 ms window of the first
    300 ms (start ~ U{1..278})."""
    x_train = data["train"][0]
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    n = len(x_train)
    order = np.concatenate([rng.permutation(n) for _ in range(-(-cfg.n_warmup // n))])[:cfg.n_warmup]
    if data["kind"] == "rate":
        return x_train[order]
    T = x_train.shape[1]
    starts = rng.integers(1, T - cfg.snapshot_ms - 1, size=cfg.n_warmup)
    return np.stack([x_train[i, s:s + cfg.snapshot_ms] for i, s in zip(order, starts)])


# ---------------------------------------------------------------------------------------------
# one model on one network
# ---------------------------------------------------------------------------------------------


def sweep_points(cfg: Config) -> list:
    """``[(label, LiquidConfig overrides)]`` of the model's sweep."""
    if cfg.model == "lsm":
        return [({"w": w}, dict(w=w)) for w in cfg.w_sweep]
    if cfg.model == "nalsm":
        return [({"astro_weight": a, "astro_density": d}, dict(astro_weight=a, astro_density=d))
                for a, d in itertools.product(cfg.astro_weights, cfg.astro_density)]
    if cfg.model == "lsm_apstdp":
        return [({}, dict(c_theta=cfg.c_theta, delta_c=cfg.delta_c))]
    return [({}, {})]


def run_network(cfg: Config, data: dict, net_index: int, overrides: dict, sim_batch: int) -> dict:
    key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), net_index)
    lcfg = lsm.LiquidConfig(model=cfg.model, learn_events=cfg.learn_events, **overrides)
    liquid = lsm.build_liquid(key, cfg.liquid, data["n_in"], lcfg)
    out = {"network": net_index}
    weights, timing = None, {}
    t0 = time.perf_counter()
    if lcfg.has_warmup:
        x_warm = warmup_inputs(data, cfg, jax.random.fold_in(key, 10))
        weights, diag = lsm.warmup(liquid, x_warm, jax.random.fold_in(key, 11),
                                   snapshot_ms=cfg.snapshot_ms, chunk=cfg.warmup_chunk,
                                   keep_traces=cfg.keep_traces, progress=cfg.progress)
        timing["warmup_seconds"] = diag.pop("seconds")
        timing["snapshots_per_s"] = diag.pop("snapshots_per_s")
        tail = slice(-max(1, len(diag["liquid_spikes"]) // 10), None)
        out["warmup"] = {k: float(np.mean(v[tail])) for k, v in diag.items()}
        out["warmup_curves"] = {k: v.tolist() for k, v in diag.items() if k.startswith("mean_w")}
    feats, rasters, infos = {}, None, []
    n_test = len(data["test"][1])
    bf_idx = np.unique(np.linspace(0, n_test - 1, min(cfg.bf_samples, n_test)).astype(int))
    for i, split in enumerate(("train", "val", "test")):
        x, _ = data[split]
        counts, r, info = lsm.sample_features(
            liquid, weights, x, jax.random.fold_in(key, 20 + i), sample_ms=cfg.sample_ms,
            batch_size=sim_batch, raster_indices=bf_idx if split == "test" else (),
            progress=cfg.progress, desc=f"phase 2 ({split})")
        feats[split] = counts
        infos.append(info)
        if split == "test":
            rasters = r
    timing["feature_seconds"] = float(sum(i["seconds"] for i in infos))
    timing["samples_per_s"] = float(np.median([i["samples_per_s"] for i in infos]))
    res = lsm.train_readout(*[(feats[s], data[s][1]) for s in ("train", "val", "test")],
                            n_classes=10, epochs=cfg.epochs, batch_size=cfg.readout_batch,
                            progress=cfg.progress)
    out.update(test_accuracy=res["test_accuracy"], val_accuracy=res["val_accuracy"],
               train_accuracy=res["train_accuracy"], best_epoch=res["best_epoch"])
    bf, per_sample = lsm.branching_factor(rasters, lsm.recurrent_adjacency(liquid))
    out.update(branching_factor=bf, branching_factor_per_sample=per_sample.tolist(),
               spikes_per_neuron=float(feats["test"].mean()),
               silent_fraction=float((feats["test"].sum(axis=0) == 0).mean()))
    if cfg.kernel_quality:
        y_test = data["test"][1]
        per_class = min(cfg.kq_per_class, int(np.unique(y_test, return_counts=True)[1].min()))
        noisy, _, _ = lsm.sample_features(
            liquid, weights, data["noisy_test"], jax.random.fold_in(key, 30),
            sample_ms=cfg.sample_ms, batch_size=sim_batch, progress=cfg.progress,
            desc="phase 2 (noisy test)")
        sp = lsm.kernel_rank(feats["test"], y_test, per_class=per_class, n_draws=cfg.kq_draws,
                             seed=net_index)
        ap = lsm.kernel_rank(noisy, y_test, per_class=per_class, n_draws=cfg.kq_draws,
                             seed=net_index)
        out.update(sp=sp[0], ap=ap[0], kernel_quality=sp[0] - ap[0], kq_per_class=per_class)
    timing["total_seconds"] = time.perf_counter() - t0
    out["timing"] = timing
    out["_raster"] = rasters[0] if len(rasters) else None
    out["_liquid_n_e"] = liquid.n_e
    return out


# ---------------------------------------------------------------------------------------------
# the experiment
# ---------------------------------------------------------------------------------------------

_PER_NET_KEYS = ("test_accuracy", "val_accuracy", "branching_factor", "sp", "ap", "kernel_quality",
                 "spikes_per_neuron")


def _mean_sd(values):
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], float)
    if not len(v):
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def run(cfg: Config) -> dict:
    if cfg.model not in lsm.MODELS:
        raise ValueError(f"--model must be one of {lsm.MODELS}, got {cfg.model!r}")
    if cfg.networks < 1 or cfg.n_warmup < 1:
        raise ValueError("--networks and --n-warmup must be >= 1")
    os.makedirs(cfg.out, exist_ok=True)
    sim_batch = cfg.sim_batch or (4 if jax.default_backend() == "cpu" else 250)
    t_load = time.perf_counter()
    data = load_data(cfg, jax.random.PRNGKey(cfg.seed + 7919))
    load_seconds = time.perf_counter() - t_load
    points = sweep_points(cfg)
    runs = []                                             # [point][network]
    t_start = time.perf_counter()
    for label, overrides in points:
        per_net = []
        for k in range(cfg.networks):
            r = run_network(cfg, data, k, overrides, sim_batch)
            print(json.dumps({"model": cfg.model, **label, "network": k,
                              **{key: r.get(key) for key in _PER_NET_KEYS}}), flush=True)
            per_net.append(r)
        runs.append(per_net)
    wall = time.perf_counter() - t_start

    sweep = []
    for (label, _), per_net in zip(points, runs):
        entry = dict(label)
        for key in _PER_NET_KEYS:
            entry[key], entry[key + "_sd"] = _mean_sd([r.get(key) for r in per_net])
        entry["per_network"] = {key: [r.get(key) for r in per_net] for key in _PER_NET_KEYS}
        sweep.append(entry)
    val = np.array([[r["val_accuracy"] for r in per_net] for per_net in runs])      # (P, K)
    test = np.array([[r["test_accuracy"] for r in per_net] for per_net in runs])
    if cfg.model == "lsm":
        best = np.argmax(val, axis=0)                     # per network, first best w on validation
        chosen = [runs[p][k] for k, p in enumerate(best)]
        extra = {"best_w_per_network": [cfg.w_sweep[p] for p in best],
                 "test_accuracy_best_w_by_test": float(test.max(axis=0).mean())}
    else:
        p = int(np.argmax(val.mean(axis=1)))              # sweep point with the best mean val
        chosen = runs[p]
        extra = {"chosen_point": points[p][0]}
    headline = {key: _mean_sd([r.get(key) for r in chosen]) for key in _PER_NET_KEYS}
    samples_per_s = float(np.median([r["timing"]["samples_per_s"] for per in runs for r in per]))
    snaps = [r["timing"]["snapshots_per_s"] for per in runs for r in per
             if "snapshots_per_s" in r["timing"]]
    snapshots_per_s = float(np.median(snaps)) if snaps else None
    full = FULL_PROTOCOL["n_samples"] / samples_per_s
    if snapshots_per_s:
        full += FULL_PROTOCOL["n_warmup"] / snapshots_per_s
    metrics = {
        "model": cfg.model, "data": cfg.data, "liquid": list(cfg.liquid),
        "n_neurons": int(np.prod(cfg.liquid)), "n_inputs": data["n_in"],
        "n_train": len(data["train"][1]), "n_val": len(data["val"][1]),
        "n_test": len(data["test"][1]), "n_warmup": cfg.n_warmup if cfg.model != "lsm" else 0,
        "networks": cfg.networks,
        "test_accuracy": headline["test_accuracy"][0], "test_accuracy_sd": headline["test_accuracy"][1],
        "val_accuracy": headline["val_accuracy"][0],
        "branching_factor": headline["branching_factor"][0],
        "branching_factor_sd": headline["branching_factor"][1],
        "spikes_per_neuron": headline["spikes_per_neuron"][0],
        "per_network": [{k: v for k, v in r.items() if not k.startswith("_")} for r in chosen],
        "sweep": sweep, **extra,
        "samples_per_s": samples_per_s, "snapshots_per_s": snapshots_per_s,
        "sim_batch": sim_batch, "backend": jax.default_backend(),
        "wall_seconds": wall, "load_seconds": load_seconds,
        "seconds_per_network": float(np.mean([r["timing"]["total_seconds"] for per in runs for r in per])),
        "extrapolated_full_protocol_seconds_per_network": full,
        "extrapolation_note": (f"{FULL_PROTOCOL['n_warmup']} snapshots / snapshots_per_s + "
                               f"{FULL_PROTOCOL['n_samples']} samples / samples_per_s for this "
                               f"liquid ({'x'.join(map(str, cfg.liquid))}, {data['n_in']} inputs), "
                               f"one network, this backend; excludes the kernel-quality runs"),
    }
    if cfg.kernel_quality:
        metrics.update(sp=headline["sp"][0], ap=headline["ap"][0],
                       kernel_quality=headline["kernel_quality"][0])
    if cfg.plot:
        metrics.update(plot(cfg, points, runs, chosen[0], sweep))
    return metrics


def plot(cfg, points, runs, first, sweep) -> dict:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    paths = {}
    if first.get("_raster") is not None:
        n_e = first["_liquid_n_e"]
        paths["raster_png"] = nj.plotting.raster(
            first["_raster"], 1.0, os.path.join(cfg.out, "raster.png"),
            groups={"E": (0, n_e), "I": (n_e, first["_raster"].shape[1])},
            title=f"{cfg.model}: liquid raster, test sample 0 (BF {first['branching_factor']:.2f})")
    if "warmup_curves" in first:
        fig = Figure(figsize=(5.5, 3.2))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        for name, curve in first["warmup_curves"].items():
            ax.plot(np.arange(1, len(curve) + 1), curve, label=name)
        ax.set(xlabel="phase-1 snapshot", ylabel="mean signed weight",
               title=f"{cfg.model}: phase 1, network 0")
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        paths["warmup_png"] = os.path.join(cfg.out, "warmup.png")
        fig.savefig(paths["warmup_png"], dpi=120)
    if len(points) > 1:
        varying = [k for k in points[0][0] if len({p[0][k] for p in points}) > 1]
        xkey = varying[0] if varying else None
        xs = np.arange(len(points)) if xkey is None else np.array([p[0][xkey] for p in points])
        fig = Figure(figsize=(5.5, 3.2))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        acc = np.array([s["test_accuracy"] for s in sweep]) * 100
        acc_sd = np.array([s["test_accuracy_sd"] for s in sweep]) * 100
        ax.errorbar(xs, acc, yerr=acc_sd, fmt="o-", color="C0", capsize=3)
        ax.set(xlabel=xkey or "sweep point", ylabel="test accuracy (%)", title=f"{cfg.model} sweep")
        ax2 = ax.twinx()
        bf = np.array([s["branching_factor"] for s in sweep])
        bf_sd = np.array([s["branching_factor_sd"] for s in sweep])
        ax2.errorbar(xs, bf, yerr=bf_sd, fmt="s--", color="C3", capsize=3)
        ax2.axhline(1.0, color="C3", lw=0.5, alpha=0.5)
        ax2.set_ylabel("branching factor", color="C3")
        fig.tight_layout()
        paths["sweep_png"] = os.path.join(cfg.out, "sweep.png")
        fig.savefig(paths["sweep_png"], dpi=120)
    return paths


def main(argv=None):
    import _cli  # experiments/ is on sys.path when this file runs as a script

    cfg = _cli.parse(Config, argv)
    metrics = run(cfg)
    path = _cli.save_results(cfg, metrics)
    keys = ("model", "data", "n_train", "n_test", "test_accuracy", "val_accuracy",
            "branching_factor", "sp", "ap", "kernel_quality", "samples_per_s",
            "snapshots_per_s", "extrapolated_full_protocol_seconds_per_network", "wall_seconds")
    print(json.dumps({k: metrics.get(k) for k in keys}))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
