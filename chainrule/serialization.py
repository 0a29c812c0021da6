"""``save`` / ``load`` for state dicts and checkpoints, on the safetensors format.

A file is a standard safetensors file: an 8-byte little-endian header length, a
JSON header naming each tensor's dtype, shape and byte range, then the raw bytes.
The Python structure around the tensors (nested dicts, lists, tuples, numbers,
strings, None, dtypes, devices; dicts with int keys as in an optimizer's ``state``)
is stored as JSON in the header's ``__metadata__``, with tensors referred to by
name. Any safetensors tool can read the tensors; nothing is ever unpickled or
executed.

Loading trusts nothing: every size, offset, dtype, shape and reference is checked
against the file before anything is allocated, and any fault in the file is a
:class:`~chainrule.errors.SerializationError` naming what was expected and found.
A plain safetensors file written by another tool loads as ``{name: tensor}``.

Writes to a path are atomic: the bytes go to a temporary file in the target's directory,
which is flushed, fsynced and then renamed over the target, so a crash or a
failing write leaves any previous file untouched.

>>> import chainrule as cr, io
>>> buf = io.BytesIO()
>>> cr.save({"w": cr.ones(2, 2), "step": 3, "state": {0: {"lr": 0.1}}}, buf)
>>> _ = buf.seek(0)
>>> ckpt = cr.load(buf)
>>> ckpt["w"].shape, ckpt["step"], ckpt["state"][0]
(chainrule.Size([2, 2]), 3, {'lr': 0.1})
"""
from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from collections import OrderedDict
from typing import Any, BinaryIO, Union

import numpy as np

from .backends import Device
from .dtypes import ALL_DTYPES, DType
from .errors import SerializationError
from .tensor import Tensor

__all__ = ["save", "load"]

PathOrFile = Union[str, "os.PathLike[str]", BinaryIO]

FORMAT_VERSION = "1"
_META_FORMAT = "chainrule.format"
_META_STRUCTURE = "chainrule.structure"
_MAX_HEADER = 100_000_000  # the safetensors reference implementation's limit
_MAX_DEPTH = 200  # nesting of the Python structure (a hostile file must not recurse forever)
_MAX_NDIM = 32
_MAX_INT_BITS = 13000  # about 3,900 digits: under Python's 4,300-digit parsing limit
_DTYPE_BY_NAME = {d.name: d for d in ALL_DTYPES}

# safetensors dtype names <-> little-endian NumPy dtypes that chainrule tensors can hold
_DTYPES = {"BOOL": np.dtype("?"), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
           "I16": np.dtype("<i2"), "I32": np.dtype("<i4"), "I64": np.dtype("<i8"),
           "F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_NAMES = {dt.newbyteorder("="): name for name, dt in _DTYPES.items()}
_KNOWN_OTHER = {"BF16", "F8_E4M3", "F8_E5M2", "U16", "U32", "U64", "C64", "F4", "F6_E2M3",
                "F6_E3M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ"}


def _fail(message: str) -> SerializationError:
    return SerializationError(message)


# --------------------------------------------------------------------------------------
# save
# --------------------------------------------------------------------------------------

class _Encoder:
    """Turns the Python structure into JSON-able data and collects the arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._by_id: dict[int, str] = {}
        self._keep: list = []  # keeps encoded objects alive so their ids stay unique

    def _name(self, path: str) -> str:
        name = path or "tensor"
        if name == "__metadata__" or name in self.arrays:
            n = 2
            while f"{name}#{n}" in self.arrays:
                n += 1
            name = f"{name}#{n}"
        return name

    def _array(self, obj, path: str) -> str:
        # a tensor saved twice is stored once and loads back as one shared object
        if id(obj) in self._by_id:
            return self._by_id[id(obj)]
        if isinstance(obj, Tensor):
            from .backends import backend_of
            array = backend_of(obj._data).to_host(obj._data)
        else:
            array = obj
        native = array.dtype.newbyteorder("=")
        if native not in _NAMES:
            raise _fail(f"save: the array at '{path}' has dtype {array.dtype}, which safetensors"
                        f" files from chainrule cannot hold; expected one of "
                        f"{', '.join(str(d) for d in _NAMES)}")
        name = self._name(path)
        # (np.ascontiguousarray would turn a 0-d array into a 1-d one)
        self.arrays[name] = np.asarray(array, dtype=_DTYPES[_NAMES[native]], order="C")
        self._by_id[id(obj)] = name
        self._keep.append(obj)
        return name

    def encode(self, obj: Any, path: str, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise _fail(f"save: the structure is nested more than {_MAX_DEPTH} levels deep at "
                        f"'{path}'")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            if obj.bit_length() > _MAX_INT_BITS:  # Python will not parse longer int literals
                raise _fail(f"save: the int at '{path}' has {obj.bit_length()} bits; at most "
                            f"{_MAX_INT_BITS} can be stored")
            return int(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"$float": repr(float(obj))}
        if isinstance(obj, np.generic) and not isinstance(obj, np.ndarray):
            if obj.dtype.kind in "biuf":
                return self.encode(obj.item(), path, depth)
        if isinstance(obj, Tensor):
            out = {"$tensor": self._array(obj, path)}
            from .nn.parameter import Parameter
            if isinstance(obj, Parameter):
                out["parameter"] = True
            if obj.requires_grad:
                out["requires_grad"] = True
            if obj.device.type != "cpu":
                out["device"] = str(obj.device)
            return out
        if isinstance(obj, np.ndarray):
            return {"$ndarray": self._array(obj, path)}
        if isinstance(obj, DType):
            return {"$dtype": obj.name}
        if isinstance(obj, Device):
            return {"$device": str(obj)}
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if not (key is None or isinstance(key, (bool, int, float, str))):
                    raise _fail(f"save: dict key {key!r} at '{path}' has type "
                                f"{type(key).__name__}; expected str, int, float, bool or None")
                sub = f"{path}.{key}" if path else str(key)
                items.append([self.encode(key, path, depth + 1),
                              self.encode(value, sub, depth + 1)])
            return {"$odict" if isinstance(obj, OrderedDict) else "$dict": items}
        if isinstance(obj, (list, tuple)):
            encoded = [self.encode(v, f"{path}.{i}" if path else str(i), depth + 1)
                       for i, v in enumerate(obj)]
            return encoded if isinstance(obj, list) else {"$tuple": encoded}
        raise _fail(f"save: cannot store a value of type {type(obj).__name__} at "
                    f"'{path or '<root>'}'; expected tensors, NumPy arrays, dicts, lists, tuples, "
                    "int, float, bool, str, None, dtypes or devices")


def _header_and_chunks(obj: Any) -> tuple[bytes, list[np.ndarray]]:
    enc = _Encoder()
    structure = enc.encode(obj, "", 0)
    # largest items first keeps every tensor aligned to its element size
    names = sorted(enc.arrays, key=lambda n: (-enc.arrays[n].dtype.itemsize, n))
    header: dict[str, Any] = {"__metadata__": {
        _META_FORMAT: FORMAT_VERSION,
        _META_STRUCTURE: json.dumps(structure, separators=(",", ":"), allow_nan=False)}}
    offset, chunks = 0, []
    for name in names:
        array = enc.arrays[name]
        header[name] = {"dtype": _NAMES[array.dtype.newbyteorder("=")],
                        "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
        chunks.append(array)
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)  # the body starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text, chunks


def _write_all(f: BinaryIO, head: bytes, chunks: list[np.ndarray]) -> None:
    f.write(head)
    for array in chunks:
        if array.size:
            f.write(array.reshape(-1).view(np.uint8).data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def save(obj: Any, f: PathOrFile, **kwargs: Any) -> None:
    """Write ``obj`` (a state dict or checkpoint structure) to a path or binary file.

    ``obj`` may nest dicts (str, int, float, bool or None keys), lists and tuples of
    tensors, NumPy arrays, ints, floats, bools, strings, None, dtypes and devices.
    A path is written atomically (through a symlink to its target) and keeps an
    existing file's permissions. Extra keyword arguments of ``torch.save``
    (``pickle_module`` …) are accepted and ignored.

    >>> import chainrule as cr, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> cr.save({"layer.weight": cr.eye(2)}, path)
    >>> cr.load(path)["layer.weight"]
    tensor([[1., 0.],
            [0., 1.]])
    """
    head, chunks = _header_and_chunks(obj)
    if hasattr(f, "write"):
        _write_all(f, head, chunks)
        return
    path = os.path.realpath(os.fspath(f))  # replace a symlink's target, not the link
    directory = os.path.dirname(path)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = _FILE_MODE
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                                   dir=directory)
    except OSError as e:
        raise _fail(f"save: cannot create a temporary file in {directory!r}: {e}") from e
    try:
        with os.fdopen(fd, "wb") as out:
            _write_all(out, head, chunks)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)  # mkstemp made it private (0600)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise _fail(f"save: could not write {path!r}: {e}; any previous file there is "
                        "unchanged") from e
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    # makes the rename itself durable; not possible on every platform, so best effort
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


# --------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------

def _read_bytes(f: PathOrFile) -> tuple[bytearray, str]:
    if hasattr(f, "read"):
        where = getattr(f, "name", None) or type(f).__name__
        try:
            data = f.read()
        except (OSError, ValueError) as e:
            raise _fail(f"load: could not read from {where}: {e}") from e
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise _fail(f"load: expected a binary file, but read() returned "
                        f"{type(data).__name__}")
        return bytearray(data), str(where)
    path = os.fspath(f)
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            data = bytearray(size)
            view, got = memoryview(data), 0
            while got < size:
                n = stream.readinto(view[got:])
                if not n:
                    break
                got += n
    except OSError as e:
        raise _fail(f"load: could not read {path!r}: {e}") from e
    if got != size:
        raise _fail(f"load: {path!r} changed while it was read (expected {size} bytes, got {got})")
    return data, repr(path)


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _json(text, what: str, where: str):
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError, TypeError) as e:
        raise _fail(f"load: {where}: the {what} is not valid JSON ({e})") from None


def _is_int(x) -> bool:
    return type(x) is int


def _parse_header(data: bytearray, where: str) -> tuple[dict, dict, int]:
    """Validate the header; return (tensor entries, metadata, body offset)."""
    if len(data) < 8:
        raise _fail(f"load: {where} is {len(data)} bytes long, too short for a safetensors file "
                    "(expected an 8-byte header length first); the file is truncated or not a "
                    "checkpoint")
    (n,) = struct.unpack_from("<Q", data, 0)
    if n > _MAX_HEADER:
        raise _fail(f"load: {where}: the header claims {n} bytes, more than the "
                    f"{_MAX_HEADER}-byte limit; the file is corrupt or not a safetensors file")
    if n > len(data) - 8:
        raise _fail(f"load: {where}: the header claims {n} bytes but only {len(data) - 8} follow "
                    "the length field; the file is truncated or corrupt")
    if n < 2:
        raise _fail(f"load: {where}: the header length is {n}; expected a JSON object")
    raw = bytes(data[8:8 + n])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _fail(f"load: {where}: the header is not UTF-8 text ({e}); the file is corrupt or "
                    "not a safetensors file") from None
    if not text.startswith("{"):
        raise _fail(f"load: {where}: the header should start with '{{', got {text[:8]!r}; the "
                    "file is corrupt or not a safetensors file")
    header = _json(text, "header", where)
    if not isinstance(header, dict):
        raise _fail(f"load: {where}: the header should be a JSON object, got "
                    f"{type(header).__name__}")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise _fail(f"load: {where}: '__metadata__' should map strings to strings, got "
                    f"{meta!r:.80}")
    return header, meta, 8 + n


def _check_entry(name: str, entry, body_len: int, where: str) -> tuple[np.dtype, tuple, int, int]:
    bad = f"load: {where}: tensor {name!r}"
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _fail(f"{bad} should be an object with exactly 'dtype', 'shape' and "
                    f"'data_offsets', got {entry!r:.120}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in _DTYPES:
        extra = " (a safetensors dtype chainrule has no tensor type for)" \
            if isinstance(dtype, str) and dtype in _KNOWN_OTHER else ""
        raise _fail(f"{bad} has dtype {dtype!r}{extra}; expected one of {', '.join(_DTYPES)}")
    if not isinstance(shape, list) or len(shape) > _MAX_NDIM or \
            not all(_is_int(s) and 0 <= s < 2 ** 62 for s in shape):
        raise _fail(f"{bad} has shape {shape!r:.120}; expected a list of at most {_MAX_NDIM} "
                    "non-negative integers")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_is_int, offsets)):
        raise _fail(f"{bad} has data_offsets {offsets!r:.120}; expected [begin, end] integers")
    begin, end = offsets
    if not 0 <= begin <= end <= body_len:
        raise _fail(f"{bad} has data_offsets [{begin}, {end}], outside the {body_len}-byte data "
                    "section; the file is truncated or corrupt")
    np_dtype = _DTYPES[dtype]
    count = math.prod(shape)
    if count * np_dtype.itemsize != end - begin:
        raise _fail(f"{bad}: shape {shape} of {dtype} needs {count * np_dtype.itemsize} bytes, "
                    f"but data_offsets [{begin}, {end}] span {end - begin}")
    return np_dtype, tuple(shape), begin, end


def _arrays(header: dict, data: bytearray, start: int, where: str) -> dict[str, np.ndarray]:
    body_len = len(data) - start
    entries = {name: _check_entry(name, e, body_len, where) for name, e in header.items()}
    # the tensors must tile the data section exactly: no gaps, no overlaps, nothing after
    position = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: kv[1][2:]):
        if begin != position:
            raise _fail(f"load: {where}: tensor {name!r} starts at byte {begin} of the data "
                        f"section, expected {position} (tensors overlap or leave a gap)")
        position = end
    if position != body_len:
        raise _fail(f"load: {where}: the data section has {body_len} bytes but the tensors cover "
                    f"{position}; the file has trailing or missing data")
    body = memoryview(data)[start:]
    out = {}
    for name, (np_dtype, shape, begin, end) in entries.items():
        try:
            array = np.frombuffer(body, dtype=np_dtype, count=(end - begin) // np_dtype.itemsize,
                                  offset=begin).reshape(shape)
        except (ValueError, TypeError, MemoryError) as e:
            raise _fail(f"load: {where}: tensor {name!r} of shape {list(shape)} cannot be "
                        f"made ({e})") from None
        if np_dtype.kind == "b" and array.size and array.view(np.uint8).max() > 1:
            # NumPy would keep the stray byte and compare unequal to True
            raise _fail(f"load: {where}: tensor {name!r} is BOOL but holds bytes other than 0 "
                        "and 1; the file is corrupt")
        if not array.flags.aligned:
            array = array.copy()  # unaligned (another writer's layout): copy to an aligned buffer
        if np_dtype.byteorder not in ("=", "|") and not np_dtype.isnative:
            array = array.astype(np_dtype.newbyteorder("="))
        out[name] = array
    return out


class _Decoder:
    """Rebuilds the Python structure, resolving tensor references."""

    _TENSOR_KEYS = {"$tensor", "parameter", "requires_grad", "device"}

    def __init__(self, arrays: dict, where: str, map_location) -> None:
        self.arrays = arrays
        self.where = where
        self.map_location = map_location
        self.memo: dict[tuple[str, str], Any] = {}

    def fail(self, message: str) -> SerializationError:
        return _fail(f"load: {self.where}: {message}")

    def decode(self, node: Any, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail(f"the structure is nested more than {_MAX_DEPTH} levels deep")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v, depth + 1) for v in node]
        if not isinstance(node, dict) or not node:
            raise self.fail(f"unexpected value {node!r:.80} in the structure")
        if "$tensor" in node:
            return self.tensor(node)
        if len(node) != 1:
            raise self.fail(f"unknown structure entry with keys {sorted(node)!r:.120}")
        (tag, value), = node.items()
        if tag in ("$dict", "$odict"):
            if not isinstance(value, list):
                raise self.fail(f"{tag} should hold a list of [key, value] pairs, got "
                                f"{type(value).__name__}")
            out = OrderedDict() if tag == "$odict" else {}
            for pair in value:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise self.fail(f"{tag} entries should be [key, value] pairs, got "
                                    f"{pair!r:.80}")
                key = self.decode(pair[0], depth + 1)
                if not (key is None or isinstance(key, (bool, int, float, str))):
                    raise self.fail(f"dict key {key!r:.80} should be str, int, float, bool or None")
                if key in out:
                    raise self.fail(f"duplicate dict key {key!r:.80}")
                out[key] = self.decode(pair[1], depth + 1)
            return out
        if tag == "$tuple":
            if not isinstance(value, list):
                raise self.fail(f"$tuple should hold a list, got {type(value).__name__}")
            return tuple(self.decode(v, depth + 1) for v in value)
        if tag == "$float":
            if value not in ("nan", "inf", "-inf"):
                raise self.fail(f"$float should be 'nan', 'inf' or '-inf', got {value!r:.40}")
            return float(value)
        if tag == "$dtype":
            if not isinstance(value, str) or value not in _DTYPE_BY_NAME:
                raise self.fail(f"$dtype should name a chainrule dtype, got {value!r:.40}")
            return _DTYPE_BY_NAME[value]
        if tag == "$device":
            try:
                return Device(value)
            except (TypeError, ValueError) as e:
                raise self.fail(f"$device: {e}") from None
        if tag == "$ndarray":
            return self.array(value)[0]
        raise self.fail(f"unknown structure tag {tag!r:.40}")

    def array(self, name) -> tuple[np.ndarray, str]:
        if not isinstance(name, str) or name not in self.arrays:
            raise self.fail(f"the structure refers to tensor {name!r:.80}, which is not in the "
                            "file")
        return self.arrays[name], name

    def tensor(self, node: dict) -> Tensor:
        if not set(node) <= self._TENSOR_KEYS:
            unknown = sorted(set(node) - self._TENSOR_KEYS)
            raise self.fail(f"tensor entry has unknown keys {unknown!r:.80}")
        array, name = self.array(node["$tensor"])
        is_param = node.get("parameter", False)
        requires_grad = node.get("requires_grad", False)
        device = node.get("device", "cpu")
        if not isinstance(is_param, bool) or not isinstance(requires_grad, bool):
            raise self.fail(f"tensor {name!r}: 'parameter' and 'requires_grad' should be booleans")
        if not isinstance(device, str):
            raise self.fail(f"tensor {name!r}: 'device' should be a string, got {device!r:.40}")
        if requires_grad and array.dtype.kind != "f":
            raise self.fail(f"tensor {name!r} of dtype {array.dtype} is marked requires_grad; "
                            "only floating-point tensors can require gradients")
        key = (name, repr(sorted(node.items())))
        if key in self.memo:  # the same tensor saved twice loads as one object
            return self.memo[key]
        t = Tensor._make(array)
        t = self.place(t, device, name)
        if is_param:
            from .nn.parameter import Parameter
            t = Parameter(t, requires_grad=requires_grad)
        elif requires_grad:
            t.requires_grad = True
        self.memo[key] = t
        return t

    def place(self, t: Tensor, stored: str, name: str) -> Tensor:
        loc = self.map_location
        try:
            if callable(loc):
                out = loc(t, stored)
                return t if out is None else out
            if isinstance(loc, dict):
                target = loc.get(stored, stored)
            else:
                target = stored if loc is None else loc
            from .backends import Device
            target = Device(target) if not isinstance(target, Device) else target
            if target.type == "cpu" and t.device.type == "cpu":
                return t
            return t.to(target)
        except SerializationError:
            raise
        except Exception as e:  # a device that is missing here is the file's problem to report
            raise self.fail(f"tensor {name!r} was saved on {stored!r} and cannot be placed on "
                            f"{loc if loc is not None else stored!r} ({type(e).__name__}: {e}); "
                            "pass map_location='cpu'") from None


def load(f: PathOrFile, map_location: Any = None, *, weights_only: bool = True,
         mmap: bool | None = None, **kwargs: Any) -> Any:
    """Read what :func:`save` wrote (or any safetensors file) from a path or binary file.

    ``map_location`` moves tensors: a device (``"cpu"``), a dict from saved device to
    device, or a callable ``(tensor, saved_device) -> tensor``. ``weights_only`` and
    ``mmap`` are accepted for ``torch.load`` compatibility: loading never runs code.
    A damaged or hostile file raises :class:`~chainrule.errors.SerializationError`.

    >>> import chainrule as cr, io
    >>> cr.load(io.BytesIO(b"not a checkpoint"))
    Traceback (most recent call last):
    ...
    chainrule.errors.SerializationError: load: BytesIO: the header claims ... bytes, more than ...
    """
    data, where = _read_bytes(f)
    header, meta, start = _parse_header(data, where)
    arrays = _arrays(header, data, start, where)
    decoder = _Decoder(arrays, where, map_location)
    if _META_STRUCTURE not in meta:
        # a plain safetensors file from another tool: its tensors by name
        return {name: decoder.tensor({"$tensor": name}) for name in header}
    version = meta.get(_META_FORMAT)
    if version != FORMAT_VERSION:
        raise _fail(f"load: {where}: chainrule checkpoint format {version!r} is not supported; "
                    f"expected {FORMAT_VERSION!r} (saved by a newer chainrule?)")
    structure = _json(meta[_META_STRUCTURE], "structure in the metadata", where)
    return decoder.decode(structure, 0)
