"""``lr_scheduler.CyclicLR`` side by side with PyTorch's: rates, cycled momentum / beta1,
state_dict."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from tests.optim.helpers import check_plain, through_json

S, TS = cr.optim.lr_scheduler, torch.optim.lr_scheduler


def _optimizers(kind="SGD"):
    def build(lib, t):
        groups = [{"params": [t[0]]}, {"params": [t[1]], "lr": 0.05}]
        if kind == "SGD":
            return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
        if kind == "Adam":
            return lib.optim.Adam(groups, lr=0.1)
        return lib.optim.Adagrad(groups, lr=0.1)
    ours = build(cr, [cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)])
    theirs = build(torch, [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)])
    return ours, theirs


def _halving(cycle):
    return 0.5 ** (cycle - 1)


def _decaying(iteration):
    return 1.0 / (1.0 + 0.1 * iteration)


class _Scale:
    """A callable object: its ``__dict__`` is what the state saves for it."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, x):
        return self.rate ** x


CASES = [
    ("SGD", dict(base_lr=0.01, max_lr=0.1, step_size_up=3)),
    ("SGD", dict(base_lr=[0.01, 0.002], max_lr=[0.1, 0.05], step_size_up=2, step_size_down=5,
                 mode="triangular2", base_momentum=[0.7, 0.75], max_momentum=0.95)),
    ("SGD", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range", gamma=0.9)),
    ("SGD", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, scale_fn=_halving)),
    ("SGD", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, scale_fn=_decaying,
                 scale_mode="iterations")),
    ("SGD", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2",
                 scale_mode="iterations")),  # the built-in mode overrides scale_mode
    ("Adam", dict(base_lr=0.001, max_lr=0.01, step_size_up=4, base_momentum=0.85,
                  max_momentum=0.95)),
    ("Adagrad", dict(base_lr=0.01, max_lr=0.1, step_size_up=2, cycle_momentum=False)),
]


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


@pytest.mark.parametrize("kind,kwargs", CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
def test_matches_torch_for_30_steps(kind, kwargs):
    opt, topt = _optimizers(kind)
    sched, tsched = S.CyclicLR(opt, **kwargs), TS.CyclicLR(topt, **kwargs)
    seen = set()
    for k in range(30):
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12,
                                   atol=1e-15, err_msg=f"step {k}")
        assert [g["lr"] for g in opt.param_groups] == pytest.approx(
            [g["lr"] for g in topt.param_groups], rel=1e-12)
        assert _momenta(opt) == pytest.approx(_momenta(topt), rel=1e-12)
        seen.add(round(sched.get_last_lr()[0], 12))
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
    assert len(seen) >= 3  # the rate really cycles
    assert sorted(sched.state_dict()) == sorted(tsched.state_dict())
    for g, tg in zip(opt.param_groups, topt.param_groups):
        assert sorted(g) == sorted(tg)
        if kind == "Adam":
            assert isinstance(g["betas"], tuple) and g["betas"][1] == tg["betas"][1]


@pytest.mark.parametrize("scale_fn", [None, "object", "function"])
def test_state_dict_round_trip_mid_run(scale_fn):
    fn = {None: None, "object": _Scale(0.8), "function": _halving}[scale_fn]
    kwargs = dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2", scale_fn=fn)
    opt, topt = _optimizers()
    sched, tsched = S.CyclicLR(opt, **kwargs), TS.CyclicLR(topt, **kwargs)
    for _ in range(7):
        opt.step()
        sched.step()
        topt.step()
        tsched.step()
    sd, tsd = sched.state_dict(), tsched.state_dict()
    check_plain(sd)
    assert sorted(sd) == sorted(tsd) and sd["_scale_fn_custom"] == tsd["_scale_fn_custom"]
    saved_sched, saved_opt = through_json(sd), through_json(opt.state_dict())
    if scale_fn == "object":
        fn.rate = 0.8  # the object the new scheduler gets starts elsewhere; the state restores it
        fn2 = _Scale(0.1)
    else:
        fn2 = fn
    opt2, _ = _optimizers()
    sched2 = S.CyclicLR(opt2, **{**kwargs, "scale_fn": fn2})
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    if scale_fn == "object":
        assert fn2.rate == 0.8
    assert sched2.get_last_lr() == sched.get_last_lr()
    for _ in range(10):
        for o, s in ((opt, sched), (opt2, sched2), (topt, tsched)):
            o.step()
            s.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert _momenta(opt2) == _momenta(opt)
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12)


def test_creation_sets_base_lr_and_max_momentum():
    opt, topt = _optimizers()
    S.CyclicLR(opt, base_lr=0.003, max_lr=0.1)
    TS.CyclicLR(topt, base_lr=0.003, max_lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups] == [0.003] * 2
    assert _momenta(opt) == _momenta(topt) == [0.9, 0.9]
    assert opt.param_groups[0]["initial_lr"] == topt.param_groups[0]["initial_lr"]


@pytest.mark.parametrize("kind,kwargs,message", [
    ("SGD", dict(base_lr=0.01, max_lr=0.1, mode="sawtooth"), "mode is invalid and scale_fn is None"),
    ("Adagrad", dict(base_lr=0.01, max_lr=0.1),
     "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"),
    ("SGD", dict(base_lr=[0.01], max_lr=0.1), "base_lr must have the same length"),
])
def test_invalid_arguments_as_torch(kind, kwargs, message):
    opt, topt = _optimizers(kind)
    with pytest.raises(ValueError, match=message):
        S.CyclicLR(opt, **kwargs)
    with pytest.raises(ValueError, match=message):
        TS.CyclicLR(topt, **kwargs)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.CyclicLR("optimizer", 0.01, 0.1)


def test_cycles_the_rate_a_training_loop_uses():
    """The real client: one step per batch, the rate of each step is the scheduled one."""
    w = cr.tensor([0.0], dtype=cr.float64, requires_grad=True)
    opt = cr.optim.SGD([w], lr=1.0, momentum=0.0)
    sched = S.CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=2, cycle_momentum=False)
    used = []
    for _ in range(4):
        used.append(opt.param_groups[0]["lr"])
        w.grad = cr.ones(1, dtype=cr.float64)
        opt.step()
        sched.step()
    assert used == pytest.approx([0.1, 0.3, 0.5, 0.3])
    assert w.item() == pytest.approx(-sum(used))
