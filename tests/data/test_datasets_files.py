"""IDX reading, MNIST from a fake folder, downloads through a local HTTP server."""
import functools
import gzip
import hashlib
import http.server
import os
import struct
import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import (MNIST, DownloadError, FashionMNIST, IDXError, download_url,
                                read_idx, write_idx)
from chainrule.utils.data import DataLoader


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, dtype, gz):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    path = tmp_path / ("a.idx" + (".gz" if gz else ""))
    write_idx(path, a)
    with open(path, "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") == gz
    b = read_idx(path)
    assert b.dtype == a.dtype and b.shape == a.shape, (b.dtype, b.shape)
    np.testing.assert_array_equal(a, b)
    b[0, 0, 0] = 1  # writable
    with open(path, "rb") as f:  # file objects work too
        np.testing.assert_array_equal(read_idx(f), a)


def test_idx_from_one_way_streams(tmp_path):
    class OneWay:
        def __init__(self, data):
            self._data = data

        def read(self, n=-1):
            out, self._data = (self._data, b"") if n < 0 else (self._data[:n], self._data[n:])
            return out

    a = np.arange(5, dtype=np.int32)
    write_idx(tmp_path / "a.gz", a)
    packed = (tmp_path / "a.gz").read_bytes()
    for blob in (packed, gzip.decompress(packed)):
        np.testing.assert_array_equal(read_idx(OneWay(blob)), a)


def test_idx_reads_handwritten_big_endian_file(tmp_path):
    # written by hand, not by write_idx: checks the byte order of header and data
    raw = bytes([0, 0, 0x0B, 2]) + struct.pack(">II", 1, 2) + struct.pack(">hh", 258, -2)
    (tmp_path / "h").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "h"), np.array([[258, -2]], np.int16))


def _good():
    return bytes([0, 0, 8, 2]) + struct.pack(">II", 2, 3) + bytes(range(6))


@pytest.mark.parametrize("blob, match", [
    (b"", r"expected 4 bytes of magic number.*ends after 0"),
    (b"\x00\x00\x08", "expected 4 bytes of magic number"),
    (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "two zero bytes, got 01000801"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown data type code 0x07"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x02" + struct.pack(">I", 2), r"expected 8 bytes of 2 dimension sizes"),
    (_good()[:-1], r"expected 6 bytes of data for shape \(2, 3\).*ends after 5"),
    (_good() + b"\x00", r"data after the 6 values of shape \(2, 3\)"),
    (b"\x00\x00\x0d\x01" + struct.pack(">I", 2) + b"\x00" * 7, r"expected 8 bytes.*after 7"),
    (b"\x00\x00\x08\x03" + struct.pack(">III", 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1),
     "truncated"),  # a lying header must not allocate its claimed size
])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_corrupt_headers_give_clear_errors(tmp_path, blob, match, gz):
    path = tmp_path / "bad"
    path.write_bytes(gzip.compress(blob) if gz else blob)
    with pytest.raises(IDXError, match=match):
        read_idx(path)


def test_idx_corrupt_gzip(tmp_path):
    blob = gzip.compress(_good())
    (tmp_path / "t.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(IDXError, match="gzip data is corrupt or truncated"):
        read_idx(tmp_path / "t.gz")
    (tmp_path / "c.gz").write_bytes(blob[:12] + bytes(b ^ 0xFF for b in blob[12:]))
    with pytest.raises(IDXError):
        read_idx(tmp_path / "c.gz")
    with pytest.raises(IDXError, match="cannot open"):
        read_idx(tmp_path / "missing")


def _fake_mnist(folder, n_train=5, n_test=3, gz=True, fix=None):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        ext = ".gz" if gz else ""
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte{ext}"), images)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{ext}"), labels)
        out[prefix] = (images, labels)
    return out


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
def test_mnist_from_fake_folder(tmp_path, gz, cls):
    ref = _fake_mnist(tmp_path / cls.__name__ / "raw", gz=gz)
    for train, key in ((True, "train"), (False, "t10k")):
        ds = cls(tmp_path, train=train)
        images, labels = ref[key]
        assert len(ds) == len(labels)
        x, y = ds[1]
        assert tuple(x.shape) == (1, 28, 28) and x.dtype == cr.float32
        np.testing.assert_allclose(x.numpy()[0], images[1] / 255.0, rtol=1e-6)
        assert y == int(labels[1]) and isinstance(y, int)
        assert ds.data.dtype == cr.uint8 and ds.targets.dtype == cr.int64
        assert len(ds.classes) == 10


def test_mnist_loader_fast_path_equals_transform_path(tmp_path):
    _fake_mnist(tmp_path, n_train=7)  # files directly in root are found too
    plain = MNIST(tmp_path)
    identity = MNIST(tmp_path, transform=lambda im: im)
    fast = list(DataLoader(plain, batch_size=3))
    slow = list(DataLoader(identity, batch_size=3))
    assert [tuple(b[0].shape) for b in fast] == [(3, 1, 28, 28), (3, 1, 28, 28), (1, 1, 28, 28)]
    for (xf, yf), (xs, ys) in zip(fast, slow):
        assert xf.dtype == xs.dtype == cr.float32 and yf.dtype == ys.dtype == cr.int64
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())


def test_mnist_transforms_and_missing_files(tmp_path):
    _fake_mnist(tmp_path / "MNIST")
    ds = MNIST(tmp_path, train=False, transform=lambda im: im * 2,
               target_transform=lambda y: y + 100)
    x, y = ds[0]
    assert float(x.max()) > 1.0 and y >= 100
    with pytest.raises(FileNotFoundError, match="download=True"):
        FashionMNIST(tmp_path)


def test_mnist_mismatched_files(tmp_path):
    _fake_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(2, np.uint8))
    with pytest.raises(IDXError, match="expected 3 labels"):
        MNIST(tmp_path, train=False)


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_url_checksums(server, tmp_path):
    www, url = server
    payload = os.urandom(3000)
    (www / "blob.bin").write_bytes(payload)
    md5 = hashlib.md5(payload).hexdigest()
    sha = hashlib.sha256(payload).hexdigest()
    dest = tmp_path / "dl"
    path = download_url(url + "blob.bin", str(dest), md5=md5, sha256=sha)
    assert open(path, "rb").read() == payload
    with pytest.raises(DownloadError, match=f"has md5 {md5}, expected {'0' * 32}"):
        download_url(url + "blob.bin", str(dest), "other.bin", md5="0" * 32)
    assert sorted(os.listdir(dest)) == ["blob.bin"], "a bad download must leave nothing behind"
    with pytest.raises(DownloadError, match="could not download"):
        download_url(url + "missing.bin", str(dest))
    assert sorted(os.listdir(dest)) == ["blob.bin"]


def test_mnist_download_through_local_server(server, tmp_path, monkeypatch):
    www, url = server
    _fake_mnist(www, gz=True)
    resources = [(name, hashlib.md5((www / name).read_bytes()).hexdigest())
                 for name, _ in MNIST.resources]
    monkeypatch.setattr(MNIST, "resources", resources)
    # first mirror is dead, the second one serves the files
    monkeypatch.setattr(MNIST, "mirrors", [url + "nothing/", url])
    root = tmp_path / "data"
    ds = MNIST(root, train=False, download=True)
    assert len(ds) == 3
    assert sorted(os.listdir(root / "MNIST" / "raw")) == sorted(n for n, _ in resources)
    # present files are not fetched again, even with the server gone
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])
    assert len(MNIST(root, download=True)) == 5


def test_mnist_download_wrong_checksum(server, tmp_path, monkeypatch):
    www, url = server
    _fake_mnist(www, gz=True)
    monkeypatch.setattr(MNIST, "mirrors", [url])  # the real MD5s do not match the fake files
    with pytest.raises(DownloadError, match="could not download train-images-idx3-ubyte.gz"
                                            "(.|\n)*has md5 [0-9a-f]{32}, expected f68b3c2d"):
        MNIST(tmp_path / "d", download=True)
    raw = tmp_path / "d" / "MNIST" / "raw"
    assert not raw.exists() or os.listdir(raw) == [], os.listdir(raw)
