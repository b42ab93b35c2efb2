"""Gradient-trained liquid vs fixed-feature readouts on the same static NALSM liquid.

Issue 5, item 4 ("beyond the paper"). The static LSM liquid of neurojax.lsm (model ``lsm``:
distance-based E/I recurrent synapses, 15 % sparse random input synapses of magnitude w, no
plasticity) is made differentiable with its DiscreteLIF straight-through surrogate spike
(forward exact, backward SuperSpike) and trained end to end by BPTT through nj.simulate
(neurojax.lsm_gradient). For each dataset and each network (seed):

1. liquid choice: the static liquid is built for every w in ``--w-sweep``; the fixed-feature
   softmax readout (neurojax.lsm.train_readout, NALSM's protocol: per-mini-batch
   normalize_counts, soft targets, Adadelta) picks w on validation (the baseline's best w);
   the rest uses that liquid;
2. fixed-feature baselines on that liquid and the same input draws: (a) ``softmax``: the
   lsm.train_readout result at that w; (b) ``ridge``: ridge regression on one-hot targets of
   the per-sample features z = N c / sum(c) (alpha chosen on validation from ``--ridge-alphas``);
   (c) ``adam_readout``: the same Adam optimiser, loss, feature and schedule as the BPTT model
   but with the liquid frozen (``--readout-epochs`` epochs): the fair control;
3. ``bptt``: input weights (on the sparse input table) + readout (+ ``--train-scales``: the
   global input gain and recurrent scale) trained by BPTT with Adam (``--epochs`` epochs,
   mini-batches of ``--batch-size``, cosine decay), readout initialised at 0 (or, with
   ``--warm-start``, at the frozen control's best readout: BPTT then fine-tunes the liquid's
   inputs from the fixed-feature solution; epoch 0 is never selected, so the reported BPTT
   accuracy is always that of trained input weights).

Inputs: NALSM encoding (per-image L1 normalisation, dataset max, Bernoulli per ms, 100 per
event), the draws fixed per sample (fold_in(split key, sample index), identical for every
method and every epoch), ``--sample-ms`` per sample. Every method reports the test accuracy at
its best validation epoch (for ridge: at the best alpha). Data: ``digits`` (scikit-learn 8x8,
64 inputs, 1283/257/257) and ``mnist1d`` (generated, 40 inputs, shifted to >= 0 and scaled to
0..255 before the encoding as experiments/nalsm.py does; ``--mnist1d-sizes`` train/val/test).

Writes results.json (per dataset: mean +- sd over networks of every method, per network the
accuracies, best epochs, Adam steps, CPU seconds and the learnt scales), curves.png (BPTT and
frozen-readout train/validation accuracy per epoch, network 0) and accuracy.png (bars).
--smoke (3x3x3 liquid, 40 samples per split, 2 epochs) takes about 30 s of CPU time.
"""
import dataclasses
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from neurojax import datasets, lsm, lsm_gradient as lg
from neurojax import readouts

DATA = ("digits", "mnist1d")
METHODS = ("softmax", "ridge", "adam_readout", "bptt")


@dataclasses.dataclass(frozen=True)
class Config:
    data: tuple[str, ...] = ("digits", "mnist1d")
    liquid: tuple[int, int, int] = (5, 5, 5)       # grid: 125 neurons
    networks: int = 3                              # liquids (seeds)
    seed: int = 0
    w_sweep: tuple[float, ...] = (0.8, 1.0, 1.2, 1.4)   # static-liquid magnitude, chosen on val
    sample_ms: int = 100
    n_digits: tuple[int, int, int] = (0, 0, 0)     # train/val/test caps for digits (0 = all)
    mnist1d_sizes: tuple[int, int, int] = (1000, 250, 500)
    softmax_epochs: int = 500                      # lsm.train_readout (Adadelta)
    softmax_batch: int = 250
    ridge_alphas: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
    readout_epochs: int = 100                      # frozen-liquid Adam control
    epochs: int = 15                               # BPTT epochs
    batch_size: int = 32
    lr_liquid: float = 1e-2
    lr_readout: float = 1e-2
    clip: float = 1.0
    train_scales: bool = False                     # also train global input gain / recurrent scale
    warm_start: bool = False                       # BPTT readout starts at the frozen control's
    checkpoint_every: int = 0                      # 0: plain scan; else remat segment (divides T-1)
    progress: bool = False
    plot: bool = True
    out: str = "results/lsm_gradient"

    def smoke(self) -> "Config":
        return dataclasses.replace(
            self, liquid=(3, 3, 3), networks=1, w_sweep=(1.0,), sample_ms=20,
            n_digits=(40, 40, 40), mnist1d_sizes=(40, 40, 40), softmax_epochs=20,
            softmax_batch=40, ridge_alphas=(1.0,), readout_epochs=3, epochs=2, batch_size=20)


def load_data(cfg: Config, name: str) -> dict:
    """``{"train"|"val"|"test": (probabilities (n, n_in), labels)}`` and ``n_in``."""
    if name == "digits":
        raw = datasets.load_digits(8)
        caps = cfg.n_digits
    elif name == "mnist1d":
        n_tr, n_va, n_te = cfg.mnist1d_sizes
        raw = datasets.load_mnist1d(n_tr, n_te, n_val=n_va)
        lo = raw.train.x.min()
        scale = 255.0 / (raw.train.x.max() - lo)
        raw = datasets.Split(*[datasets.XY(np.clip((s.x - lo) * scale, 0, 255), s.y) for s in raw])
        caps = cfg.mnist1d_sizes
    else:
        raise ValueError(f"--data entries must be in {DATA}, got {name!r}")
    enc = datasets.nalsm_normalise_split(raw)
    out = {}
    for split, s, cap in zip(("train", "val", "test"), enc, caps):
        n = len(s.y) if not cap else min(int(cap), len(s.y))
        out[split] = (np.asarray(s.x).reshape(len(s.y), -1)[:n], np.asarray(s.y)[:n])
    out["n_in"] = out["train"][0].shape[1]
    return out


def _ridge(feats, labels, alphas):
    """Ridge on one-hot targets of the per-sample features; alpha chosen on validation."""
    z = {s: np.asarray(lg.count_features(jnp.asarray(feats[s], jnp.float32)), np.float64)
         for s in feats}
    Y = np.eye(10)[labels["train"]]
    best = None
    for a in alphas:
        fit = readouts.ridge(jnp.asarray(z["train"], jnp.float32), jnp.asarray(Y, jnp.float32),
                             float(a), solver="svd")
        acc = {s: float(np.mean(np.argmax(np.asarray(readouts.predict(fit, jnp.asarray(
            z[s], jnp.float32))), -1) == labels[s])) for s in ("train", "val", "test")}
        if best is None or acc["val"] > best["val_accuracy"]:
            best = {"alpha": float(a), "train_accuracy": acc["train"],
                    "val_accuracy": acc["val"], "test_accuracy": acc["test"]}
    return best


def run_network(cfg: Config, data: dict, k: int, data_index: int) -> dict:
    key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(cfg.seed), data_index), k)
    keys = [jax.random.fold_in(key, 20 + i) for i in range(3)]
    splits = [data[s] for s in ("train", "val", "test")]
    labels = {s: data[s][1] for s in ("train", "val", "test")}
    out = {"network": k, "sweep": []}
    t0 = time.process_time()
    best = None
    for w in cfg.w_sweep:
        liquid = lsm.build_liquid(key, cfg.liquid, data["n_in"], lsm.LiquidConfig(model="lsm", w=w))
        feats = {s: lsm.sample_features(liquid, None, x, kk, sample_ms=cfg.sample_ms,
                                        batch_size=100, progress=False)[0]
                 for s, (x, _), kk in zip(("train", "val", "test"), splits, keys)}
        sm = lsm.train_readout(*[(feats[s], labels[s]) for s in ("train", "val", "test")],
                               epochs=cfg.softmax_epochs, batch_size=cfg.softmax_batch,
                               progress=cfg.progress)
        entry = {"w": w, "val_accuracy": sm["val_accuracy"], "test_accuracy": sm["test_accuracy"],
                 "spikes_per_neuron": float(feats["train"].mean()),
                 "silent_fraction": float((feats["train"].sum(axis=0) == 0).mean())}
        out["sweep"].append(entry)
        if best is None or sm["val_accuracy"] > best[0]["val_accuracy"]:
            best = (sm, w, liquid, feats)
    sm, w, liquid, feats = best
    out["w"] = w
    out["spikes_per_neuron"] = float(feats["train"].mean())
    out["softmax"] = {k2: sm[k2] for k2 in ("test_accuracy", "val_accuracy", "train_accuracy",
                                            "best_epoch")}
    out["softmax"]["epochs"] = cfg.softmax_epochs
    out["baseline_cpu_seconds"] = time.process_time() - t0
    t1 = time.process_time()
    out["ridge"] = _ridge(feats, labels, cfg.ridge_alphas)
    out["ridge"]["cpu_seconds"] = time.process_time() - t1
    common = dict(batch_size=cfg.batch_size, lr_liquid=cfg.lr_liquid, lr_readout=cfg.lr_readout,
                  clip=cfg.clip, sample_ms=cfg.sample_ms, seed=cfg.seed + k,
                  checkpoint_every=cfg.checkpoint_every or None, min_best_epoch=1)
    trainable = ("w_in", "readout") + (("g_in", "g_rec") if cfg.train_scales else ())
    curves, gp = {}, None
    for name, gcfg in (("adam_readout", lg.GradConfig(trainable=("readout",),
                                                      epochs=cfg.readout_epochs, **common)),
                       ("bptt", lg.GradConfig(trainable=trainable, epochs=cfg.epochs, **common))):
        r = lg.fit(liquid, *splits, *keys, gcfg, gp=gp, progress=cfg.progress)
        if cfg.warm_start:        # the next (BPTT) run starts from this readout
            gp = lg.init_params(liquid)._replace(w_out=r["params"].w_out, b_out=r["params"].b_out)
        out[name] = {k2: r[k2] for k2 in ("test_accuracy", "val_accuracy", "train_accuracy",
                                          "best_epoch", "epochs_run", "steps", "seconds",
                                          "cpu_seconds", "g_in", "g_rec")}
        curves[name] = r["curves"]
        if name == "bptt":
            w0 = np.asarray(liquid.weights["inp->L"])
            w1 = np.asarray(r["params"].w_in) * r["g_in"]
            m = np.asarray(liquid.conns["inp->L"].mask)
            out[name]["input_weight_change_rms"] = float(np.sqrt(np.mean((w1 - w0)[m] ** 2)))
            out[name]["input_sign_flips"] = float(np.mean(np.sign(w1[m]) != np.sign(w0[m])))
            c = lg.liquid_counts(liquid, r["params"], splits[0][0], keys[0],
                                 sample_ms=cfg.sample_ms, batch_size=100)
            out[name]["spikes_per_neuron"] = float(c.mean())
    out["_curves"] = curves
    return out


def _mean_sd(v):
    v = np.asarray(v, float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def run(cfg: Config) -> dict:
    if cfg.networks < 1 or not cfg.w_sweep or not cfg.data:
        raise ValueError("--networks must be >= 1 and --w-sweep / --data non-empty")
    bad = [d for d in cfg.data if d not in DATA]
    if bad:
        raise ValueError(f"--data entries must be in {DATA}, got {bad}")
    os.makedirs(cfg.out, exist_ok=True)
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    results, all_curves = {}, {}
    for name in cfg.data:
        data = load_data(cfg, name)
        nets = []
        for k in range(cfg.networks):
            r = run_network(cfg, data, k, DATA.index(name))   # independent of --data order
            all_curves.setdefault(name, r.pop("_curves"))
            print(json.dumps({"data": name, "network": k, "w": r["w"],
                              **{m: r[m]["test_accuracy"] for m in METHODS}}), flush=True)
            nets.append(r)
        entry = {"n_inputs": data["n_in"], "n_train": len(data["train"][1]),
                 "n_val": len(data["val"][1]), "n_test": len(data["test"][1]),
                 "per_network": nets}
        for m in METHODS:
            entry[m], entry[m + "_sd"] = _mean_sd([r[m]["test_accuracy"] for r in nets])
        entry["bptt_minus_best_fixed"] = float(np.mean(
            [r["bptt"]["test_accuracy"] - max(r[m]["test_accuracy"] for m in METHODS[:3])
             for r in nets]))
        entry["bptt_wins"] = int(sum(r["bptt"]["test_accuracy"]
                                     > max(r[m]["test_accuracy"] for m in METHODS[:3])
                                     for r in nets))
        entry["bptt_beats_fixed"] = bool(entry["bptt"] > max(entry[m] for m in METHODS[:3]))
        entry["bptt_cpu_seconds_per_network"] = float(np.mean([r["bptt"]["cpu_seconds"]
                                                               for r in nets]))
        entry["bptt_steps"] = int(nets[0]["bptt"]["steps"])
        results[name] = entry
    metrics = {"datasets": results, "n_neurons": int(np.prod(cfg.liquid)),
               "networks": cfg.networks, "backend": jax.default_backend(),
               "beats_on_any_dataset": bool(any(e["bptt_beats_fixed"] for e in results.values())),
               "wall_seconds": time.perf_counter() - t_wall,
               "cpu_seconds": time.process_time() - t_cpu}
    for name, e in results.items():
        for m in METHODS:
            metrics[f"{name}_{m}_test_accuracy"] = e[m]
    if cfg.plot:
        metrics.update(plot(cfg, results, all_curves))
    return metrics


def plot(cfg, results, curves) -> dict:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    paths = {}
    names = list(results)
    fig = Figure(figsize=(4.5 * len(names), 3.2))
    FigureCanvasAgg(fig)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        for method, color in (("bptt", "C3"), ("adam_readout", "C0")):
            c = curves[name][method]
            ep = np.arange(len(c["val"]))
            ax.plot(ep[1:], np.asarray(c["train"][1:]) * 100, "--", color=color, lw=1,
                    label=f"{method} train")
            ax.plot(ep, np.asarray(c["val"]) * 100, "-", color=color, label=f"{method} val")
        ax.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{name}: network 0")
        ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    paths["curves_png"] = os.path.join(cfg.out, "curves.png")
    fig.savefig(paths["curves_png"], dpi=120)

    fig = Figure(figsize=(4.0 * len(names), 3.2))
    FigureCanvasAgg(fig)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        e = results[name]
        acc = [e[m] * 100 for m in METHODS]
        sd = [e[m + "_sd"] * 100 for m in METHODS]
        ax.bar(np.arange(len(METHODS)), acc, yerr=sd, capsize=3,
               color=["C7", "C8", "C0", "C3"])
        ax.set_xticks(np.arange(len(METHODS)), METHODS, rotation=20, fontsize=8)
        lo = max(0.0, min(acc) - 10)
        ax.set(ylim=(lo, min(100.0, max(acc) + 5)), ylabel="test accuracy (%)",
               title=f"{name} ({cfg.networks} networks)")
    fig.tight_layout()
    paths["accuracy_png"] = os.path.join(cfg.out, "accuracy.png")
    fig.savefig(paths["accuracy_png"], dpi=120)
    return paths


def main(argv=None):
    import _cli  # experiments/ is on sys.path when this file runs as a script

    cfg = _cli.parse(Config, argv)
    metrics = run(cfg)
    path = _cli.save_results(cfg, metrics)
    summary = {name: {m: [round(e[m], 4), round(e[m + "_sd"], 4)] for m in METHODS}
               for name, e in metrics["datasets"].items()}
    print(json.dumps({"summary": summary, "beats_on_any_dataset": metrics["beats_on_any_dataset"],
                      "wall_seconds": metrics["wall_seconds"]}))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
