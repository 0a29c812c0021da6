"""The tensor ops added with the nn gaps (search, scans, products, structure): the errors
PyTorch raises, result dtypes, and what the op sweep (tests/ops/specs_more.py) cannot show."""
import numpy as np
import pytest
import torch

import chainrule as cr


@pytest.mark.parametrize("call,error,match", [
    (lambda m: m.searchsorted(m.tensor([1.0, 2.0]), m.tensor([1.0]), right=True, side="left"),
     RuntimeError, "opposites"),
    (lambda m: m.searchsorted(m.rand(2, 3), m.rand(1, 1)), RuntimeError, "boundaries|sorted_sequence"),
    (lambda m: m.bucketize(m.tensor([1.0]), m.rand(2, 2)), RuntimeError, "1 dimension"),
    (lambda m: m.histc(m.tensor([1, 2]), bins=4), RuntimeError, "not implemented|Long|int64"),
    (lambda m: m.histc(m.tensor([1.0, 2.0]), bins=4, min=3, max=1), RuntimeError, "max must be larger"),
    (lambda m: m.einsum("ij,jk->ik", m.ones(2, 3)), RuntimeError, "operand"),
    (lambda m: m.einsum("ij,jk->ik", m.ones(2, 3), m.ones(4, 2)), RuntimeError, "size|subscript"),
    (lambda m: m.trace(m.ones(2, 2, 2)), RuntimeError, "matrix|2D|2-D"),
    (lambda m: m.cdist(m.ones(2, 3), m.ones(2, 4)), RuntimeError, "columns|size"),
    (lambda m: m.rot90(m.ones(2, 2), 1, [0, 0]), RuntimeError, "different"),
    (lambda m: m.vander(m.ones(2, 2)), RuntimeError, "one-dimensional"),
    (lambda m: m.diag_embed(m.ones(2), 0, 1, 1), RuntimeError, "identical"),
    (lambda m: m.repeat_interleave(m.ones(3), m.tensor([1, 2])), RuntimeError, "repeats|size"),
    (lambda m: m.block_diag(m.ones(1, 1, 1)), RuntimeError, "2 or fewer"),
    (lambda m: m.addcdiv(m.ones(2, dtype=m.int64), m.ones(2, dtype=m.int64), m.ones(2, dtype=m.int64)),
     RuntimeError, "[Ii]nteger division"),
])
def test_errors_where_pytorch_raises(call, error, match):
    with pytest.raises(error, match=match):
        call(torch)
    with pytest.raises(error, match=match):
        call(cr)


def test_result_dtypes_and_grad_flags_follow_pytorch():
    for m in (cr, torch):
        s = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        assert not m.searchsorted(s, m.tensor([2.5])).requires_grad
        assert not m.histc(s, bins=3).requires_grad
    assert cr.tril_indices(3, 3, dtype=cr.int32).dtype == cr.int32
    assert cr.searchsorted(cr.tensor([1.0]), 2.0).shape == ()
    assert cr.vander(cr.tensor([True, False])).dtype == cr.int64
    assert cr.trace(cr.tensor([[1, 2], [3, 4]], dtype=cr.int32)).dtype == cr.int64
    x = cr.tensor([[1.0, 2.0]], requires_grad=True)
    assert cr.cummax(x, 1).values.requires_grad and not cr.cummax(x, 1).indices.requires_grad


def test_nan_to_num_in_place_and_einsum_matches_a_chain_of_matmuls():
    x = cr.tensor([float("nan"), float("inf"), 1.0])
    assert x.nan_to_num_(posinf=7.0) is x and x.tolist() == [0.0, 7.0, 1.0]
    a, b, c = cr.randn(2, 3), cr.randn(3, 4), cr.randn(4, 5)
    np.testing.assert_allclose(cr.einsum("ij,jk,kl->il", a, b, c).numpy(), (a @ b @ c).numpy(),
                               rtol=1e-5)
