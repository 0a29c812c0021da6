"""API forms real PyTorch programs use (pytorch/examples, tutorials, d2l), checked against PyTorch.

Each test exercises a call the way such programs write it; found by running them (runB).
"""
from __future__ import annotations

import pytest
import torch

import chainrule as cr


@pytest.mark.parametrize("call", [
    lambda lib: lib.randint(9, size=(1,)),             # randint(high, size=...) by keyword
    lambda lib: lib.randint(9, size=(3, 2)),
    lambda lib: lib.randint(high=9, size=(4,)),
    lambda lib: lib.randint(2, 9, size=(5,)),
    lambda lib: lib.randint(9, (2,)),
])
def test_randint_high_and_keyword_size(call):
    ours, theirs = call(cr), call(torch)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "chainrule.")
    lo = 2 if ours.numel() == 5 else 0
    draws = cr.cat([call(cr).flatten() for _ in range(200)])
    assert int(draws.min()) >= lo and int(draws.max()) <= 8
    assert int(draws.max()) == 8  # the whole range is reached, high excluded


@pytest.mark.parametrize("name", ["empty", "zeros", "ones", "rand", "randn"])
@pytest.mark.parametrize("size", [(2, 3), [4], ()])
def test_creation_size_by_keyword(name, size):
    # torch.empty(size=(in_features, hidden)) as in pytorch/examples gat
    ours = getattr(cr, name)(size=size, dtype=cr.float64)
    theirs = getattr(torch, name)(size=size, dtype=torch.float64)
    assert tuple(ours.shape) == tuple(theirs.shape) and str(ours.dtype) == "chainrule.float64"
    if name in ("zeros", "ones"):
        assert (ours.numpy() == theirs.numpy()).all()


@pytest.mark.parametrize("name", ["empty", "zeros", "ones", "rand", "randn"])
def test_creation_size_given_twice_is_refused_like_torch(name):
    with pytest.raises(TypeError):  # PyTorch's wording varies by function
        getattr(torch, name)(2, size=(3,))
    with pytest.raises(TypeError, match="multiple values for argument 'size'"):
        getattr(cr, name)(2, size=(3,))


_NUMPY_NAMED = [
    lambda m, x: x.sum(axis=0), lambda m, x: x.sum(axis=[0, 1]), lambda m, x: m.sum(x, axis=1),
    lambda m, x: x.sum(axis=1, keepdims=True), lambda m, x: m.sum(x, dim=0, keepdims=True),
    lambda m, x: x.mean(axis=0), lambda m, x: x.mean(axis=1, keepdims=True),
    lambda m, x: x.cumsum(axis=0), lambda m, x: x.prod(axis=1), lambda m, x: x.std(axis=0),
    lambda m, x: x.var(axis=1, keepdims=True), lambda m, x: x.argmax(axis=1),
    lambda m, x: x.amax(axis=0), lambda m, x: x.max(axis=0).values, lambda m, x: x.logsumexp(axis=1),
    lambda m, x: (x > 2).any(axis=0), lambda m, x: (x > 2).all(axis=1),
]


@pytest.mark.parametrize("call", _NUMPY_NAMED)
def test_reductions_take_numpy_argument_names(call):
    # d2l writes A.sum(axis=0), A.sum(axis=1, keepdims=True): PyTorch's parser accepts both
    data = [[0.5, 1.0, 4.0], [2.0, 3.0, -1.0]]
    ours, theirs = call(cr, cr.tensor(data)), call(torch, torch.tensor(data))
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.flatten().tolist() == pytest.approx(theirs.flatten().tolist(), rel=1e-6)


def test_reduction_with_dim_and_axis_both_is_refused():
    x = [[1.0, 2.0]]
    with pytest.raises(TypeError):
        torch.tensor(x).sum(dim=0, axis=0)
    with pytest.raises(TypeError, match="axis"):
        cr.tensor(x).sum(dim=0, axis=0)
