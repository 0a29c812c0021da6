"""Empty batches and non-finite gradients behave as in PyTorch (issue 11, "never silently wrong").

A 0-sized batch runs forward and backward through the common layers and losses with
the shapes, values and gradients PyTorch gives (zeros for the parameters, not an
error and not nan). ``clip_grad_norm_`` with inf/nan gradients scales every
gradient exactly as PyTorch does (inf * 0 is nan; a nan norm makes every gradient
nan), and ``error_if_nonfinite=True`` refuses.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule as cr
from torch_oracle import assert_close, load_into_torch, to_torch


def _run(ours_mod, theirs_mod, x: cr.Tensor, loss=lambda y: y.sum()):
    """Forward and backward of a chainrule module and its torch twin on the same input."""
    xt = to_torch(x, requires_grad=True)
    x.requires_grad_(True)
    y, yt = ours_mod(x), theirs_mod(xt)
    assert tuple(y.shape) == tuple(yt.shape)
    loss(y).backward()
    loss(yt).backward()
    assert_close(x.grad, xt.grad, msg="input grad")
    for (name, p), (tname, tp) in zip(ours_mod.named_parameters(), theirs_mod.named_parameters()):
        assert name == tname
        assert_close(p.grad, tp.grad, msg=name)
    return y, yt


LAYERS = {
    "Linear": (lambda m: m.Linear(3, 2), (0, 3)),
    "Conv2d": (lambda m: m.Conv2d(3, 4, 3, padding=1), (0, 3, 5, 5)),
    "Conv1d": (lambda m: m.Conv1d(3, 4, 3), (0, 3, 6)),
    "LayerNorm": (lambda m: m.LayerNorm(3), (0, 3)),
    "Conv2d strided": (lambda m: m.Conv2d(2, 2, 3, stride=2, groups=2), (0, 2, 7, 7)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layer_on_empty_batch_matches_torch(name):
    build, shape = LAYERS[name]
    ours, theirs = build(cr.nn), build(torch.nn)
    load_into_torch(ours, theirs)
    y, _ = _run(ours, theirs, cr.randn(*shape))
    assert y.numel() == 0
    for p in ours.parameters():  # the gradient of an empty sum: zeros, not None or nan
        assert p.grad is not None and not p.grad.detach().numpy().any()


def test_linear_then_loss_on_empty_batch_gives_zero_grads_and_nan_mean():
    ours, theirs = cr.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    load_into_torch(ours, theirs)
    y, yt = _run(ours, theirs, cr.randn(0, 3), loss=lambda y: (y * y).mean())
    # the mean of nothing is nan in both; its gradient into the parameters is zero
    assert math.isnan(float((y * y).mean())) and math.isnan(float((yt * yt).mean()))


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm1d_on_zero_rows_matches_torch(training):
    ours, theirs = cr.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    load_into_torch(ours, theirs)
    ours.train(training)
    theirs.train(training)
    _run(ours, theirs, cr.randn(0, 3))
    for (k, v), (tk, tv) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert k == tk
        assert_close(v, tv, msg=k)  # running stats and the batch counter, as PyTorch leaves them


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target_kind", ["index", "probability"])
def test_cross_entropy_on_empty_batch_matches_torch(reduction, target_kind):
    logits = cr.randn(0, 4, requires_grad=True)
    target = cr.zeros(0, dtype=cr.int64) if target_kind == "index" else cr.zeros(0, 4)
    lt = to_torch(logits, requires_grad=True)
    tt = to_torch(target)
    loss = cr.nn.functional.cross_entropy(logits, target, reduction=reduction)
    tloss = torch.nn.functional.cross_entropy(lt, tt, reduction=reduction)
    np.testing.assert_array_equal(loss.detach().numpy(), tloss.detach().numpy())  # nan == nan here
    loss.sum().backward()
    tloss.sum().backward()
    assert_close(logits.grad, lt.grad)


# --------------------------------------------------------------- clip_grad_norm_ --
def _clip(m, grads, norm_type, **kw):
    params = []
    for g in grads:
        p = m.nn.Parameter(m.zeros(len(g)))
        p.grad = m.tensor(g)
        params.append(p)
    total = m.nn.utils.clip_grad_norm_(params, 1.0, norm_type=norm_type, **kw)
    return total, [p.grad for p in params]


INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("norm_type", [2.0, 1.0, INF, "inf"])
@pytest.mark.parametrize("grads", [
    [[1.0, INF], [2.0]],        # inf norm: every gradient times 0, inf * 0 = nan
    [[NAN, 1.0], [2.0]],        # nan norm: every gradient becomes nan
    [[INF, -INF], [0.5]],
    [[3.0, 4.0], [2.0]],        # finite, clipped
    [[0.1, 0.2], [0.3]],        # finite, under max_norm: untouched
], ids=["inf", "nan", "inf-minus-inf", "clipped", "unclipped"])
def test_clip_grad_norm_matches_torch_bit_for_bit(grads, norm_type):
    with np.errstate(all="raise"):  # and no NumPy warning on the way
        total, ours = _clip(cr, grads, norm_type)
    ttotal, theirs = _clip(torch, grads, norm_type)
    # nan and inf exactly where PyTorch has them; finite values to the norm kernel's rounding
    # (the 2-norm's summation order differs from PyTorch's by an ulp)
    for a, b in [(total, ttotal)] + list(zip(ours, theirs)):
        a, b = a.numpy(), b.numpy()
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_array_equal(np.isposinf(a), np.isposinf(b))
        np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b))
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)


@pytest.mark.parametrize("grads", [[[1.0, INF]], [[NAN, 1.0]]], ids=["inf", "nan"])
def test_clip_grad_norm_error_if_nonfinite(grads):
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        _clip(cr, grads, 2.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        _clip(torch, grads, 2.0, error_if_nonfinite=True)
    _, ours = _clip(cr, [[1.0, 2.0]], 2.0, error_if_nonfinite=True)  # finite: clips as usual
    _, theirs = _clip(torch, [[1.0, 2.0]], 2.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
