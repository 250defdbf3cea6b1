"""Data-set loading: bundled sets, IDX files and feature files the tests write themselves."""
from __future__ import annotations

import numpy as np
import pytest

from pcmspice.core.errors import DataError
from pcmspice.train import datasets as D


def _write_mnist_like(d, n_train=30, n_test=10, gz=True, sep="-", shape=(4, 5), labels=10, seed=0):
    rng = np.random.default_rng(seed)
    ext = ".gz" if gz else ""
    xtr = rng.integers(0, 256, (n_train, *shape), dtype=np.uint8)
    xte = rng.integers(0, 256, (n_test, *shape), dtype=np.uint8)
    ytr = (np.arange(n_train) % labels).astype(np.uint8)
    yte = (np.arange(n_test) % labels).astype(np.uint8)
    D.write_idx(d / f"train-images{sep}idx3-ubyte{ext}", xtr)
    D.write_idx(d / f"train-labels{sep}idx1-ubyte{ext}", ytr)
    D.write_idx(d / f"t10k-images{sep}idx3-ubyte{ext}", xte)
    D.write_idx(d / f"t10k-labels{sep}idx1-ubyte{ext}", yte)
    return xtr, ytr, xte, yte


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, dtype, gz):
    a = (np.arange(2 * 3 * 4).reshape(2, 3, 4) - 5).astype(dtype) if np.dtype(dtype).kind != "u" \
        else np.arange(24, dtype=dtype).reshape(2, 3, 4)
    p = D.write_idx(tmp_path / ("a.idx" + (".gz" if gz else "")), a)
    b = D.read_idx(p)
    assert b.shape == a.shape and b.dtype == a.dtype
    np.testing.assert_array_equal(a, b)
    if gz:
        assert p.read_bytes()[:2] == b"\x1f\x8b"          # really gzip
    else:
        assert p.read_bytes()[:4] == bytes([0, 0, {np.uint8: 8, np.int8: 9, np.int16: 0x0B, np.int32: 0x0C,
                                                     np.float32: 0x0D, np.float64: 0x0E}[dtype], 3])


@pytest.mark.parametrize("gz,sep", [(True, "-"), (False, "."), (False, "-")])
def test_idx_dir_loads_and_scales(tmp_path, gz, sep):
    xtr, ytr, xte, yte = _write_mnist_like(tmp_path, gz=gz, sep=sep)
    ds = D.load_dataset(f"idx:{tmp_path}")
    assert ds.x_train.shape == (30, 20) and ds.x_test.shape == (10, 20)
    assert ds.image_shape == (4, 5)
    np.testing.assert_allclose(ds.x_train, xtr.reshape(30, 20) / 255.0)
    np.testing.assert_array_equal(ds.y_test, yte)
    assert ds.n_classes == 10
    assert ds.x_train.min() >= 0 and ds.x_train.max() <= 1


def test_idx_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        D.load_dataset(f"idx:{tmp_path / 'nope'}")
    _write_mnist_like(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        D.load_dataset(f"idx:{tmp_path}")
    # labels and images disagree in count
    D.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(7, np.uint8))
    with pytest.raises(DataError, match="10 test examples but 7 labels"):
        D.load_dataset(f"idx:{tmp_path}")
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(DataError, match="bad magic number"):
        D.read_idx(bad)
    trunc = tmp_path / "trunc.idx"
    trunc.write_bytes(bytes([0, 0, 8, 2]) + (3).to_bytes(4, "big") + (4).to_bytes(4, "big") + b"\x00" * 5)
    with pytest.raises(DataError, match=r"holds 5 data bytes but its header \[3, 4\]"):
        D.read_idx(trunc)
    notgz = tmp_path / "x.idx.gz"
    notgz.write_bytes(b"plain")
    with pytest.raises(DataError, match="cannot read"):
        D.read_idx(notgz)


def test_idx_float_images_with_nan_are_refused(tmp_path):
    _write_mnist_like(tmp_path)
    x = np.random.default_rng(1).random((30, 4, 5)).astype(np.float32)
    x[3, 2, 1] = np.nan
    D.write_idx(tmp_path / "train-images-idx3-ubyte.gz", x)
    with pytest.raises(DataError, match="1 NaN or infinite"):
        D.load_dataset(f"idx:{tmp_path}")


def test_features_npz(tmp_path):
    rng = np.random.default_rng(0)
    f = tmp_path / "feat.npz"
    xtr, xte = rng.random((50, 12)) * 7, rng.random((20, 12)) * 7
    np.savez(f, x_train=xtr, y_train=rng.integers(0, 3, 50), x_test=xte, y_test=rng.integers(0, 3, 20))
    ds = D.load_dataset(f"features:{f}")
    assert ds.n_features == 12 and ds.n_classes == 3 and ds.image_shape is None
    scale = ds.source["feature_scale"]
    assert scale == pytest.approx(np.percentile(np.abs(xtr), 99.9))
    np.testing.assert_allclose(ds.x_test * scale, xte)
    # x / y only: a fixed stratified 80/20 split
    np.savez(f, x=rng.random((100, 4)), y=np.repeat(np.arange(4), 25))
    a, b = D.load_dataset(f"features:{f}"), D.load_dataset(f"features:{f}")
    assert a.y_train.size == 80 and a.y_test.size == 20
    assert np.bincount(a.y_test).tolist() == [5, 5, 5, 5]
    np.testing.assert_array_equal(a.x_train, b.x_train)


@pytest.mark.parametrize("arrays,msg", [
    (dict(x_train=np.ones((5, 3)), y_train=np.zeros(5, int)), "expected x_train, y_train, x_test, y_test"),
    (dict(x_train=np.ones((5, 3)), y_train=np.zeros(4, int), x_test=np.ones((2, 3)), y_test=np.zeros(2, int)),
     "5 train examples but 4 labels"),
    (dict(x_train=np.full((5, 3), np.nan), y_train=np.zeros(5, int), x_test=np.ones((2, 3)),
          y_test=np.zeros(2, int)), "NaN"),
    (dict(x_train=np.ones((5, 3)), y_train=np.zeros(5, int), x_test=np.ones((2, 4)), y_test=np.zeros(2, int)),
     "train has 3 features, test 4"),
    (dict(x_train=np.ones((5, 3)), y_train=np.array([0, 1, 5, 1, 0]), x_test=np.ones((2, 3)),
          y_test=np.zeros(2, int), n_classes=np.array(3)), r"labels span 0..5; expected 0..2"),
    (dict(x_train=np.ones((5, 3)), y_train=np.array([0, -1, 1, 1, 0]), x_test=np.ones((2, 3)),
          y_test=np.zeros(2, int)), r"labels span -1..1"),
    (dict(x_train=np.ones((5, 3)), y_train=np.array([0, 0.5, 1, 1, 0]), x_test=np.ones((2, 3)),
          y_test=np.zeros(2, int)), "whole numbers"),
    (dict(x_train=np.ones((5, 3, 2)), y_train=np.zeros(5, int), x_test=np.ones((2, 3)),
          y_test=np.zeros(2, int)), r"shape \(5, 3, 2\); expected 2-D"),
])
def test_features_bad_data(tmp_path, arrays, msg):
    f = tmp_path / "bad.npz"
    np.savez(f, **arrays)
    with pytest.raises(DataError, match=msg):
        D.load_dataset(f"features:{f}")


def test_features_missing_or_not_npz(tmp_path):
    with pytest.raises(DataError, match="no such features file"):
        D.load_dataset(f"features:{tmp_path / 'x.npz'}")
    p = tmp_path / "x.npz"
    p.write_text("not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        D.load_dataset(f"features:{p}")


def test_unknown_spec():
    with pytest.raises(DataError, match="unknown data set 'cifar'; expected one of digits, mnist5k"):
        D.load_dataset("cifar")


def test_digits():
    ds = D.load_dataset("digits")
    assert ds.x_train.shape[1] == 64 and ds.y_train.size + ds.y_test.size == 1797
    assert 0 <= ds.x_train.min() and ds.x_train.max() == 1.0
    assert set(np.unique(ds.y_test)) == set(range(10))


def test_mnist5k_fixed_stratified_split():
    ds = D.load_dataset("mnist5k")
    assert ds.x_train.shape == (4000, 784) and ds.x_test.shape == (1000, 784)
    assert np.bincount(ds.y_test).tolist() == [100] * 10     # sorted source, stratified split
    assert np.bincount(ds.y_train).tolist() == [400] * 10
    assert not np.all(np.diff(ds.y_train) >= 0)               # shuffled, not sorted by label
    again = D.load_dataset("mnist5k")
    np.testing.assert_array_equal(ds.x_test, again.x_test)    # the split does not depend on anything
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0


def test_mnist5k_backrand_keeps_digits_on_noise():
    plain, noisy = D.load_dataset("mnist5k"), D.load_dataset("mnist5k-backrand")
    np.testing.assert_array_equal(plain.y_train, noisy.y_train)
    bg = plain.x_train == 0
    assert 0.45 < noisy.x_train[bg].mean() < 0.55          # uniform noise where there was background
    assert np.all(noisy.x_train >= plain.x_train)            # strokes kept (max of digit and noise)
    assert np.all(noisy.x_train[plain.x_train == 1.0] == 1.0)


@pytest.mark.skipif(not D.FASHION_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_full():
    ds = D.load_dataset("fashion-mnist")
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.n_classes == 10 and ds.image_shape == (28, 28)
    assert np.bincount(ds.y_test).tolist() == [1000] * 10


def test_subset_and_crop():
    ds = D.load_dataset("mnist5k").subset(100, 50)
    assert ds.x_train.shape == (100, 784) and ds.x_test.shape == (50, 784)
    x = np.arange(2 * 784, dtype=float).reshape(2, 784)
    c = D.crop_to_528(x, (28, 28))
    assert c.shape == (2, 528)
    assert c[0, 0] == x[0, 3 * 28 + 2] and c[0, -1] == x[0, 24 * 28 + 25]
    with pytest.raises(DataError, match="28x28"):
        D.crop_to_528(np.zeros((2, 64)), (8, 8))


# ------------------------------------------------------------- corrupt, foreign and special files
def _features(f, n_train=20, n_test=6):
    rng = np.random.default_rng(0)
    np.savez(f, x_train=rng.random((n_train, 4)), y_train=rng.integers(0, 3, n_train),
             x_test=rng.random((n_test, 4)), y_test=rng.integers(0, 3, n_test))
    return f


def _one_line_data_error(spec: str, match: str) -> None:
    with pytest.raises(DataError, match=match) as exc:
        D.load_dataset(spec)
    assert "\n" not in str(exc.value)


def test_features_truncated_or_flipped_are_one_line(tmp_path):
    f = _features(tmp_path / "f.npz")
    good = f.read_bytes()
    f.write_bytes(good[: len(good) // 2])
    _one_line_data_error(f"features:{f}", "not a readable .npz")
    data = bytearray(good)
    data[len(data) // 3] ^= 0xFF             # inside a member: a CRC error when the member is read
    f.write_bytes(bytes(data))
    _one_line_data_error(f"features:{f}", "not a readable .npz|NaN|expected|labels")
    compressed = tmp_path / "c.npz"
    rng = np.random.default_rng(0)
    np.savez_compressed(compressed, x_train=rng.random((20, 4)), y_train=rng.integers(0, 3, 20),
                        x_test=rng.random((6, 4)), y_test=rng.integers(0, 3, 6))
    data = bytearray(compressed.read_bytes())
    data[120] ^= 0xFF                         # inside the first deflate stream: zlib.error / BadZipFile
    compressed.write_bytes(bytes(data))
    _one_line_data_error(f"features:{compressed}", "not a readable .npz")


def test_features_npy_strings_objects_and_bad_n_classes(tmp_path):
    f = tmp_path / "f.npz"
    np.save(tmp_path / "f.npy", np.ones((3, 3)))
    (tmp_path / "f.npy").rename(f)
    _one_line_data_error(f"features:{f}", "single .npy array")
    np.savez(f, x_train=np.array([["a", "b"]] * 4), y_train=np.zeros(4, int), x_test=np.ones((2, 2)),
             y_test=np.zeros(2, int))
    _one_line_data_error(f"features:{f}", "x_train has dtype <U1; expected numbers")
    np.savez(f, x_train=np.ones((4, 2)), y_train=np.array(["a", "b", "c", "d"]), x_test=np.ones((2, 2)),
             y_test=np.zeros(2, int))
    _one_line_data_error(f"features:{f}", "y_train have dtype <U1")
    np.savez(f, x_train=np.array([None] * 4, dtype=object), y_train=np.zeros(4, int), x_test=np.ones((2, 2)),
             y_test=np.zeros(2, int))
    _one_line_data_error(f"features:{f}", "not a readable .npz")
    for bad in (np.array("ten"), np.array([3, 4]), np.array(10**12)):
        np.savez(f, x_train=np.ones((4, 2)), y_train=np.zeros(4, int), x_test=np.ones((2, 2)),
                 y_test=np.zeros(2, int), n_classes=bad)
        _one_line_data_error(f"features:{f}", "n_classes = .* is invalid; expected one integer")


def test_zero_examples_are_one_line(tmp_path):
    f = _features(tmp_path / "f.npz", n_train=0)
    _one_line_data_error(f"features:{f}", "the train set is empty")
    np.savez(f, x=np.ones((0, 3)), y=np.zeros(0, int))
    _one_line_data_error(f"features:{f}", "x holds 0 examples")
    d = tmp_path / "idx"
    d.mkdir()
    _write_mnist_like(d, n_train=0)
    _one_line_data_error(f"idx:{d}", "holds no examples")


def test_idx_gz_flipped_at_byte_10_is_one_line(tmp_path):
    _write_mnist_like(tmp_path)
    f = tmp_path / "train-images-idx3-ubyte.gz"
    data = bytearray(f.read_bytes())
    data[10] ^= 0xFF                          # the first byte of the deflate stream
    f.write_bytes(bytes(data))
    _one_line_data_error(f"idx:{tmp_path}", "cannot read")


def test_idx_gz_that_unpacks_beyond_the_memory_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PCMSPICE_MAX_MEMORY_GB", "0.000001")     # 1 kB
    f = D.write_idx(tmp_path / "big.idx.gz", np.zeros((100, 28, 28), np.uint8))
    assert f.stat().st_size < 1000
    with pytest.raises(Exception, match="PCMSPICE_MAX_MEMORY_GB"):
        D.read_idx(f)


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs FIFOs")
def test_special_files_are_refused_without_opening(tmp_path):
    import os
    fifo = tmp_path / "f.npz"
    os.mkfifo(fifo)
    _one_line_data_error(f"features:{fifo}", "FIFO")
    idx = tmp_path / "a.idx"
    os.mkfifo(idx)
    with pytest.raises(DataError, match="FIFO"):
        D.read_idx(idx)
    _one_line_data_error("features:/dev/null", "character device")
