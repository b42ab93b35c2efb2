r"""Zero-shot LSM encoder: a fixed random LIF liquid, trainable projection heads, contrastive loss.

After Lin et al. (2025), "Resistive memory-based zero-shot liquid state machine for multimodal
event data learning" (spec ``nalsm_astro.md`` §3). A **frozen** random liquid of LIF neurons
turns an event stream into a feature vector (per-neuron spike counts); only small digital heads
are trained — a linear softmax probe (cross-entropy) for supervised classification, or one
projection head per modality trained with a CLIP-style symmetric contrastive loss so that two
modalities with *class-level* correspondence share an embedding space and classes never seen
in training can be retrieved (zero-shot).

The liquid (per sample; $x_t \in \{0,1\}^{n_\mathrm{in}}$ the binned events of step $t$,
$s_t \in \{0,1\}^n$ the liquid's spikes, $v_0 = 0$, $s_0 = 0$):

$$ v_t = \lambda\,v_{t-1} + W_\mathrm{in} x_t + W_\mathrm{rec} s_{t-1}, \qquad
   s_t = [v_t \ge V_\mathrm{th}], \qquad v_t \leftarrow (1 - s_t)\,v_t, $$

with $W_\mathrm{in} = c\,G_\mathrm{in}$, $W_\mathrm{rec} = c\,G_\mathrm{rec}$, $G$ i.i.d.
$N(0, 1)$ and the features $f = \sum_{t=1}^{T} s_t$. It runs on :func:`neurojax.simulate`:
one :class:`~neurojax.DiscreteLIF` population (``tau_v`` $= 1/(1-\lambda)$, ``theta``
$= V_\mathrm{th}$, ``v_reset`` $= 0$, ``t_ref`` $= 0$, ``b`` $= 0$, $\Delta t = 1$), the
input term as external drive (same step), the recurrent term as a dense ``"L->L"``
:class:`~neurojax.Projection` with an :class:`~neurojax.Instant` synapse (one step delay).
DiscreteLIF's Euler step $v + (I - v/\tau_v)$ is $\lambda v + I$ up to float round-off.

Settings (spec §3 table, from the authors' run scripts):

| setting              | N-MNIST encoder (:data:`NMNIST`) | N-TIDIGITS encoder (:data:`NTIDIGITS`) |
|----------------------|----------------------------------|----------------------------------------|
| inputs               | centre crop 16×16, one polarity  | 64 channels                            |
| time steps $T$       | 50                               | 129                                    |
| neurons $n$          | 200                              | 200                                    |
| decay $\lambda$      | 0.9                              | 0.97                                   |
| $V_\mathrm{th}$      | 5.0                              | 5.3                                    |
| weight scale $c$     | 0.07                             | 0.08                                   |

Heads and losses: linear probe (Adam, cross-entropy; :func:`train_linear_probe`); projection
head FC + GELU of width 64 (:func:`init_head`, :func:`project`), symmetric CLIP loss with
temperature 1.0 (:func:`clip_loss`), Adam 1e-3, batch 8 (:func:`train_contrastive`); top-1
cross-modal retrieval (:func:`retrieval_accuracy`).

Deviations and unconfirmed internals (the authors' LSM module source is not public, spec §7):

* [UNCONFIRMED] recurrence: an LSM has recurrent synapses; we use a dense $n \times n$ Gaussian
  $W_\mathrm{rec}$ (autapses included, as on a full crossbar) with the same scale $c$ as the
  input weights; ``recurrent=False`` gives a feed-forward random layer.
* [UNCONFIRMED] hard reset to 0 (not subtractive); spike test $v \ge V_\mathrm{th}$ (the spec
  says $v > V_\mathrm{th}$; the two differ only on a measure-zero set for Gaussian weights);
  no refractory period; input delivered in the same step, recurrence with one step of delay.
* [UNCONFIRMED] the "scale = 100" setting of the scripts is not used (its role is unknown);
  the surrogate width 0.25 is irrelevant for a frozen liquid (DiscreteLIF's surrogate is used).
* [UNCONFIRMED] features are per-neuron spike counts over the $T$ steps (the scripts name a
  "counter").
* Choice: :func:`train_linear_probe` and :func:`train_contrastive` standardise features with
  the training mean/s.d. (the spec does not say); the contrastive loss L2-normalises the
  embeddings by default (CLIP does; the exact loss form is [UNCONFIRMED]); GELU is the exact
  (erf) form, PyTorch's default.
* Event pre-processing (:func:`center_crop`, :func:`bin_time`): binning by OR over equal chunks
  follows the N-TIDIGITS description (spec §3); for N-MNIST the binning is [UNCONFIRMED], as is
  which polarity "one channel slice" means (``polarity="on"`` by default).

References:
    Lin, Wang, Li, ... Wang, Shang, Liu & Liu (2025), Nature Computational Science 5:37–47,
    arXiv:2307.00771 (zero-shot LSM on resistive memory). Radford et al. (2021), ICML,
    arXiv:2103.00020 (CLIP contrastive loss). Maass, Natschläger & Markram (2002), Neural
    Computation 14:2531 (liquid state machines).

Examples:
    >>> import jax, numpy as np
    >>> from neurojax import lsm_encoder as le
    >>> liq = le.random_liquid(jax.random.PRNGKey(0), n_in=4, n=3, weight_scale=3.0)
    >>> x = np.zeros((2, 5, 4), np.uint8); x[0, :, 0] = 1           # sample 0: input 0 always on
    >>> counts = le.encode(liq, x)
    >>> counts.shape, bool(counts[1].sum() == 0)                        # a silent input stays silent
    ((2, 3), True)
    >>> spikes = le.run_liquid(liq, x[0])                               # (T, n) raster
    >>> bool((spikes.sum(axis=0) == counts[0]).all())
    True
"""
from __future__ import annotations

import functools
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from neurojax._params import check_int, float_dtype
from neurojax.connectivity import all_to_all
from neurojax.network import Network, Population, init_params, init_state
from neurojax.neurons import DiscreteLIF, DiscreteLIFParams
from neurojax.projections import Projection
from neurojax.simulate import simulate
from neurojax.synapses import Instant

Array = jax.Array

__all__ = [
    "NMNIST", "NTIDIGITS", "RandomLiquid", "random_liquid", "liquid_network", "liquid_params",
    "run_liquid", "encode", "center_crop", "bin_time", "cochleagram_events",
    "standardize", "ProbeResult", "train_linear_probe", "init_head", "project", "clip_loss",
    "train_contrastive", "retrieval_accuracy", "retrieval_chance",
]

#: Liquid settings of the N-MNIST encoder (spec §3): 16×16 crop of one polarity, 50 steps.
NMNIST = dict(n=200, decay=0.9, threshold=5.0, weight_scale=0.07, n_steps=50, crop=16)
#: Liquid settings of the N-TIDIGITS encoder (spec §3): 64 channels, 129 steps.
NTIDIGITS = dict(n=200, decay=0.97, threshold=5.3, weight_scale=0.08, n_steps=129, n_in=64)


# ---------------------------------------------------------------------------------------------
# the liquid
# ---------------------------------------------------------------------------------------------

class RandomLiquid(NamedTuple):
    """A frozen random liquid (a pytree of arrays).

    Attributes:
        w_in: ``(n, n_in)`` input weights $W_\\mathrm{in}[\\mathrm{post}, \\mathrm{pre}]$.
        w_rec: ``(n, n)`` recurrent weights $W_\\mathrm{rec}[\\mathrm{post}, \\mathrm{pre}]$
            (all zeros for a feed-forward liquid).
        decay: scalar multiplicative membrane decay per step $\\lambda \\in [0, 1)$.
        threshold: scalar $V_\\mathrm{th} > 0$.
    """

    w_in: Array
    w_rec: Array
    decay: Array
    threshold: Array


def _check_float(value, name: str, lo=None, hi=None, lo_open=False, hi_open=False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    bad = not np.isfinite(x)
    if lo is not None:
        bad |= x <= lo if lo_open else x < lo
    if hi is not None:
        bad |= x >= hi if hi_open else x > hi
    if bad:
        lo_s = "" if lo is None else ("(" if lo_open else "[") + f"{lo}"
        hi_s = "" if hi is None else f"{hi}" + (")" if hi_open else "]")
        raise ValueError(f"{name} must be finite and in {lo_s or '(-inf'}, {hi_s or 'inf)'}, "
                         f"got {value!r}")
    return x


def random_liquid(key, n_in: int, n: int = 200, *, decay: float = 0.9, threshold: float = 5.0,
                  weight_scale: float = 0.07, recurrent: bool = True) -> RandomLiquid:
    r"""Draw a random liquid: $W_\mathrm{in} = c\,G_\mathrm{in}$, $W_\mathrm{rec} = c\,G_\mathrm{rec}$.

    $G$ are i.i.d. standard normal (``jax.random.normal``; the input and recurrent matrices use
    ``fold_in(key, 0)`` and ``fold_in(key, 1)``). Defaults: the N-MNIST encoder of spec §3
    (:data:`NMNIST`); pass ``**{k: NTIDIGITS[k] for k in ("n", "decay", "threshold",
    "weight_scale")}`` for the audio encoder.

    Args:
        key: ``jax.random`` key.
        n_in: number of input channels.
        n: liquid size.
        decay: multiplicative membrane decay per step $\lambda$, in ``[0, 1)``.
        threshold: $V_\mathrm{th} > 0$.
        weight_scale: $c > 0$.
        recurrent: include $W_\mathrm{rec}$ (``False``: zeros, a feed-forward random layer).

    Raises:
        ValueError / TypeError: naming the bad argument.
    """
    n_in = check_int(n_in, "n_in")
    n = check_int(n, "n")
    decay = _check_float(decay, "decay", 0.0, 1.0, hi_open=True)
    threshold = _check_float(threshold, "threshold", 0.0, lo_open=True)
    weight_scale = _check_float(weight_scale, "weight_scale", 0.0, lo_open=True)
    dtype = float_dtype()
    w_in = weight_scale * jax.random.normal(jax.random.fold_in(key, 0), (n, n_in), dtype)
    w_rec = (weight_scale * jax.random.normal(jax.random.fold_in(key, 1), (n, n), dtype)
             if recurrent else jnp.zeros((n, n), dtype))
    return RandomLiquid(w_in, w_rec, jnp.asarray(decay, dtype), jnp.asarray(threshold, dtype))


@functools.lru_cache(maxsize=16)
def liquid_network(n: int) -> Network:
    """The neurojax network of a liquid of ``n`` neurons: population ``"L"``
    (:class:`~neurojax.DiscreteLIF`) and the dense recurrent projection ``"L->L"``
    (:class:`~neurojax.Instant` synapse, delay 1 step, ``dt = 1``). Cached per ``n``."""
    n = check_int(n, "n")
    conn = all_to_all(n, n)                       # weights (n, n) = W[pre, post]: a matmul
    return Network({"L": Population(DiscreteLIF(), n)},
                   {"L->L": Projection(conn, "L", "L", synapse=Instant())}, dt=1.0)


def liquid_params(liquid: RandomLiquid) -> dict:
    r"""``init_params`` of :func:`liquid_network` for ``liquid``: DiscreteLIF with
    $\tau_v = 1/(1-\lambda)$, $\theta = V_\mathrm{th}$, no reset offset, bias or refractory
    period, and the ``(n_pre, k) = (n, n)`` weight table $W_\mathrm{rec}^\top$."""
    n = liquid.w_rec.shape[0]
    net = liquid_network(n)
    lif = DiscreteLIFParams.default(tau_v=1.0 / (1.0 - liquid.decay), theta=liquid.threshold,
                                    v_reset=0.0, b=0.0, t_ref=0.0)
    return init_params(net, {"L": lif, "L->L": liquid.w_rec.T})


def _spikes_u8(state):
    """Recorder: the liquid's spikes of the step (exact 0/1 test on the forward value)."""
    return state.pops["L"].spike > 0.5


def _check_events(events, n_in: int, what: str, ndim: int) -> np.ndarray:
    x = np.asarray(events)
    if x.ndim != ndim or x.shape[-1] != n_in:
        shape = "(T, n_in)" if ndim == 2 else "(n_samples, T, n_in)"
        raise ValueError(f"{what}: events must be {shape} with n_in={n_in}, got shape {x.shape}")
    if x.shape[-2] < 1:
        raise ValueError(f"{what}: events need at least one time step, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) and x.dtype != np.bool_:
        raise TypeError(f"{what}: events must be numeric, got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.floating) and x.size and not np.isfinite(x).all():
        raise ValueError(f"{what}: events must be finite")
    return x


@functools.partial(jax.jit, static_argnames=("counts_only",))
def _run_batch(net, params, w_in, x, counts_only: bool):
    """Spikes ``(B, T, n)`` (or counts ``(B, n)``) of the liquid for events ``x (B, T, n_in)``."""
    state0 = init_state(net, params)
    drive = jnp.einsum("btc,nc->btn", x.astype(w_in.dtype), w_in)

    def one(d):
        return simulate(net, params, state0, {"L": d}, record=_spikes_u8)[1]

    spikes = jax.vmap(one)(drive)
    return spikes.sum(axis=1, dtype=jnp.int32) if counts_only else spikes


def run_liquid(liquid: RandomLiquid, events) -> np.ndarray:
    """Spike raster ``bool (T, n)`` of the liquid for one sample's events ``(T, n_in)``."""
    x = _check_events(events, liquid.w_in.shape[1], "run_liquid", 2)
    n = liquid.w_rec.shape[0]
    out = _run_batch(liquid_network(n), liquid_params(liquid), liquid.w_in,
                     jnp.asarray(x[None], float_dtype()), counts_only=False)
    return np.asarray(out[0])


def encode(liquid: RandomLiquid, events, *, batch_size: int = 64) -> np.ndarray:
    r"""Spike-count features $f_i = \sum_t s_{t,i}$ of every sample, ``int32 (n_samples, n)``.

    Samples are ``vmap``-ed in chunks of ``batch_size`` (the last chunk is padded, so one
    compile per shape); the events stay on the host between chunks.

    Args:
        liquid: from :func:`random_liquid`.
        events: ``(n_samples, T, n_in)`` binned events (0/1 or counts; any numeric dtype).
        batch_size: samples per chunk.
    """
    x = _check_events(events, liquid.w_in.shape[1], "encode", 3)
    batch_size = check_int(batch_size, "batch_size")
    n_samples, n = x.shape[0], liquid.w_rec.shape[0]
    net, params = liquid_network(n), liquid_params(liquid)
    out = np.zeros((n_samples, n), np.int32)
    b = min(batch_size, max(n_samples, 1))
    for lo in range(0, n_samples, b):
        idx = np.minimum(np.arange(lo, lo + b), n_samples - 1)
        real = np.arange(lo, lo + b) < n_samples
        c = _run_batch(net, params, liquid.w_in, jnp.asarray(x[idx], float_dtype()),
                       counts_only=True)
        out[idx[real]] = np.asarray(c)[real]
    return out


# ---------------------------------------------------------------------------------------------
# event pre-processing
# ---------------------------------------------------------------------------------------------

_POLARITY = {"off": (0,), "on": (1,), "both": (0, 1)}


def center_crop(events, size: int = 16, *, polarity: str = "on", sensor: int = 34) -> np.ndarray:
    r"""Centre crop of N-MNIST-layout events ``(n, T, 2·sensor²)`` → ``(n, T, P·size²)``.

    Channel ``p * sensor² + y * sensor + x`` (``p = 1`` ON, as :mod:`neurojax.datasets`); the
    crop keeps rows/columns ``o .. o + size - 1`` with ``o = (sensor - size) // 2`` (9 for
    16 of 34) of the polarities ``polarity`` (``"on"``, ``"off"`` or ``"both"``, OFF first).
    Output channel ``k * size² + (y - o) * size + (x - o)`` for the ``k``-th kept polarity.

    Examples:
        >>> import numpy as np
        >>> from neurojax.lsm_encoder import center_crop
        >>> ev = np.zeros((1, 1, 2 * 34 * 34), np.uint8); ev[0, 0, 1156 + 9 * 34 + 10] = 1
        >>> np.flatnonzero(center_crop(ev, 16)[0, 0]).tolist()      # (y, x) = (0, 1) in the crop
        [1]
    """
    sensor = check_int(sensor, "sensor")
    size = check_int(size, "size")
    if size > sensor:
        raise ValueError(f"center_crop: size must be <= sensor={sensor}, got {size}")
    if polarity not in _POLARITY:
        raise ValueError(f"center_crop: polarity must be 'on', 'off' or 'both', got {polarity!r}")
    x = np.asarray(events)
    if x.ndim != 3 or x.shape[2] != 2 * sensor * sensor:
        raise ValueError(f"center_crop: events must be (n, T, {2 * sensor * sensor}), got {x.shape}")
    o = (sensor - size) // 2
    x = x.reshape(x.shape[0], x.shape[1], 2, sensor, sensor)[:, :, list(_POLARITY[polarity]),
                                                              o:o + size, o:o + size]
    return np.ascontiguousarray(x.reshape(x.shape[0], x.shape[1], -1))


def bin_time(events, n_bins: int, *, reduce: str = "or") -> np.ndarray:
    r"""Merge the ``T`` steps of ``(n, T, C)`` events into ``n_bins`` near-equal chunks.

    Chunk $k$ holds steps $\lfloor kT/K \rfloor \dots \lfloor (k+1)T/K \rfloor - 1$ ($K$ =
    ``n_bins`` $\le T$). ``reduce="or"``: 1 if any event (uint8, as N-TIDIGITS' "OR-ed"
    chunks, spec §3); ``"sum"``: event counts (int32).

    Examples:
        >>> import numpy as np
        >>> from neurojax.lsm_encoder import bin_time
        >>> ev = np.array([[[1], [0], [1], [1], [0], [0]]])             # T = 6, one channel
        >>> bin_time(ev, 3)[0, :, 0].tolist(), bin_time(ev, 2, reduce="sum")[0, :, 0].tolist()
        ([1, 1, 0], [2, 1])
    """
    x = np.asarray(events)
    if x.ndim != 3:
        raise ValueError(f"bin_time: events must be (n, T, C), got shape {x.shape}")
    n_bins = check_int(n_bins, "n_bins")
    T = x.shape[1]
    if n_bins > T:
        raise ValueError(f"bin_time: n_bins must be <= T={T}, got {n_bins}")
    if reduce not in ("or", "sum"):
        raise ValueError(f"bin_time: reduce must be 'or' or 'sum', got {reduce!r}")
    edges = (np.arange(n_bins) * T) // n_bins
    s = np.add.reduceat(x.astype(np.int32), edges, axis=1)
    return (s > 0).astype(np.uint8) if reduce == "or" else s


def cochleagram_events(signals, key=None, n_steps: int = 129, n_channels: int = 64, *,
                       lo: float = -2.5, hi: float = 2.5, width: float = 1.5,
                       p_max: float = 1.0) -> np.ndarray:
    r"""Cochlea-like events of 1-D signals read as a pitch track: ``(n, L)`` → ``(n, T, C)``.

    An offline stand-in for N-TIDIGITS' 64 cochlea channels (which it is **not**): the signal
    is resampled linearly to $T$ points $u_k$ at positions $k (L-1)/(T-1)$ and read as the
    instantaneous frequency of a tone in channel units; channel $j$ (centre
    $\ell_j = lo + (j + \tfrac12)(hi - lo)/C$, spacing $\delta = (hi - lo)/C$) has the
    Gaussian tuning

    $$ r_{kj} = p_{\max} \exp\!\Big(-\frac{(u_k - \ell_j)^2}{2 (w\,\delta)^2}\Big), $$

    i.e. the band that holds the "formant" fires, like a band-pass cochlea channel while it
    has energy. With ``key=None`` the rates $r$ are returned (float64); with a ``jax.random``
    key (or int seed) each entry is an independent Bernoulli($r_{kj}$) event (uint8).

    Examples:
        >>> import numpy as np
        >>> from neurojax.lsm_encoder import cochleagram_events
        >>> r = cochleagram_events(np.array([[0.0, 0.0]]), None, n_steps=2, n_channels=4,
        ...                        lo=-2.0, hi=2.0, width=1.0)       # centres -1.5 -0.5 0.5 1.5
        >>> np.round(r[0, 0], 4).tolist()                             # exp(-u^2/2) at |u| = 1.5, 0.5
        [0.3247, 0.8825, 0.8825, 0.3247]
    """
    s = np.asarray(signals, np.float64)
    if s.ndim != 2 or s.shape[1] < 2:
        raise ValueError(f"cochleagram_events: signals must be (n, L) with L >= 2, got {s.shape}")
    if s.size and not np.isfinite(s).all():
        raise ValueError("cochleagram_events: signals must be finite")
    n_steps = check_int(n_steps, "n_steps", 2)
    n_channels = check_int(n_channels, "n_channels")
    lo = _check_float(lo, "lo")
    hi = _check_float(hi, "hi")
    if not hi > lo:
        raise ValueError(f"cochleagram_events: hi must be > lo, got lo={lo}, hi={hi}")
    width = _check_float(width, "width", 0.0, lo_open=True)
    p_max = _check_float(p_max, "p_max", 0.0, 1.0)
    L = s.shape[1]
    pos = np.arange(n_steps) * (L - 1) / (n_steps - 1)
    i0 = np.minimum(np.floor(pos).astype(int), L - 2)
    frac = pos - i0
    u = s[:, i0] * (1 - frac) + s[:, i0 + 1] * frac                 # (n, T)
    spacing = (hi - lo) / n_channels
    centres = lo + (np.arange(n_channels) + 0.5) * spacing
    r = p_max * np.exp(-0.5 * ((u[:, :, None] - centres) / (width * spacing)) ** 2)
    if key is None:
        return r
    from neurojax.connectivity import numpy_rng
    rng = numpy_rng(jax.random.PRNGKey(key) if isinstance(key, (int, np.integer)) else key)
    return (rng.random(r.shape) < r).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# heads: linear probe, projection heads, contrastive loss, retrieval
# ---------------------------------------------------------------------------------------------

def standardize(train, *others):
    """Z-score with the training mean and s.d. (s.d. 0 → 1): returns the transformed arrays."""
    train = np.asarray(train, np.float64)
    mu = train.mean(axis=0)
    sd = train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return tuple((np.asarray(a, np.float64) - mu) / sd for a in (train, *others))


def _features(x, name):
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must be a non-empty (n_samples, n_features) array, got {x.shape}")
    if not np.isfinite(x.astype(np.float64, copy=False)).all():
        raise ValueError(f"{name} must be finite")
    return x


def _labels(y, n, name, n_classes=None):
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must be integer labels of shape ({n},), got {y.dtype} {y.shape}")
    if n_classes is not None and y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name} must lie in [0, {n_classes}), got [{y.min()}, {y.max()}]")
    return y.astype(np.int32)


class ProbeResult(NamedTuple):
    """Output of :func:`train_linear_probe`.

    Attributes:
        params: ``{"w": (d, C), "b": (C,)}`` of the final epoch (standardised inputs).
        train_accuracy, test_accuracy: at the selected epoch.
        val_accuracy: at the selected epoch (None without a validation set).
        epoch: the selected epoch (1-based): best validation accuracy, else the last.
        test_curve: ``(epochs,)`` test accuracy after every epoch.
    """

    params: dict
    train_accuracy: float
    val_accuracy: Optional[float]
    test_accuracy: float
    epoch: int
    test_curve: np.ndarray


def _accuracy(params, x, y):
    return jnp.mean(jnp.argmax(x @ params["w"] + params["b"][None, :], axis=1) == y)


def train_linear_probe(train, test, *, val=None, n_classes: int, key, lr: float = 1e-3,
                       batch_size: int = 100, epochs: int = 100,
                       standardize_inputs: bool = True) -> ProbeResult:
    r"""Supervised linear probe: softmax regression $p = \mathrm{softmax}(xW + b)$ trained with
    Adam on the mean cross-entropy $-\frac1B\sum_i \log p_{i, y_i}$ (spec §3: N-MNIST lr 1e-4,
    batch 100, 100 epochs on 60k samples).

    Each epoch draws a permutation of the training set (from ``key``) and takes
    $\lfloor n / B \rfloor$ mini-batches (the remainder is skipped that epoch; $B$ is capped
    at $n$). $W, b$ start at 0. Accuracies are evaluated after every epoch; the reported epoch
    is the one with the best validation accuracy (first on ties), else the last.

    Args:
        train, test, val: ``(x, y)`` pairs, ``x (n, d)`` features, ``y (n,)`` int labels.
        n_classes: number of classes $C$.
        key: ``jax.random`` key (mini-batch order).
        lr, batch_size, epochs: Adam learning rate, mini-batch size, passes.
        standardize_inputs: z-score the features with the training statistics first.

    Examples:
        >>> import jax, numpy as np
        >>> from neurojax.lsm_encoder import train_linear_probe
        >>> x = np.array([[0., 1.], [1., 0.], [0., 2.], [2., 0.]]); y = np.array([0, 1, 0, 1])
        >>> r = train_linear_probe((x, y), (x, y), n_classes=2, key=jax.random.PRNGKey(0),
        ...                        lr=0.1, batch_size=2, epochs=20)
        >>> r.train_accuracy, r.test_accuracy
        (1.0, 1.0)
    """
    import optax

    xtr = _features(train[0], "train x")
    ytr = _labels(train[1], len(xtr), "train y")
    n_classes = check_int(n_classes, "n_classes")
    ytr = _labels(ytr, len(xtr), "train y", n_classes)
    xte = _features(test[0], "test x")
    yte = _labels(test[1], len(xte), "test y", n_classes)
    if xte.shape[1] != xtr.shape[1]:
        raise ValueError(f"test x has {xte.shape[1]} features, train x {xtr.shape[1]}")
    has_val = val is not None
    if has_val:
        xva = _features(val[0], "val x")
        yva = _labels(val[1], len(xva), "val y", n_classes)
        if xva.shape[1] != xtr.shape[1]:
            raise ValueError(f"val x has {xva.shape[1]} features, train x {xtr.shape[1]}")
    else:
        xva, yva = xtr[:1], ytr[:1]
    lr = _check_float(lr, "lr", 0.0, lo_open=True)
    batch_size = min(check_int(batch_size, "batch_size"), len(xtr))
    epochs = check_int(epochs, "epochs")
    if standardize_inputs:
        xtr, xva, xte = standardize(xtr, xva, xte)
    dt = float_dtype()
    xtr, xva, xte = (jnp.asarray(a, dt) for a in (xtr, xva, xte))
    ytr, yva, yte = (jnp.asarray(a) for a in (ytr, yva, yte))
    d = xtr.shape[1]
    opt = optax.adam(lr)
    n_batches = len(ytr) // batch_size

    def loss_fn(params, x, y):
        logits = x @ params["w"] + params["b"][None, :]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def fit(key, xtr, ytr, xva, yva, xte, yte):
        params = {"w": jnp.zeros((d, n_classes), dt), "b": jnp.zeros((n_classes,), dt)}
        state = opt.init(params)

        def batch_step(carry, idx):
            params, state = carry
            g = jax.grad(loss_fn)(params, xtr[idx], ytr[idx])
            upd, state = opt.update(g, state, params)
            return (optax.apply_updates(params, upd), state), None

        def epoch(carry, k):
            perm = jax.random.permutation(k, len(ytr))[:n_batches * batch_size]
            carry, _ = jax.lax.scan(batch_step, carry, perm.reshape(n_batches, batch_size))
            p = carry[0]
            return carry, jnp.stack([_accuracy(p, xtr, ytr), _accuracy(p, xva, yva),
                                     _accuracy(p, xte, yte)])

        (params, _), acc = jax.lax.scan(epoch, (params, state), jax.random.split(key, epochs))
        return params, acc

    params, acc = fit(key, xtr, ytr, xva, yva, xte, yte)
    acc = np.asarray(acc)
    e = int(np.argmax(acc[:, 1])) if has_val else epochs - 1
    return ProbeResult(params={k: np.asarray(v) for k, v in params.items()},
                       train_accuracy=float(acc[e, 0]),
                       val_accuracy=float(acc[e, 1]) if has_val else None,
                       test_accuracy=float(acc[e, 2]), epoch=e + 1, test_curve=acc[:, 2])


def init_head(key, d_in: int, dim: int = 64) -> dict:
    r"""Projection head parameters ``{"w": (d_in, dim), "b": (dim,)}``: $w \sim N(0, 1/d_{in})$
    (LeCun normal, untruncated), $b = 0$. [UNCONFIRMED] initialisation of the original."""
    d_in = check_int(d_in, "d_in")
    dim = check_int(dim, "dim")
    dt = float_dtype()
    return {"w": jax.random.normal(key, (d_in, dim), dt) / np.sqrt(d_in),
            "b": jnp.zeros((dim,), dt)}


def project(head: dict, x) -> Array:
    r"""Projection head $z = \mathrm{GELU}(xW + b)$, exact GELU
    $\mathrm{GELU}(a) = a\,\Phi(a)$ (spec §3: one FC layer + GELU)."""
    x = jnp.asarray(x)
    b = head["b"] if x.ndim == 1 else head["b"][None, :]
    return jax.nn.gelu(x @ head["w"] + b, approximate=False)


def _l2n(z):
    return z / jnp.maximum(jnp.linalg.norm(z, axis=-1, keepdims=True), 1e-12)


def clip_loss(za, zb, temperature: float = 1.0, *, normalize: bool = True) -> Array:
    r"""CLIP symmetric contrastive loss of a batch of $B$ paired embeddings.

    With $\hat z = z/\lVert z \rVert$ (if ``normalize``) and logits
    $L_{ij} = \hat z^a_i \cdot \hat z^b_j / \tau$:

    $$ \mathcal{L} = \frac{1}{2B} \sum_{i=1}^B \Big[ -\log \frac{e^{L_{ii}}}{\sum_j e^{L_{ij}}}
       - \log \frac{e^{L_{ii}}}{\sum_j e^{L_{ji}}} \Big]. $$

    Row $i$ of ``za`` and ``zb`` is a positive pair; every other row of the batch is a
    negative — also one of the same class (class-level pairs make such "false negatives"
    unavoidable, as in the paper's batches of 8 over 7 classes; exact form [UNCONFIRMED]).
    For unit vectors and $B \le d + 1$ the minimum is reached by a regular simplex
    ($\hat z^a_i = \hat z^b_i$, $\hat z_i \cdot \hat z_j = -1/(B-1)$):
    $\mathcal{L}_{\min} = \log\big(1 + (B-1)\,e^{-\frac{B}{(B-1)\tau}}\big)$.

    Examples:
        >>> import jax.numpy as jnp
        >>> from neurojax.lsm_encoder import clip_loss
        >>> z = jnp.array([[1.0, 0.0], [-1.0, 0.0]])                   # B = 2 simplex
        >>> round(float(clip_loss(z, z)), 6), round(float(jnp.log1p(jnp.exp(-2.0))), 6)
        (0.126928, 0.126928)
    """
    za, zb = jnp.asarray(za), jnp.asarray(zb)
    if za.ndim != 2 or za.shape != zb.shape:
        raise ValueError(f"clip_loss: za and zb must be (B, d) of the same shape, got "
                         f"{za.shape} and {zb.shape}")
    temperature = _check_float(temperature, "temperature", 0.0, lo_open=True)
    if normalize:
        za, zb = _l2n(za), _l2n(zb)
    logits = za @ zb.T / temperature
    diag = jnp.diagonal(logits)
    rows = jax.nn.logsumexp(logits, axis=1) - diag
    cols = jax.nn.logsumexp(logits, axis=0) - diag
    return 0.5 * (rows.mean() + cols.mean())


def train_contrastive(xa, xb, key, *, dim: int = 64, temperature: float = 1.0, lr: float = 1e-3,
                      batch_size: int = 8, epochs: int = 100, normalize: bool = True):
    r"""Train one projection head per modality on paired features with :func:`clip_loss`.

    ``xa[i]`` and ``xb[i]`` are a positive pair (same class). Each epoch draws a permutation of
    the pairs and takes $\lfloor n/B \rfloor$ batches (Adam, spec §3: lr 1e-3, $B = 8$,
    100 epochs, $\tau = 1$, dim 64). Inputs are used as given (standardise them first).

    Returns:
        ``(head_a, head_b, losses)``: the heads (NumPy dicts) and the mean batch loss per
        epoch ``(epochs,)``.
    """
    import optax

    xa = _features(xa, "xa")
    xb = _features(xb, "xb")
    if len(xa) != len(xb):
        raise ValueError(f"train_contrastive: xa and xb must hold the same number of pairs, got "
                         f"{len(xa)} and {len(xb)}")
    batch_size = check_int(batch_size, "batch_size", 2)
    if batch_size > len(xa):
        raise ValueError(f"train_contrastive: batch_size={batch_size} > {len(xa)} pairs")
    epochs = check_int(epochs, "epochs")
    lr = _check_float(lr, "lr", 0.0, lo_open=True)
    temperature = _check_float(temperature, "temperature", 0.0, lo_open=True)
    dt = float_dtype()
    xa, xb = jnp.asarray(xa, dt), jnp.asarray(xb, dt)
    ka, kb, kt = jax.random.split(key, 3)
    params = (init_head(ka, xa.shape[1], dim), init_head(kb, xb.shape[1], dim))
    opt = optax.adam(lr)
    n_batches = len(xa) // batch_size

    def loss_fn(p, a, b):
        return clip_loss(project(p[0], a), project(p[1], b), temperature, normalize=normalize)

    @jax.jit
    def fit(params, key, xa, xb):
        def batch_step(carry, idx):
            p, s = carry
            loss, g = jax.value_and_grad(loss_fn)(p, xa[idx], xb[idx])
            upd, s = opt.update(g, s, p)
            return (optax.apply_updates(p, upd), s), loss

        def epoch(carry, k):
            perm = jax.random.permutation(k, len(xa))[:n_batches * batch_size]
            carry, losses = jax.lax.scan(batch_step, carry, perm.reshape(n_batches, batch_size))
            return carry, losses.mean()

        (p, _), losses = jax.lax.scan(epoch, (params, opt.init(params)),
                                      jax.random.split(key, epochs))
        return p, losses

    (ha, hb), losses = fit(params, kt, xa, xb)
    to_np = lambda h: {k: np.asarray(v) for k, v in h.items()}   # noqa: E731
    return to_np(ha), to_np(hb), np.asarray(losses)


def retrieval_accuracy(query, query_labels, gallery, gallery_labels, *,
                       normalize: bool = False) -> float:
    r"""Top-1 cross-modal retrieval accuracy at the class level.

    Query $i$ retrieves $j^* = \arg\max_j q_i \cdot g_j$ (dot-product similarity; cosine with
    ``normalize``; ties → the first index) and counts as correct when
    ``gallery_labels[j*] == query_labels[i]``. The accuracy is the fraction of correct queries.

    Examples:
        >>> import numpy as np
        >>> from neurojax.lsm_encoder import retrieval_accuracy
        >>> q = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
        >>> g = np.array([[2.0, 0.0], [0.0, 3.0]])
        >>> retrieval_accuracy(q, [0, 1, 1], g, [0, 1])
        0.6666666666666666
    """
    q = _features(query, "query")
    g = _features(gallery, "gallery")
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"retrieval_accuracy: query dim {q.shape[1]} != gallery dim {g.shape[1]}")
    ql = _labels(np.asarray(query_labels), len(q), "query_labels")
    gl = _labels(np.asarray(gallery_labels), len(g), "gallery_labels")
    q, g = q.astype(np.float64), g.astype(np.float64)
    if normalize:
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    best = np.argmax(q @ g.T, axis=1)
    return float(np.mean(gl[best] == ql))


def retrieval_chance(query_labels, gallery_labels) -> float:
    r"""Expected top-1 accuracy of a random gallery pick: $\sum_c p_q(c)\,p_g(c)$ ($p$ the class
    frequencies of queries and gallery; $1/K$ for $K$ balanced classes)."""
    ql, gl = np.asarray(query_labels), np.asarray(gallery_labels)
    if ql.ndim != 1 or gl.ndim != 1 or not ql.size or not gl.size:
        raise ValueError("retrieval_chance: labels must be non-empty 1-D arrays")
    classes = np.union1d(ql, gl)
    pq = np.array([np.mean(ql == c) for c in classes])
    pg = np.array([np.mean(gl == c) for c in classes])
    return float(pq @ pg)
