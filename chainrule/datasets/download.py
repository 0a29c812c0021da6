"""Downloading a file with a checksum check and an atomic write.

The file is streamed into a temporary file beside its destination while its
hash is computed; only a file whose MD5 / SHA-256 matches is renamed into place,
so an interrupted or corrupted download never leaves a file that looks complete.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request

from ..errors import ChainruleError

__all__ = ["download_url", "check_integrity", "DownloadError"]

_CHUNK = 1 << 20


class DownloadError(ChainruleError):
    """A download that failed or whose checksum did not match."""


def _digests(md5: str | None, sha256: str | None) -> dict[str, str]:
    want = {}
    if md5:
        want["md5"] = md5.lower()
    if sha256:
        want["sha256"] = sha256.lower()
    return want


def check_integrity(path: str, md5: str | None = None, sha256: str | None = None) -> bool:
    """True if ``path`` exists and matches every checksum given (any file if none given).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "f")
    >>> with open(p, "wb") as f:
    ...     _ = f.write(b"abc")
    >>> check_integrity(p, md5="900150983cd24fb0d6963f7d28e17f72"), check_integrity(p, md5="0" * 32)
    (True, False)
    """
    if not os.path.isfile(path):
        return False
    want = _digests(md5, sha256)
    hashes = {name: hashlib.new(name) for name in want}
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            for h in hashes.values():
                h.update(chunk)
    return all(hashes[n].hexdigest() == want[n] for n in want)


def download_url(url: str, folder: str, filename: str | None = None, md5: str | None = None,
                 sha256: str | None = None, timeout: float = 60.0) -> str:
    """Download ``url`` into ``folder/filename`` and return the path.

    The checksum(s) given are verified before the file is moved into place; on a
    mismatch nothing is written and :class:`DownloadError` says what was expected
    and what was received.
    """
    filename = filename or os.path.basename(urllib.request.urlparse(url).path) or "download"
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, filename)
    want = _digests(md5, sha256)
    hashes = {name: hashlib.new(name) for name in want}
    fd, tmp = tempfile.mkstemp(prefix="." + filename + ".", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "chainrule"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    for h in hashes.values():
                        h.update(chunk)
            out.flush()
            os.fsync(out.fileno())
        for name, expected in want.items():
            got = hashes[name].hexdigest()
            if got != expected:
                raise DownloadError(f"download_url: {url} has {name} {got}, expected {expected}; "
                                    "the download is corrupt or the file changed upstream")
        os.replace(tmp, path)
    except (urllib.error.URLError, OSError, ValueError) as e:
        _remove(tmp)
        raise DownloadError(f"download_url: could not download {url}: {e}") from e
    except BaseException:
        _remove(tmp)
        raise
    return path


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
