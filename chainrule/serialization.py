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

>>> import chainrule as cr, io
>>> buf = io.BytesIO()
>>> cr.save({"w": cr.ones(2, 2), "step": 3, "state": {0: {"lr": 0.1}}}, buf)
>>> _ = buf.seek(0)
>>> ckpt = cr.load(buf)
>>> ckpt["w"].shape, ckpt["step"], ckpt["state"][0]
(chainrule.Size([2, 2]), 3, {'lr': 0.1})
"""
from __future__ import annotations

import io
import json
import math
import os
import socket
import struct
import sys
import tempfile
import zlib
from collections import OrderedDict
from typing import Any, BinaryIO, Union

import numpy as np

from .backends import Device
from .dtypes import ALL_DTYPES, DType
from .errors import SerializationError
from .serialization_classes import (add_safe_globals, class_path, clear_safe_globals,  # noqa: F401
                                    get_safe_globals, resolve, safe_globals)
from .tensor import Tensor

__all__ = ["save", "load"]  # (safe_globals & co. are reached as chainrule.serialization.*)

PathOrFile = Union[str, "os.PathLike[str]", BinaryIO]

FORMAT_VERSION = "2"  # "2": with CRC-32 checksums of the header and each tensor
_READABLE_FORMATS = ("1", "2")
_META_PREFIX = "chainrule."
_META_FORMAT = "chainrule.format"
_META_STRUCTURE = "chainrule.structure"
_META_CRC = "chainrule.crc32"  # JSON {tensor name: CRC-32 of its bytes}
_META_HEADER_CRC = "chainrule.header_crc32"  # 8 hex digits: the header with this value blanked
_CRC_BLANK = "00000000"
_MAX_HEADER = 100_000_000  # the safetensors reference implementation's limit
# at most this many JSON items (counted as , : [ {) in a header: parsing them costs at most
# some hundred MB; a chainrule checkpoint needs about 25 per tensor
_MAX_HEADER_TOKENS = 2_000_000
_MAX_DEPTH = 200  # nesting of the Python structure (a hostile file must not recurse forever)
_MAX_NDIM = 32
_MAX_INT_BITS = 13000  # about 3,900 digits: under Python's 4,300-digit parsing limit
_DTYPE_BY_NAME = {d.name: d for d in ALL_DTYPES}

# safetensors dtype names <-> little-endian NumPy dtypes that chainrule tensors can hold
_DTYPES = {"BOOL": np.dtype("?"), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
           "I16": np.dtype("<i2"), "I32": np.dtype("<i4"), "I64": np.dtype("<i8"),
           "F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_NAMES = {dt.newbyteorder("="): name for name, dt in _DTYPES.items()}
_KNOWN_OTHER = {"F8_E4M3", "F8_E5M2", "U16", "U32", "U64", "C64", "F4", "F6_E2M3",
                "F6_E3M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ"}


def _bfloat16_entry(name: str) -> None:
    """Add BF16 to the tables above, once ml_dtypes is loaded (asking for the dtype loads it,
    or raises the error that names the extra)."""
    if name == "BF16" and "BF16" not in _DTYPES:
        from .dtypes import bfloat16
        _DTYPES["BF16"] = bfloat16.np
        _NAMES[bfloat16.np] = "BF16"


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
    prefix = _temp_prefix(os.path.basename(path))
    _remove_stale_temporaries(directory, os.path.basename(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix + f"{os.getpid()}-", dir=directory)
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


_HOST = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())[:40]


def _temp_prefix(basename: str, host: str = _HOST) -> str:
    """``NAME.incomplete-save.HOST.`` (then ``PID-RANDOM``): says what it is and whose it is."""
    return f"{basename}.incomplete-save.{host}."


def _remove_stale_temporaries(directory: str, basename: str) -> None:
    """Delete temporaries of this target left by killed saves on this machine.

    A temporary is stale when the process named in it (this host, that PID) is gone. A live
    writer's (another process saving the same target now, or this process's other threads)
    is kept, and so is one from another host sharing the folder (its PID means nothing
    here). A dead writer's PID taken by a new process keeps its file until that one ends.
    """
    prefix = _temp_prefix(basename)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix):
            continue
        pid_text = name[len(prefix):].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _alive(int(pid_text)):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass  # another save removed it first, or the folder is read-only: not our failure


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists (another user's), or cannot tell: keep its file
    return True


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

class _Reader:
    """Reads a file or stream in pieces, so each tensor is read into its own array.

    Nothing is read into a buffer that outlives the load: a tensor kept from a loaded
    file owns only its own bytes, never the whole file's.
    """

    def __init__(self, f: PathOrFile) -> None:
        self.close = lambda: None
        if hasattr(f, "read"):
            self.where = str(getattr(f, "name", None) or type(f).__name__)
            stream = f
            try:
                probe = f.read(0)  # a text stream answers with str
                if not isinstance(probe, (bytes, bytearray, memoryview)):
                    self._not_binary(probe)
                seekable = bool(getattr(f, "seekable", lambda: False)())
                if seekable:
                    begin = f.tell()
                    f.seek(0, os.SEEK_END)
                    self.size = f.tell() - begin
                    f.seek(begin)
                else:  # a pipe or socket: its length is only known once it is read
                    data = f.read()
                    if not isinstance(data, (bytes, bytearray, memoryview)):
                        self._not_binary(data)
                    stream = io.BytesIO(data)
                    self.size = len(data)
            except (OSError, ValueError) as e:
                raise _fail(f"load: could not read from {self.where}: {e}") from e
        else:
            path = os.fspath(f)
            self.where = repr(path)
            try:
                stream = open(path, "rb")
                self.size = os.fstat(stream.fileno()).st_size
            except OSError as e:
                raise _fail(f"load: could not read {path!r}: {e}") from e
            self.close = stream.close
        self.stream = stream

    def _not_binary(self, data) -> None:
        raise _fail(f"load: expected a binary file, but read() returned {type(data).__name__}")

    def read_into(self, view: memoryview, what: str) -> None:
        """Fill ``view`` (a writable byte view) from the stream, or fail naming ``what``."""
        got, size = 0, len(view)
        try:
            while got < size:
                if hasattr(self.stream, "readinto"):
                    n = self.stream.readinto(view[got:])
                else:
                    chunk = self.stream.read(min(size - got, 1 << 24))
                    if not isinstance(chunk, (bytes, bytearray, memoryview)):
                        self._not_binary(chunk)
                    n = len(chunk)
                    view[got:got + n] = chunk
                if not n:
                    break
                got += n
        except (OSError, ValueError) as e:
            raise _fail(f"load: could not read {what} from {self.where}: {e}") from e
        if got != size:
            raise _fail(f"load: {self.where} changed while it was read (expected {size} bytes of "
                        f"{what}, got {got})")

    def read(self, n: int, what: str) -> bytearray:
        out = bytearray(n)
        self.read_into(memoryview(out), what)
        return out


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


def _parse_header(reader: _Reader) -> tuple[dict, dict, bytearray]:
    """Read and validate the header; return (tensor entries, metadata, raw header bytes)."""
    where = reader.where
    if reader.size < 8:
        raise _fail(f"load: {where} is {reader.size} bytes long, too short for a safetensors file "
                    "(expected an 8-byte header length first); the file is truncated or not a "
                    "checkpoint")
    (n,) = struct.unpack("<Q", reader.read(8, "the header length"))
    if n > _MAX_HEADER:
        raise _fail(f"load: {where}: the header claims {n} bytes, more than the "
                    f"{_MAX_HEADER}-byte limit; the file is corrupt or not a safetensors file")
    if n > reader.size - 8:
        raise _fail(f"load: {where}: the header claims {n} bytes but only {reader.size - 8} "
                    "follow the length field; the file is truncated or corrupt")
    if n < 2:
        raise _fail(f"load: {where}: the header length is {n}; expected a JSON object")
    raw = reader.read(n, "the header")
    # JSON objects cost far more memory than their text: bound their number before parsing
    tokens = sum(raw.count(c) for c in (b",", b":", b"[", b"{"))
    if tokens > _MAX_HEADER_TOKENS:
        raise _fail(f"load: {where}: the header holds {tokens} JSON items, more than the "
                    f"{_MAX_HEADER_TOKENS} that loading allows; the file is corrupt or hostile")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _fail(f"load: {where}: the header is not UTF-8 text ({e}); the file is corrupt or "
                    "not a safetensors file") from None
    if not text.startswith("{"):
        raise _fail(f"load: {where}: the header should start with '{{', got {text[:8]!r}; the "
                    "file is corrupt or not a safetensors file")
    header = _json(text, "header", where)
    del text
    if not isinstance(header, dict):
        raise _fail(f"load: {where}: the header should be a JSON object, got "
                    f"{type(header).__name__}")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise _fail(f"load: {where}: '__metadata__' should map strings to strings, got "
                    f"{meta!r:.80}")
    return header, meta, raw


def _header_crc(raw: bytearray, stored: str) -> int:
    """CRC-32 of the header text with its own checksum value blanked out."""
    return zlib.crc32(raw.replace(_crc_field(stored), _crc_field(_CRC_BLANK), 1))


def _crc_field(value: str) -> bytes:
    return json.dumps({_META_HEADER_CRC: value}, separators=(",", ":"))[1:-1].encode()


def _checksums(meta: dict, raw: bytearray, names, where: str) -> dict[str, int] | None:
    """The per-tensor CRC-32s of a checksummed file (None for files without), after
    verifying the header's own checksum."""
    version = meta.get(_META_FORMAT)
    if version == "1":  # written before checksums existed
        if _META_CRC in meta or _META_HEADER_CRC in meta:  # e.g. a flipped bit in "2"
            raise _fail(f"load: {where}: format '1' files have no checksums, but this one has; "
                        "the file is corrupt")
        return None
    missing = [k for k in (_META_HEADER_CRC, _META_CRC) if k not in meta]
    if missing:
        raise _fail(f"load: {where}: the metadata lacks {', '.join(missing)}, which format "
                    f"{version!r} files always have; the file is corrupt")
    stored = meta[_META_HEADER_CRC]
    if raw.count(_crc_field(stored)) != 1 or \
            f"{_header_crc(raw, stored):08x}" != stored:
        raise _fail(f"load: {where}: the header does not match its checksum {stored!r:.20}; the "
                    "file is corrupt or was edited")
    crcs = _json(meta[_META_CRC], "tensor checksum list", where)
    if not isinstance(crcs, dict) or set(crcs) != set(names) or \
            not all(_is_int(v) and 0 <= v < 2 ** 32 for v in crcs.values()):
        raise _fail(f"load: {where}: the tensor checksums should give one CRC-32 per tensor; "
                    "the file is corrupt")
    return crcs


def _check_entry(name: str, entry, body_len: int, where: str) -> tuple[np.dtype, tuple, int, int]:
    bad = f"load: {where}: tensor {name!r}"
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _fail(f"{bad} should be an object with exactly 'dtype', 'shape' and "
                    f"'data_offsets', got {entry!r:.120}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    _bfloat16_entry(dtype)
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


def _arrays(header: dict, reader: _Reader, start: int, crcs: dict[str, int] | None
            ) -> dict[str, np.ndarray]:
    where = reader.where
    body_len = reader.size - start
    entries = {name: _check_entry(name, e, body_len, where) for name, e in header.items()}
    # the tensors must tile the data section exactly: no gaps, no overlaps, nothing after
    position = 0
    ordered = sorted(entries.items(), key=lambda kv: kv[1][2:])
    for name, (_, _, begin, end) in ordered:
        if begin != position:
            raise _fail(f"load: {where}: tensor {name!r} starts at byte {begin} of the data "
                        f"section, expected {position} (tensors overlap or leave a gap)")
        position = end
    if position != body_len:
        raise _fail(f"load: {where}: the data section has {body_len} bytes but the tensors cover "
                    f"{position}; the file has trailing or missing data")
    out = {}
    # read in file order; each array owns its bytes (the file's size vouches for them)
    for name, (np_dtype, shape, begin, end) in ordered:
        try:
            array = np.empty(shape, dtype=np_dtype)
        except (ValueError, TypeError, MemoryError) as e:
            raise _fail(f"load: {where}: tensor {name!r} of shape {list(shape)} cannot be "
                        f"made ({e})") from None
        raw = array.reshape(-1).view(np.uint8)
        reader.read_into(memoryview(raw), f"tensor {name!r}")
        if crcs is not None and zlib.crc32(raw) != crcs[name]:
            raise _fail(f"load: {where}: tensor {name!r} does not match its checksum; the file is "
                        "corrupt")
        if np_dtype.kind == "b" and array.size and raw.max() > 1:
            # NumPy would keep the stray byte and compare unequal to True
            raise _fail(f"load: {where}: tensor {name!r} is BOOL but holds bytes other than 0 "
                        "and 1; the file is corrupt")
        if np_dtype.byteorder not in ("=", "|") and not np_dtype.isnative:
            array = array.astype(np_dtype.newbyteorder("="))
        out[name] = array
    return out


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
