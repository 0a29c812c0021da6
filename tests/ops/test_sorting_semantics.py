"""Sorting with ties, NaN and infinities, and its errors, against PyTorch (indices included)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

nan, inf = float("nan"), float("inf")
DATA = [[3.0, nan, 1.0, 3.0, -inf], [inf, 2.0, 2.0, nan, 2.0], [0.0, -0.0, 5.0, 5.0, 1.0]]


def _same(ours, theirs):
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.numpy(), t.numpy())


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_stable_sort_with_ties_and_nan(descending, dim):
    ours = cr.sort(cr.tensor(DATA), dim=dim, descending=descending, stable=True)
    theirs = torch.sort(torch.tensor(DATA), dim=dim, descending=descending, stable=True)
    _same(ours, theirs)
    _same([cr.argsort(cr.tensor(DATA), dim, descending, stable=True)],
          [torch.argsort(torch.tensor(DATA), dim=dim, descending=descending, stable=True)])


@pytest.mark.parametrize("largest", [True, False])
def test_topk_values_with_nan_and_inf(largest):
    ours = cr.tensor(DATA).topk(2, dim=1, largest=largest)
    theirs = torch.tensor(DATA).topk(2, dim=1, largest=largest)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())


def test_integer_and_bool_sorts():
    ints = [[5, -3, 0, 7], [1, 1, -9, 2]]
    for descending in (False, True):
        _same(cr.sort(cr.tensor(ints), descending=descending, stable=True),
              torch.sort(torch.tensor(ints), descending=descending, stable=True))
    flags = [True, False, True, False]
    _same(cr.sort(cr.tensor(flags), descending=True, stable=True),
          torch.sort(torch.tensor(flags), descending=True, stable=True))


def test_median_is_the_lower_one_and_nan_wins():
    x = [[4.0, 1.0, 3.0, 2.0], [1.0, nan, 0.0, 2.0]]
    _same(cr.tensor(x).median(1), torch.tensor(x).median(1))
    assert cr.tensor([4.0, 1.0, 3.0, 2.0]).median().item() == 2.0
    assert np.isnan(cr.tensor(x).median().item()) and np.isnan(torch.tensor(x).median().item())
    assert np.isnan(cr.median(cr.ones(0)).item()) and np.isnan(torch.median(torch.ones(0)).item())


def test_gradient_goes_to_the_chosen_positions():
    x = cr.tensor([[0.5, 3.0, 2.0], [1.0, -1.0, 4.0]], requires_grad=True)
    tx = torch.tensor(x.tolist(), requires_grad=True)
    (cr.topk(x, 2).values * cr.tensor([1.0, 10.0])).sum().backward()
    (torch.topk(tx, 2).values * torch.tensor([1.0, 10.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("call", [
    lambda m: m.topk(m.ones(3), 4),
    lambda m: m.topk(m.ones(3), -1),
    lambda m: m.kthvalue(m.ones(3), 0),
    lambda m: m.kthvalue(m.ones(3), 4),
    lambda m: m.sort(m.ones(3), dim=2),
    lambda m: m.tril(m.ones(3)),
    lambda m: m.triu(m.ones(3)),
    lambda m: m.diag(m.ones(2, 2, 2)),
], ids=["topk_k_large", "topk_k_negative", "kth_0", "kth_large", "sort_dim", "tril_1d", "triu_1d",
        "diag_3d"])
def test_refused_as_in_pytorch(call):
    with pytest.raises(Exception):
        call(torch)
    with pytest.raises((IndexError, ValueError, RuntimeError)) as error:
        call(cr)
    assert "(called at " in str(error.value)
