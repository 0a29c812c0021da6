"""The watchdog process (chainrule/distributed/_watchdog.py) on stand-in ranks: ``sleep``
processes it watches, and the datagrams a rank sends at a clean end. Needs no MPI."""
from __future__ import annotations

import json
import secrets
import signal
import socket
import subprocess
import sys
import time

import pytest

from chainrule.distributed import _watchdog_client
from chainrule.distributed._watchdog_client import WatchdogLink

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the watchdog uses Linux's pidfds and abstract sockets")


LIFELINED_RANK = """
import ast, socket, sys, time
rank, address = sys.stdin.readline().split(" ", 1)
line = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
line.connect(ast.literal_eval(address))
line.sendall(f"L {rank}\\n".encode())
print("connected", flush=True)
sys.stdin.readline()
line.close()
print("closed", flush=True)
time.sleep(60)
"""


class Host:
    """``n`` stand-in ranks and the watchdog watching them, as ``init_process_group``
    starts it."""

    def __init__(self, n: int, size: int | None = None, single_host: bool = True,
                 gone_before: tuple[int, ...] = (), lifelines: bool = False) -> None:
        # with lifelines, a stand-in rank is a Python process holding one, as a real rank
        # does after init_process_group; "cut" on its stdin closes it while the process
        # lingers (a rank whose teardown is slow)
        command = [sys.executable, "-c", LIFELINED_RANK] if lifelines else ["sleep", "60"]
        self.ranks = [subprocess.Popen(command, stdin=subprocess.PIPE, text=True,
                                       stdout=subprocess.PIPE if lifelines else None)
                      for _ in range(n)]
        for r in gone_before:  # dead before the watchdog opens its pidfd
            self.end(r)
        self.address = f"\0chainrule.test.watchdog.{secrets.token_hex(8)}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(self.address)
        spec = {"fd": sock.fileno(), "size": size or n, "host": "node7",
                "single_host": single_host, "ranks": [[r, p.pid] for r, p in
                                                      enumerate(self.ranks)],
                "life": _watchdog_client.lifeline_address(self.address)}
        self.watchdog = subprocess.Popen(
            [sys.executable, "-I", "-S", str(_watchdog_client._SCRIPT), json.dumps(spec)],
            pass_fds=(sock.fileno(),), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, text=True)
        assert self.watchdog.stdout.readline() == "ready\n"
        sock.close()
        if lifelines:
            for r, p in enumerate(self.ranks):
                p.stdin.write(f"{r} {_watchdog_client.lifeline_address(self.address)!r}\n")
                p.stdin.flush()
            for p in self.ranks:  # every lifeline connected before the test goes on
                assert p.stdout.readline() == "connected\n"

    def cut(self, rank: int) -> None:
        """Rank ``rank``'s lifeline ends; its process goes on (its pidfd stays quiet)."""
        self.ranks[rank].stdin.write("cut\n")
        self.ranks[rank].stdin.flush()
        assert self.ranks[rank].stdout.readline() == "closed\n"  # closed by now, not later

    def say(self, rank: int, kind: str) -> None:
        WatchdogLink(self.address, rank).say(kind)

    def end(self, rank: int, sig=signal.SIGKILL) -> None:
        self.ranks[rank].send_signal(sig)
        self.ranks[rank].wait()

    def finish(self, timeout: float = 10) -> tuple[int, str, float]:
        """The watchdog's exit code and stderr, and how long it took to end."""
        start = time.monotonic()
        try:
            _, err = self.watchdog.communicate(timeout=timeout)
        finally:
            for p in self.ranks:
                p.kill()
                p.wait()
        return self.watchdog.returncode, err, time.monotonic() - start

    def survivors(self) -> list[int]:
        return [r for r, p in enumerate(self.ranks) if p.poll() is None]


@pytest.mark.parametrize("victim", [0, 1, 2])
def test_a_killed_rank_is_named_and_the_others_are_ended(victim):
    host = Host(3)
    host.end(victim)
    code, err, took = host.finish()
    pid = host.ranks[victim].pid
    assert code == 1 and took < 2, (code, err, took)
    assert err == (f"chainrule.distributed: rank {victim} of 3 (pid {pid} on node7) died "
                   "without a word (killed?); aborting all ranks\n")
    assert all(p.returncode == -signal.SIGKILL for p in host.ranks)


def test_ranks_found_gone_at_one_wake_up_are_named_together_in_one_line():
    # the watchdog held still (as on a loaded machine) while two ranks went: which went first
    # cannot be known, so one line names both rather than blaming one at random
    host = Host(3)
    host.watchdog.send_signal(signal.SIGSTOP)
    host.end(0)
    host.end(2)
    host.watchdog.send_signal(signal.SIGCONT)
    code, err, _ = host.finish()
    pids = [host.ranks[r].pid for r in (0, 2)]
    assert code == 1, err
    assert err == (f"chainrule.distributed: ranks 0, 2 of 3 (pids {pids[0]}, {pids[1]} on node7) "
                   "died at one moment (one first, the launcher then ending the others?) without "
                   "a word (killed?); aborting all ranks\n")


def test_a_rank_is_named_when_its_lifeline_ends_before_its_process_is_gone():
    # a big rank's teardown is slow, and its pidfd turns readable only at the end; its
    # lifeline closes early (as its pipes do, which the launcher sees): named at once
    host = Host(3, lifelines=True)
    host.cut(1)
    code, err, took = host.finish()
    assert code == 1 and took < 2, (code, err, took)
    assert err == (f"chainrule.distributed: rank 1 of 3 (pid {host.ranks[1].pid} on node7) "
                   "died without a word (killed?); aborting all ranks\n")
    assert all(p.returncode == -signal.SIGKILL for p in host.ranks)


def test_a_dying_rank_is_not_outrun_by_the_launchers_kill_of_another():
    # the CI failure this guards: rank 1 was dying (lifeline gone, pidfd not yet readable)
    # when the launcher killed rank 0, which finished dying first; the line blamed rank 0
    # alone. The watchdog held still through both: rank 1 must be in the line
    host = Host(3, lifelines=True)
    host.watchdog.send_signal(signal.SIGSTOP)
    host.cut(1)
    time.sleep(0.1)
    host.end(0)
    host.watchdog.send_signal(signal.SIGCONT)
    code, err, _ = host.finish()
    pids = [host.ranks[r].pid for r in (0, 1)]
    assert code == 1, err
    assert err.startswith(f"chainrule.distributed: ranks 0, 1 of 3 (pids {pids[0]}, {pids[1]} "
                          "on node7) died at one moment"), err


def test_a_lifeline_ending_after_a_clean_end_is_no_news():
    host = Host(2, lifelines=True)
    host.say(1, "B")
    host.cut(1)
    host.end(1)
    host.end(0)
    assert host.finish()[:2] == (0, "")


def test_clean_ends_are_not_reported_and_the_watchdog_leaves_with_the_last_rank():
    host = Host(3)
    for r in (2, 0, 1):
        host.say(r, "B")
        host.end(r, signal.SIGTERM)
        if r != 1:
            assert host.watchdog.poll() is None  # still watching the others
    code, err, _ = host.finish()
    assert (code, err) == (0, "")


def test_after_a_clean_end_other_deaths_are_the_launchers_clean_up():
    # mpiexec ends every rank when one exits with a non-zero code: no rank is blamed
    host = Host(3)
    host.say(1, "B")
    host.end(1)
    host.end(0)
    host.end(2)
    assert host.finish() == (0, "", pytest.approx(0, abs=2))


def test_an_abort_on_purpose_silences_it():
    host = Host(2)
    host.say(1, "A")  # the exception hook named the rank already
    host.end(1)
    host.end(0)
    code, err, _ = host.finish()
    assert (code, err) == (0, "")


def test_a_restarted_rank_is_watched_again():
    host = Host(2)
    host.say(0, "B")  # destroy_process_group, then init_process_group again
    host.say(0, "H")
    host.end(1)
    code, err, _ = host.finish()
    assert code == 1 and "rank 1 of 2" in err and host.survivors() == []


def test_several_hosts_all_ranks_going_at_once_is_left_to_the_host_that_saw_it():
    # this host's two ranks (of 4) are seen gone together: the launcher's clean-up after
    # a rank died elsewhere looks the same, so this host says nothing
    quiet = Host(2, size=4, single_host=False, gone_before=(0, 1))
    assert quiet.finish()[:2] == (0, "")
    # one of them dies while the other runs: named
    named = Host(2, size=4, single_host=False)
    named.end(1)
    code, err, _ = named.finish()
    assert code == 1 and "rank 1 of 4" in err and named.survivors() == []


def test_a_rank_gone_before_the_watchdog_started_is_named():
    host = Host(2, gone_before=(0,))
    code, err, _ = host.finish()
    assert code == 1 and "rank 0 of 2" in err


def test_single_process_runs_start_nothing():
    class OneRank:
        def Get_size(self):
            return 1
    assert _watchdog_client.start(OneRank()) is None
