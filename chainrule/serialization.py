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

Integrity: files from this version (format "2") carry a CRC-32 of each tensor's bytes
and of the header in ``__metadata__``; ``load`` verifies them, so flipped bits are an
error, never silently different numbers. Files without checksums (format "1", other
safetensors writers) still load. Each loaded tensor owns only its own bytes, and a
header is refused when over 100 MB or over ``_MAX_HEADER_TOKENS`` JSON items, which
bounds the memory that parsing it takes.

Writes to a path are atomic: the bytes go to a temporary file in the target's directory
(``NAME.incomplete-save.HOST.PID-XXXX``), which is flushed, fsynced and then renamed
over the target, so a crash or a failing write leaves any previous file untouched. A
writer killed mid-save leaves its temporary; the next save of the same target removes
those whose process (on this host) is gone, never a live writer's.

This file encodes and decodes the Python structure; the file format layer (limits,
header and byte checks) is ``serialization_format.py``, the atomic write
``serialization_files.py``, and which classes a file may name ``serialization_classes.py``.

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
import struct
import sys
import zlib
from collections import OrderedDict
from typing import Any, BinaryIO

import numpy as np

from .backends import Device
from .dtypes import DType
from .errors import SerializationError
from .serialization_classes import (add_safe_globals, class_path, clear_safe_globals,  # noqa: F401
                                    get_safe_globals, resolve, safe_globals)
from .serialization_files import (_FILE_MODE, _HOST, _alive, _fsync_directory,  # noqa: F401
                                   _remove_stale_temporaries, _temp_prefix, _umask,
                                   write_atomically)
from .serialization_format import (  # noqa: F401  (the file format layer)
    FORMAT_VERSION, PathOrFile, _CRC_BLANK, _DTYPES, _DTYPE_BY_NAME, _KNOWN_OTHER, _MAX_DEPTH,
    _MAX_HEADER, _MAX_HEADER_TOKENS, _MAX_INT_BITS, _MAX_NDIM, _META_CRC, _META_FORMAT,
    _META_HEADER_CRC, _META_PREFIX, _META_STRUCTURE, _NAMES, _READABLE_FORMATS, _Reader,
    _arrays, _bfloat16_entry, _check_entry, _checksums, _crc_field, _fail, _header_crc,
    _is_int, _json, _no_duplicates, _parse_header, _reject_constant,
)
from .tensor import Tensor

__all__ = ["save", "load"]  # (safe_globals & co. are reached as chainrule.serialization.*)


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
        if native.kind == "V" and native.name == "bfloat16":
            _bfloat16_entry("BF16")
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
        if isinstance(obj, (set, frozenset)):  # (a module's names of non-persistent buffers)
            for v in obj:
                if not (v is None or isinstance(v, (bool, int, float, str))):
                    raise _fail(f"save: the set at '{path}' holds {v!r:.60}; sets may hold str, "
                                "int, float, bool or None")
            return {"$set": [self.encode(v, path, depth + 1) for v in obj]}
        if _is_object(obj):
            from .nn.module import Module
            state = obj._saved_state() if isinstance(obj, Module) else getattr(obj, "__dict__", None)
            if state is None:
                raise _fail(f"save: the {type(obj).__name__} at '{path or '<root>'}' keeps its "
                            "state in __slots__; only objects with a __dict__ can be stored")
            return {"$object": [class_path(type(obj)), self.encode(dict(state), path, depth + 1)]}
        if _is_named_global(obj):  # a function or class kept as a value (activation=F.relu)
            return {"$global": class_path(obj)}
        raise _fail(f"save: cannot store a value of type {type(obj).__name__} at "
                    f"'{path or '<root>'}'; expected tensors, NumPy arrays, dicts, lists, tuples, "
                    "int, float, bool, str, None, dtypes or devices")


def _is_named_global(obj: Any) -> bool:
    """Whether ``obj`` is a function or class that its import path names (no lambda or local)."""
    import inspect
    if not (inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.isclass(obj)):
        return False
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    return module is not None and "<" not in obj.__qualname__ and \
        resolve(class_path(obj), False, classes_only=False) is obj


def _is_object(obj: Any) -> bool:
    """Whether ``obj`` is stored as its class and attributes: a module, or an allowed class."""
    from .nn.module import Module
    return isinstance(obj, Module) or resolve(class_path(type(obj)), True) is type(obj)


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
    meta = header["__metadata__"]
    meta[_META_CRC] = json.dumps({n: zlib.crc32(_bytes_of(a)) for n, a in zip(names, chunks)},
                                 separators=(",", ":"))
    meta[_META_HEADER_CRC] = _CRC_BLANK
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)  # the body starts 8-byte aligned
    # the header's checksum covers the header itself, written where the blank stood
    text = text.replace(_crc_field(_CRC_BLANK), _crc_field(f"{zlib.crc32(text):08x}"), 1)
    return struct.pack("<Q", len(text)) + text, chunks


def _bytes_of(array: np.ndarray) -> memoryview:
    return memoryview(array.reshape(-1).view(np.uint8))


def _write_all(f: BinaryIO, head: bytes, chunks: list[np.ndarray]) -> None:
    f.write(head)
    for array in chunks:
        if array.size:
            f.write(_bytes_of(array))


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
    write_atomically(f, lambda out: _write_all(out, head, chunks))


# --------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------

class _Decoder:
    """Rebuilds the Python structure, resolving tensor references."""

    _TENSOR_KEYS = {"$tensor", "parameter", "requires_grad", "device"}

    weights_only = True  # which classes ``$object`` entries may name (serialization_classes)

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
        if tag == "$object":
            return self.object(value, depth)
        if tag == "$set":
            if not isinstance(value, list):
                raise self.fail(f"$set should hold a list, got {type(value).__name__}")
            items = [self.decode(v, depth + 1) for v in value]
            if not all(v is None or isinstance(v, (bool, int, float, str)) for v in items):
                raise self.fail("$set items should be str, int, float, bool or None")
            return set(items)
        if tag == "$global":
            found = resolve(value, self.weights_only, classes_only=False) \
                if isinstance(value, str) else None
            if found is None:
                raise self.fail(f"the file refers to {str(value).replace(':', '.')!r:.120}, which "
                                "load does not look up unless allowed (see safe_globals)")
            return found
        raise self.fail(f"unknown structure tag {tag!r:.40}")

    def object(self, value: Any, depth: int) -> Any:
        """An object rebuilt from its class (if allowed) and attributes; no code of the file runs."""
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
                and isinstance(value[1], dict)):
            raise self.fail("$object should hold [class path, attributes]")
        path = value[0]
        cls = resolve(path, self.weights_only)
        if cls is None:
            name = path.replace(":", ".")
            raise self.fail(f"the file holds an object of class {name}, which load does not rebuild "
                            "unless allowed: call chainrule.serialization.add_safe_globals([" +
                            path.rpartition(":")[2].rpartition(".")[2] + "]) or load inside "
                            "`with chainrule.serialization.safe_globals([...])` (or, for classes "
                            "your program has imported, load(..., weights_only=False))")
        state = self.decode(value[1], depth + 1)
        if not all(isinstance(k, str) for k in state):
            raise self.fail(f"the attributes of a {path} must have str names")
        from .nn.module import Module
        if issubclass(cls, Module):
            return Module._from_saved_state(cls, state)
        obj = cls.__new__(cls)
        try:
            obj.__dict__.update(state)
        except AttributeError:
            raise self.fail(f"objects of class {path} have no __dict__ to restore") from None
        return obj

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
        if requires_grad and array.dtype.kind not in "fV":
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
    device, or a callable ``(tensor, saved_device) -> tensor``. A whole module saved with
    ``save(model, f)`` is rebuilt from chainrule's own classes and those allowed through
    :func:`~chainrule.serialization_classes.safe_globals` (with ``weights_only=False``, also
    classes of modules the program has imported): see ``chainrule/serialization_classes.py``.
    ``mmap`` is accepted for ``torch.load`` compatibility. Loading never runs code from the file.
    A damaged or hostile file raises :class:`~chainrule.errors.SerializationError`.

    >>> import chainrule as cr, io
    >>> cr.load(io.BytesIO(b"not a checkpoint"))
    Traceback (most recent call last):
    ...
    chainrule.errors.SerializationError: load: BytesIO: the header claims ... bytes, more than ...
    """
    reader = _Reader(f)
    try:
        return _load(reader, map_location, bool(weights_only))
    except (MemoryError, RecursionError) as e:  # a hostile size that got past the checks
        raise _fail(f"load: {reader.where}: the file needs more than this machine can give "
                    f"({type(e).__name__}); it is corrupt or too large") from None
    finally:
        reader.close()


def _load(reader: _Reader, map_location: Any, weights_only: bool = True) -> Any:
    where = reader.where
    header, meta, raw = _parse_header(reader)
    # a chainrule file is one with any chainrule key: a damaged key must not make it "plain"
    ours = any(k.startswith(_META_PREFIX) for k in meta)
    version = meta.get(_META_FORMAT)
    if ours and version not in _READABLE_FORMATS:
        raise _fail(f"load: {where}: chainrule checkpoint format {version!r} is not supported; "
                    f"expected one of {', '.join(map(repr, _READABLE_FORMATS))} (saved by a newer "
                    "chainrule, or damaged)")
    crcs = _checksums(meta, raw, header, where) if ours else None
    arrays = _arrays(header, reader, 8 + len(raw), crcs)
    decoder = _Decoder(arrays, where, map_location)
    decoder.weights_only = weights_only
    if not ours:
        # a plain safetensors file from another tool: its tensors by name
        return {name: decoder.tensor({"$tensor": name}) for name in header}
    if _META_STRUCTURE not in meta:
        raise _fail(f"load: {where}: the metadata lacks {_META_STRUCTURE}; the file is corrupt")
    structure = _json(meta[_META_STRUCTURE], "structure in the metadata", where)
    return decoder.decode(structure, 0)
