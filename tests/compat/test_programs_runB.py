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
