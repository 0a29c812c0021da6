"""A rank's side of the watchdog (see ``_watchdog.py``): start it, and announce clean ends.

``start`` runs once in ``init_process_group`` when there is more than one rank: an
allgather of (host, pid, socket name) tells every rank who shares its host; the host's
lowest rank starts the watchdog process and waits until it watches (tens of
milliseconds, once); a barrier then makes sure no rank runs unwatched. Afterwards a rank
costs nothing until it ends: ``say("B")`` is one datagram. A single-process run starts
nothing.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

_SCRIPT = Path(__file__).with_name("_watchdog.py")


class WatchdogLink:
    """How this rank speaks to its host's watchdog: datagrams to an abstract socket."""

    def __init__(self, address: str, rank: int, process=None) -> None:
        self.address = address
        self.rank = rank
        self.process = process  # the watchdog's Popen, on the rank that started it
        self.lifeline: socket.socket | None = None

    def hold_lifeline(self) -> None:
        """Connect this rank's lifeline: held open for the process's life, it is closed by
        the kernel as the rank dies, the earliest sign the watchdog can get. Best effort."""
        try:
            self.lifeline = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.lifeline.connect(lifeline_address(self.address))
            self.lifeline.sendall(f"L {self.rank}\n".encode("ascii"))
        except OSError:
            self.lifeline = None

    def say(self, kind: str) -> None:
        """``B``: this rank ends cleanly; ``H``: watch it again; ``A``: aborting on purpose.
        Best effort: a watchdog that is gone has nobody left to report."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto(f"{kind} {self.rank}".encode("ascii"), self.address)
        except OSError:
            pass


def lifeline_address(address: str) -> str:
    return address + ".life"


def start(comm) -> WatchdogLink | None:
    """Start (on each host's lowest rank) the process that names ranks that die silently.

    Every rank takes part in the same two collectives whatever fails locally (a socket
    that cannot be bound, a process that cannot start): such a host just goes unwatched.
    """
    if comm.Get_size() == 1 or not sys.platform.startswith("linux"):
        return None  # abstract sockets and pidfds are Linux's
    host, pid, rank = socket.gethostname(), os.getpid(), comm.Get_rank()
    # every rank binds a socket before the allgather, so the host's leader has one
    # bound by the time any rank learns its name (no rank can announce into the void)
    address = f"\0chainrule.distributed.watchdog.{secrets.token_hex(8)}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(address)
    except OSError:
        address = None
    everyone = comm.allgather((host, pid, address))
    local = [(r, p) for r, (h, p, _) in enumerate(everyone) if h == host]
    leader = local[0][0]
    process = None
    if rank == leader and address is not None:
        process = _spawn(sock, {"fd": sock.fileno(), "size": comm.Get_size(), "host": host,
                                "single_host": len(local) == len(everyone), "ranks": local,
                                "life": lifeline_address(address)})
    sock.close()  # the watchdog holds the leader's copy; the name lives while it runs
    comm.Barrier()  # no rank runs on before its watchdog watches
    if everyone[leader][2] is None:
        return None
    link = WatchdogLink(everyone[leader][2], rank, process)
    link.hold_lifeline()
    return link


def _spawn(sock: socket.socket, spec: dict):
    """The watchdog process, once it says every pidfd is open (None if it cannot start).
    In a session of its own: launchers end a rank by signalling its process group (MPICH
    starts each rank as a session leader), and the watchdog must outlive that."""
    try:
        process = subprocess.Popen([sys.executable, "-I", "-S", str(_SCRIPT), json.dumps(spec)],
                                   pass_fds=(sock.fileno(),), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, start_new_session=True)
    except OSError:
        return None
    process.stdout.readline()  # "ready" (or nothing, if it failed)
    process.stdout.close()
    return process
