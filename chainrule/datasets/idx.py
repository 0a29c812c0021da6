"""The IDX file format of MNIST-style data sets: read (raw or gzipped) and write.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values, big-endian,
in C order. :func:`read_idx` checks each of these against the file and raises
:class:`IDXError` naming what was expected and what was found.

>>> import os, tempfile, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "x-idx2-ubyte.gz")
>>> write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
>>> read_idx(path)
array([[0, 1, 2],
       [3, 4, 5]], dtype=uint8)
"""
from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from typing import BinaryIO, Union

import numpy as np

from ..errors import ChainruleError

__all__ = ["read_idx", "write_idx", "IDXError"]

_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {dt.newbyteorder("="): code for code, dt in _TYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


class IDXError(ChainruleError, ValueError):
    """An IDX file whose header or size does not match the format."""


def _read_exact(stream, n: int, what: str, where: str) -> bytes:
    # grows with the data actually present, so a lying header cannot force a huge allocation
    parts, got = [], 0
    while got < n:
        chunk = stream.read(min(_CHUNK, n - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    if got < n:
        raise IDXError(f"read_idx: {where}: expected {n} bytes of {what}, but the file ends after "
                       f"{got}; the file is truncated")
    return b"".join(parts)


def _parse(stream, where: str) -> np.ndarray:
    magic = _read_exact(stream, 4, "magic number", where)
    if magic[0] != 0 or magic[1] != 0:
        raise IDXError(f"read_idx: {where}: the magic number should start with two zero bytes, "
                       f"got {magic.hex()}; this is not an IDX file")
    code, ndim = magic[2], magic[3]
    if code not in _TYPES:
        raise IDXError(f"read_idx: {where}: unknown data type code 0x{code:02x}; expected one of "
                       + ", ".join(f"0x{c:02x}" for c in _TYPES))
    if ndim == 0:
        raise IDXError(f"read_idx: {where}: the header declares 0 dimensions; expected at least 1")
    dims = struct.unpack(f">{ndim}I", _read_exact(stream, 4 * ndim, f"{ndim} dimension sizes",
                                                  where))
    dtype = _TYPES[code]
    count = 1
    for d in dims:
        count *= d
    data = _read_exact(stream, count * dtype.itemsize,
                       f"data for shape {tuple(dims)} of {dtype.newbyteorder('=')}", where)
    if stream.read(1):
        raise IDXError(f"read_idx: {where}: the file has data after the {count} values of shape "
                       f"{tuple(dims)}; the header's dimensions do not match the file's size")
    array = np.frombuffer(data, dtype=dtype).reshape(dims)
    return array.astype(dtype.newbyteorder("="))  # native byte order, and a writable copy


def read_idx(file: Union[str, "os.PathLike[str]", BinaryIO]) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed, detected from its first bytes)."""
    own = not hasattr(file, "read")
    where = repr(os.fspath(file)) if own else repr(getattr(file, "name", type(file).__name__))
    try:
        stream = open(file, "rb") if own else file
    except OSError as e:
        raise IDXError(f"read_idx: cannot open {where}: {e}") from e
    try:
        if hasattr(stream, "peek"):
            head = stream.peek(2)[:2]
        elif getattr(stream, "seekable", lambda: False)():
            pos = stream.tell()
            head = stream.read(2)
            stream.seek(pos)
        else:  # a one-way stream: buffer it so the first bytes can be looked at
            stream = io.BytesIO(stream.read())
            head = stream.getvalue()[:2]
        if head == _GZIP_MAGIC:
            try:
                with gzip.GzipFile(fileobj=stream) as gz:
                    return _parse(gz, where)
            except (OSError, EOFError, zlib.error) as e:
                raise IDXError(f"read_idx: {where}: the gzip data is corrupt or truncated ({e})"
                               ) from None
        return _parse(stream, where)
    finally:
        if own:
            stream.close()


def write_idx(path: Union[str, "os.PathLike[str]"], array: np.ndarray,
              compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzip-compressed if ``compress`` or the name ends .gz)."""
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        raise IDXError(f"write_idx: dtype {array.dtype} has no IDX type code; expected one of "
                       + ", ".join(str(d.newbyteorder('=')) for d in _TYPES.values()))
    if array.ndim == 0 or array.ndim > 255:
        raise IDXError(f"write_idx: expected 1 to 255 dimensions, got {array.ndim}")
    code = _CODES[native]
    blob = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) \
        + np.asarray(array, dtype=_TYPES[code], order="C").tobytes()
    if compress or (compress is None and os.fspath(path).endswith(".gz")):
        blob = gzip.compress(blob, mtime=0)
    with open(path, "wb") as f:
        f.write(blob)
