"""Run by test_mpi.py under ``mpiexec -n N python -m mpi4py``: DistributedDataParallel
against one process training on the whole batch. ``argv[1]`` picks the check."""
from __future__ import annotations

import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn as nn
from chainrule.nn.parallel import DistributedDataParallel as DDP

TOL = 1e-12


def mlp(seed: int):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 3)).double()


def cnn(seed: int):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3), nn.Tanh(), nn.Flatten(), nn.Linear(6 * 2 * 2, 3)
                         ).double()


def data(kind: str, n: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6) if kind == "mlp" else (n, 1, 8, 8))
    y = rng.integers(0, 3, n)
    return cr.tensor(x), cr.tensor(y)


def same_on_all_ranks(tensors, what: str) -> None:
    mine = [t.detach().numpy().copy() for t in tensors]
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    for r, theirs in enumerate(everyone):
        for a, b in zip(mine, theirs):
            assert np.array_equal(a, b), f"{what}: rank {dist.get_rank()} differs from rank {r}"


def close(a, b, what: str) -> None:
    err = float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0
    assert err <= TOL, f"{what}: max error {err:.3g} > {TOL}"


def check_equivalence(kind: str, opt_name: str, steps: int = 5, cap_mb: float = 25.0) -> None:
    r, n = dist.get_rank(), dist.get_world_size()
    make = mlp if kind == "mlp" else cnn
    model = DDP(make(seed=100 + r), bucket_cap_mb=cap_mb)  # rank 0's weights win
    ref = make(seed=100)
    for p, q in zip(model.module.parameters(), ref.parameters()):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy()), "not rank 0's weights"
    opt_cls = {"sgd": lambda ps: cr.optim.SGD(ps, lr=0.1, momentum=0.9),
               "adam": lambda ps: cr.optim.Adam(ps, lr=0.01)}[opt_name]
    opt, ref_opt = opt_cls(model.parameters()), opt_cls(ref.parameters())
    per = 4
    for step in range(steps):
        x, y = data(kind, per * n, seed=step)
        mine = slice(r * per, (r + 1) * per)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[mine]), y[mine]).backward()
        ref_opt.zero_grad()
        nn.functional.cross_entropy(ref(x), y).backward()
        for (name, p), q in zip(model.module.named_parameters(), ref.parameters()):
            close(p.grad.numpy(), q.grad.numpy(), f"{kind}/{opt_name} step {step} grad {name}")
        opt.step()
        ref_opt.step()
        for (name, p), q in zip(model.module.named_parameters(), ref.parameters()):
            close(p.detach().numpy(), q.detach().numpy(), f"{kind}/{opt_name} step {step} {name}")
    same_on_all_ranks(list(model.parameters()), f"{kind}/{opt_name} parameters")


def check_overlap() -> None:
    """Buckets smaller than the model: the first allreduce starts before backward's
    last parameter gradient is ready."""
    model = DDP(mlp(seed=1), bucket_cap_mb=0.0005)  # ~500 bytes: several buckets
    assert len(model.reducer.buckets) > 2, len(model.reducer.buckets)
    model.reducer.record_events = True
    x, y = data("mlp", 8)
    nn.functional.cross_entropy(model(x), y).backward()
    ev = model.reducer.events
    first_launch = next(i for i, e in enumerate(ev) if e[0] == "launch")
    last_ready = max(i for i, e in enumerate(ev) if e[0] == "ready")
    assert first_launch < last_ready, ev
    assert ev[-1] == ("wait",), ev
    assert [e[1] for e in ev if e[0] == "launch"] == list(range(len(model.reducer.buckets)))


def check_no_sync() -> None:
    r, n = dist.get_rank(), dist.get_world_size()
    model, ref = DDP(mlp(seed=3)), mlp(seed=3)
    per, micro = 2, 3
    batches = [data("mlp", per * n, seed=20 + m) for m in range(micro)]
    mine = slice(r * per, (r + 1) * per)
    for m, (x, y) in enumerate(batches):
        ctx = model.no_sync() if m < micro - 1 else _nullcontext()
        with ctx:
            nn.functional.cross_entropy(model(x[mine]), y[mine]).backward()
        if m < micro - 1:  # still local: rank r's own gradient
            assert model.reducer.armed is False
        nn.functional.cross_entropy(ref(x), y).backward()
    for (name, p), q in zip(model.module.named_parameters(), ref.parameters()):
        close(p.grad.numpy(), q.grad.numpy(), f"no_sync accumulated grad {name}")


def _nullcontext():
    import contextlib
    return contextlib.nullcontext()


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        cr.manual_seed(5)
        self.body = nn.Linear(6, 4).double()
        self.head = nn.Linear(4, 3).double()
        self.spare = nn.Linear(4, 3).double()  # used only when asked

    def forward(self, x, use_spare: bool = False):
        h = self.body(x).tanh()
        return self.head(h) + (self.spare(h) if use_spare else 0)


def check_unused() -> None:
    r, n = dist.get_rank(), dist.get_world_size()
    x, y = data("mlp", 4 * n)
    mine = slice(r * 4, (r + 1) * 4)
    # without find_unused_parameters: the next forward names the parameters
    model = DDP(TwoHeads())
    nn.functional.cross_entropy(model(x[mine]), y[mine]).backward()
    try:
        model(x[mine])
    except RuntimeError as exc:
        text = str(exc)
        assert "spare.weight" in text and "spare.bias" in text, text
        assert "find_unused_parameters=True" in text and "head.weight" not in text, text
    else:
        raise AssertionError("an unused parameter went unreported")
    # with it: the spare head is used on rank 0 only; its gradient is rank 0's / n
    model = DDP(TwoHeads(), find_unused_parameters=True, bucket_cap_mb=0.0001)
    ref = TwoHeads()
    for step in range(2):
        model.zero_grad()
        nn.functional.cross_entropy(model(x[mine], use_spare=(r == 0)), y[mine]).backward()
        ref.zero_grad()
        total = 0
        for q in range(n):
            rows = slice(q * 4, (q + 1) * 4)
            total = total + nn.functional.cross_entropy(ref(x[rows], use_spare=(q == 0)), y[rows])
        (total / n).backward()
        for (name, p), q in zip(model.module.named_parameters(), ref.parameters()):
            close(p.grad.numpy(), q.grad.numpy(), f"find_unused grad {name}")
    # no rank uses it: its .grad stays None
    model = DDP(TwoHeads(), find_unused_parameters=True)
    nn.functional.cross_entropy(model(x[mine]), y[mine]).backward()
    assert model.module.spare.weight.grad is None and model.module.head.weight.grad is not None


def check_buffers() -> None:
    r = dist.get_rank()
    cr.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5)).double()
    model = DDP(net)
    x, _ = data("mlp", 8, seed=30 + r)  # different data: different running statistics
    model(x)
    stats = [net[1].running_mean.clone(), net[1].running_var.clone()]
    rank0 = [None]
    dist.broadcast_object_list(rank0 if r == 0 else rank0, src=0) if False else None
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, [s.numpy() for s in stats])
    if r != 0:
        assert not np.array_equal(everyone[0][0], stats[0].numpy())
    model.eval()
    with cr.no_grad():
        model(x)  # broadcasts rank 0's buffers first; eval changes nothing after
    close(net[1].running_mean.numpy(), everyone[0][0], "running_mean from rank 0")
    close(net[1].running_var.numpy(), everyone[0][1], "running_var from rank 0")
    assert sorted(model.state_dict()) == sorted("module." + k for k in net.state_dict())


def check_rank_stats() -> None:
    """Each rank's monitor sees its own shard's gradients; gather_grad_stats brings them
    to rank 0, equal to one process computing every shard's gradient at the same weights."""
    r, n = dist.get_rank(), dist.get_world_size()
    steps, per = 3, 4

    def shard(q: int, step: int):
        x, y = data("mlp", per, seed=40 + 10 * q + step)
        return x * (q + 1), y  # rank q's inputs scaled: its gradients differ

    model = DDP(mlp(seed=4))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    monitor = cr.diagnostics.watch(model.module, opt)
    for step in range(steps):
        opt.zero_grad()
        x, y = shard(r, step)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    monitor.remove()
    report = monitor.report()
    got = dist.gather_grad_stats(report)
    if r != 0:
        assert got is None and "ranks" not in report.facts
        return
    ref = mlp(seed=4)
    layers = {name: list(m._parameters.values()) for name, m in ref.named_modules()
              if m._parameters}
    norms = {q: {name: [] for name in layers} for q in range(n)}
    ref_opt = cr.optim.SGD(ref.parameters(), lr=0.1)
    for step in range(steps):
        total = [np.zeros(p.shape) for p in ref.parameters()]
        for q in range(n):
            ref.zero_grad()
            nn.functional.cross_entropy(ref(shard(q, step)[0]), shard(q, step)[1]).backward()
            for name, ps in layers.items():
                norms[q][name].append(np.sqrt(sum(float((p.grad.numpy() ** 2).sum())
                                                  for p in ps)))
            for t, p in zip(total, ref.parameters()):
                t += p.grad.numpy() / n
        for t, p in zip(total, ref.parameters()):
            p.grad = cr.tensor(t)
        ref_opt.step()
    assert len(got) == n and report.facts["ranks"] is got
    for q in range(n):
        assert sorted(got[q]) == sorted(layers), (got[q], layers)
        for name in layers:
            close(got[q][name]["mean"], np.mean(norms[q][name]), f"rank {q} {name} mean")
            close(got[q][name]["last"], norms[q][name][-1], f"rank {q} {name} last")
            assert got[q][name]["steps"] == steps
    for name in layers:
        means = [np.mean(norms[q][name]) for q in range(n)]
        close(report.facts["rank_spread"][name], max(means) / min(means), f"spread {name}")
        assert report.facts["rank_spread"][name] > 1


def check_fail() -> None:
    if dist.get_rank() == dist.get_world_size() - 1:
        raise ValueError("this rank fails on purpose")
    dist.all_reduce(cr.ones(3))  # the others wait for it forever, unless aborted
    dist.barrier()


def check_killed(victim: int, pid_dir: str) -> None:
    import os
    import signal
    from pathlib import Path
    from chainrule.distributed import process_group
    watchdog = process_group._STATE["watchdog"].process  # on the host's first rank
    # a file a rank (not stdout, where mpiexec may splice the ranks' lines)
    Path(pid_dir, f"rank{dist.get_rank()}").write_text(
        f"{os.getpid()} {watchdog.pid if watchdog else -1}")
    dist.all_reduce(cr.ones(3))  # mid-run, not during start-up
    if dist.get_rank() == victim:
        os.kill(os.getpid(), signal.SIGKILL)  # dies without a word
    dist.all_reduce(cr.ones(3))  # the others wait for it here until the job is ended
    dist.barrier()


def main() -> None:
    which = sys.argv[1]
    dist.init_process_group()
    if which == "fail":
        check_fail()
    elif which == "killed":
        check_killed(int(sys.argv[2]), sys.argv[3])
    elif which == "equivalence":
        for kind in ("mlp", "cnn"):
            for opt in ("sgd", "adam"):
                check_equivalence(kind, opt)
        check_equivalence("cnn", "sgd", cap_mb=0.001)  # many small buckets
    else:
        {"overlap": check_overlap, "no_sync": check_no_sync, "unused": check_unused,
         "buffers": check_buffers, "rank_stats": check_rank_stats}[which]()
    print(f"OK {which} rank {dist.get_rank()} of {dist.get_world_size()}", flush=True)


if __name__ == "__main__":
    main()
