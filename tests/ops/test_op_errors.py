"""Bad input raises a chainrule error whose text names the op and what it got."""
from __future__ import annotations

import pytest

import chainrule as cr
from chainrule.errors import ChainruleError, DTypeError, IndexingError, ShapeError

ones = cr.ones
CASES = [
    ("add", ShapeError, lambda: ones(2, 3) + ones(4), ["(2, 3)", "(4,)"]),
    ("matmul", ShapeError, lambda: ones(2, 3) @ ones(4, 2), ["(2, 3)", "(4, 2)"]),
    ("matmul", ShapeError, lambda: ones(2, 2, 3) @ ones(3, 3, 2), ["batch"]),
    ("cat", ShapeError, lambda: cr.cat([ones(2, 3), ones(2, 4)]), ["(2, 3)", "(2, 4)"]),
    ("reshape", ShapeError, lambda: ones(2, 3).reshape(4, 2), ["(4, 2)", "(2, 3)"]),
    ("gather", IndexingError, lambda: cr.gather(ones(2, 3), 1, cr.tensor([[5]])), ["size 3"]),
    ("getitem", IndexingError, lambda: ones(2, 3)[5], ["(2, 3)", "size 2"]),
    ("getitem_advanced", IndexingError, lambda: ones(2, 3)[cr.tensor([True, False, True])], ["(2, 3)"]),
    ("getitem_advanced", IndexingError, lambda: ones(2, 3)[cr.tensor([0, 4])], ["(2, 3)"]),
    ("getitem", IndexingError, lambda: ones(2, 3)[cr.tensor([0.5])], ["float32"]),
    ("sum", IndexingError, lambda: ones(2, 3).sum(3), ["dim 3", "2 dimensions"]),
    ("softmax", IndexingError, lambda: cr.softmax(ones(2, 3), 2), ["dim 2"]),
    ("expand", ShapeError, lambda: ones(2, 3).expand(3, 3), ["(2, 3)", "(3, 3)"]),
    ("where", ShapeError, lambda: cr.where(ones(2) > 0, ones(3), ones(2)), ["(3,)"]),
    ("amax", ShapeError, lambda: ones(0, 3).amax(0), ["(0, 3)"]),
    ("index_select", IndexingError, lambda: cr.index_select(ones(2, 3), 0, cr.tensor([2])), ["size 2"]),
    ("scatter", DTypeError, lambda: cr.scatter(ones(2, 3), 0, cr.tensor([[0.5]]), ones(1, 1)), ["float32"]),
    ("masked_fill", DTypeError, lambda: cr.masked_fill(ones(2, 3), ones(2, 3), 0.0), ["bool"]),
    ("stack", ShapeError, lambda: cr.stack([ones(2), ones(3)]), ["(2,)", "(3,)"]),
    ("unflatten", ShapeError, lambda: cr.unflatten(ones(2, 6), 1, (4, -1)), ["(4, -1)"]),
    ("permute", ShapeError, lambda: ones(2, 3).permute(0, 0), ["(0, 0)"]),
    ("split", ShapeError, lambda: cr.split(ones(4), [1, 2]), ["size 4"]),
    ("flip", IndexingError, lambda: cr.flip(ones(2, 3), (2,)), ["dim 2"]),
    ("pad", ShapeError, lambda: cr.ops.shape.pad(ones(2), (1, 1, 1, 1)), ["got 4"]),
    ("mean", DTypeError, lambda: cr.tensor([1, 2]).mean(), ["int64"]),
]


@pytest.mark.parametrize("op,cls,fn,words", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_error_names_op_and_input(op, cls, fn, words):
    with pytest.raises(cls) as info:
        fn()
    assert isinstance(info.value, ChainruleError)
    text = str(info.value)
    assert text.startswith(f"{op}:"), text
    for w in words:
        assert w in text, f"{w!r} not in: {text}"
    assert "test_op_errors.py" in text  # points at the user's line
