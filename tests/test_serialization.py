"""chainrule.save / chainrule.load: round trips, safetensors compatibility, atomic writes,
and a fuzz test showing that damaged or hostile files only ever raise SerializationError."""
import io
import json
import math
import os
import random
import struct
import tracemalloc
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy

import chainrule as cr
from chainrule.errors import SerializationError

DTYPES = [cr.bool, cr.uint8, cr.int8, cr.int16, cr.int32, cr.int64, cr.float16, cr.float32,
          cr.float64]
SHAPES = [(), (0,), (3, 0), (1,), (2, 3), (2, 1, 4)]


def _random_tensor(dtype, shape, rng):
    if dtype is cr.bool:
        a = rng.random(shape) > 0.5
    elif dtype.is_floating_point:
        a = rng.standard_normal(shape) * 100
    else:
        info = np.iinfo(dtype.np)
        a = rng.integers(info.min, info.max, size=shape, endpoint=True)
    return cr.tensor(np.asarray(a).astype(dtype.np))


def _roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    cr.save(obj, buf)
    buf.seek(0)
    return cr.load(buf, **load_kwargs)


def assert_same(a, b, path="obj"):
    """Same structure, types, and tensors of equal dtype, shape and bits."""
    assert type(a) is type(b), f"{path}: type {type(a).__name__}, expected {type(b).__name__}"
    if isinstance(b, cr.Tensor):
        assert a.dtype == b.dtype, f"{path}: dtype {a.dtype}, expected {b.dtype}"
        assert tuple(a.shape) == tuple(b.shape), \
            f"{path}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
        assert a.requires_grad == b.requires_grad, f"{path}: requires_grad differs"
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=path)
    elif isinstance(b, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{path}: {a.dtype}{a.shape}"
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(b, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)}, expected {list(b)}"
        for k in b:
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(b, (list, tuple)):
        assert len(a) == len(b), f"{path}: length {len(a)}, expected {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(b, float) and math.isnan(b):
        assert math.isnan(a), f"{path}: {a!r}, expected nan"
    else:
        assert a == b, f"{path}: {a!r}, expected {b!r}"


# ------------------------------------------------------------------------ round trips

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_round_trip_every_dtype_and_shape(dtype):
    rng = np.random.default_rng(0)
    obj = {f"t{i}": _random_tensor(dtype, s, rng) for i, s in enumerate(SHAPES)}
    out = _roundtrip(obj)
    assert_same(out, obj)
    for t in out.values():
        t._data[...] = t._data  # loaded arrays are writable


def test_round_trip_checkpoint_structure():
    rng = np.random.default_rng(1)
    w = cr.randn(3, 2)
    optimizer = {"state": {0: {"step": cr.tensor(4.0), "exp_avg": cr.randn(3, 2),
                               "exp_avg_sq": cr.rand(3, 2)},
                           1: {"step": cr.tensor(4.0), "momentum_buffer": None}},
                 "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8,
                                   "weight_decay": 0, "amsgrad": False, "maximize": False,
                                   "foreach": None, "params": [0, 1]}]}
    ckpt = {"model": OrderedDict([("fc.weight", w), ("fc.bias", cr.zeros(3)),
                                  ("bn.num_batches_tracked", cr.tensor(7))]),
            "optimizer": optimizer, "epoch": 12, "best": float("inf"), "worst": -float("inf"),
            "nan": float("nan"), "big": 2 ** 80, "neg": -3, "ratio": 0.1, "name": "run-ü-✓",
            "flags": [True, False, None], "empty": {}, "empty_list": [], "empty_tuple": (),
            "mixed_keys": {1: "int", 2.5: "float", True: "bool", None: "none", "s": "str"},
            "np": rng.standard_normal((2, 2)), "np_scalar": np.float32(2.5),
            "nested": [[[{"deep": (cr.ones(1),)}]]],
            "rng": cr.Generator().manual_seed(3).get_state(),
            "dtypes": [cr.float16, cr.int64, cr.bool], "device": cr.device("cpu")}
    out = _roundtrip(ckpt)
    expected = dict(ckpt, np_scalar=2.5)
    assert_same(out, expected)
    assert type(out["model"]) is OrderedDict and type(out["optimizer"]["state"]) is dict
    assert list(out["optimizer"]["state"]) == [0, 1]  # int keys stay ints
    g = cr.Generator().set_state(out["rng"])
    assert g.numpy.random() == cr.Generator().manual_seed(3).numpy.random()


def test_shared_tensors_parameters_and_requires_grad():
    p = cr.nn.Parameter(cr.randn(2, 2))
    leaf = cr.ones(3, requires_grad=True)
    out = _roundtrip({"a": p, "b": p, "c": [leaf, leaf.detach()]})
    assert out["a"] is out["b"], "a tensor saved twice should load as one object"
    assert isinstance(out["a"], cr.nn.Parameter) and out["a"].requires_grad
    assert out["c"][0].requires_grad and not out["c"][1].requires_grad
    assert out["c"][0] is not out["c"][1]
    np.testing.assert_array_equal(out["a"].detach().numpy(), p.detach().numpy())


def test_non_contiguous_and_big_tensor_on_disk(tmp_path):
    t = cr.arange(12).reshape(3, 4).t()
    big = cr.randn(300, 200, dtype=cr.float64)
    path = tmp_path / "ckpt.safetensors"
    cr.save({"t": t, "big": big}, path)  # pathlib paths work
    out = cr.load(str(path))
    assert_same(out, {"t": t, "big": big})


class _Tiny(cr.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = cr.nn.Parameter(cr.randn(3, 4))
        self.register_buffer("count", cr.tensor(0))
        self.inner = cr.nn.Module()
        self.inner.bias = cr.nn.Parameter(cr.randn(3))


def test_model_state_dict_round_trip_into_a_fresh_model(tmp_path):
    layer = _Tiny()
    layer.count.add_(5)
    path = tmp_path / "model.pt"
    cr.save(layer.state_dict(), path)
    other = _Tiny()
    loaded = cr.load(path)
    assert list(loaded) == ["weight", "count", "inner.bias"] and type(loaded) is OrderedDict
    other.load_state_dict(loaded)
    assert other.count.item() == 5
    for name, value in layer.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[name].numpy(), value.numpy(), err_msg=name)


def test_map_location():
    obj = {"x": cr.ones(2)}
    assert_same(_roundtrip(obj, map_location="cpu"), obj)
    seen = []
    out = _roundtrip(obj, map_location=lambda t, loc: seen.append(loc) or t * 2)
    assert seen == ["cpu"] and out["x"].tolist() == [2.0, 2.0]
    assert_same(_roundtrip(obj, map_location={"cuda:0": "cpu"}), obj)
    assert_same(_roundtrip(obj, map_location=cr.device("cpu")), obj)
    assert_same(_roundtrip(obj, weights_only=False), obj)


# ------------------------------------------------------------ safetensors compatibility

def test_files_are_standard_safetensors(tmp_path):
    path = str(tmp_path / "m.safetensors")
    obj = {"layer.weight": cr.randn(2, 3), "layer.bias": cr.zeros(2, dtype=cr.float16),
           "mask": cr.tensor([True, False]), "count": cr.tensor(5)}
    cr.save(obj, path)
    arrays = safetensors.numpy.load_file(path)
    assert sorted(arrays) == sorted(obj)
    for k, v in obj.items():
        assert arrays[k].dtype == v.numpy().dtype and arrays[k].shape == tuple(v.shape), k
        np.testing.assert_array_equal(arrays[k], v.numpy())
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        assert (8 + n) % 8 == 0, "the data section should start 8-byte aligned"
        meta = json.loads(f.read(n))["__metadata__"]
    assert meta["chainrule.format"] == "2" and "chainrule.structure" in meta
    assert set(json.loads(meta["chainrule.crc32"])) == set(obj)


def test_plain_safetensors_files_load_as_a_dict(tmp_path):
    path = str(tmp_path / "other.safetensors")
    arrays = {"a": np.arange(6, dtype=np.int32).reshape(2, 3), "b": np.ones(0, np.float64),
              "c": np.array(3.5, dtype=np.float32)}
    safetensors.numpy.save_file(arrays, path, metadata={"format": "np"})
    out = cr.load(path)
    assert sorted(out) == ["a", "b", "c"]
    for k, v in arrays.items():
        assert out[k].dtype.np == v.dtype and tuple(out[k].shape) == v.shape
        np.testing.assert_array_equal(out[k].numpy(), v)


def test_unaligned_tensors_from_other_writers_load():
    # a one-byte tensor before an int64 one: the int64 data starts at an odd offset
    header = {"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
              "b": {"dtype": "I64", "shape": [2], "data_offsets": [1, 17]}}
    out = cr.load(io.BytesIO(_file(header, b"\x07" + np.array([5, -6], "<i8").tobytes())))
    assert out["a"].tolist() == [7] and out["b"].tolist() == [5, -6]
    # an unpadded header puts the whole data section at an odd address
    blob = _file({"d": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}},
                 np.array([1.5, -2.0], "<f8").tobytes())
    assert (len(blob) - 16) % 8 != 0
    d = cr.load(io.BytesIO(blob))["d"]
    assert d._data.flags.aligned and d.tolist() == [1.5, -2.0]


# ------------------------------------------------------------------------ save errors

@pytest.mark.parametrize("obj, match", [
    ({"x": object()}, r"type object at 'x'"),
    ({"a": [1, {(1, 2)}]}, r"set at 'a.1' holds \(1, 2\)"),
    ({(1, 2): 3}, r"dict key \(1, 2\)"),
    ({"c": np.ones(2, np.complex64)}, "dtype complex64"),
    (lambda: 0, "type function at '<root>'"),
    ({"n": 10 ** 5000}, "bits; at most"),
])
def test_save_rejects_what_it_cannot_store(obj, match):
    with pytest.raises(SerializationError, match=match):
        cr.save(obj, io.BytesIO())


def test_tensors_refuse_pickle():
    import pickle
    with pytest.raises(TypeError, match="chainrule.save"):
        pickle.dumps(cr.ones(2))


# -------------------------------------------------------------------------- atomicity

def test_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    cr.save({"v": cr.tensor([1.0])}, path)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(SerializationError, match="No space left.*previous file there is unchanged"):
        cr.save({"v": cr.tensor([2.0])}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.pt"], "the temporary file should be removed"
    assert cr.load(path)["v"].tolist() == [1.0]


def test_save_through_symlink_keeps_link_and_permissions(tmp_path):
    target = tmp_path / "real.pt"
    cr.save({"v": 1}, target)
    os.chmod(target, 0o640)
    link = tmp_path / "link.pt"
    link.symlink_to(target)
    cr.save({"v": 2}, link)
    assert link.is_symlink() and cr.load(target) == {"v": 2}
    assert os.stat(target).st_mode & 0o777 == 0o640
    fresh = tmp_path / "fresh.pt"
    cr.save({}, fresh)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(fresh).st_mode & 0o777 == 0o666 & ~umask


def test_failed_rename_and_unsaveable_object_leave_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    cr.save({"v": 1}, path)
    before = path.read_bytes()
    with pytest.raises(SerializationError):
        cr.save({"v": object()}, path)
    real_replace = os.replace

    def broken_replace(src, dst):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(SerializationError, match="Permission denied"):
        cr.save({"v": 2}, path)
    monkeypatch.setattr(os, "replace", real_replace)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.pt"]
    with pytest.raises(SerializationError, match="cannot create a temporary file"):
        cr.save({"v": 3}, tmp_path / "no-such-dir" / "x.pt")


def test_interrupted_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    cr.save({"v": 1}, path)
    import chainrule.serialization as ser

    def interrupted(f, head, chunks):
        f.write(head[:5])
        raise KeyboardInterrupt
    monkeypatch.setattr(ser, "_write_all", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cr.save({"v": 2}, path)
    assert cr.load(path) == {"v": 1} and os.listdir(tmp_path) == ["ckpt.pt"]


# --------------------------------------------------------------------- hostile files

def _file(header: dict, body: bytes, length: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + body


def _raw(header: bytes, body: bytes) -> bytes:
    return struct.pack("<Q", len(header)) + header + body


def _meta_file(structure, tensors=None) -> bytes:
    header = {"__metadata__": {"chainrule.format": "1",
                               "chainrule.structure": json.dumps(structure)}}
    body = b""
    for name, array in (tensors or {}).items():
        array = np.asarray(array, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [len(body), len(body) + array.nbytes]}
        body += array.tobytes()
    return _file(header, body)


ONE = {"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
HOSTILE = {
    "empty file": (b"", "too short"),
    "seven bytes": (b"\x01" * 7, "too short"),
    "header longer than file": (_file(ONE, b"\0" * 4, length=10 ** 6), "truncated"),
    "header of 2**64-1 bytes": (_file(ONE, b"\0" * 4, length=2 ** 64 - 1), "limit"),
    "header not json": (struct.pack("<Q", 4) + b"{abc", "not valid JSON"),
    "header not utf-8": (struct.pack("<Q", 4) + b"{\xff\xfe}", "not UTF-8"),
    "header a list": (struct.pack("<Q", 2) + b"[]", "start with '{'"),
    "header trailing garbage": (struct.pack("<Q", 4) + b"{}xx", "not valid JSON"),
    "NaN constant": (_raw(b'{"x": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 4]}}',
                          b"\0" * 4), "NaN is not valid JSON"),
    "duplicate keys": (struct.pack("<Q", 17) + b'{"a": 1, "a": 2} ', "duplicate key"),
    "unknown dtype": (_file({"x": dict(ONE["x"], dtype="Q7")}, b"\0" * 4), "dtype 'Q7'"),
    # (BF16 loads, with ml_dtypes: tests/test_bfloat16.py)
    "float8": (_file({"x": dict(ONE["x"], dtype="F8_E4M3", data_offsets=[0, 1])}, b"\0"),
               "no tensor type"),
    "negative dim": (_file({"x": dict(ONE["x"], shape=[-1])}, b"\0" * 4), "non-negative"),
    "bool dim": (_file({"x": dict(ONE["x"], shape=[True])}, b"\0" * 4), "non-negative"),
    "float dim": (_file({"x": dict(ONE["x"], shape=[1.0])}, b"\0" * 4), "non-negative"),
    "huge dims": (_file({"x": dict(ONE["x"], shape=[2 ** 40, 2 ** 40])}, b"\0" * 4), "needs"),
    "zero times huge": (_file({"x": dict(ONE["x"], shape=[0, 2 ** 61, 2 ** 61],
                                         data_offsets=[0, 0])}, b""), "cannot be made"),
    "100 dims": (_file({"x": dict(ONE["x"], shape=[1] * 100)}, b"\0" * 4), "at most"),
    "negative offset": (_file({"x": dict(ONE["x"], data_offsets=[-4, 0])}, b"\0" * 4), "outside"),
    "offset past the end": (_file({"x": dict(ONE["x"], data_offsets=[4, 8])}, b"\0" * 4),
                            "outside"),
    "overflowing offsets": (_file({"x": dict(ONE["x"], data_offsets=[2 ** 64 - 4, 2 ** 64])},
                                  b"\0" * 4), "outside"),
    "reversed offsets": (_file({"x": dict(ONE["x"], data_offsets=[4, 0])}, b"\0" * 4), "outside"),
    "offsets wrong length": (_file({"x": dict(ONE["x"], data_offsets=[0])}, b"\0" * 4),
                             "data_offsets"),
    "size mismatch": (_file({"x": dict(ONE["x"], shape=[2])}, b"\0" * 4), "needs 8 bytes"),
    "bool byte not 0 or 1": (_file({"m": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}},
                                   b"\x01\x02"), "other than 0 and 1"),
    "overlap": (_file({"x": ONE["x"], "y": ONE["x"]}, b"\0" * 4), "overlap"),
    "gap": (_file({"x": dict(ONE["x"], data_offsets=[4, 8])}, b"\0" * 8), "gap"),
    "trailing data": (_file(ONE, b"\0" * 8), "trailing"),
    "missing key": (_file({"x": {"dtype": "F32", "shape": [1]}}, b"\0" * 4), "exactly"),
    "extra key": (_file({"x": dict(ONE["x"], evil=1)}, b"\0" * 4), "exactly"),
    "entry a string": (_file({"x": "F32"}, b""), "exactly"),
    "metadata not strings": (_file({"__metadata__": {"a": 1}}, b""), "strings to strings"),
    "metadata a list": (_file({"__metadata__": []}, b""), "strings to strings"),
    "future format": (_file({"__metadata__": {"chainrule.format": "9",
                                              "chainrule.structure": "1"}}, b""), "'9'"),
    "structure not json": (_file({"__metadata__": {"chainrule.format": "1",
                                                   "chainrule.structure": "{"}}, b""),
                           "structure in the metadata is not valid JSON"),
    "dangling tensor": (_meta_file({"$tensor": "nope"}), "not in the file"),
    "tensor name not a string": (_meta_file({"$tensor": ["x"]}, {"x": np.ones(1)}),
                                 "not in the file"),
    "unknown tag": (_meta_file({"$pickle": "os.system"}), "unknown structure tag"),
    "two tags": (_meta_file({"$tuple": [], "$dict": []}), "unknown structure entry"),
    "empty object": (_meta_file({}), "unexpected value"),
    "dict not pairs": (_meta_file({"$dict": [[1, 2, 3]]}), "pairs"),
    "dict not a list": (_meta_file({"$dict": {"a": 1}}), "list of"),
    "unhashable key": (_meta_file({"$dict": [[[1], 2]]}), "dict key"),
    "duplicate dict key": (_meta_file({"$dict": [[1, 2], [1, 3]]}), "duplicate dict key"),
    "bad float": (_meta_file({"$float": "1e400"}), "'nan', 'inf' or '-inf'"),
    "unknown dtype name": (_meta_file({"$dtype": "complex128"}), "name a chainrule dtype"),
    "dtype not a string": (_meta_file({"$dtype": ["float32"]}), "name a chainrule dtype"),
    "bad device string": (_meta_file({"$device": "tpu"}), "unknown device type"),
    "device not a string either": (_meta_file({"$device": 3}), r"\$device"),
    "tuple not a list": (_meta_file({"$tuple": 3}), "should hold a list"),
    "bad tensor flag": (_meta_file({"$tensor": "x", "requires_grad": "yes"}, {"x": np.ones(1)}),
                        "booleans"),
    "unknown tensor key": (_meta_file({"$tensor": "x", "exec": 1}, {"x": np.ones(1)}),
                           "unknown keys"),
    "grad on an int tensor": (_file({"__metadata__": {"chainrule.format": "1",
                                                      "chainrule.structure": json.dumps(
                                                          {"$tensor": "i", "requires_grad": True})},
                                     "i": {"dtype": "I32", "shape": [], "data_offsets": [0, 4]}},
                                    b"\0" * 4), "only floating-point"),
    "bad device": (_meta_file({"$tensor": "x", "device": "tpu:9"}, {"x": np.ones(1)}),
                   "cannot be placed"),
    "device not a string": (_meta_file({"$tensor": "x", "device": 0}, {"x": np.ones(1)}),
                            "'device' should be a string"),
    "deep structure": (_meta_file(json.loads("[" * 300 + "]" * 300)), "nested more than"),
    "very deep json": (_file({"__metadata__": {"chainrule.format": "1",
                                               "chainrule.structure": "[" * 100000 + "]" * 100000}},
                             b""), "not valid JSON"),
    "huge integer literal": (_file({"__metadata__": {"chainrule.format": "1",
                                                     "chainrule.structure": "9" * 5000}}, b""),
                             "not valid JSON"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_files_raise_serialization_error(name, tmp_path):
    blob, match = HOSTILE[name]
    with pytest.raises(SerializationError, match=match):
        cr.load(io.BytesIO(blob))
    path = tmp_path / "f"
    path.write_bytes(blob)
    with pytest.raises(SerializationError, match=match):
        cr.load(path)


def test_load_missing_file_and_text_stream(tmp_path):
    with pytest.raises(SerializationError, match="could not read"):
        cr.load(tmp_path / "missing.pt")
    with pytest.raises(SerializationError, match="binary file"):
        cr.load(io.StringIO("abc"))


# ------------------------------------------------------------------------------ fuzz

def _seed_files():
    rng = np.random.default_rng(0)
    small = {"w": _random_tensor(cr.float32, (2, 3), rng), "b": _random_tensor(cr.int64, (3,), rng),
             "m": _random_tensor(cr.bool, (2,), rng), "h": _random_tensor(cr.float16, (), rng),
             "e": cr.zeros(0, 2), "step": 7, "lr": 0.5,
             "opt": {"state": {0: {"buf": _random_tensor(cr.float64, (2,), rng)}},
                     "param_groups": [{"params": [0], "betas": (0.9, 0.99), "name": None}]}}
    files = []
    for obj in (small, {"only": cr.ones(1)}, {"a": [1, 2.5, "x", None, (True,)]},
                OrderedDict(k=_random_tensor(cr.uint8, (4,), rng))):
        buf = io.BytesIO()
        cr.save(obj, buf)
        files.append(buf.getvalue())
    return files


_JSON_JUNK = [None, True, False, 0, -1, 1.5, -(2 ** 70), 2 ** 64, 2 ** 63 - 1, "", "F32", "x", [],
              [0], [-1, 2], [2 ** 64, 2 ** 64 + 4], [0, 0, 0], {}, {"$tensor": "w"},
              {"$dict": [[0, 1]]}, {"$tuple": [{}]}, {"$float": "inf"}, [[[[]]]], "__metadata__",
              {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, 1e308, -0.0,
              {"$dtype": "float32"}, {"$dtype": 1}, {"$device": "cuda:0"}, {"$device": "x:y"},
              {"$tensor": "w", "device": "cuda:1"}, {"$ndarray": "b"}, {"$odict": []}]


def _mutate_json(node, rng: random.Random):
    """A copy of a JSON value with one random sub-value replaced, removed or duplicated."""
    if isinstance(node, dict) and node and rng.random() < 0.8:
        key = rng.choice(list(node))
        out = dict(node)
        roll = rng.random()
        if roll < 0.15:
            del out[key]
        elif roll < 0.25:
            out[key + rng.choice(["", "_", "$"])] = rng.choice(_JSON_JUNK)
        elif roll < 0.6:
            out[key] = _mutate_json(node[key], rng)
        else:
            out[key] = rng.choice(_JSON_JUNK)
        return out
    if isinstance(node, list) and node and rng.random() < 0.8:
        i = rng.randrange(len(node))
        out = list(node)
        roll = rng.random()
        if roll < 0.15:
            del out[i]
        elif roll < 0.25:
            out.insert(i, out[i])
        elif roll < 0.6:
            out[i] = _mutate_json(node[i], rng)
        else:
            out[i] = rng.choice(_JSON_JUNK)
        return out
    if isinstance(node, int) and not isinstance(node, bool) and rng.random() < 0.5:
        return rng.choice([node + 1, node - 1, -node, node * 2 ** 32, node + 2 ** 64, 0])
    return rng.choice(_JSON_JUNK)


def _split(blob):
    n = struct.unpack("<Q", blob[:8])[0]
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def _as_format_1(blob: bytes) -> bytes:
    """The same file as written before checksums (format "1"): edits to it reach the
    structural checks instead of stopping at the header checksum."""
    header, body = _split(blob)
    meta = header["__metadata__"]
    del meta["chainrule.crc32"], meta["chainrule.header_crc32"]
    meta["chainrule.format"] = "1"
    return _file(header, body)


def _mutants(files, rng: random.Random):
    """(kind, bytes) pairs: byte flips, truncations, header and structure edits, lying lengths."""
    for blob in files:
        for _ in range(80):
            b = bytearray(blob)
            for _ in range(rng.choice([1, 1, 2, 8])):
                pos = rng.randrange(len(b))
                b[pos] = rng.choice([b[pos] ^ (1 << rng.randrange(8)), rng.randrange(256)])
            yield "flip", bytes(b)
        for _ in range(40):
            yield "truncate", blob[:rng.randrange(len(blob))]
        yield "truncate", blob[:-1]
        header, body = _split(_as_format_1(blob))
        for _ in range(80):
            yield "header", _file(_mutate_json(header, rng), body)
        meta = header.get("__metadata__", {})
        if "chainrule.structure" in meta:
            structure = json.loads(meta["chainrule.structure"])
            for _ in range(80):
                h = dict(header, __metadata__=dict(meta, **{
                    "chainrule.structure": json.dumps(_mutate_json(structure, rng))}))
                yield "structure", _file(h, body)
        for length in (0, 1, 7, len(blob) - 8 + 1, 2 ** 32, 2 ** 63, 2 ** 64 - 1):
            yield "length", struct.pack("<Q", length) + blob[8:]
        for _ in range(10):
            extra = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
            yield "append", blob + extra
    for _ in range(30):
        yield "garbage", bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))


@pytest.mark.parametrize("seed", [1234, 5678, 91011])
def test_fuzz_damaged_files_only_raise_serialization_error(seed):
    rng = random.Random(seed)
    cases = list(_mutants(_seed_files(), rng))
    assert len(cases) >= 1000, f"expected 1,000+ fuzz cases, generated {len(cases)}"
    outcomes = {}
    tracemalloc.start()
    try:
        for i, (kind, blob) in enumerate(cases):
            try:
                cr.load(io.BytesIO(blob))
                result = "loaded"
            except SerializationError as e:
                assert str(e).startswith("load: "), f"case {i} ({kind}): unclear message {e}"
                result = "rejected"
            except BaseException as e:  # noqa: B902 - the point of the test
                raise AssertionError(f"fuzz case {i} ({kind}, {len(blob)} bytes) raised "
                                     f"{type(e).__name__}: {e}; expected SerializationError\n"
                                     f"{blob[:300]!r}") from e
            if kind in ("truncate", "length", "append"):
                assert result == "rejected", f"case {i} ({kind}) should be rejected: {blob!r}"
            outcomes[(kind, result)] = outcomes.get((kind, result), 0) + 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # lying sizes must never turn into big allocations: the files are all tiny
    assert peak < 20 * 2 ** 20, f"peak allocation {peak} bytes while loading tiny files"
    assert outcomes.get(("flip", "rejected"), 0) > 0 and outcomes.get(("header", "rejected"), 0) > 0
    assert outcomes.get(("structure", "rejected"), 0) > 0


def test_fuzz_through_real_files(tmp_path):
    rng = random.Random(99)
    path = tmp_path / "f.safetensors"
    for i, (kind, blob) in enumerate(list(_mutants(_seed_files()[:1], rng))[::5]):
        path.write_bytes(blob)
        try:
            cr.load(path)
        except SerializationError:
            pass


# ------------------------------------------------------------------ real checkpoints

def _mlp():
    return cr.nn.Sequential(cr.nn.Linear(2, 16), cr.nn.Tanh(), cr.nn.Linear(16, 2))


def _step(model, opt, x, y):
    opt.zero_grad()
    cr.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def test_training_checkpoint_resumes_exactly(tmp_path):
    from chainrule.datasets import moons
    from chainrule.utils.data import DataLoader
    cr.manual_seed(0)
    model = _mlp()
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    batches = list(DataLoader(moons(64, seed=0), batch_size=16))
    for x, y in batches[:2]:
        _step(model, opt, x, y)
    path = tmp_path / "ckpt.pt"
    cr.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 1}, path)
    ckpt = cr.load(path)
    assert all(isinstance(k, int) for k in ckpt["optimizer"]["state"]), "param ids stay ints"
    resumed = _mlp()
    resumed.load_state_dict(ckpt["model"])
    opt2 = cr.optim.Adam(resumed.parameters(), lr=0.5)
    opt2.load_state_dict(ckpt["optimizer"])
    assert opt2.param_groups[0]["lr"] == 0.01
    for x, y in batches[2:]:
        _step(model, opt, x, y)
        _step(resumed, opt2, x, y)
    for (name, a), b in zip(model.named_parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=name)


def test_state_dict_file_loads_into_torch():
    import torch
    import safetensors.torch
    model = _mlp()
    buf = io.BytesIO()
    cr.save(model.state_dict(), buf)
    ref = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    ref.load_state_dict(safetensors.torch.load(buf.getvalue()))
    x = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(cr.tensor(x)).detach().numpy(), want, rtol=1e-5, atol=1e-6)


# ------------------------------------------------- checksums, memory, killed saves

def test_flipped_data_byte_is_caught_by_the_checksum_and_old_files_still_load():
    buf = io.BytesIO()
    cr.save({"w": cr.arange(6, dtype=cr.float32), "step": 3}, buf)
    blob = bytearray(buf.getvalue())
    blob[-3] ^= 0x10  # inside w's data: still a well-formed file
    with pytest.raises(SerializationError, match="tensor 'w' does not match its checksum"):
        cr.load(io.BytesIO(bytes(blob)))
    # a format-1 file (before checksums) with the same flip loads, as it always did
    out = cr.load(io.BytesIO(_as_format_1(bytes(blob))))
    assert out["step"] == 3 and out["w"].tolist() != list(range(6))
    # a damaged checksum key does not turn the file into a plain, unchecked one
    text = buf.getvalue().replace(b'"chainrule.crc32"', b'"chainrule.crc33"')
    with pytest.raises(SerializationError, match="lacks chainrule.crc32"):
        cr.load(io.BytesIO(text))
    # nor does a flipped bit in the format version ("2" -> "1", 0x32 -> 0x31)
    text = buf.getvalue().replace(b'"chainrule.format":"2"', b'"chainrule.format":"1"')
    with pytest.raises(SerializationError, match="have no checksums, but this one has"):
        cr.load(io.BytesIO(text))


def test_a_header_edit_is_caught_by_the_header_checksum():
    buf = io.BytesIO()
    cr.save({"epoch": 3}, buf)
    edited = buf.getvalue().replace(b",3]]", b",4]]")
    assert edited != buf.getvalue()
    with pytest.raises(SerializationError, match="does not match its checksum"):
        cr.load(io.BytesIO(edited))


def _root(array: np.ndarray) -> np.ndarray:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def test_a_kept_tensor_owns_only_its_bytes(tmp_path):
    path = tmp_path / "big.safetensors"
    cr.save({"big": cr.zeros(5_000_000), "small": cr.arange(10.0)}, path)  # 20 MB
    tracemalloc.start()
    try:
        small = cr.load(path)["small"]
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert small.tolist() == list(range(10))
    assert _root(small.numpy()).nbytes == 40
    assert kept < 1_000_000, f"{kept} bytes kept for a 40-byte tensor"
    assert peak < 30_000_000, f"loading a 20 MB file peaked at {peak} bytes"


def test_a_header_of_too_many_json_items_is_refused_without_parsing_it():
    text = b'{"a":[' + b"0," * 3_000_000 + b'0]}'  # 6 MB of text, 3 million list items
    tracemalloc.start()
    try:
        with pytest.raises(SerializationError, match="JSON items, more than"):
            cr.load(io.BytesIO(struct.pack("<Q", len(text)) + text))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(text), peak


def test_temporaries_are_named_and_only_dead_writers_ones_are_removed(tmp_path):
    import subprocess
    import sys
    from chainrule.serialization import _temp_prefix
    path = tmp_path / "last.safetensors"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        prefix = _temp_prefix(path.name)
        stale = tmp_path / f"{prefix}{dead.pid}-abc"
        in_use = tmp_path / f"{prefix}{live.pid}-def"
        other_host = tmp_path / f"{_temp_prefix(path.name, 'elsewhere')}{dead.pid}-ghi"
        other_target = tmp_path / f"{_temp_prefix('best.safetensors')}{dead.pid}-jkl"
        for p in (stale, in_use, other_host, other_target):
            p.write_bytes(b"partial")
        assert "incomplete-save" in stale.name
        cr.save({"v": 1}, path)
        assert sorted(os.listdir(tmp_path)) == sorted(
            [path.name, in_use.name, other_host.name, other_target.name])
    finally:
        live.kill()
        live.wait()


KILL_WRITER = """
import sys, chainrule as cr
obj = {"w": cr.randn(4_000_000), "i": 0}
print("ready", flush=True)
for i in range(10 ** 9):
    obj["i"] = i
    cr.save(obj, sys.argv[1])
"""


def test_kill_9_during_save_keeps_the_old_file_and_the_next_save_cleans_up(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    path = tmp_path / "ckpt.safetensors"
    cr.save({"w": cr.zeros(4_000_000), "i": -1}, path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rng = random.Random(7)
    leftovers = 0
    for _ in range(4):
        p = subprocess.Popen([sys.executable, "-c", KILL_WRITER, str(path)],
                             stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=root))
        assert p.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.05, 0.6))
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        leftovers += len(os.listdir(tmp_path)) - 1
        ckpt = cr.load(path)  # whatever the moment, the file is a whole one
        assert tuple(ckpt["w"].shape) == (4_000_000,) and isinstance(ckpt["i"], int)
    print(f"{leftovers} temporaries left by 4 kills")
    cr.save({"w": cr.ones(3), "i": 99}, path)
    assert os.listdir(tmp_path) == [path.name]
    assert cr.load(path)["i"] == 99
