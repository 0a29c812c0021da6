"""``optim.swa_utils`` (AveragedModel, SWALR, update_bn, the averaging functions) side by side
with PyTorch's."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from tests.optim.helpers import check_plain, through_json

SW, TSW = cr.optim.swa_utils, torch.optim.swa_utils


def _nets(seed=0):
    """The same Linear -> BatchNorm1d -> Linear net in both libraries (float64)."""
    def build(m):
        return m.nn.Sequential(m.nn.Linear(3, 4), m.nn.BatchNorm1d(4), m.nn.Tanh(),
                               m.nn.Linear(4, 2)).double()
    ours, theirs = build(cr), build(torch)
    rng = np.random.default_rng(seed)
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        value = rng.standard_normal(tuple(tp.shape))
        p.data = cr.tensor(value, dtype=cr.float64)
        with torch.no_grad():
            tp.copy_(torch.tensor(value))
    return ours, theirs


def _train_step(net, tnet, rng):
    """Perturb both nets the same way and run a training forward (moves BN statistics)."""
    x = rng.standard_normal((8, 3))
    for p, tp in zip(net.parameters(), tnet.parameters()):
        delta = 0.1 * rng.standard_normal(tuple(tp.shape))
        p.data = p.data + cr.tensor(delta, dtype=cr.float64)
        with torch.no_grad():
            tp.add_(torch.tensor(delta))
    net(cr.tensor(x, dtype=cr.float64))
    tnet(torch.tensor(x))


def _assert_same_state(model, tmodel):
    sd, tsd = model.state_dict(), tmodel.state_dict()
    assert list(sd) == list(tsd)
    for k in tsd:
        a, b = sd[k].detach().numpy(), tsd[k].detach().numpy()
        assert a.dtype == b.dtype, k
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=k)


AVERAGING = {
    "swa": dict(),
    "swa_with_buffers": dict(use_buffers=True),
    "ema_multi": dict(multi_avg_fn="ema_multi", use_buffers=True),
    "ema_per_tensor": dict(avg_fn="ema"),
    "swa_multi": dict(multi_avg_fn="swa_multi"),
}


def _options(lib, spec):
    out = dict(spec)
    if out.get("multi_avg_fn") == "ema_multi":
        out["multi_avg_fn"] = lib.get_ema_multi_avg_fn(0.8)
    if out.get("multi_avg_fn") == "swa_multi":
        out["multi_avg_fn"] = lib.get_swa_multi_avg_fn()
    if out.get("avg_fn") == "ema":
        out["avg_fn"] = lib.get_ema_avg_fn(0.7)
    return out


@pytest.mark.parametrize("case", sorted(AVERAGING))
def test_averaged_model_matches_torch(case):
    net, tnet = _nets()
    avg = SW.AveragedModel(net, **_options(SW, AVERAGING[case]))
    tavg = TSW.AveragedModel(tnet, **_options(TSW, AVERAGING[case]))
    _assert_same_state(avg, tavg)
    rng = np.random.default_rng(1)
    for _ in range(6):
        _train_step(net, tnet, rng)
        avg.update_parameters(net)
        tavg.update_parameters(tnet)
        _assert_same_state(avg, tavg)
    assert int(avg.n_averaged) == 6 and avg.n_averaged.dtype == cr.int64
    # the average is not the current model
    assert not np.allclose(avg.module[0].weight.detach().numpy(), net[0].weight.detach().numpy())
    x = np.linspace(-1, 1, 12).reshape(4, 3)
    avg.eval()
    tavg.eval()
    np.testing.assert_allclose(avg(cr.tensor(x, dtype=cr.float64)).detach().numpy(),
                               tavg(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    assert all(not p.requires_grad or p.grad is None for p in avg.parameters())


def test_averaged_model_state_dict_round_trip_continues_the_average():
    net, tnet = _nets(2)
    avg, tavg = SW.AveragedModel(net), TSW.AveragedModel(tnet)
    rng = np.random.default_rng(3)
    for _ in range(3):
        _train_step(net, tnet, rng)
        avg.update_parameters(net)
        tavg.update_parameters(tnet)
    sd = avg.state_dict()
    check_plain(sd)
    net2, _ = _nets(5)
    avg2 = SW.AveragedModel(net2)
    avg2.load_state_dict(through_json(sd))
    assert int(avg2.n_averaged) == 3
    for _ in range(2):
        _train_step(net, tnet, rng)
        avg2.update_parameters(net)
        tavg.update_parameters(tnet)
    _assert_same_state(avg2, tavg)


def test_update_bn_matches_torch():
    net, tnet = _nets(4)
    rng = np.random.default_rng(6)
    batches = [rng.standard_normal((5, 3)) for _ in range(4)]
    net.eval()
    tnet.eval()
    loader = [cr.tensor(b, dtype=cr.float64) if i % 2 else (cr.tensor(b, dtype=cr.float64), None)
              for i, b in enumerate(batches)]
    SW.update_bn(loader, net)
    TSW.update_bn([torch.tensor(b) for b in batches], tnet)
    _assert_same_state(net, tnet)
    assert not net.training and net[1].momentum == 0.1
    # equal weights over the batches: the mean of the per-batch means
    h = [np.asarray(b) @ net[0].weight.detach().numpy().T + net[0].bias.detach().numpy() for b in batches]
    np.testing.assert_allclose(net[1].running_mean.detach().numpy(),
                               np.mean([x.mean(0) for x in h], axis=0), rtol=1e-12)
    SW.update_bn(loader, cr.nn.Linear(3, 3))  # no BatchNorm: nothing to do


@pytest.mark.parametrize("kwargs", [
    dict(swa_lr=0.05),
    dict(swa_lr=[0.02, 0.2], anneal_epochs=4, anneal_strategy="linear"),
    dict(swa_lr=0.01, anneal_epochs=0),
    dict(swa_lr=0.5, anneal_epochs=3),
])
def test_swalr_matches_torch(kwargs):
    def build(lib, ps):
        return lib.optim.SGD([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.05}], lr=0.1)
    opt = build(cr, [cr.zeros(2, requires_grad=True), cr.zeros(1, requires_grad=True)])
    topt = build(torch, [torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)])
    sched, tsched = SW.SWALR(opt, **kwargs), TSW.SWALR(topt, **kwargs)
    for k in range(14):
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12,
                                   err_msg=f"step {k}")
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
    swa = kwargs["swa_lr"] if isinstance(kwargs["swa_lr"], list) else [kwargs["swa_lr"]] * 2
    assert sched.get_last_lr() == pytest.approx(swa)
    sd, tsd = sched.state_dict(), tsched.state_dict()
    assert sorted(sd) == sorted(tsd)
    check_plain(sd)
    sched2 = SW.SWALR(opt, swa_lr=9.0)
    sched2.load_state_dict(through_json(sd))
    assert sched2.anneal_func(0.5) == tsched.anneal_func(0.5)


def test_swalr_after_a_decay_schedule_as_in_torchs_recipe():
    def build(lib):
        w = lib.zeros(1, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.5)
        return opt, lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10), None
    opt, sched, _ = build(cr)
    topt, tsched, _ = build(torch)
    swa = tswa = None
    for epoch in range(12):
        opt.step()
        topt.step()
        if epoch >= 5:
            swa = swa or SW.SWALR(opt, swa_lr=0.05, anneal_epochs=3)
            tswa = tswa or TSW.SWALR(topt, swa_lr=0.05, anneal_epochs=3)
            swa.step()
            tswa.step()
        else:
            sched.step()
            tsched.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)


@pytest.mark.parametrize("make,error,message", [
    (lambda sw, o, n: sw.SWALR(o, swa_lr=0.1, anneal_strategy="exp"), ValueError,
     "anneal_strategy must be one of 'cos' or 'linear', instead got exp"),
    (lambda sw, o, n: sw.SWALR(o, swa_lr=0.1, anneal_epochs=-1), ValueError,
     "anneal_epochs must be equal or greater than 0, got -1"),
    (lambda sw, o, n: sw.SWALR(o, swa_lr=[0.1, 0.2]), ValueError,
     "swa_lr must have the same length"),
    (lambda sw, o, n: sw.get_ema_multi_avg_fn(1.5), ValueError, "Invalid decay value 1.5"),
    (lambda sw, o, n: sw.get_ema_avg_fn(-0.1), ValueError, "Invalid decay value -0.1"),
    (lambda sw, o, n: sw.AveragedModel(n, avg_fn=sw.get_swa_avg_fn(),
                                       multi_avg_fn=sw.get_swa_multi_avg_fn()),
     AssertionError, "Only one of avg_fn and multi_avg_fn should be provided"),
])
def test_invalid_arguments_as_torch(make, error, message):
    for lib, sw in ((cr, SW), (torch, TSW)):
        opt = lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=0.1)
        with pytest.raises(error, match=message):
            make(sw, opt, lib.nn.Linear(1, 1))
