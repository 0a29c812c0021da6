"""The safetensors layout as chainrule reads and checks it: tables, limits, header and bytes.

Split from ``serialization.py`` (which imports every name here back): this is the file
format layer, below the Python-structure encoding and decoding. It holds the format's
constants (metadata keys, size and depth limits, the safetensors dtype names), the
bounded ``_Reader`` over a path or file, and the checks that turn a header and a byte
range into NumPy arrays (``_parse_header``, ``_checksums``, ``_check_entry``,
``_arrays``): every size, offset, dtype and checksum is verified before anything is
allocated, and every fault is a :class:`~chainrule.errors.SerializationError`.
"""
from __future__ import annotations

import io
import json
import math
import os
import struct
import zlib
from typing import BinaryIO, Union

import numpy as np

from .dtypes import ALL_DTYPES
from .errors import SerializationError

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
