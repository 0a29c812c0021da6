"""Embedding: lookups and gradients vs PyTorch (repeated indices accumulate, padding_idx gets
no gradient and starts at zero, max_norm renormalises), finite differences, second order,
from_pretrained, errors."""
import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.errors import DTypeError, IndexingError
from torch_oracle import assert_close


def _pair(num, dim, dtype="float64", seed=0, **kw):
    theirs = torch.nn.Embedding(num, dim, **kw).to(getattr(torch, dtype))
    ours = cr.nn.Embedding(num, dim, **kw, dtype=getattr(cr, dtype))
    with torch.no_grad():
        theirs.weight.copy_(torch.randn(num, dim, generator=torch.Generator().manual_seed(seed)))
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("indices,kw", [
    ([[1, 2, 4], [4, 3, 2]], {}),
    ([3, 3, 3, 3], {}),                                  # one row, accumulated four times
    ([[0, 2, 0], [1, 0, 5]], dict(padding_idx=0)),
    ([[5, 1], [5, 5]], dict(padding_idx=-1)),           # negative padding_idx wraps
    ([[[1]], [[2]]], {}),                                # 3-D indices
    (np.zeros((0, 3), dtype=np.int64), {}),              # empty batch
])
def test_embedding_matches_torch(indices, kw, dtype):
    ours, theirs = _pair(6, 3, dtype, **kw)
    idx = np.asarray(indices, dtype=np.int64)
    out, tout = ours(cr.tensor(idx)), theirs(torch.tensor(idx))
    assert_close(out, tout, msg="lookup")
    g = np.random.default_rng(1).normal(size=tuple(tout.shape)).astype(dtype)
    out.backward(cr.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(ours.weight.grad, theirs.weight.grad, msg="weight gradient")


def test_padding_row_initialised_to_zero_and_gets_no_gradient():
    emb = cr.nn.Embedding(5, 4, padding_idx=2)
    assert emb.weight[2].tolist() == [0.0] * 4
    assert float(emb.weight.abs().sum()) > 0
    emb(cr.tensor([2, 2, 1])).sum().backward()
    assert emb.weight.grad[2].tolist() == [0.0] * 4
    assert emb.weight.grad[1].tolist() == [1.0] * 4


def test_default_init_is_standard_normal():
    w = cr.nn.Embedding(2000, 10).weight.detach().numpy()
    assert abs(w.mean()) < 0.03 and abs(w.std() - 1) < 0.03


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_max_norm_renormalises_looked_up_rows_like_torch(norm_type):
    ours, theirs = _pair(6, 4, max_norm=1.0, norm_type=norm_type)
    idx = np.array([[0, 2], [2, 5]])
    out, tout = ours(cr.tensor(idx)), theirs(torch.tensor(idx))
    assert_close(out, tout, rtol=1e-6, atol=1e-7)
    assert_close(ours.weight, theirs.weight, rtol=1e-6, atol=1e-7)  # renormalised in place
    out.sum().backward()
    tout.sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad)


def test_functional_and_from_pretrained():
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert F.embedding(cr.tensor([2, 0]), w).tolist() == [[5.0, 6.0], [1.0, 2.0]]
    emb = cr.nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad
    assert emb(cr.tensor([1])).tolist() == [[3.0, 4.0]]
    assert cr.nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    assert repr(cr.nn.Embedding(10, 3, padding_idx=0)) == repr(torch.nn.Embedding(10, 3, padding_idx=0))


def test_embedding_gradcheck_and_second_order():
    idx = cr.tensor([[0, 2, 2], [3, 2, 0]])
    w = cr.tensor(np.random.default_rng(2).normal(size=(4, 3)), requires_grad=True)
    assert cr.autograd.gradcheck(lambda w: F.embedding(idx, w), (w,))
    assert cr.autograd.gradgradcheck(lambda w: F.embedding(idx, w) ** 2, (w,))
    # second order through the padding mask: d/dw of sum((dL/dw)^2)
    loss = (F.embedding(idx, w, padding_idx=2) ** 2).sum()
    (g,) = cr.autograd.grad(loss, w, create_graph=True)
    (g * g).sum().backward()
    tw = torch.tensor(w.detach().numpy(), requires_grad=True)
    tloss = (torch.nn.functional.embedding(torch.tensor(idx.numpy()), tw, padding_idx=2) ** 2).sum()
    (tg,) = torch.autograd.grad(tloss, tw, create_graph=True)
    (tg * tg).sum().backward()
    assert_close(w.grad, tw.grad)


def test_embedding_errors():
    emb = cr.nn.Embedding(5, 2)
    with pytest.raises(IndexingError, match="index 5 is out of range"):
        emb(cr.tensor([1, 5]))
    with pytest.raises(IndexingError, match="index -1"):
        emb(cr.tensor([-1]))
    with pytest.raises(DTypeError, match="integer"):
        emb(cr.tensor([1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        cr.nn.Embedding(5, 2, padding_idx=5)
