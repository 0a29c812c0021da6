"""The watchdog process: names a rank that died without a word, then ends its host's ranks.

A rank killed by a signal (``kill -9``, the OOM killer) cannot say anything, and the
launcher kills the other ranks at once (MPICH's mpiexec sends SIGTERM then SIGKILL, back
to back), so no thread inside a rank lives long enough to report it. This small process
is outside the launcher's kill list: one per host, started by the host's lowest rank in
``init_process_group``, it holds a pidfd for each rank of its host (the kernel wakes it the
moment one exits; no polling), a *lifeline* per rank (a stream connection the rank holds
open: the kernel closes it while tearing the rank down, before the rank's pidfd turns
readable, so the watchdog hears of a death no later than the launcher does) and a
datagram socket on which ranks announce a clean end
(``B``: ``destroy_process_group`` or interpreter exit), a re-start (``H``) or an abort on
purpose (``A``: the exception hook, which names the rank itself). A rank that vanishes
while no rank has announced an end is named on stderr, and the host's other ranks are
killed so that every launcher notices. Once any rank has ended (cleanly or by the hook),
later deaths may be the launcher's clean-up and are not named.

Run as a script with the standard library only (``python -I -S _watchdog.py SPEC``: it
imports neither chainrule nor NumPy, so it starts in milliseconds). SPEC is JSON:
``{"fd": datagram socket fd, "life": abstract address for lifelines (optional), "size":
world size, "host": hostname, "single_host": bool, "ranks": [[rank, pid], ...]}``. It writes
``ready`` to stdout once every pidfd is open and lifelines can connect. A rank's lifeline
starts with ``L <rank>\n``; its end (EOF or reset) is that rank's death.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

POLL_S = 0.5  # fallback without pidfds (not Linux ≥ 5.3): how often pids are checked


class Watch:
    """The ranks of this host still running, their pidfds, and what the ranks announced."""

    def __init__(self, ranks: list[tuple[int, int]]) -> None:
        self.pid = dict(ranks)
        # ranks that announced a clean end (and no re-start since): once one has, the job is
        # ending, and the launcher may end the rest (MPICH does for a non-zero exit code);
        # such deaths are no news
        self.ended: set[int] = set()
        self.fd: dict[int, int] = {}
        self.quiet = False  # the job is ending on purpose: say nothing more
        for r, pid in ranks:
            try:
                self.fd[r] = os.pidfd_open(pid)
            except ProcessLookupError:
                self.fd[r] = -1  # already gone: judged at the first look
            except (AttributeError, OSError):
                break  # no pidfds here: poll the pids instead
        else:
            return
        for fd in self.fd.values():
            if fd >= 0:
                os.close(fd)
        self.fd = {}

    def gone(self, ready_fds: set[int]) -> list[int]:
        """The watched ranks that have exited (pidfd readable, or pid no longer there)."""
        if self.fd:
            return sorted(r for r in self.pid if self.fd[r] < 0 or self.fd[r] in ready_fds)
        dead = []
        for r, pid in self.pid.items():
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                dead.append(r)
            except PermissionError:
                pass
        return dead

    def hear(self, sock: socket.socket) -> None:
        """Apply every announcement waiting on the socket (sent before the sender's exit,
        so it is queued before the sender's pidfd turns readable)."""
        while True:
            try:
                data = sock.recv(64)
            except (BlockingIOError, InterruptedError):
                return
            kind, _, rank = data.decode("ascii", "replace").partition(" ")
            r = int(rank) if rank.strip().isdigit() else -1
            if kind == "A":
                self.quiet = True
            elif kind == "B":
                self.ended.add(r)
            elif kind == "H":
                self.ended.discard(r)

    def forget(self, r: int) -> None:
        if self.fd.get(r, -1) >= 0:
            os.close(self.fd[r])
        self.fd.pop(r, None)
        del self.pid[r]

    def kill_the_rest(self) -> None:
        for r, pid in self.pid.items():
            try:
                if self.fd.get(r, -1) >= 0:
                    signal.pidfd_send_signal(self.fd[r], signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


class Lifelines:
    """The ranks' lifeline connections. Why not the pidfd alone: a rank with many threads
    and a large address space takes a while to tear down, and its pidfd turns readable only
    at the very end; meanwhile the launcher (which sees the rank's pipes close) may already
    have killed a smaller rank, whose pidfd then fires first and the wrong rank is blamed
    (seen on a loaded CI machine). A socket closes early in the teardown, with the pipes."""

    def __init__(self, address: str | None) -> None:
        self.listener = None
        self.rank_of: dict[int, int | None] = {}  # connection fd -> rank (None until hello)
        self.conns: dict[int, socket.socket] = {}
        if address:
            try:
                self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.listener.bind(address)
                self.listener.listen(256)
                self.listener.setblocking(False)
            except OSError:
                self.listener = None

    def accept(self, poller) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # none waiting (BlockingIOError), or the listener is gone
                return
            conn.setblocking(False)
            self.conns[conn.fileno()] = conn
            self.rank_of[conn.fileno()] = None
            poller.register(conn.fileno(), select.POLLIN)

    def closed(self, fd: int, poller) -> int | None:
        """Read what the connection ``fd`` has; the rank whose lifeline ended, else None."""
        conn = self.conns[fd]
        ended = False
        try:
            while True:
                data = conn.recv(64)
                if not data:
                    ended = True
                    break
                kind, _, rank = data.decode("ascii", "replace").strip().partition(" ")
                if kind == "L" and rank.isdigit():
                    self.rank_of[fd] = int(rank)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            ended = True
        if not ended:
            return None
        poller.unregister(fd)
        conn.close()
        del self.conns[fd]
        return self.rank_of.pop(fd)


def report(spec: dict, watch: Watch, ranks: list[int]) -> None:
    """One line naming the rank that died. When several are found gone at one wake-up (a
    loaded machine can run the launcher's clean-up before this process), which went first is
    unknowable: the line names them all rather than blame one at random."""
    if len(ranks) == 1:
        (r,) = ranks
        who = f"rank {r} of {spec['size']} (pid {watch.pid[r]} on {spec['host']}) died"
    else:
        who = (f"ranks {', '.join(map(str, ranks))} of {spec['size']} (pids "
               f"{', '.join(str(watch.pid[r]) for r in ranks)} on {spec['host']}) died at one "
               "moment (one first, the launcher then ending the others?)")
    sys.stderr.write(f"chainrule.distributed: {who} without a word (killed?); aborting all ranks\n")
    sys.stderr.flush()


def run(spec: dict) -> int:
    sock = socket.socket(fileno=spec["fd"])
    sock.setblocking(False)
    watch = Watch([(int(r), int(p)) for r, p in spec["ranks"]])
    lifelines = Lifelines(spec.get("life"))

    def hush(signum, frame):  # an interrupt sent to its session: the job ends on purpose
        watch.quiet = True
    signal.signal(signal.SIGINT, hush)  # (SIGTERM keeps its default: it ends the watchdog)
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    for fd in watch.fd.values():
        if fd >= 0:
            poller.register(fd, select.POLLIN)
    if lifelines.listener is not None:
        poller.register(lifelines.listener, select.POLLIN)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdout.close()

    def gone_in(events) -> set:
        """The ranks these poll events show gone (pidfd readable or lifeline ended)."""
        watch.hear(sock)
        ready = {fd for fd, _ in events}
        cut = set()  # ranks whose lifeline ended
        for fd in ready:
            if lifelines.listener is not None and fd == lifelines.listener.fileno():
                lifelines.accept(poller)
            elif fd in lifelines.conns:
                cut.add(lifelines.closed(fd, poller))
        return set(watch.gone(ready)) | (cut & set(watch.pid))

    while watch.pid:
        try:
            wait = 0 if -1 in watch.fd.values() else None if watch.fd else POLL_S * 1000
            events = poller.poll(wait)
        except InterruptedError:
            events = []
        dead = gone_in(events)
        # a wake-up's events may be stale (this process held still between its poll and
        # here, as on a loaded machine): before judging, look again at once until no more
        # deaths (or lifelines just accepted) show, so every death already evident is seen
        looked = (set(), -1)
        while dead and looked != (dead, len(lifelines.conns)):
            looked = (set(dead), len(lifelines.conns))
            dead |= gone_in(poller.poll(0))
        dead = sorted(dead)
        silent = [] if watch.quiet or watch.ended else dead
        still_running = len(watch.pid) - len(dead)
        # ranks spread over hosts: when every rank of this host goes at once, it may be the
        # launcher ending the job for a rank that died elsewhere; that host names it
        named = silent and (spec["single_host"] or still_running > 0)
        if named:
            report(spec, watch, silent)
        for r in dead:
            if watch.fd.get(r, -1) >= 0:
                poller.unregister(watch.fd[r])
            watch.forget(r)
        if named:
            watch.kill_the_rest()
            return 1
    return 0


if __name__ == "__main__":
    code = run(json.loads(sys.argv[1]))
    sys.stderr.flush()
    os._exit(code)  # at once: no interpreter teardown to outlast the ranks it ended
