"""Tests of neurojax.datasets on tiny fabricated files with the real binary layouts (no downloads).

Closed forms checked: IDX and N-MNIST bit layouts (exact values), the NALSM normalisation
(sum_k p_ik * p_max = 1, max p = 1), stratified split sizes round(n_c * f), the exact
mean preservation of the 8 -> 28 bilinear resize, and the saccade simulator against an
independent per-pixel reference of the contrast-threshold model on a single bright pixel.
"""
import gzip
import math
import random
import struct

import numpy as np
import pytest

from neurojax import datasets as D

# ------------------------------------------------------------------------------------------
# fabricated IDX files


def _idx_bytes(arr, type_code=0x08, fmt=">u1"):
    arr = np.asarray(arr)
    head = struct.pack(">BBBB", 0, 0, type_code, arr.ndim)
    head += b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + arr.astype(fmt).tobytes()


def _write(path, data, gz=False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip_uint8_images_and_labels(tmp_path, gz):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(7, 4, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    # hand-written header of the image file: magic 0x00000803, then 7, 4, 3 big-endian
    img = _write(tmp_path / "img", struct.pack(">IIII", 0x803, 7, 4, 3) + images.tobytes(), gz)
    lab = _write(tmp_path / "lab", struct.pack(">II", 0x801, 7) + labels.tobytes(), gz)
    got_i, got_l = D.read_idx(img), D.read_idx(lab)
    assert got_i.dtype == np.uint8 and got_l.dtype == np.uint8
    np.testing.assert_array_equal(got_i, images)
    np.testing.assert_array_equal(got_l, labels)


@pytest.mark.parametrize("code,fmt,values", [
    (0x09, ">i1", [-128, -1, 0, 127]),
    (0x0B, ">i2", [-32768, -2, 300, 32767]),
    (0x0C, ">i4", [-2 ** 31, -5, 70000, 2 ** 31 - 1]),
    (0x0D, ">f4", [-1.5, 0.0, 0.25, 3.0e38]),
    (0x0E, ">f8", [-1e300, 0.1, 2.0, math.pi]),
])
def test_idx_big_endian_types(tmp_path, code, fmt, values):
    arr = np.array(values).reshape(2, 2)
    got = D.read_idx(_write(tmp_path / "a", _idx_bytes(arr, code, fmt)))
    assert got.dtype.isnative and got.dtype == np.dtype(fmt).newbyteorder("=")
    np.testing.assert_array_equal(got, arr.astype(fmt))


def test_idx_errors_are_clear(tmp_path):
    good = _idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3))
    with pytest.raises(FileNotFoundError, match="nothere-idx3-ubyte"):
        D.read_idx(tmp_path / "nothere-idx3-ubyte")
    with pytest.raises(ValueError, match="bad IDX magic number 0x01000802"):
        D.read_idx(_write(tmp_path / "m", b"\x01" + good[1:]))
    with pytest.raises(ValueError, match="unknown IDX element type 0x07"):
        D.read_idx(_write(tmp_path / "t", good[:2] + b"\x07" + good[3:]))
    with pytest.raises(ValueError, match="truncated IDX header"):
        D.read_idx(_write(tmp_path / "h", good[:2]))
    with pytest.raises(ValueError, match="truncated IDX header"):
        D.read_idx(_write(tmp_path / "h2", good[:9]))          # 2 dims need 12 bytes
    with pytest.raises(ValueError, match="truncated IDX data.*needs 6 bytes, found 5"):
        D.read_idx(_write(tmp_path / "d", good[:-1]))
    with pytest.raises(ValueError, match="size mismatch.*1 trailing"):
        D.read_idx(_write(tmp_path / "x", good + b"\x00"))
    with pytest.raises(ValueError, match="truncated IDX data"):
        D.read_idx(_write(tmp_path / "dz", good[:-2], gz=True))
    bad_gz = gzip.compress(good)[:-6]                           # cut inside the gzip trailer
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        D.read_idx(_write(tmp_path / "z.gz", bad_gz))


# ------------------------------------------------------------------------------------------
# load_mnist on a fabricated directory


def _mnist_dir(root, n_train=12, n_test=5, gz=(True, False, False, True), seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8)
    ys = rng.integers(0, 10, size=n_train, dtype=np.uint8)
    xt = rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8)
    yt = rng.integers(0, 10, size=n_test, dtype=np.uint8)
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    for name, arr, z in zip(names, (xs, ys, xt, yt), gz):
        _write(root / (name + (".gz" if z else "")), _idx_bytes(arr), z)
    return xs, ys, xt, yt


def test_load_mnist_validation_is_the_last_n_val_training_images(tmp_path):
    xs, ys, xt, yt = _mnist_dir(tmp_path)
    d = D.load_mnist(tmp_path, n_val=4)
    assert [len(s.y) for s in d] == [8, 4, 5]
    np.testing.assert_array_equal(d.train.x, xs[:8].astype(np.float32))
    np.testing.assert_array_equal(d.val.x, xs[8:].astype(np.float32))   # exactly the last 4
    np.testing.assert_array_equal(d.val.y, ys[8:])
    np.testing.assert_array_equal(d.test.x, xt.astype(np.float32))
    np.testing.assert_array_equal(d.test.y, yt)
    assert d.train.x.dtype == np.float32 and d.train.y.dtype == np.int32
    d8 = D.load_mnist(tmp_path, "fashion", n_val=0, dtype=np.uint8)
    assert len(d8.val.y) == 0 and d8.train.x.dtype == np.uint8
    np.testing.assert_array_equal(d8.train.x, xs)


def test_load_mnist_torchvision_layout_and_dotted_names(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    xs, ys, xt, yt = _mnist_dir(raw, gz=(False,) * 4)
    (raw / "train-images-idx3-ubyte").rename(raw / "train-images.idx3-ubyte")
    d = D.load_mnist(tmp_path, "fashion", n_val=2)
    np.testing.assert_array_equal(d.val.y, ys[-2:])
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        D.load_mnist(tmp_path, "mnist", n_val=2)                 # MNIST/raw does not exist


def test_load_mnist_errors(tmp_path):
    _mnist_dir(tmp_path)
    with pytest.raises(ValueError, match="n_val must be < the 12"):
        D.load_mnist(tmp_path, n_val=12)
    with pytest.raises(ValueError, match="kind must be"):
        D.load_mnist(tmp_path, kind="emnist")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        D.load_mnist(tmp_path, n_val=2)
    _write(tmp_path / "t10k-labels-idx1-ubyte", _idx_bytes(np.zeros(4, np.uint8)))  # 5 images
    with pytest.raises(ValueError, match="5 images .* but 4 labels"):
        D.load_mnist(tmp_path, n_val=2)
    _write(tmp_path / "t10k-labels-idx1-ubyte", _idx_bytes(np.full(5, 10, np.uint8)))
    with pytest.raises(ValueError, match="labels must lie in 0..9"):
        D.load_mnist(tmp_path, n_val=2)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        D.load_mnist(tmp_path / "missing")


# ------------------------------------------------------------------------------------------
# NALSM normalisation


def test_nalsm_probabilities_closed_form():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, size=(6, 5, 4)).astype(np.float64)
    x[1] = 0.0                                                    # a blank image
    x[2, :, :] = 0.0
    x[2, 0, 0] = 10.0                                             # one bright pixel: p = 1
    frac = x / np.maximum(x.sum(axis=(1, 2), keepdims=True), 1e-300)
    p_max = frac.max()
    assert p_max == 1.0 and D.nalsm_p_max(x) == 1.0
    p = D.nalsm_input_probabilities(x)
    assert p.dtype == np.float32 and p.shape == x.shape
    assert float(p.max()) == 1.0 and float(p.min()) == 0.0
    # every non-blank image: sum_k p_ik * p_max = 1
    sums = p.reshape(6, -1).astype(np.float64).sum(1) * p_max
    np.testing.assert_allclose(np.delete(sums, 1), 1.0, rtol=1e-6)
    assert sums[1] == 0.0

    y = np.delete(x, [1, 2], axis=0)                              # no single-pixel image
    frac_y = y / y.sum(axis=(1, 2), keepdims=True)
    p_y = D.nalsm_input_probabilities(y)
    np.testing.assert_allclose(p_y, frac_y / frac_y.max(), rtol=1e-6)
    np.testing.assert_allclose(p_y.reshape(4, -1).sum(1) * frac_y.max(), 1.0, rtol=1e-6)
    # a given p_max (another set's) is used as is; values above 1 are clipped
    q = D.nalsm_input_probabilities(y, p_max=2 * frac_y.max())
    np.testing.assert_allclose(q, frac_y / (2 * frac_y.max()), rtol=1e-6)
    assert float(D.nalsm_input_probabilities(y, p_max=frac_y.max() / 2).max()) == 1.0
    with pytest.raises(ValueError, match="p_max"):
        D.nalsm_input_probabilities(y, p_max=0.0)
    with pytest.raises(ValueError, match=">= 0"):
        D.nalsm_input_probabilities(-y)


def test_nalsm_normalise_split_uses_train_plus_val_constant():
    rng = np.random.default_rng(4)
    tr, va, te = (rng.integers(1, 256, size=(k, 3, 3)).astype(np.float32) for k in (5, 3, 4))
    va[0] = 0.0
    va[0, 1, 1] = 7.0          # validation holds the global max (p = 1): train max stays < 1
    s = D.Split(D.XY(tr, np.arange(5)), D.XY(va, np.arange(3)), D.XY(te, np.arange(4)))
    n = D.nalsm_normalise_split(s)
    frac_tr = tr / tr.sum(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(n.train.x, frac_tr, rtol=1e-6)     # p_max(train + val) = 1
    assert float(n.val.x.max()) == 1.0 and float(n.train.x.max()) < 0.5
    assert float(n.test.x.max()) == 1.0                           # test has its own constant
    np.testing.assert_array_equal(n.val.y, np.arange(3))


# ------------------------------------------------------------------------------------------
# scikit-learn digits


def test_load_digits_mnist_layout_is_a_centred_thinned_box():
    """layout="mnist": zero margins around a centred 20x20 box holding the contrast-stretched
    resize, and an encoding drive 1/p_max near MNIST's (about 20 input spikes per ms)."""
    fill = D.load_digits(20, seed=3)
    mnist = D.load_digits(28, seed=3, layout="mnist")
    x = mnist.train.x
    margin = np.ones((28, 28), bool)
    margin[4:24, 4:24] = False
    assert np.all(x[:, margin] == 0)
    np.testing.assert_allclose(x[:, 4:24, 4:24],
                               255.0 * np.clip(2.0 * fill.train.x / 255.0 - 1.0, 0, 1), atol=1e-3)
    np.testing.assert_array_equal(mnist.train.y, fill.train.y)
    all_x = np.concatenate([s.x for s in mnist])
    assert 15.0 < 1.0 / D.nalsm_p_max(all_x) < 35.0
    assert 1.0 / D.nalsm_p_max(np.concatenate([s.x for s in D.load_digits(28)])) > 100.0
    with pytest.raises(ValueError, match="layout"):
        D.load_digits(28, layout="centre")


def test_load_digits_stratified_split_sizes_and_mean_preserving_resize():
    from sklearn.datasets import load_digits as sk_digits
    y_all = sk_digits().target
    n_c = np.bincount(y_all)
    d8 = D.load_digits(8, seed=3)
    d28 = D.load_digits(28, seed=3)
    want_test = np.round(n_c / 7).astype(int)
    for s8, s28, want in zip(d8, d28, (n_c - 2 * want_test, want_test, want_test)):
        np.testing.assert_array_equal(np.bincount(s8.y, minlength=10), want)   # class balance
        np.testing.assert_array_equal(s28.y, s8.y)                              # same order
        # 8 -> 28 bilinear: every input pixel gets total weight exactly 3.5 per axis
        np.testing.assert_allclose(s28.x.mean(axis=(1, 2)), s8.x.mean(axis=(1, 2)),
                                   rtol=1e-5, atol=1e-4)
        assert s8.x.min() == 0.0 and s8.x.max() == 255.0
    # the three splits together are exactly the 1,797 images (a partition)
    all8 = np.concatenate([s.x for s in d8]).reshape(-1, 64)
    ref = sk_digits().images.reshape(-1, 64) * (255 / 16)
    np.testing.assert_allclose(all8[np.lexsort(all8.T)], ref[np.lexsort(ref.T)], rtol=1e-6)
    # nearest neighbour: pixels repeated 3 or 4 times, mean within 0.5 %
    dn = D.load_digits(28, seed=3, interpolation="nearest")
    assert abs(dn.train.x.mean() / d8.train.x.mean() - 1) < 5e-3
    # another seed gives another split with the same sizes
    other = D.load_digits(8, seed=4)
    assert len(other.test.y) == len(d8.test.y) and not np.array_equal(other.test.y, d8.test.y)
    with pytest.raises(ValueError, match="val_fraction"):
        D.load_digits(val_fraction=1.2)
    with pytest.raises(ValueError, match="interpolation"):
        D.load_digits(28, interpolation="cubic")


def test_resize_images_closed_form():
    a = D._interp_matrix(8, 28, "bilinear")
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(a.sum(axis=0), 3.5, rtol=1e-12)
    ramp = np.tile(np.arange(8.0), (1, 8, 1))                    # x_j = j along columns
    out = D.resize_images(ramp, 28)
    u = np.clip((np.arange(28) + 0.5) * 8 / 28 - 0.5, 0, 7)      # linear data is reproduced
    np.testing.assert_allclose(out[0], np.tile(u, (28, 1)), atol=1e-5)
    const = D.resize_images(np.full((2, 8, 8), 3.0), (5, 11))
    np.testing.assert_allclose(const, 3.0, rtol=1e-6)


# ------------------------------------------------------------------------------------------
# MNIST-1D


def test_load_mnist1d_sizes_classes_and_global_rng_untouched():
    pytest.importorskip("mnist1d")
    np_state, py_state = np.random.get_state()[1].copy(), random.getstate()
    d = D.load_mnist1d(n_train=50, n_test=30, n_val=10, seed=7)
    assert np.array_equal(np.random.get_state()[1], np_state) and random.getstate() == py_state
    assert [s.x.shape for s in d] == [(50, 40), (10, 40), (30, 40)]
    y = np.concatenate([s.y for s in d])
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 9))   # 90 = 10 classes x 9
    x = np.concatenate([s.x for s in d]).astype(np.float64)         # the whole standardised set
    assert abs(x.mean()) < 1e-6 and abs(x.std() - 1) < 1e-6
    again = D.load_mnist1d(n_train=50, n_test=30, n_val=10, seed=7)
    np.testing.assert_array_equal(again.test.x, d.test.x)
    with pytest.raises(ValueError, match="unknown mnist1d argument"):
        D.load_mnist1d(n_train=10, n_test=0, bogus=1)


# ------------------------------------------------------------------------------------------
# N-MNIST


def _nmnist_event(x, y, p, t):
    assert 0 <= t < 2 ** 23
    return struct.pack(">BBBBB", x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF)


EVENTS = [  # (x, y, p, t_us)
    (0, 0, 0, 0),
    (33, 33, 1, 1_400),          # -> bin 1
    (5, 7, 1, 1_600),            # -> bin 2
    (5, 7, 0, 2_500),            # tie -> bin 2 (round half to even)
    (12, 3, 1, 70_000),          # 70000 = 0x011170: uses bit 16 of the 23-bit field
    (4, 20, 0, 249_400),         # -> bin 249, kept
    (4, 21, 0, 249_600),         # -> bin 250, dropped for n_steps = 250
    (2, 9, 1, 2 ** 23 - 1),      # largest timestamp, 8388.607 ms, dropped
]


def test_read_nmnist_bin_23_bit_timestamps_and_frames(tmp_path):
    path = tmp_path / "00042.bin"
    path.write_bytes(b"".join(_nmnist_event(*e) for e in EVENTS))
    ev = D.read_nmnist_bin(path)
    assert ev.dtype == D.EVENT_DTYPE
    assert ev["x"].tolist() == [e[0] for e in EVENTS]
    assert ev["y"].tolist() == [e[1] for e in EVENTS]
    assert ev["p"].tolist() == [e[2] for e in EVENTS]
    assert ev["t"].tolist() == [e[3] for e in EVENTS]
    f = D.nmnist_to_frames(ev, n_steps=250)
    assert f.shape == (250, 2312) and f.dtype == np.uint8
    k, c = np.nonzero(f)
    want = {(0, 0), (1, 1156 + 33 * 34 + 33), (2, 1156 + 7 * 34 + 5), (2, 7 * 34 + 5),
            (70, 1156 + 3 * 34 + 12), (249, 20 * 34 + 4)}
    assert set(zip(k.tolist(), c.tolist())) == want and f.sum() == len(want)
    # floor binning: [k, k+1) ms
    k2, c2 = np.nonzero(D.nmnist_to_frames(ev, n_steps=251, binning="floor"))
    assert set(zip(k2.tolist(), c2.tolist())) == {
        (0, 0), (1, 1156 + 33 * 34 + 33), (1, 1156 + 7 * 34 + 5), (2, 7 * 34 + 5),
        (70, 1156 + 3 * 34 + 12), (249, 20 * 34 + 4), (249, 21 * 34 + 4)}
    # 2 ms bins, round: t / 2000 -> 0, 1 (0.7), 1 (0.8), 1 (1.25), 35, 125 (124.7), 125 (124.8)
    k3, _ = np.nonzero(D.nmnist_to_frames(ev, n_steps=126, dt_ms=2.0))
    assert sorted(k3.tolist()) == [0, 1, 1, 1, 35, 125, 125]


def test_read_nmnist_bin_overflow_markers_and_errors(tmp_path):
    data = (_nmnist_event(1, 2, 1, 100) + _nmnist_event(0, 240, 0, 0)
            + _nmnist_event(3, 4, 0, 50) + _nmnist_event(0, 240, 0, 0) + _nmnist_event(5, 6, 1, 7))
    ev = D.read_nmnist_bin(_write(tmp_path / "o.bin", data))
    assert ev["t"].tolist() == [100, 50 + 8192, 7 + 2 * 8192] and ev["y"].tolist() == [2, 4, 6]
    with pytest.raises(ValueError, match="not a multiple of 5"):
        D.read_nmnist_bin(_write(tmp_path / "bad.bin", data[:-1]))
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        D.read_nmnist_bin(tmp_path / "nope.bin")
    outside = np.array([(0, 34, 0, 1)], D.EVENT_DTYPE)
    with pytest.raises(ValueError, match="outside the 34"):
        D.nmnist_to_frames(outside)
    with pytest.raises(ValueError, match="binning"):
        D.nmnist_to_frames(ev, binning="ceil")


def _nmnist_tree(root, names_by_digit, folder="Train"):
    for digit, names in names_by_digit.items():
        d = root / folder / str(digit)
        d.mkdir(parents=True, exist_ok=True)
        for name in names:
            i = int(name)
            # one event per file, x = i % 34 at t = i ms: identifies the file in the frame
            (d / f"{name}.bin").write_bytes(_nmnist_event(i % 34, digit, i % 2, 1000 * (i % 250)))


def test_load_nmnist_split_labels_and_frames(tmp_path):
    train = {0: ["00001", "00004", "00009", "00012"], 1: ["00002", "00005", "00007", "00010"],
             2: ["00003", "00006", "00008", "00011"]}
    _nmnist_tree(tmp_path, train)
    _nmnist_tree(tmp_path, {3: ["00001", "00002"], 7: ["00003"]}, folder="Test")
    (tmp_path / "Train" / "notes").mkdir()                      # non-digit folders are ignored
    label = {int(n): dg for dg, names in train.items() for n in names}
    files = D.nmnist_files(tmp_path, "train")
    assert [int(p.stem) for p, _ in files] == list(range(1, 11))   # sorted, last sixth = 2 files
    assert [int(p.stem) for p, _ in D.nmnist_files(tmp_path, "val")] == [11, 12]
    tr = D.load_nmnist(tmp_path, "train")
    va = D.load_nmnist(tmp_path, "val")
    te = D.load_nmnist(tmp_path, "test", n_steps=10)
    assert tr.y.tolist() == [label[i] for i in range(1, 11)] and va.y.tolist() == [2, 0]
    assert te.y.tolist() == [3, 3, 7] and te.x.shape == (3, 10, 2312)
    for j, i in enumerate(range(1, 11)):                         # one event at its known place
        k, c = np.nonzero(tr.x[j])
        assert (k.tolist(), c.tolist()) == ([i % 250], [(i % 2) * 1156 + label[i] * 34 + i % 34])
    assert te.x.sum() == 3                                       # t = 1, 2, 3 ms < 10 ms
    lim = D.load_nmnist(tmp_path, "train", limit=3, n_val=4)
    assert lim.y.tolist() == [0, 1, 2] and len(D.nmnist_files(tmp_path, "val", n_val=4)) == 4
    (tmp_path / "Train" / "1" / "00013.bin").write_bytes(b"\x00" * 7)
    with pytest.raises(ValueError, match="00013.bin.*multiple of 5"):
        D.load_nmnist(tmp_path, "val", n_val=1)
    with pytest.raises(FileNotFoundError, match="Test/"):
        D.load_nmnist(tmp_path / "Train", "test")
    with pytest.raises(ValueError, match="split must be"):
        D.nmnist_files(tmp_path, "validation")


# ------------------------------------------------------------------------------------------
# saccade simulator


def test_saccade_path_vertices():
    p = D.saccade_path(320, saccade_ms=100.0, amplitude=4.0)
    np.testing.assert_allclose(p[[24, 49, 99, 149, 199, 249, 299, 319]],
                               [[0.5, -1.0], [1.0, 0.0], [2.0, 2.0], [0.0, 2.0], [-2.0, 2.0],
                                [-1.0, 0.0], [0.0, -2.0], [0.0, -2.0]], atol=1e-12)
    step = np.diff(np.vstack([[0.0, -2.0], p[:300]]), axis=0)    # constant speed per segment
    np.testing.assert_allclose(np.hypot(*step.T), np.repeat([math.hypot(2, 4), 4.0,
                                                             math.hypot(2, 4)], 100) / 100)


def _reference_pixel_events(yy, xx, path, v0, spot, theta, eps):
    """Independent per-pixel DVS model for one bright spot at frame position ``spot``."""
    def intensity(off):
        return (max(0.0, 1 - abs(yy - spot[0] - off[1])) * max(0.0, 1 - abs(xx - spot[1] - off[0])))
    ref = math.log(intensity(v0) + eps)
    on, off = [], []
    for k, o in enumerate(path):
        d = math.log(intensity(o) + eps) - ref
        m = math.floor(abs(d) / theta + 1e-7)
        if m:
            (on if d > 0 else off).append((k, m))
            ref += math.copysign(m * theta, d)
    return on, off


def test_saccade_single_bright_pixel_matches_reference_model():
    img = np.zeros((1, 28, 28))
    img[0, 13, 13] = 255.0                          # frame position (16, 16): offset 3 in 34
    ev = D.saccade_events(img, 0, n_steps=300, threshold=0.15, jitter_ms=0.0, counts=True)[0]
    on_t, off_t = ev[:, 1156:].reshape(300, 34, 34), ev[:, :1156].reshape(300, 34, 34)
    path = D.saccade_path(300)
    lit = set()
    for (dx, dy) in np.vstack([[0.0, -2.0], path]):
        for yy in range(34):
            for xx in range(34):
                if abs(yy - 16 - dy) < 1 and abs(xx - 16 - dx) < 1:
                    lit.add((yy, xx))
    active = set(zip(*np.nonzero(on_t.sum(0) + off_t.sum(0))))
    assert active == lit and len(active) > 10     # events exactly where the spot passes
    for (yy, xx) in lit:
        on, off = _reference_pixel_events(yy, xx, path, (0.0, -2.0), (16, 16), 0.15, 0.1)
        got_on = [(int(k), int(on_t[k, yy, xx])) for k in np.nonzero(on_t[:, yy, xx])[0]]
        got_off = [(int(k), int(off_t[k, yy, xx])) for k in np.nonzero(off_t[:, yy, xx])[0]]
        assert got_on == on and got_off == off, (yy, xx)
        assert on_t[:, yy, xx].sum() == off_t[:, yy, xx].sum()  # closed path: ON count = OFF
    # the vertex V1 = (+2, +2): the spot enters (ON) before t = 100 ms and leaves (OFF) after
    assert np.nonzero(on_t[:, 18, 18])[0].max() < 100 <= np.nonzero(off_t[:, 18, 18])[0].min()
    # the start pixel (14, 16): the spot leaves first (OFF) and comes back last (ON)
    k_on, k_off = np.nonzero(on_t[:, 14, 16])[0], np.nonzero(off_t[:, 14, 16])[0]
    assert k_off.max() < 25 and k_on.min() >= 275
    # total log change of the full step (eps -> 1 + eps) in thresholds: floor(ln 11 / 0.15)
    assert on_t[:, 18, 18].sum() == math.floor(math.log(1.1 / 0.1) / 0.15)


def test_saccade_blank_symmetry_determinism_and_noise():
    assert D.saccade_events(np.zeros((2, 28, 28)), 0, jitter_ms=2.0, threshold_sd=0.2).sum() == 0
    rng = np.random.default_rng(5)
    imgs = np.zeros((3, 20, 20))
    imgs[:, 4:16, 6:14] = rng.integers(0, 256, size=(3, 12, 8))
    a = D.saccade_events(imgs, 7, n_steps=320, jitter_ms=1.0, threshold_sd=0.1)
    b = D.saccade_events(imgs, 7, n_steps=320, jitter_ms=1.0, threshold_sd=0.1)
    c = D.saccade_events(imgs, 8, n_steps=320, jitter_ms=1.0, threshold_sd=0.1)
    assert a.dtype == np.uint8 and set(np.unique(a).tolist()) == {0, 1}
    np.testing.assert_array_equal(a, b)                          # same key, same events
    assert (a != c).sum() > 100                                  # another key, other events
    import jax
    k1 = D.saccade_events(imgs, jax.random.PRNGKey(1), n_steps=320)
    k2 = D.saccade_events(imgs, jax.random.key(1), n_steps=320)   # typed key, same data
    np.testing.assert_array_equal(k1, k2)
    # closed path, no jitter: per pixel ON count == OFF count exactly; with jitter ~equal
    cnt = D.saccade_events(imgs, 7, n_steps=320, jitter_ms=0.0, counts=True).astype(np.int64)
    on, off = cnt[:, :, 1156:].sum(1), cnt[:, :, :1156].sum(1)
    np.testing.assert_array_equal(on, off)
    assert on.sum() > 1000
    on_b, off_b = a[:, :, 1156:].sum(), a[:, :, :1156].sum()
    assert abs(on_b / off_b - 1) < 0.1
    # background noise on a blank image: Binomial(n T C, rate dt)
    noise = D.saccade_events(np.zeros((2, 28, 28)), 3, n_steps=100, noise_rate_hz=20.0)
    n_cells = 2 * 100 * 2312
    mean, sd = n_cells * 0.02, math.sqrt(n_cells * 0.02 * 0.98)
    assert abs(int(noise.sum()) - mean) < 5 * sd
    with pytest.raises(ValueError, match="fit the 34"):
        D.saccade_events(np.zeros((1, 40, 40)), 0)
    with pytest.raises(ValueError, match="threshold"):
        D.saccade_events(imgs, 0, threshold=0.0)
    with pytest.raises(TypeError, match="key"):
        D.saccade_events(imgs, "seed")
