"""The sparse COO API as real programs use it (pytorch/examples gcn/gat), checked against PyTorch.
Gradients of the sparse products are in tests/ops/specs_sparse.py (the op sweep)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

IDX = [[0, 1, 1, 0], [2, 0, 2, 2]]   # (0, 2) twice: uncoalesced
VAL = [1.0, 2.0, 3.0, 4.0]


def both(f):
    return f(cr), f(torch)


def make(m, **kw):
    return m.sparse_coo_tensor(m.tensor(IDX), m.tensor(VAL), (2, 3), check_invariants=True, **kw)


def test_construction_metadata_and_to_dense():
    s, ts = both(make)
    assert s.is_sparse and ts.is_sparse and not cr.ones(1).is_sparse
    assert s.layout == cr.sparse_coo and str(s.layout) == "chainrule.sparse_coo"
    assert cr.ones(1).layout == cr.strided
    assert tuple(s.shape) == tuple(ts.shape) and s.dim() == 2 and s._nnz() == ts._nnz() == 4
    assert str(s.dtype) == "chainrule.float32" and s.is_coalesced() == ts.is_coalesced() is False
    assert s._indices().tolist() == ts._indices().tolist()
    assert s._values().tolist() == ts._values().tolist()
    np.testing.assert_array_equal(s.to_dense().numpy(), ts.to_dense().numpy())  # duplicates sum
    assert s.to("cpu").layout == cr.sparse_coo and s.to(cr.float64).dtype == cr.float64


def test_coalesce_sorts_and_sums_like_pytorch():
    s, ts = both(lambda m: make(m).coalesce())
    assert s.is_coalesced() and ts.is_coalesced()
    assert s.indices().tolist() == ts.indices().tolist()
    assert s.values().tolist() == ts.values().tolist()


def test_indices_of_uncoalesced_refused():
    for m in (cr, torch):
        with pytest.raises(Exception, match="Cannot get indices on an uncoalesced tensor"):
            make(m).indices()
        with pytest.raises(Exception, match="Cannot get values on an uncoalesced tensor"):
            make(m).values()


def test_size_inferred_and_numpy_indices_and_dtype():
    # gcn: sparse_coo_tensor(edges.T, torch.ones(E), (V, V), dtype=torch.int64), edges an int32 array
    edges = np.array([[0, 1], [2, 0], [1, 2]], dtype=np.int32)
    s, ts = both(lambda m: m.sparse_coo_tensor(edges.T, m.ones(3), (3, 3), dtype=m.int64,
                                               check_invariants=True))
    assert str(s.dtype) == "chainrule.int64" and ts.dtype == torch.int64
    dense, tdense = cr.eye(3) + s, torch.eye(3) + ts            # dense + sparse is dense float
    assert dense.layout == cr.strided and str(dense.dtype) == "chainrule.float32"
    np.testing.assert_array_equal(dense.numpy(), tdense.numpy())
    a, ta = both(lambda m: m.sparse_coo_tensor(m.tensor(IDX), m.tensor(VAL), check_invariants=True))
    assert tuple(a.shape) == tuple(ta.shape) == (2, 3)


@pytest.mark.parametrize("bad, match", [
    (lambda m: m.sparse_coo_tensor(m.tensor(IDX), m.ones(3), (2, 3), check_invariants=True),
     "same nnz"),
    (lambda m: m.sparse_coo_tensor(m.tensor(IDX), m.ones(4), (2, 2), check_invariants=True),
     "size is inconsistent with indices|index"),
])
def test_constructor_errors(bad, match):
    for m in (cr, torch):
        with pytest.raises(Exception, match=match):
            bad(m)


def test_to_sparse_of_dense_and_products_as_gcn_writes_them():
    rng = np.random.default_rng(0)
    feats = (rng.random((5, 4)) < 0.4).astype(np.float32) * rng.random((5, 4)).astype(np.float32)
    scale = rng.random(5).astype(np.float32)
    w = rng.standard_normal((4, 2)).astype(np.float32)
    outs = []
    for m in (cr, torch):
        f = m.tensor(feats)
        d = m.diag(m.tensor(scale)).to_sparse()
        assert d.is_coalesced() and d._nnz() == 5
        f = d @ f                                        # sparse @ dense -> dense
        sf = f.to_sparse()
        kernel = m.tensor(w, requires_grad=True)
        out = d.to_dense() @ m.spmm(d, m.mm(sf, kernel))  # spmm, mm(sparse, dense)
        out = out * (m.arange(10.0).reshape(2, 5) @ d).t()  # dense @ sparse
        out.pow(2).sum().backward()
        outs.append((out.detach().numpy(), kernel.grad.numpy(), f.layout == m.strided))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-5, atol=1e-5)
    assert outs[0][2] and outs[1][2]


def test_sparse_leaf_grad_through_sparse_mm_has_its_pattern():
    d = np.random.default_rng(1).standard_normal((3, 2))
    grads = []
    for m in (cr, torch):
        s = m.sparse_coo_tensor(m.tensor(IDX), m.tensor(VAL, dtype=m.float64), (2, 3),
                                requires_grad=True, check_invariants=True)
        assert s.requires_grad and s.is_leaf
        m.sparse.mm(s, m.tensor(d)).sum().backward()
        assert s.grad.is_sparse
        grads.append((s.grad._indices().tolist(), s.grad._values().tolist()))
    assert grads[0][0] == grads[1][0]
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12)


def test_values_gradient_through_to_dense_and_other_ops():
    v = cr.tensor(VAL, requires_grad=True)
    s = cr.sparse_coo_tensor(cr.tensor(IDX), v, (2, 3))
    (s.to_dense() * cr.arange(6.0).reshape(2, 3)).sum().backward()
    assert v.grad.tolist() == [2.0, 3.0, 5.0, 2.0]
    # an op with no sparse implementation would drop the values' gradient: refused
    with pytest.raises(cr.errors.ChainruleError, match="to_dense"):
        s * 2


def test_repr_names_indices_values_and_layout():
    text = repr(make(cr))
    assert text.startswith("tensor(indices=tensor([[0, 1, 1, 0],")
    assert "values=tensor([1., 2., 3., 4.])" in text
    assert text.endswith("size=(2, 3), nnz=4, layout=chainrule.sparse_coo)")
