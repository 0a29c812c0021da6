"""torch.multiprocessing as programs use it (pytorch/examples mnist_hogwild): shared-memory tensors
across forked and spawned processes, checked against PyTorch doing the same."""
from __future__ import annotations

import multiprocessing as std_mp
import pickle

import numpy as np
import pytest
import torch
import torch.multiprocessing as torch_mp

import chainrule as cr
import chainrule.multiprocessing as cr_mp

LIBS = [(cr, cr_mp), (torch, torch_mp)]


def test_module_reexports_multiprocessing_and_torch_additions():
    for name in torch_mp.__all__:
        assert hasattr(cr_mp, name), name
    for name in ("spawn", "start_processes", "ProcessContext", "ProcessRaisedException",
                 "ProcessExitedException", "get_context", "set_start_method", "Process", "Queue"):
        assert hasattr(cr_mp, name), name
    assert cr_mp.get_sharing_strategy() == torch_mp.get_sharing_strategy()
    assert cr_mp.get_all_sharing_strategies() == torch_mp.get_all_sharing_strategies()
    with pytest.raises(ValueError):
        cr_mp.set_sharing_strategy("telepathy")


def test_share_memory_marks_tensors_views_and_module_weights():
    for lib, _ in LIBS:
        t = lib.arange(6.0)
        assert not t.is_shared()
        assert t.share_memory_() is t and t.is_shared()
        assert t[2:].is_shared() and t.detach().is_shared() and t.tolist() == list(range(6))
        m = lib.nn.Sequential(lib.nn.Linear(3, 2), lib.nn.BatchNorm1d(2))
        assert m.share_memory() is m
        assert all(p.is_shared() for p in m.parameters())
        assert all(b.is_shared() for b in m.buffers())
        assert all(p.requires_grad for p in m.parameters())


def _fork_writer(lib, t, i, barrier, q):
    with lib.no_grad():
        t[i] = i + 1.0
    barrier.wait()            # both have written: each must see the other's write
    q.put(t.tolist())


@pytest.mark.parametrize("lib", [cr, torch], ids=["chainrule", "torch"])
def test_two_forked_processes_see_each_others_writes(lib):
    ctx = std_mp.get_context("fork")
    t = lib.zeros(3).share_memory_()
    barrier, q = ctx.Barrier(2), ctx.SimpleQueue()
    ps = [ctx.Process(target=_fork_writer, args=(lib, t, i, barrier, q)) for i in range(2)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(30)
    assert [p.exitcode for p in ps] == [0, 0]
    assert q.get() == q.get() == [1.0, 2.0, 0.0]
    assert t.tolist() == [1.0, 2.0, 0.0]  # and the parent sees both


def test_unshared_tensor_is_copied_on_fork():
    ctx = std_mp.get_context("fork")
    for lib, _ in LIBS:
        t = lib.zeros(2)
        p = ctx.Process(target=lambda: t.add_(5))
        p.start()
        p.join(30)
        assert t.tolist() == [0.0, 0.0]


def _sgd_step(model, lib):
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    x = lib.tensor([[1.0, 2.0]])
    loss = model(x).pow(2).sum()
    loss.backward()
    opt.step()


def test_hogwild_step_in_forked_child_updates_parent_model():
    ctx = std_mp.get_context("fork")
    after = []
    for lib, _ in LIBS:
        model = lib.nn.Linear(2, 1)
        with lib.no_grad():
            model.weight.copy_(lib.tensor([[0.5, -0.25]]))
            model.bias.fill_(0.1)
        model.share_memory()
        p = ctx.Process(target=_sgd_step, args=(model, lib))
        p.start()
        p.join(30)
        assert p.exitcode == 0
        after.append(np.concatenate([model.weight.detach().numpy().ravel(),
                                     model.bias.detach().numpy().ravel()]))
    np.testing.assert_allclose(after[0], after[1], rtol=1e-6)
    assert not np.allclose(after[0], [0.5, -0.25, 0.1])


def _spawn_child(i, model, plain, q):
    import chainrule as lib
    with lib.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        plain.add_(10.0)
    q.put((i, all(p.is_shared() for p in model.parameters()), plain.is_shared()))


def test_spawned_process_receives_tensors_by_shared_memory():
    ctx = cr_mp.get_context("spawn")
    model = cr.nn.Linear(2, 1)
    before = [p.detach().clone() for p in model.parameters()]
    model.share_memory()
    plain = cr.ones(2)                     # not shared yet: sending it shares it (as PyTorch)
    q = ctx.Queue()
    p = ctx.Process(target=_spawn_child, args=(0, model, plain, q))
    p.start()
    got = q.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0 and got == (0, True, True)
    for now, old in zip(model.parameters(), before):
        np.testing.assert_allclose(now.detach().numpy(), old.numpy() + 1.0)
    assert plain.tolist() == [11.0, 11.0] and plain.is_shared()


def _raise(i):
    raise ValueError(f"boom in {i}")


def test_spawn_reports_a_failing_process():
    with pytest.raises(cr_mp.ProcessRaisedException, match="boom in"):
        cr_mp.spawn(_raise, nprocs=1)


def test_non_leaf_requiring_grad_is_refused_and_plain_pickle_still_is():
    from multiprocessing.reduction import ForkingPickler
    for lib in (cr, torch):
        y = lib.ones(2, requires_grad=True) * 2
        with pytest.raises(RuntimeError, match="Cowardly refusing to serialize non-leaf"):
            ForkingPickler.dumps(y)
    with pytest.raises(TypeError):         # files are never pickles (see chainrule.save)
        pickle.dumps(cr.ones(2))
