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
