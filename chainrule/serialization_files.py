"""Writing a checkpoint to a path atomically, and clearing what killed writers left.

Split from ``serialization.py`` (which imports ``write_atomically`` from here): the bytes
go to a temporary file in the target's directory (``NAME.incomplete-save.HOST.PID-XXXX``),
which is flushed, fsynced and then renamed over the target, so a crash or a failing write
leaves any previous file untouched. A writer killed mid-save leaves its temporary; the next
save of the same target removes those whose process (on this host) is gone, never a live
writer's. Nothing here knows the file format: ``write`` is given the open file.
"""
from __future__ import annotations

import os
import socket
import tempfile
from typing import BinaryIO, Callable

from .serialization_format import PathOrFile, _fail


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def write_atomically(f: PathOrFile, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a temporary beside ``f`` and rename it over ``f`` (through a symlink
    to its target), keeping an existing file's permissions; on any failure the previous
    file is unchanged and the temporary removed."""
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
            write(out)
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
