"""Every LR scheduler, side by side with torch.optim.lr_scheduler over 20 steps."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr
from tests.optim.helpers import check_plain, through_json

S, TS = cr.optim.lr_scheduler, torch.optim.lr_scheduler


def _decay(e):
    return 0.95 ** e + 0.01 * e


def _half(e):
    return 0.5 if e % 2 else 1.0


class _Warmup:
    """A callable object: its ``__dict__`` is what LambdaLR saves for it."""

    def __init__(self, n):
        self.n = n

    def __call__(self, e):
        return min(1.0, (e + 1) / self.n)


def _optimizers(kind="SGD"):
    """The same two-group optimizer in both libraries (no gradients: lr is all that moves)."""
    def build(lib, t):
        if kind == "SGD":
            return lib.optim.SGD([{"params": [t[0]]}, {"params": [t[1]], "lr": 0.05}],
                                 lr=0.1, momentum=0.9)
        return lib.optim.Adam([{"params": [t[0]]}, {"params": [t[1]], "lr": 0.05}], lr=0.1)
    ours = build(cr, [cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)])
    theirs = build(torch, [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)])
    return ours, theirs


CASES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("LambdaLR", dict(lr_lambda=_decay)),
    ("LambdaLR", dict(lr_lambda=[_decay, _half])),
    ("MultiplicativeLR", dict(lr_lambda=_half)),
    ("LinearLR", dict(start_factor=0.25, end_factor=0.9, total_iters=6)),
    ("ConstantLR", dict(factor=0.5, total_iters=4)),
    ("PolynomialLR", dict(total_iters=8, power=2.0)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.01)),
    ("CosineAnnealingWarmRestarts", dict(T_0=4)),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=21)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=21, anneal_strategy="linear", three_phase=True)),
    ("OneCycleLR", dict(max_lr=0.5, epochs=3, steps_per_epoch=7, pct_start=0.4,
                        cycle_momentum=False, div_factor=10.0, final_div_factor=100.0)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]


def _lrs(opt, key="lr"):
    return [float(g[key]) if key != "betas" else float(g["betas"][0]) for g in opt.param_groups]


def _run_side_by_side(sched, tsched, opt, topt, steps=20, momentum_key=None):
    for k in range(steps):
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-6, atol=1e-15,
                                   err_msg=f"step {k}")
        assert _lrs(opt) == pytest.approx(_lrs(topt), rel=1e-6, abs=1e-15)
        if momentum_key:
            assert _lrs(opt, momentum_key) == pytest.approx(_lrs(topt, momentum_key), rel=1e-6)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_matches_torch_for_20_steps(name, kwargs):
    opt, topt = _optimizers()
    sched, tsched = getattr(S, name)(opt, **kwargs), getattr(TS, name)(topt, **kwargs)
    cycles = name == "OneCycleLR" and kwargs.get("cycle_momentum", True)
    _run_side_by_side(sched, tsched, opt, topt, momentum_key="momentum" if cycles else None)


def test_one_cycle_cycles_adam_beta1():
    opt, topt = _optimizers("Adam")
    kw = dict(max_lr=0.3, total_steps=20, base_momentum=0.8, max_momentum=0.9)
    sched, tsched = S.OneCycleLR(opt, **kw), TS.OneCycleLR(topt, **kw)
    _run_side_by_side(sched, tsched, opt, topt, steps=19, momentum_key="betas")
    assert isinstance(opt.param_groups[0]["betas"], tuple)
    assert opt.param_groups[0]["betas"][1] == 0.999


def test_one_cycle_refuses_to_step_past_total_steps():
    opt, _ = _optimizers()
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
        sched.step()


def test_two_schedulers_on_one_optimizer_compose():
    opt, topt = _optimizers()
    a, ta = S.ExponentialLR(opt, gamma=0.9), TS.ExponentialLR(topt, gamma=0.9)
    b, tb = S.MultiStepLR(opt, milestones=[3, 6], gamma=0.1), TS.MultiStepLR(topt, milestones=[3, 6], gamma=0.1)
    for _ in range(10):
        opt.step()
        topt.step()
        for s in (a, b, ta, tb):
            s.step()
        assert _lrs(opt) == pytest.approx(_lrs(topt), rel=1e-12)
    assert _lrs(opt)[0] == pytest.approx(0.1 * 0.9 ** 10 * 0.01, rel=1e-12)


def test_chained_scheduler():
    opt, topt = _optimizers()
    sched = S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=3),
                                S.ExponentialLR(opt, gamma=0.8)])
    tsched = TS.ChainedScheduler([TS.ConstantLR(topt, factor=0.5, total_iters=3),
                                  TS.ExponentialLR(topt, gamma=0.8)])
    _run_side_by_side(sched, tsched, opt, topt)


@pytest.mark.parametrize("second", ["CosineAnnealingLR", "ExponentialLR", "StepLR"])
def test_sequential_warmup_then_decay(second):
    kw = {"CosineAnnealingLR": dict(T_max=10, eta_min=0.001), "ExponentialLR": dict(gamma=0.8),
          "StepLR": dict(step_size=2, gamma=0.5)}[second]
    opt, topt = _optimizers()
    sched = S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.1, total_iters=5),
                                 getattr(S, second)(opt, **kw)], milestones=[5])
    tsched = TS.SequentialLR(topt, [TS.LinearLR(topt, start_factor=0.1, total_iters=5),
                                    getattr(TS, second)(topt, **kw)], milestones=[5])
    _run_side_by_side(sched, tsched, opt, topt)


PLATEAU = [
    dict(),
    dict(patience=2, factor=0.5),
    dict(mode="max", threshold_mode="abs", threshold=0.05, patience=1, cooldown=2, factor=0.3),
    dict(patience=0, min_lr=[0.02, 0.001], factor=0.5),
    dict(patience=0, factor=0.5, min_lr=0.04, eps=1e-3),
    dict(mode="max", patience=1, threshold=0.1),
]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=[str(i) for i in range(len(PLATEAU))])
def test_reduce_on_plateau_matches_torch(kwargs):
    rng = np.random.default_rng(5)
    metrics = np.concatenate([np.linspace(1.0, 0.5, 5), 0.5 + 0.01 * rng.standard_normal(15)])
    opt, topt = _optimizers()
    sched, tsched = S.ReduceLROnPlateau(opt, **kwargs), TS.ReduceLROnPlateau(topt, **kwargs)
    for k, m in enumerate(metrics):
        opt.step()
        topt.step()
        sched.step(cr.tensor(float(m)) if k % 2 else float(m))
        tsched.step(float(m))
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12), f"epoch {k}"
        assert (sched.num_bad_epochs, sched.cooldown_counter) == (tsched.num_bad_epochs,
                                                                  tsched.cooldown_counter)
    changed = sched.get_last_lr() != [0.1, 0.05]
    assert changed or kwargs == {}, "this metric sequence should cut the rate"


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7)),
    ("LinearLR", dict(start_factor=0.25, total_iters=6)),
    ("ConstantLR", dict(factor=0.5, total_iters=4)),
    ("PolynomialLR", dict(total_iters=8, power=2.0)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2)),
])
def test_explicit_epoch_uses_the_closed_form(name, kwargs):
    opt, topt = _optimizers()
    sched, tsched = getattr(S, name)(opt, **kwargs), getattr(TS, name)(topt, **kwargs)
    opt.step()
    topt.step()
    fractional = name == "CosineAnnealingWarmRestarts"  # its documented use: no deprecation warning
    for epoch in (4, 9, 2, 13) + ((2.5, 7.25) if fractional else ()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched.step(epoch)
        assert len(caught) == (0 if fractional else 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tsched.step(epoch)
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-6)


def _fresh(name, opt, kwargs):
    if name == "SequentialLR":
        return S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.1, total_iters=5),
                                    S.CosineAnnealingLR(opt, T_max=12)], milestones=[5])
    if name == "ReduceLROnPlateau":
        return S.ReduceLROnPlateau(opt, **kwargs)
    return getattr(S, name)(opt, **kwargs)


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[4, 12, 12], gamma=0.3)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("LambdaLR", dict(lr_lambda=[_Warmup(15), _decay])),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=25, three_phase=True)),
    ("SequentialLR", {}),
    ("ReduceLROnPlateau", dict(patience=1, factor=0.5, cooldown=1)),
])
def test_state_dict_round_trip_mid_run(name, kwargs):
    metric = iter(np.tile([1.0, 0.9, 0.95, 0.97, 0.99], 10))

    def advance(opt, sched, m):
        opt.step()
        sched.step(m) if name == "ReduceLROnPlateau" else sched.step()

    opt, _ = _optimizers()
    sched = _fresh(name, opt, kwargs)
    for _ in range(10):
        advance(opt, sched, next(metric))
    sd = sched.state_dict()
    check_plain(sd)
    assert "optimizer" not in sd
    saved_sched, saved_opt = through_json(sd), through_json(opt.state_dict())
    if name == "LambdaLR":
        sched.lr_lambdas[0].n = 5  # the callable object's state travels with the scheduler
    opt2, _ = _optimizers()
    sched2 = _fresh(name, opt2, {**kwargs, "lr_lambda": [_Warmup(1), _decay]} if name == "LambdaLR" else kwargs)
    opt2.load_state_dict(saved_opt)  # after building the scheduler, as PyTorch's docs say
    sched2.load_state_dict(saved_sched)
    if name == "LambdaLR":
        assert sched2.lr_lambdas[0].n == 15
        sched.lr_lambdas[0].n = 15
    assert sched2.get_last_lr() == sched.get_last_lr()
    for _ in range(10):
        m = next(metric)
        advance(opt, sched, m)
        advance(opt2, sched2, m)
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
    if name == "OneCycleLR":
        assert [g["momentum"] for g in opt2.param_groups] == [g["momentum"] for g in opt.param_groups]


def test_scheduler_state_dict_has_torchs_keys():
    opt, topt = _optimizers()
    sd, tsd = S.StepLR(opt, step_size=2).state_dict(), TS.StepLR(topt, step_size=2).state_dict()
    assert sorted(sd) == sorted(tsd)
    assert sd == tsd


def test_resuming_requires_initial_lr():
    opt, _ = _optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(opt, step_size=2, last_epoch=5)


def test_warns_when_stepped_before_the_optimizer():
    opt, _ = _optimizers()
    sched = S.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2, _ = _optimizers()
    sched2 = S.StepLR(opt2, step_size=2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


@pytest.mark.parametrize("make,message", [
    (lambda o: S.StepLR("not an optimizer", 2), "is not an Optimizer"),
    (lambda o: S.LinearLR(o, start_factor=0), "Starting multiplicative factor"),
    (lambda o: S.LinearLR(o, end_factor=1.5), "Ending multiplicative factor"),
    (lambda o: S.ConstantLR(o, factor=2.0), "between 0 and 1"),
    (lambda o: S.LambdaLR(o, [_decay]), "Expected 2 lr_lambdas, but got 1"),
    (lambda o: S.MultiplicativeLR(o, [1, 2]), "lr_lambda should be a function"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), "Expected positive integer T_0"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), "Expected integer T_mult >= 1"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0), "You must define either total_steps"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5), "pct_start"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"), "anneal_strategy"),
    (lambda o: S.OneCycleLR(o, max_lr=[1.0], total_steps=10), "max_lr must have the same length"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), "Factor should be < 1.0"),
    (lambda o: S.ReduceLROnPlateau(o, mode="up"), "mode 'up' is unknown"),
    (lambda o: S.ReduceLROnPlateau(o, threshold_mode="x"), "threshold mode 'x' is unknown"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1]), "expected 2 min_lrs, got 1"),
    (lambda o: S.SequentialLR(o, [S.StepLR(o, 2), S.StepLR(o, 3)], milestones=[]), "one more"),
    (lambda o: S.SequentialLR(o, [S.ReduceLROnPlateau(o)], milestones=[]), "ReduceLROnPlateau"),
    (lambda o: S.ChainedScheduler([]), "at least one scheduler"),
])
def test_invalid_arguments(make, message):
    opt, _ = _optimizers()
    with pytest.raises((ValueError, TypeError), match=message):
        make(opt)


def test_one_cycle_needs_momentum_or_betas_to_cycle():
    w = cr.zeros(1, requires_grad=True)
    opt = cr.optim.Adagrad([w])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.OneCycleLR(opt, max_lr=1.0, total_steps=5)
    S.OneCycleLR(opt, max_lr=1.0, total_steps=5, cycle_momentum=False)


def test_scheduled_lr_drives_the_optimizer():
    """The rate a scheduler sets is the one the next optimizer step uses."""
    w = cr.tensor([1.0], dtype=cr.float64, requires_grad=True)
    opt = cr.optim.SGD([w], lr=1.0)
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        w.grad = cr.ones(1, dtype=cr.float64)
        opt.step()
        sched.step()
    assert w.item() == pytest.approx(1.0 - (1.0 + 0.5 + 0.25))


def test_lambda_state_without_the_lambdas_still_loads():
    """A checkpoint may drop ``lr_lambdas`` (functions are code); the rest still restores."""
    opt, _ = _optimizers()
    sched = S.LambdaLR(opt, _decay)
    for _ in range(4):
        opt.step()
        sched.step()
    sd = {k: v for k, v in sched.state_dict().items() if k != "lr_lambdas"}
    opt2, _ = _optimizers()
    sched2 = S.LambdaLR(opt2, _decay)
    sched2.load_state_dict(sd)
    assert sched2.last_epoch == 4 and sched2.get_last_lr() == sched.get_last_lr()
