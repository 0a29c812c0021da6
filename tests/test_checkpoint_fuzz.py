"""Checkpoint fuzz: every mutation of a saved file either raises SerializationError from
``load`` or (for a checksummed file) loads exactly what was saved; never another exception,
never changed data. Seeded: a failure prints the seed, case number and mutation to replay."""
import io
import json
import random
import struct
import time

import pytest

import chainrule as cr
from chainrule.errors import SerializationError
from tests.test_serialization import _as_format_1, _file, _split

SEED = 20261205
CASES = 20_000
THROUGH_FILES = 20  # every 20th case is read from a real file (the path reader)


def _original():
    g = cr.Generator().manual_seed(0)
    w = cr.randn(3, 4, generator=g)
    return {"model": {"w": cr.nn.Parameter(w), "b": cr.zeros(4, dtype=cr.float64)},
            "optimizer": {"state": {0: {"step": cr.tensor(3.0), "exp_avg": cr.ones(3, 4)}},
                          "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0]}]},
            "epoch": 2, "name": "run", "mask": cr.tensor([True, False, True]),
            "ids": cr.tensor([1, -2], dtype=cr.int64), "half": cr.ones(2, dtype=cr.float16),
            "bytes": cr.tensor([7, 255], dtype=cr.uint8), "nan": float("nan")}


def _same(a, b) -> bool:
    """Structure, types, dtypes, shapes and bits all equal (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, cr.Tensor):
        x, y = a.detach().numpy(), b.detach().numpy()
        return (a.dtype == b.dtype and x.shape == y.shape and a.requires_grad == b.requires_grad
                and x.tobytes() == y.tobytes())
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return a == b


_HUGE = [2 ** 31, 2 ** 32 + 1, 2 ** 62, 2 ** 63, 2 ** 64 - 1, 2 ** 64, 10 ** 30, -1, -2 ** 63]
_VALUES = [None, True, 1.5, "x", "\u00e9\u4e2d", [], {}, [[[]]], {"a": {"b": {"c": [1]}}},
           "F32", [1, 2], [0, 0], 0] + _HUGE


def _edit_header(rng: random.Random, blob: bytes) -> tuple[bytes, str]:
    """One semantic edit of the header JSON, written back (header checksum left stale)."""
    header, body = _split(blob)
    names = [k for k in header if k != "__metadata__"]
    name = rng.choice(names)
    entry = header[name]
    kind = rng.choice(["dtype", "shape", "offsets", "overlap", "key", "meta", "value", "name",
                       "structure", "drop"])
    if kind == "dtype":
        entry["dtype"] = rng.choice(["F32", "F64", "F16", "I64", "I8", "U8", "BOOL", "BF16",
                                     "Q7", "f32", "", 5])
    elif kind == "shape":
        entry["shape"] = rng.choice([[], [0], [1] * 40, [2 ** 62], [-1], [3, 4, 0], [1.0],
                                     [True], "3", [rng.randrange(0, 20)],
                                     [rng.choice(_HUGE)]])
    elif kind == "offsets":
        entry["data_offsets"][rng.randrange(2)] = rng.choice(_HUGE + [0, 1, 3, len(body)])
    elif kind == "overlap":
        other = header[rng.choice(names)]
        entry["data_offsets"] = list(other["data_offsets"])
    elif kind == "key":
        entry[rng.choice(["evil", "dtype", "shape"])] = rng.choice(_VALUES)
    elif kind == "meta":
        header["__metadata__"][rng.choice(list(header["__metadata__"]) + ["x"])] = \
            rng.choice(["", "{", "2", "1", json.dumps([[[[]]]]), "\u00e9"])
    elif kind == "value":
        header[name] = rng.choice(_VALUES)
    elif kind == "name":
        header["\u00e9" + name + "\x00"] = header.pop(name)
    elif kind == "structure":
        s = json.loads(header["__metadata__"]["chainrule.structure"])
        s["$dict"].append([rng.choice(_VALUES[:5]), rng.choice(
            [{"$tensor": name}, {"$tensor": "nope"}, {"$float": "1e400"}, {"$tuple": 3},
             {"$dtype": "float32"}, {"$device": "tpu"}, json.loads("[" * 300 + "]" * 300)])])
        header["__metadata__"]["chainrule.structure"] = json.dumps(s)
    else:
        del header[name]
    return _file(header, body), f"header edit {kind} of {name!r}"


def _mutate(rng: random.Random, blob: bytes) -> tuple[bytes, str]:
    kind = rng.choice(["flip", "flip", "flip", "flips", "truncate", "extend", "insert",
                       "delete", "header", "garbage", "length"])
    b = bytearray(blob)
    (n,) = struct.unpack_from("<Q", blob)
    if kind == "flip":  # header or data, weighted to the data as often as the header
        pos = rng.randrange(len(b)) if rng.random() < 0.5 else rng.randrange(8 + n, len(b))
        x = rng.randrange(1, 256)
        b[pos] ^= x
        return bytes(b), f"flip byte {pos} ^ {x:#x}"
    if kind == "flips":
        spots = [rng.randrange(len(b)) for _ in range(rng.randrange(2, 10))]
        for pos in spots:
            b[pos] ^= rng.randrange(1, 256)
        return bytes(b), f"flip bytes {spots}"
    if kind == "truncate":
        cut = rng.randrange(len(b))
        return bytes(b[:cut]), f"truncate to {cut}"
    if kind == "extend":
        extra = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        return bytes(b) + extra, f"extend by {extra!r}"
    if kind == "insert":
        pos = rng.randrange(len(b))
        return bytes(b[:pos]) + b"\x00" + bytes(b[pos:]), f"insert a byte at {pos}"
    if kind == "delete":
        pos = rng.randrange(len(b))
        return bytes(b[:pos] + b[pos + 1:]), f"delete byte {pos}"
    if kind == "header":
        return _edit_header(rng, blob)
    if kind == "length":
        value = rng.choice(_HUGE[:6] + [0, 1, 2, n - 1, n + 1, len(b)])
        return struct.pack("<Q", value % 2 ** 64) + bytes(b[8:]), f"header length {value}"
    garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
    if rng.random() < 0.5:
        garbage = struct.pack("<Q", rng.randrange(0, 300)) + garbage
    return garbage, f"garbage {garbage!r:.120}"


def test_fuzzed_checkpoints_raise_serialization_error_or_load_unchanged(tmp_path):
    original = _original()
    buf = io.BytesIO()
    cr.save(original, buf)
    checked = buf.getvalue()
    unchecked = _as_format_1(checked)
    assert _same(cr.load(io.BytesIO(checked)), original)
    assert _same(cr.load(io.BytesIO(unchecked)), original)
    rng = random.Random(SEED)
    outcomes = {"error": 0, "unchanged": 0, "unchecked loaded": 0}
    t0 = time.perf_counter()
    for case in range(CASES):
        with_checksums = rng.random() < 0.6  # format-1 files exercise the structural checks
        blob, what = _mutate(rng, checked if with_checksums else unchecked)
        where = f"seed {SEED}, case {case}, {'checksummed' if with_checksums else 'format-1'}" \
                f" file, mutation: {what}"
        source = io.BytesIO(blob)
        if case % THROUGH_FILES == 0:
            source = tmp_path / "fuzzed.safetensors"
            source.write_bytes(blob)
        try:
            out = cr.load(source)
        except SerializationError:
            outcomes["error"] += 1
            continue
        except BaseException as e:  # noqa: BLE001 - the point: nothing else may escape
            pytest.fail(f"{type(e).__name__}: {e} ({where})")
        if with_checksums:
            assert _same(out, original), f"changed data loaded without an error ({where})"
            outcomes["unchanged"] += 1
        else:
            outcomes["unchecked loaded"] += 1
    elapsed = time.perf_counter() - t0
    print(f"{CASES} mutations in {elapsed:.1f} s: {outcomes}")
    # the mutations reach the checks (most are errors) and some are harmless
    assert outcomes["error"] > CASES * 0.8, outcomes
