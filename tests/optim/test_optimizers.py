"""Every optimizer, side by side with torch.optim: same parameters, same gradients, 20 steps."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import chainrule as cr
from tests.optim.helpers import (ATOL, RTOL, as_array, assert_params_close, check_plain,
                                 grad_sequence, make_params, set_grads, through_json)

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, maximize=True, amsgrad=True, weight_decay=0.05)),
    ("Adam", dict(lr=0.02, betas=(0.5, 0.9), eps=1e-3)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True, weight_decay=0.3)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, maximize=True, eps=1e-4)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, maximize=True, eps=1e-3)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, maximize=True, betas=(0.5, 0.8))),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in CONFIGS]
# one configuration per optimizer that creates every kind of state it has
FULL_STATE = {
    "SGD": dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
    "Adam": dict(lr=0.01, amsgrad=True, weight_decay=0.05),
    "AdamW": dict(lr=0.01, amsgrad=True),
    "RMSprop": dict(lr=0.01, centered=True, momentum=0.5),
    "Adagrad": dict(lr=0.1, lr_decay=0.05),
    "Adamax": dict(lr=0.01, weight_decay=0.1),
}


def _pair(name, kwargs, seed=0):
    ours, theirs = make_params(seed)
    return ours, theirs, getattr(cr.optim, name)(ours, **kwargs), getattr(torch.optim, name)(theirs, **kwargs)


def _assert_state_matches(opt, topt, ours, theirs):
    for i, (c, t) in enumerate(zip(ours, theirs)):
        s, ts = opt.state.get(c, {}), topt.state.get(t, {})
        assert sorted(s) == sorted(ts), f"param {i}: state names {sorted(s)} != torch {sorted(ts)}"
        for k in ts:
            np.testing.assert_allclose(as_array(s[k]), as_array(ts[k]), rtol=RTOL, atol=ATOL,
                                       err_msg=f"param {i} state {k}")


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_matches_torch_on_a_gradient_sequence(name, kwargs):
    ours, theirs, opt, topt = _pair(name, kwargs)
    for k, grads in enumerate(grad_sequence(0, 20)):
        set_grads(ours, theirs, grads)
        opt.step()
        topt.step()
        assert_params_close(ours, theirs, f"{name} {kwargs} step {k}")
    _assert_state_matches(opt, topt, ours, theirs)


def _loss(lib, w1, w2, A, B, c):
    """The same differentiable loss written in each library."""
    return ((A @ w1 - B) ** 2).sum() + (lib.tanh(w2) * c).sum()


@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_matches_torch_on_a_quadratic_loss_through_backward(name):
    rng = np.random.default_rng(7)
    A, B, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal(5)
    ours, theirs = make_params(3, [(3, 4), (5,)])
    opt = getattr(cr.optim, name)(ours, **FULL_STATE[name])
    topt = getattr(torch.optim, name)(theirs, **FULL_STATE[name])
    cA, cB, cc = (cr.tensor(x, dtype=cr.float64) for x in (A, B, c))
    tA, tB, tc = (torch.tensor(x) for x in (A, B, c))
    for k in range(20):
        opt.zero_grad()
        topt.zero_grad()
        loss = _loss(cr, *ours, cA, cB, cc)
        tloss = _loss(torch, *theirs, tA, tB, tc)
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=RTOL)
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
        assert_params_close(ours, theirs, f"{name} step {k}")


@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_param_groups_with_their_own_hyperparameters(name):
    ours, theirs = make_params(1)
    kw = FULL_STATE[name]
    extra = {"weight_decay": 0.2} if name != "Adagrad" else {"lr_decay": 0.3}

    def groups(ps):
        return [{"params": ps[:1]}, {"params": ps[1:], "lr": kw["lr"] * 3, **extra}]
    opt = getattr(cr.optim, name)(groups(ours), **kw)
    topt = getattr(torch.optim, name)(groups(theirs), **kw)
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
    for grads in grad_sequence(1, 20):
        set_grads(ours, theirs, grads)
        opt.step()
        topt.step()
    assert_params_close(ours, theirs, name)
    # the groups really differ: one group's result is not what the other lr would give
    assert opt.param_groups[1]["lr"] != opt.param_groups[0]["lr"]


@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_state_dict_round_trip_mid_run_continues_identically(name):
    kw = FULL_STATE[name]
    seq = grad_sequence(2, 20)
    ours, theirs, opt, topt = _pair(name, kw, seed=2)
    for grads in seq[:10]:
        set_grads(ours, theirs, grads)
        opt.step()
        topt.step()
    sd = opt.state_dict()
    check_plain(sd)
    assert set(sd) == {"state", "param_groups"}
    tsd = topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"])  # int indices, same parameters
    for i in tsd["state"]:
        assert sorted(sd["state"][i]) == sorted(tsd["state"][i])
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        assert sorted(g) == sorted(tg), f"group keys {sorted(g)} != torch {sorted(tg)}"
        assert g["params"] == tg["params"]
    saved = through_json(sd)

    # a second optimizer on copies of the current parameters, loaded from the saved state
    copies = [cr.tensor(p.detach().numpy().copy(), dtype=cr.float64, requires_grad=True) for p in ours]
    opt2 = getattr(cr.optim, name)(copies, lr=123.0)  # hyperparameters come from the state
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    for g, tg in zip(opt2.param_groups, topt.param_groups):  # betas is a tuple again
        assert {k: type(v) for k, v in g.items()} == {k: type(v) for k, v in tg.items()}
    for p, q in zip(ours, copies):  # loaded state is a copy, not an alias
        for k, v in opt.state.get(p, {}).items():
            assert opt2.state[q][k]._data is not v._data
    for grads in seq[10:]:
        set_grads(ours, theirs, grads)
        set_grads(copies, [t.detach().clone() for t in theirs], grads)
        opt.step()
        opt2.step()
        topt.step()
        for p, q in zip(ours, copies):
            np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    assert_params_close(ours, theirs, name)
    assert_params_close(copies, theirs, name)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_loads_a_torch_state_dict(name):
    """Same layout: torch's state (converted to chainrule tensors) continues the same run."""
    kw = FULL_STATE[name]
    seq = grad_sequence(4, 16)
    ours, theirs = make_params(4)
    topt = getattr(torch.optim, name)(theirs, **kw)
    for grads in seq[:8]:
        set_grads([p.detach().clone() for p in ours], theirs, grads)
        topt.step()
    tsd = copy.deepcopy(topt.state_dict())
    converted = {"state": {i: {k: cr.from_numpy(v.numpy().copy()) for k, v in s.items()}
                           for i, s in tsd["state"].items()},
                 "param_groups": tsd["param_groups"]}
    for c, t in zip(ours, theirs):
        c.data = cr.tensor(t.detach().numpy().copy(), dtype=cr.float64)
    opt = getattr(cr.optim, name)(ours, **kw)
    opt.load_state_dict(converted)
    for grads in seq[8:]:
        set_grads(ours, theirs, grads)
        opt.step()
        topt.step()
    assert_params_close(ours, theirs, name)


@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_float32_parameters_stay_float32(name):
    w = cr.tensor(np.arange(1.0, 5.0), dtype=cr.float32, requires_grad=True)
    opt = getattr(cr.optim, name)([w], **FULL_STATE[name])
    for _ in range(3):
        w.grad = cr.ones(4, dtype=cr.float32)
        opt.step()
    assert w.dtype == cr.float32
    for k, v in opt.state[w].items():
        if k != "step":
            assert v.dtype == cr.float32, k
    tw = torch.arange(1.0, 5.0, requires_grad=True)
    topt = getattr(torch.optim, name)([tw], **FULL_STATE[name])
    for _ in range(3):
        tw.grad = torch.ones(4)
        topt.step()
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_checkpoint_through_chainrule_save_and_load(tmp_path):
    """The real client: optimizer + scheduler state written with cr.save (safetensors) and read back."""
    seq = grad_sequence(6, 12)
    ours, theirs, opt, topt = _pair("Adam", dict(lr=0.01, amsgrad=True), seed=6)
    sched = cr.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    for grads in seq[:6]:
        set_grads(ours, theirs, grads)
        opt.step()
        sched.step(1.0)
    cr.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "ckpt.safetensors")
    ckpt = cr.load(tmp_path / "ckpt.safetensors")
    copies = [cr.tensor(p.detach().numpy().copy(), dtype=cr.float64, requires_grad=True) for p in ours]
    opt2 = cr.optim.Adam(copies)
    sched2 = cr.optim.lr_scheduler.ReduceLROnPlateau(opt2)
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    assert isinstance(opt2.param_groups[0]["betas"], tuple)
    for grads in seq[6:]:
        set_grads(ours, theirs, grads)
        set_grads(copies, [t.detach().clone() for t in theirs], grads)
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step(1.0)
        for p, q in zip(ours, copies):
            np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    assert sched2.get_last_lr() == sched.get_last_lr() and sched.get_last_lr()[0] < 0.01 * 0.5 ** 6


@pytest.mark.parametrize("name", ["SGD", "AdamW"])
def test_trains_an_nn_linear_like_torch(name):
    """The real client: a module's parameters(), a loss module, backward, zero_grad, step."""
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    model, tmodel = cr.nn.Linear(3, 2), torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        tmodel.weight.copy_(torch.tensor(rng.standard_normal((2, 3))))
        tmodel.bias.copy_(torch.tensor(rng.standard_normal(2)))
    model.weight.data = cr.tensor(tmodel.weight.detach().numpy().copy(), dtype=cr.float64)
    model.bias.data = cr.tensor(tmodel.bias.detach().numpy().copy(), dtype=cr.float64)
    opt = getattr(cr.optim, name)(model.parameters(), **FULL_STATE[name])
    topt = getattr(torch.optim, name)(tmodel.parameters(), **FULL_STATE[name])
    cx, cy, tx, ty = (cr.tensor(x, dtype=cr.float64), cr.tensor(y, dtype=cr.float64),
                      torch.tensor(x), torch.tensor(y))
    for _ in range(20):
        opt.zero_grad()
        topt.zero_grad()
        cr.nn.MSELoss()(model(cx), cy).backward()
        torch.nn.MSELoss()(tmodel(tx), ty).backward()
        opt.step()
        topt.step()
    assert_params_close([model.weight, model.bias], [tmodel.weight, tmodel.bias], name)
