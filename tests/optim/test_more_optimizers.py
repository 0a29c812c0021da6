"""Adadelta, NAdam, RAdam, Rprop, ASGD and Adafactor side by side with torch.optim: same parameters, same
gradients, every state entry compared."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import chainrule as cr
from tests.optim.helpers import (ATOL, RTOL, as_array, assert_params_close, check_plain,
                                 grad_sequence, make_params, set_grads, through_json)

CONFIGS = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.7, eps=1e-4)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1, maximize=True, foreach=False)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, momentum_decay=0.05, betas=(0.8, 0.95))),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.8))),  # rho_t > 5 from step 7: the rectified branch
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.7), weight_decay=0.1, eps=1e-3)),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.8), weight_decay=0.1, decoupled_weight_decay=True,
                   maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),
    ("Rprop", dict(lr=0.05, maximize=True, foreach=False)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.1, alpha=0.5, t0=5)),  # averaging starts after step 5
    ("ASGD", dict(lr=0.05, t0=3, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=2, maximize=True, weight_decay=0.05)),
    ("Adafactor", dict()),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, d=2.0)),
    ("Adafactor", dict(lr=0.05, eps=(1e-20, 1e-2), weight_decay=0.1)),
    ("Adafactor", dict(lr=0.05, maximize=True, weight_decay=0.05, foreach=False)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in CONFIGS]
FULL_STATE = {
    "Adadelta": dict(lr=0.5, weight_decay=0.1),
    "NAdam": dict(lr=0.01, weight_decay=0.1),
    "RAdam": dict(lr=0.01, betas=(0.9, 0.8)),
    "Rprop": dict(lr=0.05, etas=(0.3, 1.5)),
    "ASGD": dict(lr=0.05, lambd=0.1, t0=4),
    "Adafactor": dict(lr=0.05, weight_decay=0.1),
}
NAMES = sorted(FULL_STATE)


def _pair(name, kwargs, seed=0, shapes=None):
    ours, theirs = make_params(seed) if shapes is None else make_params(seed, shapes)
    return (ours, theirs, getattr(cr.optim, name)(ours, **kwargs),
            getattr(torch.optim, name)(theirs, **kwargs))


def _assert_state_matches(opt, topt, ours, theirs, dtypes=True):
    for i, (c, t) in enumerate(zip(ours, theirs)):
        s, ts = opt.state.get(c, {}), topt.state.get(t, {})
        assert sorted(s) == sorted(ts), f"param {i}: state names {sorted(s)} != torch {sorted(ts)}"
        for k in ts:
            assert isinstance(s[k], cr.Tensor) and s[k].shape == tuple(ts[k].shape), k
            if dtypes:
                assert str(s[k].dtype).split(".")[-1] == str(ts[k].dtype).split(".")[-1], k
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
    for g, tg in zip(opt.param_groups, topt.param_groups):
        assert sorted(g) == sorted(tg)


def _loss(lib, w1, w2, A, B, c):
    return ((A @ w1 - B) ** 2).sum() + (lib.tanh(w2) * c).sum()


@pytest.mark.parametrize("name", NAMES)
def test_matches_torch_on_a_loss_through_backward(name):
    rng = np.random.default_rng(7)
    A, B, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal(5)
    ours, theirs, opt, topt = _pair(name, FULL_STATE[name], 3, [(3, 4), (5,)])
    cA, cB, cc = (cr.tensor(x, dtype=cr.float64) for x in (A, B, c))
    tA, tB, tc = (torch.tensor(x) for x in (A, B, c))
    for k in range(25):
        opt.zero_grad()
        topt.zero_grad()
        loss, tloss = _loss(cr, *ours, cA, cB, cc), _loss(torch, *theirs, tA, tB, tc)
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=RTOL)
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
        assert_params_close(ours, theirs, f"{name} step {k}")
    assert loss.item() < _loss(cr, *make_params(3, [(3, 4), (5,)])[0], cA, cB, cc).item()


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_with_their_own_hyperparameters(name):
    kw = FULL_STATE[name]
    extra = {"Rprop": {"etas": (0.4, 1.1)}, "ASGD": {"t0": 1, "lambd": 0.0}}.get(
        name, {"weight_decay": 0.3})

    def groups(ps):
        return [{"params": ps[:1]}, {"params": ps[1:], "lr": kw["lr"] * 3, **extra}]
    ours, theirs = make_params(1)
    opt, topt = getattr(cr.optim, name)(groups(ours), **kw), getattr(torch.optim, name)(groups(theirs), **kw)
    for grads in grad_sequence(1, 15):
        set_grads(ours, theirs, grads)
        opt.step()
        topt.step()
    assert_params_close(ours, theirs, name)
    _assert_state_matches(opt, topt, ours, theirs)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_continues_as_torch_does(name):
    """Both libraries save mid-run and load into a fresh optimizer; loading casts the 0-dim
    ``mu_product``/``eta``/``mu`` to the parameter's dtype in both, so the continuations are
    compared with each other, not with the unsaved run."""
    kw = FULL_STATE[name]
    seq = grad_sequence(2, 20)
    ours, theirs, opt, topt = _pair(name, kw, seed=2)
    for grads in seq[:10]:
        set_grads(ours, theirs, grads)
        opt.step()
        topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    check_plain(sd)
    assert sorted(sd["state"]) == sorted(tsd["state"])
    for i in tsd["state"]:
        assert sorted(sd["state"][i]) == sorted(tsd["state"][i])
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        assert sorted(g) == sorted(tg) and g["params"] == tg["params"]
    saved, tsaved = through_json(sd), copy.deepcopy(tsd)

    copies = [cr.tensor(p.detach().numpy().copy(), dtype=cr.float64, requires_grad=True) for p in ours]
    tcopies = [t.detach().clone().requires_grad_() for t in theirs]
    opt2 = getattr(cr.optim, name)(copies, lr=123.0)  # hyperparameters come from the state
    topt2 = getattr(torch.optim, name)(tcopies, lr=123.0)
    opt2.load_state_dict(saved)
    topt2.load_state_dict(tsaved)
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    for g, tg in zip(opt2.param_groups, topt2.param_groups):  # tuples are tuples again
        assert {k: type(v) for k, v in g.items()} == {k: type(v) for k, v in tg.items()}
    _assert_state_matches(opt2, topt2, copies, tcopies)
    for grads in seq[10:]:
        set_grads(copies, tcopies, grads)
        opt2.step()
        topt2.step()
    assert_params_close(copies, tcopies, name)
    _assert_state_matches(opt2, topt2, copies, tcopies)
    for p, q in zip(ours, copies):  # the first run's state was not touched by the second
        for k, v in opt.state.get(p, {}).items():
            assert opt2.state[q][k]._data is not v._data


@pytest.mark.parametrize("name", NAMES)
def test_loads_a_torch_state_dict(name):
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


@pytest.mark.parametrize("name", NAMES)
def test_float32_parameters_stay_float32(name):
    w = cr.tensor(np.linspace(-1.0, 2.0, 4), dtype=cr.float32, requires_grad=True)
    tw = torch.tensor(np.linspace(-1.0, 2.0, 4), dtype=torch.float32, requires_grad=True)
    opt, topt = getattr(cr.optim, name)([w], **FULL_STATE[name]), getattr(torch.optim, name)([tw], **FULL_STATE[name])
    for k in range(6):
        g = np.cos(np.arange(4.0) + k).astype(np.float32)
        w.grad, tw.grad = cr.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    assert w.dtype == cr.float32
    for k, v in opt.state[w].items():
        assert str(v.dtype).split(".")[-1] == str(topt.state[tw][k].dtype).split(".")[-1], k
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_tensor_lr_and_the_functional_forms():
    w = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    tw = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt = cr.optim.NAdam([w], lr=cr.tensor(0.1, dtype=cr.float64))
    topt = torch.optim.NAdam([tw], lr=torch.tensor(0.1, dtype=torch.float64))
    for _ in range(3):
        w.grad, tw.grad = cr.tensor([0.5, 1.0], dtype=cr.float64), torch.tensor([0.5, 1.0], dtype=torch.float64)
        opt.step()
        topt.step()
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-12)
    assert {"adadelta_update", "nadam_update", "radam_update", "rprop_update",
            "asgd_update"} <= set(cr.optim.functional.__all__)


VALIDATION = [
    ("Adadelta", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Adadelta", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("Adadelta", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("NAdam", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    ("NAdam", dict(momentum_decay=-1), "Invalid momentum_decay value: -1"),
    ("RAdam", dict(eps=-1), "Invalid epsilon value: -1"),
    ("RAdam", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    ("Rprop", dict(etas=(1.0, 1.2)), "Invalid eta values: 1.0, 1.2"),
    ("Rprop", dict(etas=(0.5, 0.9)), "Invalid eta values: 0.5, 0.9"),
    ("ASGD", dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    ("ASGD", dict(lr=-0.5), "Invalid learning rate: -0.5"),
    ("Adafactor", dict(lr=-0.5), "Learning rate should be >= 0 but is: -0.5"),
    ("Adafactor", dict(beta2_decay=0.5), "beta2_decay should be <= 0 but is: 0.5"),
    ("Adafactor", dict(eps=(-1.0, 1e-3)), "epsilon1 should be >= 0 but is: -1.0"),
    ("Adafactor", dict(eps=(None, -1.0)), "epsilon2 should be >= 0 but is: -1.0"),
    ("Adafactor", dict(d=0.5), "Clipping threshold d should be >= 1 but is: 0.5"),
    ("Adafactor", dict(weight_decay=-1.0), "weight_decay should be >= 0 but is: -1.0"),
]


@pytest.mark.parametrize("name,kwargs,message", VALIDATION)
def test_invalid_hyperparameters_are_rejected_with_torchs_message(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(cr.optim, name)([cr.zeros(1, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=message):
        getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_differentiable_is_refused_and_closure_loss_is_returned(name):
    if name != "Adafactor":  # which has no such option (a TypeError in both libraries)
        with pytest.raises(NotImplementedError, match="differentiable"):
            getattr(cr.optim, name)([cr.zeros(1, requires_grad=True)], differentiable=True)
    w = cr.tensor([3.0], requires_grad=True)
    opt = getattr(cr.optim, name)([w])

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    assert opt.step(closure).item() == 9.0 and w.item() < 3.0


def test_adafactor_factors_the_last_two_dimensions():
    shapes = [(2, 3, 4), (4, 1), (1, 5)]
    ours, theirs, opt, topt = _pair("Adafactor", dict(lr=0.05), 9, shapes)
    for k, grads in enumerate(grad_sequence(9, 8, shapes)):
        set_grads(ours, theirs, grads)
        opt.step()
        topt.step()
        assert_params_close(ours, theirs, f"step {k}")
    _assert_state_matches(opt, topt, ours, theirs)
    assert tuple(opt.state[ours[0]]["row_var"].shape) == (2, 3, 1)
    assert tuple(opt.state[ours[0]]["col_var"].shape) == (2, 1, 4)
