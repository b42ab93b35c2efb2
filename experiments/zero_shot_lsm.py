"""Lin et al. (2025) - zero-shot liquid state machine: frozen random LIF liquid + trained heads.

Spec shared/specs/nalsm_astro.md section 3 (library: neurojax.lsm_encoder). A fixed random
liquid of 200 LIF neurons (multiplicative decay, threshold, Gaussian weights x const; no
training) encodes event streams into per-neuron spike counts; only small heads are trained.

(a) Linear probe (Adam, cross-entropy) on an N-MNIST-like event set made locally: the
    scikit-learn digits (resized to --digit-size px, i.e. MNIST-like margins in the 28 px box)
    moved along N-MNIST saccades (neurojax.datasets.saccade_events, 300 ms), centre-cropped to
    16x16 of the ON polarity and OR-binned into 50 steps (the paper's N-MNIST encoder input).
    Baselines, same probe: the raw binned events flattened (50 x 256) and the raw per-pixel
    event counts (256). With --data-dir, real N-MNIST .bin files are used instead (optional).
(b) Zero-shot cross-modal retrieval. The paper pairs N-MNIST with N-TIDIGITS speech (64 cochlea
    channels, 129 steps). OFFLINE SUBSTITUTE for the audio modality (not speech): MNIST-1D
    signals (datasets.load_mnist1d, generated locally) read as a pitch track and turned into
    64-channel cochlea-like Bernoulli events (lsm_encoder.cochleagram_events, 129 steps). The
    two modalities share only the class label (digit identity), exactly the class-level
    correspondence of the paper's audio-image pairs. Each modality has its own frozen liquid
    (image: N-MNIST settings; audio: N-TIDIGITS settings 0.97 / 5.3 / 0.08) and one FC+GELU
    projection head (dim 64), trained with the symmetric CLIP loss (temperature 1, Adam 1e-3,
    batch 8) on same-class pairs of digits 1-7 (per class, the larger modality is truncated
    to the smaller's count); 8 and 9 are held out, 0 is unused. Metric: top-1 audio -> image
    retrieval (cosine similarity of the projected embeddings; correct = same class) over the
    test sets of the seen (1-7) and the unseen (8-9) classes, against chance. Baseline: the same
    heads on the raw binned events of both modalities.

Paper (N-MNIST / N-TIDIGITS, not comparable in absolute terms): LSM linear probe 89.11 % on
N-MNIST; zero-shot 66.1 % (1-7) / 88.0 % (8-9) at dim 64. Several seeds (--seeds: the liquid
weights, head initialisation and batch order; the data are fixed by --data-seed).

Deviations (also in neurojax.lsm_encoder): liquid internals are [UNCONFIRMED] (dense Gaussian
recurrence, hard reset, spike counts); probe lr 1e-3 and --probe-epochs on ~1.3k samples instead
of lr 1e-4 x 100 epochs on 60k; features standardised with training statistics; the
contrastive loss L2-normalises embeddings; probe test accuracy at the best-validation epoch.

Writes results.json and zero_shot_lsm.png (probe accuracies, retrieval accuracies vs chance,
audio-image similarity matrix of seed 0). --smoke runs in well under a minute on CPU.
"""
import dataclasses
import json
import os
import time
from typing import Optional

import jax
import numpy as np

from neurojax import datasets
from neurojax import lsm_encoder as le

SEEN = (1, 2, 3, 4, 5, 6, 7)
UNSEEN = (8, 9)


@dataclasses.dataclass(frozen=True)
class Config:
    seeds: int = 5                        # liquids / head inits
    seed: int = 0                         # first seed
    data_seed: int = 0                    # events, splits, MNIST-1D
    data_dir: Optional[str] = None        # real N-MNIST (Train/, Test/) for (a) instead of saccades
    n_neurons: int = 200                  # spec: 200
    digit_size: int = 20                  # digits resized to this, centred in the 34 px sensor
    saccade_threshold: float = 0.15
    event_ms: int = 300                   # simulated recording length
    img_steps: int = 50                   # spec: 50
    crop: int = 16                        # spec: 16 x 16
    polarity: str = "on"                  # on | off | both ("one channel slice", [UNCONFIRMED])
    img_decay: float = 0.9
    img_threshold: float = 5.0
    img_weight_scale: float = 0.07
    audio_steps: int = 129                # spec: 129
    audio_channels: int = 64              # spec: 64
    audio_decay: float = 0.97
    audio_threshold: float = 5.3
    audio_weight_scale: float = 0.08
    coch_width: float = 6.0               # tuning width in channel spacings
    mnist1d_train: int = 2000
    mnist1d_test: int = 1000              # 100 per class, as the paper's retrieval test
    n_train: Optional[int] = None         # limit digits train/val/test (None: all)
    n_val: Optional[int] = None
    n_test: Optional[int] = None
    probe_lr: float = 1e-3
    probe_batch: int = 100
    probe_epochs: int = 100
    proj_dim: int = 64
    temperature: float = 1.0
    clip_lr: float = 1e-3
    clip_batch: int = 8
    clip_epochs: int = 100
    normalize: bool = True                # L2-normalise embeddings (loss and retrieval)
    encode_batch: int = 64
    plot: bool = True
    out: str = "results/zero_shot_lsm"

    def smoke(self) -> "Config":
        return dataclasses.replace(
            self, seeds=1, n_neurons=40, n_train=120, n_val=40, n_test=60, mnist1d_train=200,
            mnist1d_test=100, probe_epochs=10, clip_epochs=3, event_ms=150, encode_batch=32)


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------

def _take(xy, n):
    return xy if n is None else datasets.XY(xy.x[:n], xy.y[:n])


def _image_events(cfg, x, seed):
    """Saccade events of images -> (n, img_steps, crop^2 * P) uint8, in chunks (bounded memory)."""
    out = []
    for i, lo in enumerate(range(0, len(x), 128)):
        ev = datasets.saccade_events(x[lo:lo + 128], jax.random.fold_in(
            jax.random.PRNGKey(seed), i), n_steps=cfg.event_ms, threshold=cfg.saccade_threshold)
        out.append(le.bin_time(le.center_crop(ev, cfg.crop, polarity=cfg.polarity), cfg.img_steps))
    return np.concatenate(out)


def image_data(cfg):
    """(train, val, test) XY of binned, cropped events and a description of the source."""
    if cfg.data_dir is not None:
        splits = []
        for name, n in (("train", cfg.n_train), ("val", cfg.n_val), ("test", cfg.n_test)):
            d = datasets.load_nmnist(cfg.data_dir, name, limit=n, n_steps=cfg.event_ms)
            x = le.bin_time(le.center_crop(d.x, cfg.crop, polarity=cfg.polarity), cfg.img_steps)
            splits.append(datasets.XY(x, d.y))
        return splits, "N-MNIST files"
    d = datasets.load_digits(cfg.digit_size, seed=cfg.data_seed)
    parts = [_take(d.train, cfg.n_train), _take(d.val, cfg.n_val), _take(d.test, cfg.n_test)]
    return [datasets.XY(_image_events(cfg, p.x, cfg.data_seed * 1000 + i), p.y)
            for i, p in enumerate(parts)], "sklearn digits + saccade_events"


def audio_data(cfg):
    """MNIST-1D -> cochlea-like events: (train, test) XY, (n, audio_steps, audio_channels)."""
    d = datasets.load_mnist1d(n_train=cfg.mnist1d_train, n_test=cfg.mnist1d_test,
                              seed=42 + cfg.data_seed)
    out = []
    for i, part in enumerate((d.train, d.test)):
        ev = le.cochleagram_events(part.x, jax.random.PRNGKey(cfg.data_seed * 1000 + 10 + i),
                                   cfg.audio_steps, cfg.audio_channels, width=cfg.coch_width)
        out.append(datasets.XY(ev, part.y))
    return out


def _pairs(xa, ya, xb, yb, classes, rng):
    """Same-class pairs: per class, shuffle both sides and truncate to the smaller count."""
    ia, ib = [], []
    for c in classes:
        a, b = rng.permutation(np.flatnonzero(ya == c)), rng.permutation(np.flatnonzero(yb == c))
        m = min(len(a), len(b))
        ia.append(a[:m])
        ib.append(b[:m])
    ia, ib = np.concatenate(ia), np.concatenate(ib)
    return xa[ia], xb[ib], ya[ia]


def _in(y, classes):
    return np.isin(y, classes)


# ---------------------------------------------------------------------------------------------
# one seed
# ---------------------------------------------------------------------------------------------

def _probe(cfg, key, tr, va, te):
    r = le.train_linear_probe(tr, te, val=va, n_classes=10, key=key, lr=cfg.probe_lr,
                              batch_size=cfg.probe_batch, epochs=cfg.probe_epochs)
    return {"test": r.test_accuracy, "val": r.val_accuracy, "train": r.train_accuracy,
            "epoch": r.epoch}


def _zero_shot(cfg, key, feats, seed):
    """feats: dict modality -> (train_x, train_y, test_x, test_y) (already standardised)."""
    atr, aytr, ate, ayte = feats["audio"]
    itr, iytr, ite, iyte = feats["image"]
    rng = np.random.default_rng(seed)
    xa, xi, _ = _pairs(atr, aytr, itr, iytr, SEEN, rng)
    ha, hi, losses = le.train_contrastive(xa, xi, key, dim=cfg.proj_dim,
                                          temperature=cfg.temperature, lr=cfg.clip_lr,
                                          batch_size=cfg.clip_batch, epochs=cfg.clip_epochs,
                                          normalize=cfg.normalize)
    za, zi = np.asarray(le.project(ha, ate)), np.asarray(le.project(hi, ite))
    res = {"n_pairs": len(xa), "loss_first": float(losses[0]), "loss_last": float(losses[-1])}
    for name, classes in (("seen", SEEN), ("unseen", UNSEEN)):
        qa, gi = _in(ayte, classes), _in(iyte, classes)
        res[name] = le.retrieval_accuracy(za[qa], ayte[qa], zi[gi], iyte[gi],
                                          normalize=cfg.normalize)
        res[f"{name}_chance"] = le.retrieval_chance(ayte[qa], iyte[gi])
        res[f"{name}_queries"] = int(qa.sum())
        res[f"{name}_gallery"] = int(gi.sum())
    keep_a, keep_i = _in(ayte, SEEN + UNSEEN), _in(iyte, SEEN + UNSEEN)
    res["_sim"] = (za[keep_a], ayte[keep_a], zi[keep_i], iyte[keep_i])
    return res


def run_seed(cfg, seed, img, aud):
    key = jax.random.PRNGKey(seed)
    t0 = time.perf_counter()
    liq_i = le.random_liquid(jax.random.fold_in(key, 0), img[0].x.shape[2], cfg.n_neurons,
                             decay=cfg.img_decay, threshold=cfg.img_threshold,
                             weight_scale=cfg.img_weight_scale)
    liq_a = le.random_liquid(jax.random.fold_in(key, 1), aud[0].x.shape[2], cfg.n_neurons,
                             decay=cfg.audio_decay, threshold=cfg.audio_threshold,
                             weight_scale=cfg.audio_weight_scale)
    enc_i = [le.encode(liq_i, s.x, batch_size=cfg.encode_batch) for s in img]
    enc_a = [le.encode(liq_a, s.x, batch_size=cfg.encode_batch) for s in aud]
    t_enc = time.perf_counter() - t0
    n_img = sum(len(s.y) for s in img)
    n_aud = sum(len(s.y) for s in aud)
    flat = lambda x: x.reshape(len(x), -1)   # noqa: E731
    reps_i = {"liquid": enc_i, "raw": [flat(s.x) for s in img],
              "raw_counts": [s.x.sum(axis=1) for s in img]}
    reps_a = {"liquid": enc_a, "raw": [flat(s.x) for s in aud],
              "raw_counts": [s.x.sum(axis=1) for s in aud]}
    yi = [s.y for s in img]
    ya = [s.y for s in aud]
    out = {"seed": seed, "encode_seconds": t_enc,
           "encode_samples_per_s": (n_img + n_aud) / t_enc,
           "img_rate_per_step": float(np.concatenate(enc_i).mean() / cfg.img_steps),
           "img_silent_fraction": float((np.concatenate(enc_i).sum(0) == 0).mean()),
           "audio_rate_per_step": float(np.concatenate(enc_a).mean() / cfg.audio_steps),
           "audio_silent_fraction": float((np.concatenate(enc_a).sum(0) == 0).mean()),
           "probe_image": {}, "probe_audio": {}, "zero_shot": {}}
    kp = jax.random.fold_in(key, 2)
    for name, f in reps_i.items():
        out["probe_image"][name] = _probe(cfg, kp, (f[0], yi[0]), (f[1], yi[1]), (f[2], yi[2]))
    for name, f in reps_a.items():       # audio has no val split: last epoch
        r = le.train_linear_probe((f[0], ya[0]), (f[1], ya[1]), n_classes=10, key=kp,
                                  lr=cfg.probe_lr, batch_size=cfg.probe_batch,
                                  epochs=cfg.probe_epochs)
        out["probe_audio"][name] = {"test": r.test_accuracy, "train": r.train_accuracy}
    # zero-shot: images train = train split, test = val + test (a larger retrieval gallery)
    for name in ("liquid", "raw"):
        fi, fa = reps_i[name], reps_a[name]
        itr, ite = le.standardize(fi[0], np.concatenate([fi[1], fi[2]]))
        atr, ate = le.standardize(fa[0], fa[1])
        feats = {"image": (itr, yi[0], ite, np.concatenate([yi[1], yi[2]])),
                 "audio": (atr, ya[0], ate, ya[1])}
        out["zero_shot"][name] = _zero_shot(cfg, jax.random.fold_in(key, 3), feats, seed)
    out["seconds"] = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------

def _ms(values):
    v = np.asarray(values, np.float64)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "per_seed": v.tolist()}


def run(cfg: Config) -> dict:
    t0 = time.perf_counter()
    img, source = image_data(cfg)
    aud = audio_data(cfg)
    t_data = time.perf_counter() - t0
    runs = [run_seed(cfg, cfg.seed + s, img, aud) for s in range(cfg.seeds)]
    m = {"image_source": source, "audio_source": "MNIST-1D -> cochleagram_events (substitute)",
         "n_image": [len(s.y) for s in img], "n_audio": [len(s.y) for s in aud],
         "n_image_inputs": int(img[0].x.shape[2]), "n_audio_inputs": int(aud[0].x.shape[2]),
         "image_events_per_sample": float(np.mean([s.x.sum(axis=(1, 2)).mean() for s in img])),
         "audio_events_per_sample": float(np.mean([s.x.sum(axis=(1, 2)).mean() for s in aud])),
         "data_seconds": t_data}
    for mod in ("image", "audio"):
        for name in ("liquid", "raw", "raw_counts"):
            m[f"probe_{mod}_{name}"] = _ms([r[f"probe_{mod}"][name]["test"] for r in runs])
            m[f"probe_{mod}_{name}_acc"] = m[f"probe_{mod}_{name}"]["mean"]
    for name in ("liquid", "raw"):
        for split in ("seen", "unseen"):
            m[f"zero_shot_{name}_{split}"] = _ms([r["zero_shot"][name][split] for r in runs])
            m[f"zero_shot_{name}_{split}_acc"] = m[f"zero_shot_{name}_{split}"]["mean"]
        m[f"zero_shot_{name}_loss_last"] = float(np.mean(
            [r["zero_shot"][name]["loss_last"] for r in runs]))
    z0 = runs[0]["zero_shot"]["liquid"]
    m["chance_seen"], m["chance_unseen"] = z0["seen_chance"], z0["unseen_chance"]
    m["n_pairs"] = z0["n_pairs"]
    for k in ("seen_queries", "seen_gallery", "unseen_queries", "unseen_gallery"):
        m[k] = z0[k]
    for k in ("img_rate_per_step", "img_silent_fraction", "audio_rate_per_step",
              "audio_silent_fraction", "encode_samples_per_s"):
        m[k] = float(np.mean([r[k] for r in runs]))
    m["per_seed"] = [{k: v for k, v in r.items() if k != "zero_shot"} | {
        "zero_shot": {n: {k: v for k, v in z.items() if not k.startswith("_")}
                      for n, z in r["zero_shot"].items()}} for r in runs]
    if cfg.plot:
        m.update(plot(cfg, m, runs[0]))
    m["wall_seconds"] = time.perf_counter() - t0
    return m


def plot(cfg, m, first) -> dict:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 3.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 3, 1)
    names = ("liquid", "raw", "raw_counts")
    for j, mod in enumerate(("image", "audio")):
        mu = [100 * m[f"probe_{mod}_{n}"]["mean"] for n in names]
        sd = [100 * m[f"probe_{mod}_{n}"]["sd"] for n in names]
        ax.bar(np.arange(3) + 0.38 * j, mu, 0.38, yerr=sd, capsize=3, label=mod)
    ax.axhline(10, color="k", lw=0.6, ls=":")
    ax.set_xticks(np.arange(3) + 0.19, names)
    ax.set(ylabel="linear-probe test accuracy (%)", title=f"(a) linear probe, {cfg.seeds} seed(s)")
    ax.legend(frameon=False, fontsize=8)
    ax = fig.add_subplot(1, 3, 2)
    for j, n in enumerate(("liquid", "raw")):
        mu = [100 * m[f"zero_shot_{n}_{s}"]["mean"] for s in ("seen", "unseen")]
        sd = [100 * m[f"zero_shot_{n}_{s}"]["sd"] for s in ("seen", "unseen")]
        ax.bar(np.arange(2) + 0.38 * j, mu, 0.38, yerr=sd, capsize=3, label=f"{n} encoder")
    for i, s in enumerate(("seen", "unseen")):
        ax.hlines(100 * m[f"chance_{s}"], i - 0.2, i + 0.58, color="k", ls=":")
    ax.set_xticks(np.arange(2) + 0.19, ["seen 1-7", "unseen 8-9"])
    ax.set(ylabel="top-1 audio->image retrieval (%)", title="(b) zero-shot retrieval (.. chance)")
    ax.legend(frameon=False, fontsize=8)
    ax = fig.add_subplot(1, 3, 3)
    za, ya, zi, yi = first["zero_shot"]["liquid"]["_sim"]
    oa, oi = np.argsort(ya, kind="stable"), np.argsort(yi, kind="stable")
    za, zi = za[oa], zi[oi]
    if cfg.normalize:
        za = za / np.maximum(np.linalg.norm(za, axis=1, keepdims=True), 1e-12)
        zi = zi / np.maximum(np.linalg.norm(zi, axis=1, keepdims=True), 1e-12)
    im = ax.imshow(za @ zi.T, aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ticks = lambda y: [np.searchsorted(y, c) for c in range(1, 10)]   # noqa: E731
    ax.set_yticks(ticks(ya[oa]), range(1, 10))
    ax.set_xticks(ticks(yi[oi]), range(1, 10))
    ax.set(xlabel="image test samples (class)", ylabel="audio test samples (class)",
           title="liquid encoder similarity, seed 0")
    fig.tight_layout()
    path = os.path.join(cfg.out, "zero_shot_lsm.png")
    os.makedirs(cfg.out, exist_ok=True)
    fig.savefig(path, dpi=110)
    return {"plot_png": path}


def main(argv=None):
    import _cli  # experiments/ is on sys.path when this file runs as a script

    cfg = _cli.parse(Config, argv)
    metrics = run(cfg)
    path = _cli.save_results(cfg, metrics)
    keys = [k for k in metrics if k.endswith("_acc")] + ["chance_seen", "chance_unseen",
                                                         "img_rate_per_step", "wall_seconds"]
    print(json.dumps({k: metrics[k] for k in keys}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
