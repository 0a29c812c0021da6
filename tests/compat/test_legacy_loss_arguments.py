"""The deprecated size_average/reduce loss arguments: same reduction and same warning as PyTorch.

Older tutorials still write ``F.binary_cross_entropy(x_hat, x, size_average=False)`` (a VAE's
summed reconstruction loss); PyTorch maps it to reduction='sum' and warns each time."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr
from tests.torch_oracle import assert_close, to_torch

LEGACY = [(False, None), (True, None), (None, False), (False, False), (None, True), (True, True)]


def _warnings_of(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = call()
    return value, [(w.category, str(w.message), w.filename) for w in caught]


@pytest.mark.parametrize("size_average,reduce", LEGACY)
def test_functional_bce_legacy_arguments_reduce_and_warn_as_pytorch(size_average, reduce):
    rng = np.random.default_rng(0)
    probs = cr.tensor(rng.uniform(0.05, 0.95, (4, 6)).astype(np.float32), requires_grad=True)
    target = cr.tensor(rng.uniform(0, 1, (4, 6)).astype(np.float32))
    ours, our_warnings = _warnings_of(lambda: cr.nn.functional.binary_cross_entropy(
        probs, target, size_average=size_average, reduce=reduce))
    p = to_torch(probs)
    theirs, their_warnings = _warnings_of(lambda: torch.nn.functional.binary_cross_entropy(
        p, to_torch(target), size_average=size_average, reduce=reduce))
    assert_close(ours, theirs)
    assert [w[:2] for w in our_warnings] == [w[:2] for w in their_warnings]
    assert our_warnings[0][2] == __file__          # located at the caller's line, not in chainrule
    ours.sum().backward()
    theirs.sum().backward()
    assert_close(probs.grad, p.grad)


@pytest.mark.parametrize("size_average,reduce", LEGACY)
def test_loss_module_legacy_arguments_warn_once_at_construction(size_average, reduce):
    ours, our_warnings = _warnings_of(lambda: cr.nn.MSELoss(size_average=size_average, reduce=reduce))
    theirs, their_warnings = _warnings_of(lambda: torch.nn.MSELoss(size_average=size_average,
                                                                   reduce=reduce))
    assert ours.reduction == theirs.reduction
    assert [w[:2] for w in our_warnings] == [w[:2] for w in their_warnings]
    _, later = _warnings_of(lambda: ours(cr.ones(3), cr.zeros(3)))
    assert later == []


def test_no_warning_without_legacy_arguments():
    _, caught = _warnings_of(lambda: cr.nn.functional.mse_loss(cr.ones(3), cr.zeros(3),
                                                               reduction="sum"))
    assert caught == []
