r"""Datasets without downloads: bundled, generated, or read from files you already have.

Everything here is plain NumPy on the host (no JAX tracing); move the arrays to the device
with ``jnp.asarray`` when you feed them to :func:`neurojax.simulate`. Nothing in this module
ever opens a network connection.

| function                       | what                                                        |
|--------------------------------|-------------------------------------------------------------|
| `load_digits`                  | scikit-learn's bundled 8×8 digits (1,797), optionally 28×28 |
| `load_mnist1d`                 | MNIST-1D generated locally (optional ``mnist1d`` package)   |
| `read_idx`, `load_mnist`       | MNIST / Fashion-MNIST IDX files from a directory you give   |
| `nalsm_input_probabilities`    | NALSM per-image pixel normalisation (spike prob. per ms)    |
| `read_nmnist_bin`, `load_nmnist` | N-MNIST ``.bin`` event files → binary 1 ms frames         |
| `saccade_events`               | N-MNIST-like ON/OFF event simulator for static images       |

Conventions (the same in every loader):

* A loader returns a :class:`Split` ``(train, val, test)`` of :class:`XY` ``(x, y)`` pairs.
  Labels ``y`` are ``int32`` of shape ``(n,)``.
* **Static images** are ``(n, H, W)`` (row ``y``, column ``x``), ``float32`` grey levels on the
  MNIST scale ``0..255`` (not normalised). Flatten row-major with ``x.reshape(n, -1)`` to get the
  input-neuron index ``y * W + x``. MNIST-1D signals are ``(n, 40)``.
* **Event tensors** are ``(n, T, C)`` ``uint8``: sample-major, then time (1 step = ``dt_ms``),
  then channel ``C = 2 * 34 * 34 = 2312`` with index ``p * 1156 + y * 34 + x`` (``p = 1`` ON,
  ``p = 0`` OFF), the layout of the NALSM reference code. One sample ``x[i]`` is ``(T, C)``,
  exactly the time-first ``(T, n_inputs)`` layout ``simulate`` takes for a
  :class:`~neurojax.neurons.SpikeSource`; for a time-first batch use ``x.swapaxes(0, 1)`` or
  ``jax.vmap`` over the leading axis.
* Validation sets are taken **from the end of the training data, unshuffled**, as in NALSM
  (last 10,000 of the 60,000 MNIST training images; last sixth of the N-MNIST training files).

Spike encoding of static images for NALSM (spec §1.5): ``p = nalsm_input_probabilities(x)``
then :func:`neurojax.inputs.bernoulli` (``P(spike) = p`` per 1 ms step) on ``p.reshape(-1)``.

References:
    LeCun, Bottou, Bengio & Haffner (1998), Proc. IEEE 86:2278 (MNIST; IDX format on
    yann.lecun.com/exdb/mnist). Xiao, Rasul & Vollgraf (2017), arXiv:1708.07747 (Fashion-MNIST).
    Alpaydin & Kaynak (1998), UCI "Optical Recognition of Handwritten Digits" (the scikit-learn
    digits). Greydanus (2020), arXiv:2011.14439 (MNIST-1D). Orchard, Jayawant, Cohen & Thakor
    (2015), Front. Neurosci. 9:437 (N-MNIST, saccades). Lichtsteiner, Posch & Delbruck (2008),
    IEEE JSSC 43:566 (DVS contrast-threshold pixel). Ivanov & Michmizos (2021), NeurIPS,
    arXiv:2111.01760 (NALSM).
"""
from __future__ import annotations

import functools
import gzip
import math
import os
import pathlib
import random as _pyrandom
import zlib
from typing import NamedTuple, Optional, Tuple, Union

import numpy as np

__all__ = [
    "XY", "Split", "NMNIST_SENSOR", "NMNIST_CHANNELS", "EVENT_DTYPE",
    "resize_images", "load_digits", "load_mnist1d",
    "read_idx", "load_mnist",
    "nalsm_p_max", "nalsm_input_probabilities", "nalsm_normalise_split",
    "read_nmnist_bin", "nmnist_to_frames", "nmnist_files", "load_nmnist",
    "saccade_path", "saccade_events",
]

PathLike = Union[str, os.PathLike]

NMNIST_SENSOR = 34
"""Width and height of the N-MNIST ATIS crop, pixels."""
NMNIST_CHANNELS = 2 * NMNIST_SENSOR * NMNIST_SENSOR
"""Input channels of an N-MNIST frame: 2 polarities × 34 × 34 = 2312."""
EVENT_DTYPE = np.dtype([("t", np.int64), ("x", np.int16), ("y", np.int16), ("p", np.int8)])
"""Structured dtype of an event list: ``t`` in µs, pixel ``x`` (column), ``y`` (row),
polarity ``p`` (1 = ON, 0 = OFF)."""


class XY(NamedTuple):
    """Inputs and labels of one split."""
    x: np.ndarray   # (n, ...) inputs: images (n, H, W) float32 0..255, signals (n, L), events (n, T, C) uint8
    y: np.ndarray   # (n,) int32 class labels


class Split(NamedTuple):
    """Train / validation / test splits, each an :class:`XY`.

    Examples:
        >>> import numpy as np
        >>> from neurojax.datasets import XY, Split
        >>> s = Split(XY(np.zeros((3, 2)), np.arange(3)), XY(np.zeros((0, 2)), np.arange(0)),
        ...           XY(np.ones((1, 2)), np.arange(1)))
        >>> s.train.x.shape, len(s.val.y), float(s.test.x.sum())
        ((3, 2), 0, 2.0)
    """
    train: XY
    val: XY
    test: XY


# ----------------------------------------------------------------------------------------------
# small helpers

def _xy(x, y, dtype=np.float32) -> XY:
    return XY(np.ascontiguousarray(x, dtype=dtype), np.ascontiguousarray(y, dtype=np.int32))


def _check_fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _check_count(value, name: str, minimum: int = 0) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _check_nonneg(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(value)) or float(value) < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _rng_from_key(key) -> np.random.Generator:
    """A NumPy generator seeded by a ``jax.random`` key (typed or raw uint32) or an int seed."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        if key < 0:
            raise ValueError(f"key: an integer seed must be >= 0, got {key}")
        return np.random.default_rng(int(key))
    try:
        import jax
        if jax.dtypes.issubdtype(getattr(key, "dtype", None), jax.dtypes.prng_key):
            key = jax.random.key_data(key)
    except ImportError:   # pragma: no cover - jax is a core dependency
        pass
    data = np.asarray(key)
    if data.dtype.kind not in "ui" or data.size == 0:
        raise TypeError(f"key must be a jax.random key or an int seed, got {type(key).__name__} "
                        f"of dtype {data.dtype}")
    return np.random.default_rng([int(v) for v in data.astype(np.uint64).ravel()])


# ----------------------------------------------------------------------------------------------
# scikit-learn digits

def _interp_matrix(n_in: int, n_out: int, interpolation: str) -> np.ndarray:
    """``(n_out, n_in)`` matrix mapping a 1-D signal onto ``n_out`` samples (pixel-centre grid)."""
    centres = (np.arange(n_out) + 0.5) * (n_in / n_out)      # output pixel centres, input units
    a = np.zeros((n_out, n_in))
    if interpolation == "nearest":
        a[np.arange(n_out), np.minimum(np.floor(centres).astype(int), n_in - 1)] = 1.0
    elif interpolation == "bilinear":
        u = np.clip(centres - 0.5, 0.0, n_in - 1.0)             # coordinate on input centres
        lo = np.minimum(np.floor(u).astype(int), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = u - lo
        np.add.at(a, (np.arange(n_out), lo), 1.0 - frac)
        np.add.at(a, (np.arange(n_out), hi), frac)
    else:
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    return a


def resize_images(images, size: Union[int, Tuple[int, int]], interpolation: str = "bilinear"
                  ) -> np.ndarray:
    r"""Resize a stack of images ``(n, H, W)`` to ``(n, h, w)``, separably along rows and columns.

    Both methods sample the input on the pixel-centre grid: output pixel $i$ (of $h$) sits at
    input coordinate $u_i = (i + \tfrac12)\,H/h - \tfrac12$ (pixel centres at integers).

    * ``"bilinear"``: linear interpolation between the two nearest input centres, with
      $u_i$ clamped to $[0, H-1]$ (edge pixels are replicated, no zero padding) — the
      convention of OpenCV's ``INTER_LINEAR``. Weights per output pixel sum to 1, so a
      constant image stays constant. For 8 → 28 every input row/column also receives a total
      weight of exactly 28/8 = 3.5 (the clamped edge weight makes up for the half pixel that
      falls outside), so the image mean is preserved exactly; other ratios can shift a little
      weight to the border pixels.
    * ``"nearest"``: input pixel $\lfloor (i + \tfrac12) H / h\rfloor$ (pixel replication; for
      8 → 28 input pixels are repeated 3 or 4 times, so the mean moves by ~0.1–0.2 %).

    Args:
        images: ``(n, H, W)`` array.
        size: output side ``h = w`` or a pair ``(h, w)``.
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.

    Returns:
        ``(n, h, w)`` float32 array.

    Examples:
        >>> import numpy as np
        >>> from neurojax.datasets import resize_images
        >>> resize_images(np.array([[[0.0, 4.0]]]), (1, 4)).tolist()
        [[[0.0, 1.0, 3.0, 4.0]]]
        >>> resize_images(np.array([[[0.0, 4.0]]]), (1, 4), "nearest").tolist()
        [[[0.0, 0.0, 4.0, 4.0]]]
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"resize_images: images must be (n, H, W), got shape {images.shape}")
    h, w = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    _check_count(h, "size (height)", 1)
    _check_count(w, "size (width)", 1)
    a_h = _interp_matrix(images.shape[1], int(h), interpolation)
    a_w = _interp_matrix(images.shape[2], int(w), interpolation)
    out = np.einsum("ij,njk,lk->nil", a_h, images.astype(np.float64), a_w, optimize=True)
    return out.astype(np.float32)


def _stratified_split(y: np.ndarray, val_fraction: float, test_fraction: float, seed: int):
    """Index arrays (train, val, test): per class, round(n_c * fraction) to val and test."""
    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(len(idx) * test_fraction))
        n_val = int(round(len(idx) * val_fraction))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test:n_test + n_val])
        parts[0].append(idx[n_test + n_val:])
    return tuple(rng.permutation(np.concatenate(p)) for p in parts)


@functools.lru_cache(maxsize=1)
def _sklearn_digits():
    """scikit-learn's digits ``(images (1797, 8, 8) float64 0..16, labels)``, read once."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as err:   # pragma: no cover - depends on the environment
        raise ImportError("load_digits needs scikit-learn (bundled data, no download): "
                          "pip install neurojax[experiments] or pip install scikit-learn") from err
    bunch = sk_load_digits()
    images, labels = np.array(bunch.images), np.array(bunch.target)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _mnist_layout(x: np.ndarray, size: int, interpolation: str) -> np.ndarray:
    """Digits ``(n, 8, 8)`` in 0..255 -> MNIST-like ``(n, size, size)``: resized into a centred
    box of ``round(20 size / 28)`` pixels, strokes thinned by ``255 clip(2 x / 255 - 1, 0, 1)``."""
    box = max(1, int(round(20 * size / 28)))
    inner = resize_images(x, box, interpolation)
    inner = 255.0 * np.clip(2.0 * inner / 255.0 - 1.0, 0.0, 1.0)
    out = np.zeros((x.shape[0], size, size), np.float32)
    lo = (size - box) // 2
    out[:, lo:lo + box, lo:lo + box] = inner
    return out


def load_digits(size: int = 8, *, val_fraction: float = 1 / 7, test_fraction: float = 1 / 7,
                seed: int = 0, interpolation: str = "bilinear", layout: str = "fill") -> Split:
    r"""scikit-learn's bundled handwritten digits (no download), split into train/val/test.

    1,797 images of 8×8 pixels, 10 classes (174–183 per class), from the UCI "Optical
    Recognition of Handwritten Digits" set: 32×32 bitmaps whose 4×4 blocks were counted, so a
    pixel holds an integer $g \in \{0, \dots, 16\}$. It is mapped to the MNIST scale as
    $x = 255\,g / 16$ (float32, ``0..255``) and optionally resized (:func:`resize_images`;
    default bilinear, pixel-centre aligned, edge-clamped) to ``size × size`` — e.g. 28 for the
    MNIST input layer of NALSM (spec §1.14).

    Layouts of a resized image (``size != 8``):

    * ``"fill"``: the digit is stretched over the whole ``size × size`` frame (thick, smooth
      strokes: about 70 % of the pixels are nonzero at 28×28).
    * ``"mnist"``: MNIST's own geometry and stroke statistics. The digit is resized into a
      centred box of ``round(20 size / 28)`` pixels (MNIST fits its digits into 20×20 of
      28×28) and its strokes are thinned by the contrast stretch
      $x \leftarrow 255\,\mathrm{clip}(2x/255 - 1, 0, 1)$ (grey levels below half intensity
      become background). At 28×28 about 16 % of the pixels are ink (MNIST: 19 %), and the
      NALSM encoding's drive $1/p_\max$ (input spikes per ms, :func:`nalsm_p_max`) is about 24
      (MNIST's 50,000 training images: 20; ``"fill"``: 154, which saturates the liquid).

    Split: **stratified** and deterministic given ``seed``. In each class, after a random
    permutation, ``round(n_c * test_fraction)`` images go to test, ``round(n_c * val_fraction)``
    to validation and the rest to training; each split is then shuffled. The defaults
    (1/7, 1/7) mirror MNIST's 50k/10k/10k proportions and give 1,283 / 257 / 257 images.

    Args:
        size: output side in pixels (8 keeps the original resolution).
        val_fraction: fraction of each class in the validation split, in ``[0, 1)``.
        test_fraction: fraction of each class in the test split, in ``[0, 1)``.
        seed: seed of the split permutation.
        interpolation: ``"bilinear"`` or ``"nearest"`` (only when ``size != 8``).
        layout: ``"fill"`` or ``"mnist"`` (above; only when ``size != 8``).

    Returns:
        :class:`Split` with ``x`` float32 ``(n, size, size)`` in ``0..255`` and ``y`` int32.

    Examples:
        >>> from neurojax import datasets
        >>> d = datasets.load_digits()
        >>> [len(s.y) for s in d], d.train.x.shape[1:], float(d.train.x.max())
        ([1283, 257, 257], (8, 8), 255.0)
        >>> datasets.load_digits(28).test.x.shape
        (257, 28, 28)
    """
    size = _check_count(size, "size", 1)
    val_fraction = _check_fraction(val_fraction, "val_fraction")
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got "
                         f"{val_fraction} + {test_fraction}")
    if layout not in ("fill", "mnist"):
        raise ValueError(f"layout must be 'fill' or 'mnist', got {layout!r}")
    images, y = _sklearn_digits()
    x = images * (255.0 / 16.0)
    if size != x.shape[1]:
        x = _mnist_layout(x, size, interpolation) if layout == "mnist" else \
            resize_images(x, size, interpolation)
    elif interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    tr, va, te = _stratified_split(y, val_fraction, test_fraction, seed)
    return Split(_xy(x[tr], y[tr]), _xy(x[va], y[va]), _xy(x[te], y[te]))


# ----------------------------------------------------------------------------------------------
# MNIST-1D

def load_mnist1d(n_train: int = 4000, n_test: int = 1000, *, n_val: int = 0, seed: int = 42,
                 **overrides) -> Split:
    r"""MNIST-1D (Greydanus 2020) generated locally with ``mnist1d.data.make_dataset``.

    Never downloads: the dataset is built procedurally from the package's ten 1-D digit
    templates (random padding, translation, shear, scaling, correlated and i.i.d. noise, then
    resampled to 40 points and standardised over the whole generated set). One set of
    ``n_train + n_val + n_test`` samples (rounded up to a multiple of 10: the generator makes
    equally many per class, then shuffles) is generated; the first ``n_train`` are training,
    the next ``n_val`` validation and the next ``n_test`` test samples. With the defaults
    (4,000 / 0 / 1,000, seed 42) this is the package's standard split.

    ``make_dataset`` seeds NumPy's and Python's *global* RNGs; their states are saved and
    restored around the call, so calling this leaves global random state untouched.

    Reference accuracies (package README): logistic regression 32 %, MLP 68 %, GRU 91 %,
    CNN 94 %.

    Args:
        n_train: training samples (>= 1).
        n_test: test samples.
        n_val: validation samples (taken after the training samples).
        seed: generator seed (the ``seed`` field of the mnist1d arguments).
        **overrides: other fields of ``mnist1d.data.get_dataset_args()`` (e.g.
            ``iid_noise_scale=0.0``); ``num_samples``, ``train_split`` and ``seed`` are set here.

    Returns:
        :class:`Split` with ``x`` float32 ``(n, 40)`` (standardised, dimensionless) and ``y``
        int32 in ``0..9``.

    Raises:
        ImportError: ``mnist1d`` is not installed (it is the optional extra
            ``pip install neurojax[experiments]``).

    Examples:
        >>> from neurojax import datasets
        >>> d = datasets.load_mnist1d(n_train=40, n_test=20, n_val=10)   # doctest: +SKIP
        >>> [s.x.shape for s in d]                                       # doctest: +SKIP
        [(40, 40), (10, 40), (20, 40)]
    """
    n_train = _check_count(n_train, "n_train", 1)
    n_test = _check_count(n_test, "n_test")
    n_val = _check_count(n_val, "n_val")
    seed = _check_count(seed, "seed")
    for name in ("num_samples", "train_split", "seed"):
        if name in overrides:
            raise ValueError(f"load_mnist1d: {name} is set from n_train/n_val/n_test/seed; "
                             "do not pass it as an override")
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:
        raise ImportError("load_mnist1d needs the optional package 'mnist1d' (generated "
                          "locally, no download): pip install neurojax[experiments] "
                          "or pip install mnist1d") from err
    args = get_dataset_args(as_dict=False)
    unknown = sorted(set(overrides) - set(vars(args)))
    if unknown:
        raise ValueError(f"load_mnist1d: unknown mnist1d argument(s) {unknown}; "
                         f"known: {sorted(vars(args))}")
    total = n_train + n_val + n_test
    args.num_samples = 10 * math.ceil(total / 10)
    args.train_split = 1.0              # we split ourselves
    args.seed = seed
    for k, v in overrides.items():
        setattr(args, k, v)
    np_state, py_state = np.random.get_state(), _pyrandom.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        _pyrandom.setstate(py_state)
    x = np.concatenate([data["x"], data["x_test"]])
    y = np.concatenate([data["y"], data["y_test"]])
    a, b = n_train, n_train + n_val
    return Split(_xy(x[:a], y[:a]), _xy(x[a:b], y[a:b]), _xy(x[b:total], y[b:total]))


# ----------------------------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST)

_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_bytes(path: PathLike) -> bytes:
    """File contents, gunzipped if the file starts with the gzip magic ``1f 8b``."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{str(path)!r}: corrupt or truncated gzip data ({err})") from err
    return raw


def read_idx(path: PathLike) -> np.ndarray:
    r"""Read an IDX file (the MNIST / Fashion-MNIST container), plain or gzip-compressed.

    Layout (all integers big-endian): a 4-byte magic number ``00 00 TT DD`` where ``TT`` is the
    element type (``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D``
    float32, ``0x0E`` float64) and ``DD`` the number of dimensions; then ``DD`` uint32 sizes;
    then the data in C (row-major) order. Gzip is detected from the content (``1f 8b``), not
    the file name. MNIST image files are ``0x00000803`` (uint8, 3-D), label files
    ``0x00000801`` (uint8, 1-D).

    Args:
        path: file name.

    Returns:
        Array of the stored type (native byte order) and shape.

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        ValueError: bad magic number, unknown type code, truncated header or data, trailing
            bytes after the data, or corrupt gzip data (the message names the file).

    Examples:
        >>> import struct, tempfile, os
        >>> from neurojax.datasets import read_idx
        >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
        >>> with open(path, "wb") as f:
        ...     _ = f.write(struct.pack(">IIBBB", 0x801, 3, 7, 0, 9))
        >>> read_idx(path).tolist()
        [7, 0, 9]
    """
    raw = _read_bytes(path)
    name = repr(str(path))
    if len(raw) < 4:
        raise ValueError(f"{name}: truncated IDX header ({len(raw)} bytes, need >= 4)")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{name}: bad IDX magic number 0x{magic:08x} (expected 0x0000TTDD: "
                         "two zero bytes, a type code and the number of dimensions)")
    if type_code not in _IDX_TYPES:
        raise ValueError(f"{name}: unknown IDX element type 0x{type_code:02x} in magic number "
                         f"0x{magic:08x} (known: 0x08 0x09 0x0b 0x0c 0x0d 0x0e)")
    if ndim == 0:
        raise ValueError(f"{name}: IDX magic number 0x{magic:08x} declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: truncated IDX header: {ndim} dimensions need {header} bytes, "
                         f"file has {len(raw)}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_TYPES[type_code]
    expected = math.prod(dims) * dtype.itemsize
    found = len(raw) - header
    if found < expected:
        raise ValueError(f"{name}: truncated IDX data: shape {dims} of {dtype.name} needs "
                         f"{expected} bytes, found {found}")
    if found > expected:
        raise ValueError(f"{name}: IDX size mismatch: shape {dims} of {dtype.name} needs "
                         f"{expected} bytes, found {found} ({found - expected} trailing bytes)")
    arr = np.frombuffer(raw, dtype=dtype, offset=header, count=math.prod(dims)).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


_MNIST_KINDS = {"mnist": "MNIST", "fashion": "FashionMNIST"}


def _find_idx(data_dir: pathlib.Path, stem: str, kind: str) -> pathlib.Path:
    """``stem`` (``train-images-idx3-ubyte``) or a known variant of it in ``data_dir``."""
    dotted = stem.replace("-idx", ".idx")                       # train-images.idx3-ubyte
    names = [stem, stem + ".gz", dotted, dotted + ".gz"]
    folders = [data_dir, data_dir / _MNIST_KINDS[kind] / "raw"]  # torchvision's layout too
    for folder in folders:
        for name in names:
            if (folder / name).is_file():
                return folder / name
    raise FileNotFoundError(f"load_mnist(kind={kind!r}): missing {stem}[.gz] in "
                            f"{str(data_dir)!r} (also tried {', '.join(names[2:])} and the "
                            f"sub-folder {_MNIST_KINDS[kind]}/raw)")


def load_mnist(data_dir: PathLike, kind: str = "mnist", *, n_val: int = 10000,
               dtype=np.float32) -> Split:
    r"""MNIST or Fashion-MNIST from the four standard IDX files in a directory (no download).

    ``data_dir`` must hold ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each optionally ``.gz``
    (Fashion-MNIST uses the same names; ``train-images.idx3-ubyte`` spellings and torchvision's
    ``MNIST/raw`` / ``FashionMNIST/raw`` sub-folders are found too).

    Split as NALSM (spec §1.5): validation = the **last** ``n_val`` training images in file
    order (indices ``60000 - n_val .. 59999``, unshuffled), train = the ones before, test =
    the 10,000 ``t10k`` images.

    Args:
        data_dir: directory with the files.
        kind: ``"mnist"`` or ``"fashion"`` (used for the torchvision sub-folder and messages).
        n_val: number of validation images taken from the end of the training file
            (``0 <= n_val < n_train``).
        dtype: dtype of the images (default float32; ``np.uint8`` saves memory).

    Returns:
        :class:`Split` with ``x`` ``(n, 28, 28)`` grey levels ``0..255`` and ``y`` int32.

    Raises:
        FileNotFoundError: a file is missing (the message names it).
        ValueError: a corrupt file (see :func:`read_idx`), images that are not 3-D, labels that
            are not 1-D or not in ``0..9``, image and label counts that differ, bad ``n_val``.

    Examples:
        >>> import gzip, os, struct, tempfile
        >>> import numpy as np
        >>> from neurojax import datasets
        >>> root = tempfile.mkdtemp()
        >>> def write(name, arr):       # a tiny fake MNIST: uint8 IDX, gzip-compressed
        ...     head = struct.pack(">BBBB", 0, 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
        ...     with open(os.path.join(root, name + ".gz"), "wb") as f:
        ...         _ = f.write(gzip.compress(head + arr.astype(np.uint8).tobytes()))
        >>> write("train-images-idx3-ubyte", np.zeros((6, 28, 28)))
        >>> write("train-labels-idx1-ubyte", np.arange(6))
        >>> write("t10k-images-idx3-ubyte", np.zeros((2, 28, 28)))
        >>> write("t10k-labels-idx1-ubyte", np.array([7, 8]))
        >>> d = datasets.load_mnist(root, n_val=2)
        >>> [len(s.y) for s in d], d.val.y.tolist()        # validation = last 2 training images
        ([4, 2, 2], [4, 5])

        With the real files (``[50000, 10000, 10000]``):
        ``datasets.load_mnist("/path/to/mnist")``.
    """
    if kind not in _MNIST_KINDS:
        raise ValueError(f"load_mnist: kind must be 'mnist' or 'fashion', got {kind!r}")
    n_val = _check_count(n_val, "n_val")
    data_dir = pathlib.Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"load_mnist: data_dir {str(data_dir)!r} is not a directory")
    out = {}
    for part in ("train", "t10k"):
        img_path = _find_idx(data_dir, f"{part}-images-idx3-ubyte", kind)
        lab_path = _find_idx(data_dir, f"{part}-labels-idx1-ubyte", kind)
        images, labels = read_idx(img_path), read_idx(lab_path)
        if images.ndim != 3:
            raise ValueError(f"{str(img_path)!r}: images must be 3-D (n, rows, cols), "
                             f"got shape {images.shape}")
        if labels.ndim != 1:
            raise ValueError(f"{str(lab_path)!r}: labels must be 1-D, got shape {labels.shape}")
        if len(images) != len(labels):
            raise ValueError(f"load_mnist: {len(images)} images in {img_path.name} but "
                             f"{len(labels)} labels in {lab_path.name}")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise ValueError(f"{str(lab_path)!r}: labels must lie in 0..9, got "
                             f"{labels.min()}..{labels.max()}")
        out[part] = (images, labels)
    (x, y), (x_test, y_test) = out["train"], out["t10k"]
    if n_val >= len(x):
        raise ValueError(f"load_mnist: n_val must be < the {len(x)} training images, got {n_val}")
    cut = len(x) - n_val
    return Split(_xy(x[:cut], y[:cut], dtype), _xy(x[cut:], y[cut:], dtype),
                 _xy(x_test, y_test, dtype))


# ----------------------------------------------------------------------------------------------
# NALSM input normalisation

def _per_image_fraction(images: np.ndarray) -> np.ndarray:
    """x / sum over the pixels of each image (0 for a blank image), float64."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"images must be (n, ...) with a sample axis, got shape {x.shape}")
    if x.size and (not np.isfinite(x).all() or x.min() < 0):
        raise ValueError("images must be finite and >= 0 (raw grey levels)")
    total = x.reshape(len(x), -1).sum(axis=1).reshape((-1,) + (1,) * (x.ndim - 1))
    return np.divide(x, total, out=np.zeros_like(x), where=total > 0)


def nalsm_p_max(images) -> float:
    r"""The NALSM dataset constant $p_{\max} = \max_{i,k} x_{ik} / \sum_j x_{ij}$.

    Args:
        images: ``(n, ...)`` non-negative grey levels.

    Returns:
        The largest per-image pixel fraction (0.0 for an all-blank set).

    Examples:
        >>> import numpy as np
        >>> from neurojax.datasets import nalsm_p_max
        >>> nalsm_p_max(np.array([[1.0, 3.0], [2.0, 2.0]]))
        0.75
    """
    frac = _per_image_fraction(images)
    return float(frac.max()) if frac.size else 0.0


def nalsm_input_probabilities(images, p_max: Optional[float] = None) -> np.ndarray:
    r"""NALSM pixel → spike-probability normalisation (spec §1.5).

    $$p_{ik} = \frac{x_{ik} / \sum_j x_{ij}}{p_{\max}}, \qquad
      p_{\max} = \max_{i,k} \frac{x_{ik}}{\sum_j x_{ij}},$$

    for image $i$ and pixel $k$ ($x$ raw grey levels, e.g. 0..255). Every image gets the same
    total drive $\sum_k p_{ik} = 1 / p_{\max}$ (thin digits get higher per-pixel
    probabilities), and $p \in [0, 1]$ is the spike probability per 1 ms step of input neuron
    $k$: encode with :func:`neurojax.inputs.bernoulli` (``I_ext = 100 · Bernoulli(p)`` in NALSM).

    The reference code computes $p_{\max}$ separately on the 60,000 training images (train and
    validation together) and on the 10,000 test images (see :func:`nalsm_normalise_split`).
    By default it is computed on ``images``; pass ``p_max`` to reuse another set's constant —
    values above 1 (possible only when the given ``p_max`` is smaller than this set's own) are
    clipped to 1. Blank images give all-zero probabilities.

    Args:
        images: ``(n, ...)`` non-negative grey levels; the sum runs over all axes but the first.
        p_max: dataset constant (> 0); ``None`` computes it from ``images``.

    Returns:
        float32 array of the shape of ``images``, values in ``[0, 1]``.

    Examples:
        >>> import jax, numpy as np
        >>> import neurojax as nj
        >>> from neurojax import datasets
        >>> x = np.array([[[0.0, 255.0], [255.0, 0.0]], [[0.0, 0.0], [0.0, 100.0]]])
        >>> p = datasets.nalsm_input_probabilities(x)
        >>> p.reshape(2, -1).tolist()
        [[0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0]]
        >>> s = nj.inputs.bernoulli(jax.random.PRNGKey(0), p[0].reshape(-1), n_steps=250)
        >>> s.shape   # (T, n_inputs), time-first for simulate
        (250, 4)
    """
    frac = _per_image_fraction(images)
    if p_max is None:
        p_max = float(frac.max()) if frac.size else 0.0
        if p_max == 0.0:
            return np.zeros(frac.shape, np.float32)
    else:
        p_max = _check_positive(p_max, "p_max")
    return np.minimum(frac / p_max, 1.0).astype(np.float32)


def nalsm_normalise_split(split: Split) -> Split:
    r"""Apply :func:`nalsm_input_probabilities` to a :class:`Split` as the NALSM code does.

    $p_{\max}$ is computed once over train and validation together (the reference code
    normalises all 60,000 MNIST training images before cutting off the validation set) and
    separately over the test set. Labels are passed through.

    Examples:
        >>> from neurojax import datasets
        >>> d = datasets.nalsm_normalise_split(datasets.load_digits())
        >>> round(float(max(d.train.x.max(), d.val.x.max())), 6), round(float(d.test.x.max()), 6)
        (1.0, 1.0)
    """
    p_max = nalsm_p_max(np.concatenate([split.train.x, split.val.x]))
    if p_max > 0:
        train = nalsm_input_probabilities(split.train.x, p_max)
        val = nalsm_input_probabilities(split.val.x, p_max)
    else:
        train = np.zeros(split.train.x.shape, np.float32)
        val = np.zeros(split.val.x.shape, np.float32)
    test = nalsm_input_probabilities(split.test.x)
    return Split(XY(train, split.train.y), XY(val, split.val.y), XY(test, split.test.y))


# ----------------------------------------------------------------------------------------------
# N-MNIST

_OVERFLOW_Y = 240
_OVERFLOW_US = 1 << 13


def read_nmnist_bin(path: PathLike) -> np.ndarray:
    r"""Read one N-MNIST (or N-Caltech101) ``.bin`` event file.

    Each event is 5 bytes (40 bits, big-endian fields):

    | byte | bits  | field                                   |
    |------|-------|-----------------------------------------|
    | 0    | 7–0   | ``x`` (column, 0..33)                   |
    | 1    | 7–0   | ``y`` (row, 0..33)                      |
    | 2    | 7     | polarity: 1 = ON (brighter), 0 = OFF    |
    | 2    | 6–0   | timestamp bits 22–16                    |
    | 3    | 7–0   | timestamp bits 15–8                     |
    | 4    | 7–0   | timestamp bits 7–0                      |

    so $t = ((b_2 \,\&\, \mathtt{0x7F}) \ll 16) \,|\, (b_3 \ll 8) \,|\, b_4$ µs (23 bits, up to
    8.39 s). Events with ``y == 240`` are ATIS timestamp-overflow markers (the convention of
    Orchard's reader): each adds $2^{13}$ µs to all later timestamps and is dropped. N-MNIST
    recordings (~300 ms) contain none.

    Args:
        path: the ``.bin`` file.

    Returns:
        Structured array of :data:`EVENT_DTYPE` (fields ``t`` µs, ``x``, ``y``, ``p``) in file
        order.

    Raises:
        FileNotFoundError: missing file (named).
        ValueError: a file size that is not a multiple of 5 bytes (truncated or corrupt).

    Examples:
        >>> import os, tempfile
        >>> from neurojax.datasets import read_nmnist_bin
        >>> path = os.path.join(tempfile.mkdtemp(), "00001.bin")
        >>> with open(path, "wb") as f:   # x=3, y=5, ON at t = 70000 µs = 0x011170
        ...     _ = f.write(bytes([3, 5, 0x80 | 0x01, 0x11, 0x70]))
        >>> e = read_nmnist_bin(path)
        >>> e["x"].tolist(), e["y"].tolist(), e["p"].tolist(), e["t"].tolist()
        ([3], [5], [1], [70000])
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such N-MNIST file: {str(path)!r}")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 5:
        raise ValueError(f"{str(path)!r}: corrupt or truncated N-MNIST file: {raw.size} bytes "
                         "is not a multiple of 5 (5 bytes per event)")
    ev = raw.reshape(-1, 5).astype(np.int64)
    t = ((ev[:, 2] & 0x7F) << 16) | (ev[:, 3] << 8) | ev[:, 4]
    marker = ev[:, 1] == _OVERFLOW_Y
    t = t + _OVERFLOW_US * np.cumsum(marker)
    keep = ~marker
    out = np.empty(int(keep.sum()), EVENT_DTYPE)
    out["t"] = t[keep]
    out["x"] = ev[keep, 0]
    out["y"] = ev[keep, 1]
    out["p"] = ev[keep, 2] >> 7
    return out


def nmnist_to_frames(events, n_steps: int = 250, dt_ms: float = 1.0, *, binning: str = "round",
                     sensor_size: int = NMNIST_SENSOR) -> np.ndarray:
    r"""Bin an event list into binary frames ``(T, 2·S·S)`` (S = 34 for N-MNIST).

    Channel of an event: ``p * S*S + y * S + x`` (OFF block first, then ON). Time bin:

    * ``binning="round"`` (default, the NALSM reference code): $k = \mathrm{round}(t / \Delta t)$
      with $t$ converted from µs to ms and ties to even, so bin 0 holds $t \le 0.5$ ms and bin
      $k$ holds $t \in [k - \tfrac12, k + \tfrac12]\,\Delta t$.
    * ``binning="floor"``: $k = \lfloor t / \Delta t \rfloor$ (bin $k$ = $[k\Delta t, (k+1)\Delta t)$).

    Only events with $0 \le k <$ ``n_steps`` are kept (NALSM: the first 250 ms), and a bin with
    one or more events of a channel is 1.

    Args:
        events: structured array with fields ``t`` (µs), ``x``, ``y``, ``p`` (e.g. from
            :func:`read_nmnist_bin`).
        n_steps: number of bins ``T``.
        dt_ms: bin width, ms.
        binning: ``"round"`` or ``"floor"``.
        sensor_size: sensor side ``S`` in pixels.

    Returns:
        ``(n_steps, 2·S·S)`` uint8 array of 0/1.

    Raises:
        ValueError: an event outside the sensor (``x`` or ``y`` not in ``0..S-1``), a polarity
            other than 0/1, bad ``n_steps``/``dt_ms``/``binning``.

    Examples:
        >>> import numpy as np
        >>> from neurojax.datasets import EVENT_DTYPE, nmnist_to_frames
        >>> e = np.array([(1400, 2, 1, 1), (1600, 2, 1, 0), (300000, 0, 0, 1)], EVENT_DTYPE)
        >>> f = nmnist_to_frames(e, n_steps=250)
        >>> [(int(k), int(c)) for k, c in zip(*np.nonzero(f))]   # (bin, channel)
        [(1, 1192), (2, 36)]
    """
    n_steps = _check_count(n_steps, "n_steps", 1)
    dt_ms = _check_positive(dt_ms, "dt_ms")
    s = _check_count(sensor_size, "sensor_size", 1)
    ev = np.asarray(events)
    if ev.dtype.names is None or not {"t", "x", "y", "p"} <= set(ev.dtype.names):
        raise ValueError("events must be a structured array with fields t (µs), x, y, p")
    x, y = ev["x"].astype(np.int64), ev["y"].astype(np.int64)
    p, t = ev["p"].astype(np.int64), ev["t"].astype(np.float64)
    if x.size and (x.min() < 0 or x.max() >= s or y.min() < 0 or y.max() >= s):
        raise ValueError(f"events outside the {s}×{s} sensor: x in {x.min()}..{x.max()}, "
                         f"y in {y.min()}..{y.max()}")
    if p.size and not np.isin(p, (0, 1)).all():
        raise ValueError(f"event polarity must be 0 or 1, got values {np.unique(p).tolist()}")
    if binning == "round":
        k = np.rint(t / (1000.0 * dt_ms))
    elif binning == "floor":
        k = np.floor(t / (1000.0 * dt_ms))
    else:
        raise ValueError(f"binning must be 'round' or 'floor', got {binning!r}")
    keep = (k >= 0) & (k < n_steps)
    frames = np.zeros((n_steps, 2 * s * s), np.uint8)
    frames[k[keep].astype(np.int64), (p * s * s + y * s + x)[keep]] = 1
    return frames


def _split_dir(data_dir: pathlib.Path, name: str) -> pathlib.Path:
    for cand in (name, name.lower(), name.upper()):
        if (data_dir / cand).is_dir():
            return data_dir / cand
    raise FileNotFoundError(f"N-MNIST: missing folder {name}/ in {str(data_dir)!r} "
                            f"(expected {name}/<digit>/*.bin)")


def nmnist_files(data_dir: PathLike, split: str = "train", *, n_val: Optional[int] = None
                 ) -> list:
    r"""The ``(path, label)`` pairs of an N-MNIST split, in the order :func:`load_nmnist` uses.

    Files are ``Train/<digit>/<name>.bin`` and ``Test/<digit>/<name>.bin`` (labels from the
    digit folder names ``0``..``9``; other folders are ignored). The files of a folder pair are
    sorted by file name across digits (then by label). In the original data the name is the
    index of the MNIST image it was recorded from, so this is MNIST order.

    Validation (``split="val"``) is the **last** ``n_val`` training files in that order and
    ``"train"`` the ones before; ``n_val=None`` takes the last sixth (``len // 6``), which for the
    full 60,000 training files is exactly the NALSM split (train = ``00001``–``50000``,
    validation = ``50001``–``60000``). ``"test"`` is every file under ``Test/``.

    Args:
        data_dir: directory holding ``Train/`` and ``Test/``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        n_val: validation files (``None``: a sixth of the training files).

    Returns:
        list of ``(pathlib.Path, int)``.

    Raises:
        FileNotFoundError: a missing directory, or no ``.bin`` files in digit folders.

    Examples:
        >>> import os, tempfile
        >>> from neurojax import datasets
        >>> root = tempfile.mkdtemp()
        >>> for i in range(1, 13):      # 12 empty recordings, digit = file number % 3
        ...     os.makedirs(os.path.join(root, "Train", str(i % 3)), exist_ok=True)
        ...     open(os.path.join(root, "Train", str(i % 3), f"{i:05d}.bin"), "wb").close()
        >>> [(p.name, label) for p, label in datasets.nmnist_files(root, "val")]
        [('00011.bin', 2), ('00012.bin', 0)]
        >>> datasets.load_nmnist(root, "train").x.shape
        (10, 250, 2312)
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    data_dir = pathlib.Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"N-MNIST: data_dir {str(data_dir)!r} is not a directory")
    folder = _split_dir(data_dir, "Test" if split == "test" else "Train")
    files = []
    for sub in folder.iterdir():
        if sub.is_dir() and sub.name.isdigit() and 0 <= int(sub.name) <= 9:
            files.extend((f, int(sub.name)) for f in sub.glob("*.bin") if f.is_file())
    if not files:
        raise FileNotFoundError(f"N-MNIST: no <digit>/*.bin files under {str(folder)!r}")
    files.sort(key=lambda fl: (fl[0].name, fl[1]))
    if split == "test":
        return files
    n_val = len(files) // 6 if n_val is None else _check_count(n_val, "n_val")
    if n_val >= len(files):
        raise ValueError(f"n_val must be < the {len(files)} training files, got {n_val}")
    cut = len(files) - n_val
    return files[:cut] if split == "train" else files[cut:]


def load_nmnist(data_dir: PathLike, split: str = "train", *, limit: Optional[int] = None,
                n_steps: int = 250, dt_ms: float = 1.0, n_val: Optional[int] = None,
                binning: str = "round") -> XY:
    r"""Load an N-MNIST split as binary frames ``(n, T, 2312)`` (no download).

    Reads the files listed by :func:`nmnist_files` (``Train/<digit>/*.bin``,
    ``Test/<digit>/*.bin``; validation = last sixth of the training files by name, as NALSM),
    each with :func:`read_nmnist_bin`, and bins them with :func:`nmnist_to_frames`.

    Memory: ``n × n_steps × 2312`` bytes (50,000 training samples × 250 ms ≈ 29 GB); use
    ``limit`` or read in chunks with :func:`nmnist_files` for full-size runs.

    Args:
        data_dir: directory holding ``Train/`` and ``Test/``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        limit: read only the first ``limit`` files of the split (in file-name order).
        n_steps: bins per sample (NALSM main phase 250; its initialisation phase draws a 20 ms
            window from the first 300).
        dt_ms: bin width, ms.
        n_val: validation files (``None``: a sixth of the training files).
        binning: ``"round"`` (NALSM) or ``"floor"``, see :func:`nmnist_to_frames`.

    Returns:
        :class:`XY` with ``x`` uint8 ``(n, n_steps, 2312)`` and ``y`` int32.

    Raises:
        FileNotFoundError: missing folders or files (named).
        ValueError: a corrupt file (named) or events outside the 34×34 sensor.

    Examples:
        >>> from neurojax import datasets
        >>> d = datasets.load_nmnist("/path/to/N-MNIST", "test", limit=100)   # doctest: +SKIP
        >>> d.x.shape                                                        # doctest: +SKIP
        (100, 250, 2312)
    """
    files = nmnist_files(data_dir, split, n_val=n_val)
    if limit is not None:
        files = files[:_check_count(limit, "limit")]
    n_steps = _check_count(n_steps, "n_steps", 1)
    x = np.zeros((len(files), n_steps, NMNIST_CHANNELS), np.uint8)
    for i, (path, _) in enumerate(files):
        try:
            x[i] = nmnist_to_frames(read_nmnist_bin(path), n_steps, dt_ms, binning=binning)
        except ValueError as err:
            raise ValueError(f"{str(path)!r}: {err}") from err
    return XY(x, np.array([lab for _, lab in files], np.int32))


# ----------------------------------------------------------------------------------------------
# saccade event simulator

def saccade_path(n_steps: int = 300, *, saccade_ms: float = 100.0, amplitude: float = 4.0,
                 dt_ms: float = 1.0) -> np.ndarray:
    r"""Image offsets ``(dx, dy)`` in pixels along the N-MNIST-like triangular saccade path.

    Three straight saccades of ``saccade_ms`` each through the vertices (with $A$ =
    ``amplitude``, $x$ right, $y$ down)

    $$V_0 = (0, -\tfrac{A}{2}) \to V_1 = (\tfrac{A}{2}, \tfrac{A}{2}) \to
      V_2 = (-\tfrac{A}{2}, \tfrac{A}{2}) \to V_0,$$

    an isosceles triangle centred on the frame (down-right, left, up-right, the closed
    three-saccade motion of Orchard et al. 2015), at constant speed per segment. Row ``k`` is
    the offset at the *end* of step ``k``, $t = (k + 1)\,\Delta t$; the offset at $t = 0$ is
    $V_0$. After $3\,\cdot$ ``saccade_ms`` the image rests at $V_0$.

    Returns:
        ``(n_steps, 2)`` float64 array of ``(dx, dy)``.

    Examples:
        >>> from neurojax.datasets import saccade_path
        >>> p = saccade_path(300)
        >>> p[[49, 99, 199, 299]].tolist()   # t = 50, 100, 200, 300 ms
        [[1.0, 0.0], [2.0, 2.0], [-2.0, 2.0], [0.0, -2.0]]
    """
    n_steps = _check_count(n_steps, "n_steps", 1)
    saccade_ms = _check_positive(saccade_ms, "saccade_ms")
    amplitude = _check_nonneg(amplitude, "amplitude")
    dt_ms = _check_positive(dt_ms, "dt_ms")
    h = amplitude / 2
    verts = np.array([[0.0, -h], [h, h], [-h, h], [0.0, -h]])
    t = (np.arange(n_steps) + 1) * dt_ms / saccade_ms             # in saccade units
    seg = np.minimum(np.floor(t).astype(int), 3)
    frac = np.where(seg < 3, t - seg, 0.0)
    seg = np.minimum(seg, 2)
    out = verts[seg] + frac[:, None] * (verts[seg + 1] - verts[seg])
    out[t >= 3] = verts[0]                                       # exactly back at V_0
    return out


def _shift_bilinear(padded: np.ndarray, pad: int, s: int, dx: float, dy: float) -> np.ndarray:
    """``G[y, x] = F[y - dy, x - dx]`` sampled bilinearly (zero outside) from a padded frame."""
    ix, iy = math.floor(dx), math.floor(dy)
    fx, fy = padded.dtype.type(dx - ix), padded.dtype.type(dy - iy)

    def sl(a, b):   # F[y - a, x - b] for the s × s output window
        return padded[:, pad - a: pad - a + s, pad - b: pad - b + s]

    out = (1 - fy) * (1 - fx) * sl(iy, ix)
    if fx:
        out = out + (1 - fy) * fx * sl(iy, ix + 1)
    if fy:
        out = out + fy * (1 - fx) * sl(iy + 1, ix)
        if fx:
            out = out + fy * fx * sl(iy + 1, ix + 1)
    return out


def saccade_events(images, key, n_steps: int = 300, threshold: float = 0.15, *,
                   saccade_ms: float = 100.0, amplitude: float = 4.0, dt_ms: float = 1.0,
                   max_value: float = 255.0, log_eps: float = 0.1, jitter_ms: float = 1.0,
                   noise_rate_hz: float = 0.0, threshold_sd: float = 0.0,
                   counts: bool = False) -> np.ndarray:
    r"""Simulate N-MNIST-like ON/OFF events from static images moved along saccades (spec §5).

    Model (an idealised DVS/ATIS pixel, Lichtsteiner et al. 2008):

    1. Each image (``H, W <= 34``) is centred in a 34×34 frame and scaled to
       $I = x / x_{\max}$ (``max_value``; clipped to ``[0, 1]``).
    2. The frame content is translated by the offsets of :func:`saccade_path` (sub-pixel,
       bilinear, zero outside the image), giving $I_k$ at the end of step $k$; at $t = 0$ the
       image sits at the start vertex $V_0$.
    3. Each pixel compares its log intensity $L_k = \ln(I_k + \varepsilon)$ (``log_eps``) with
       a reference $L^{\mathrm{ref}}$ (initially $L$ at $t = 0$). With $\Delta = L_k -
       L^{\mathrm{ref}}$ and threshold $\theta$: if $\Delta \ge \theta$ it emits
       $m = \lfloor \Delta / \theta \rfloor$ ON events and $L^{\mathrm{ref}} \mathrel{+}= m\theta$;
       if $\Delta \le -\theta$ it emits $m = \lfloor -\Delta / \theta \rfloor$ OFF events and
       $L^{\mathrm{ref}} \mathrel{-}= m\theta$ (bookkept as an integer number of thresholds).
       Because the path is closed, a pixel's ON and OFF event *counts* are equal once the image
       is back at $V_0$, i.e. for ``n_steps * dt_ms >= 3 * saccade_ms`` (without noise). In
       the default binary output several events of one channel in one step are a single 1.
    4. Optional randomness from ``key``: per-pixel thresholds $\theta\,\max(1 + \sigma_\theta
       z, 0.1)$ with $z \sim N(0, 1)$ (``threshold_sd``, fixed-pattern mismatch); each event
       moved by $\mathrm{round}(N(0, \sigma_j)/\Delta t)$ steps (``jitter_ms``; events moved
       outside ``[0, T)`` are lost); independent background events with probability
       ``noise_rate_hz``·Δt per channel and step.

    Output channel layout as :func:`nmnist_to_frames`: ``p * 1156 + y * 34 + x`` with ``p = 1``
    ON, ``p = 0`` OFF. Deterministic given ``key`` (one random stream per call, so split a large
    set into chunks with ``jax.random.fold_in(key, chunk)`` for reproducible chunked runs).

    Orientation (MNIST test digits, defaults): ≈ 9,700 events (≈ 8,800 non-zero bins) per image
    over 300 ms, half ON, half OFF; ~10 ms per image on one CPU core; memory of the output
    ``n × n_steps × 2312`` bytes. These numbers are not calibrated against real N-MNIST
    recordings; ``threshold`` and ``log_eps`` set the event density (``log_eps=0.3`` gives
    ≈ 5,600 events).

    Args:
        images: ``(n, H, W)`` non-negative grey levels, ``H, W <= 34`` (e.g. MNIST 28×28 or
            ``load_digits(28)``).
        key: ``jax.random`` key (or an int seed) for the randomness of step 4.
        n_steps: number of steps ``T`` (N-MNIST recordings last ~300 ms; NALSM uses 250).
        threshold: contrast threshold $\theta$ in log-intensity units (0.1–0.2 is typical).
        saccade_ms: duration of each of the 3 saccades, ms.
        amplitude: size $A$ of the triangle, pixels.
        dt_ms: step, ms.
        max_value: grey level mapped to intensity 1.
        log_eps: offset $\varepsilon$ of the log (dark level), > 0.
        jitter_ms: standard deviation of the event timing jitter, ms (0 disables).
        noise_rate_hz: background event rate per channel, Hz (0 disables).
        threshold_sd: relative per-pixel threshold spread (0 disables).
        counts: return event counts per step (capped at 255) instead of 0/1.

    Returns:
        ``(n, n_steps, 2312)`` uint8: 0/1 (or counts), time-major per sample.

    Examples:
        >>> import numpy as np
        >>> from neurojax import datasets
        >>> img = np.zeros((1, 28, 28)); img[0, 10:18, 12:16] = 255.0   # a bright bar
        >>> ev = datasets.saccade_events(img, 0, jitter_ms=0.0, counts=True)
        >>> on, off = ev[0, :, 1156:].sum(), ev[0, :, :1156].sum()
        >>> bool(on == off > 0)   # closed path: as many ON as OFF events
        True
        >>> blank = datasets.saccade_events(np.zeros((1, 28, 28)), 0)
        >>> int(blank.sum())
        0
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3:
        raise ValueError(f"saccade_events: images must be (n, H, W), got shape {images.shape}")
    n, h, w = images.shape
    s = NMNIST_SENSOR
    if h > s or w > s:
        raise ValueError(f"saccade_events: images must fit the {s}×{s} frame, got {h}×{w} "
                         "(resize first)")
    if images.size and (not np.isfinite(images).all() or images.min() < 0):
        raise ValueError("saccade_events: images must be finite and >= 0")
    n_steps = _check_count(n_steps, "n_steps", 1)
    threshold = _check_positive(threshold, "threshold")
    max_value = _check_positive(max_value, "max_value")
    log_eps = _check_positive(log_eps, "log_eps")
    jitter_ms = _check_nonneg(jitter_ms, "jitter_ms")
    noise_rate_hz = _check_nonneg(noise_rate_hz, "noise_rate_hz")
    threshold_sd = _check_nonneg(threshold_sd, "threshold_sd")
    dt_ms = _check_positive(dt_ms, "dt_ms")
    p_noise = noise_rate_hz * dt_ms * 1e-3
    if p_noise > 1:
        raise ValueError(f"noise_rate_hz * dt = {p_noise:g} > 1 event per step")
    path = saccade_path(n_steps, saccade_ms=saccade_ms, amplitude=amplitude, dt_ms=dt_ms)
    rng = _rng_from_key(key)

    pad = int(math.ceil(amplitude / 2)) + 2
    v0 = (0.0, -amplitude / 2)                                  # offset at t = 0 (vertex V_0)
    n_ch = NMNIST_CHANNELS
    out = np.zeros((n, n_steps, n_ch), np.uint8)
    for lo in range(0, n, _SACCADE_CHUNK):                      # bounded memory per chunk
        hi = min(lo + _SACCADE_CHUNK, n)
        frame = np.zeros((hi - lo, s + 2 * pad, s + 2 * pad), np.float32)
        oy, ox = pad + (s - h) // 2, pad + (s - w) // 2
        frame[:, oy:oy + h, ox:ox + w] = np.clip(images[lo:hi] / max_value, 0.0, 1.0)
        if threshold_sd > 0:
            theta = threshold * np.maximum(
                1.0 + threshold_sd * rng.standard_normal((hi - lo, s, s)), 0.1)
        else:
            theta = np.full((hi - lo, s, s), threshold)
        i, k, yy, xx, val = _saccade_quanta(frame, pad, s, path, v0, theta, log_eps)
        c = (val > 0) * (s * s) + yy * s + xx
        # one entry per event (a step can hold several quanta of one pixel)
        i, k, c = (np.repeat(a, np.abs(val)) for a in (i, k, c))
        if jitter_ms > 0 and k.size:
            k = k + np.rint(rng.standard_normal(k.size) * (jitter_ms / dt_ms)).astype(np.int64)
            ok = (k >= 0) & (k < n_steps)
            i, k, c = i[ok], k[ok], c[ok]
        lin = (i * n_steps + k) * n_ch + c
        if p_noise > 0:
            size = (hi - lo) * n_steps * n_ch
            lin = np.concatenate([lin, rng.choice(size, rng.binomial(size, p_noise),
                                                  replace=False)])
        flat = out[lo:hi].reshape(-1)                           # a view: out is contiguous
        if counts:
            u, cts = np.unique(lin, return_counts=True)
            flat[u] = np.minimum(cts, 255)
        else:
            flat[lin] = 1
    return out


_SACCADE_CHUNK = 64


def _saccade_quanta(frame, pad, s, path, v0, theta, log_eps):
    """Events ``(i, k, y, x, m)`` of the contrast-threshold pixels (``m`` > 0 ON, < 0 OFF).

    The reference level is tracked as an integer number of thresholds ``q`` above the
    initial log intensity ``L0``: with ``z = (L - L0) / theta`` the pixel fires ON when
    ``z >= q + 1`` (``q <- floor(z)``) and OFF when ``z <= q - 1`` (``q <- ceil(z)``); the
    change ``m`` of ``q`` is the signed number of events in the step. Integer bookkeeping
    makes a return to ``L0`` bring ``q`` back to exactly 0 (equal ON and OFF counts on a
    closed path). float32 is enough: the crossings are compared in threshold units.
    """
    log0 = np.log(_shift_bilinear(frame, pad, s, v0[0], v0[1]) + np.float32(log_eps))
    inv_theta = (1.0 / theta).astype(np.float32)
    q = np.zeros(log0.shape, np.float32)
    parts = []
    for k in range(path.shape[0]):
        g = _shift_bilinear(frame, pad, s, path[k, 0], path[k, 1])
        z = (np.log(g + np.float32(log_eps)) - log0) * inv_theta
        q_new = np.where(z >= q + 1, np.floor(z), np.where(z <= q - 1, np.ceil(z), q))
        i, y, x = np.nonzero(q_new != q)
        if i.size:
            m = (q_new[i, y, x] - q[i, y, x]).astype(np.int64)
            parts.append((i, np.full(i.size, k), y, x, m))
        q = q_new
    if not parts:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty, empty
    return tuple(np.concatenate(a) for a in zip(*parts))
