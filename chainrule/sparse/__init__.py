"""``chainrule.sparse``: a minimal sparse COO layout, as programs such as pytorch/examples gcn use it.

``chainrule.sparse_coo_tensor``, ``Tensor.to_sparse()``, ``.to_dense()``, ``.coalesce()``,
``._indices()``/``._values()``, ``.is_sparse``, ``.layout``, and the products
``chainrule.sparse.mm`` / ``chainrule.spmm`` / ``mm`` / ``@`` between a sparse and a dense matrix
(dense results), with gradients for the dense operand and for the values.

>>> import chainrule as cr
>>> a = cr.eye(3).to_sparse()
>>> a.is_sparse, a.layout, a._nnz()
(True, chainrule.sparse_coo, 3)
>>> cr.sparse.mm(a, cr.ones(3, 2)).sum().item()
6.0
"""
from __future__ import annotations

from ..tensor import Tensor
from ._coo import (SparseCOOTensor, layout, sparse_coo, sparse_coo_tensor, sparse_matmul,
                   strided, to_sparse)

__all__ = ["mm", "SparseCOOTensor"]

# every dense tensor: layout strided, not sparse; to_sparse() makes the COO form
Tensor.is_sparse = False
Tensor.layout = strided
Tensor.to_sparse = to_sparse
Tensor.to_dense = lambda self, dtype=None, *, masked_grad=None: \
    self if dtype is None else self.to(dtype)


def mm(mat1: Tensor, mat2: Tensor, reduce: str | None = None) -> Tensor:
    """``mat1 @ mat2`` with ``mat1`` (or ``mat2``) sparse COO; the result is dense.

    >>> import chainrule as cr
    >>> cr.sparse.mm(cr.tensor([[0.0, 2.0], [0.0, 0.0]]).to_sparse(), cr.ones(2, 1)).tolist()
    [[2.0], [0.0]]
    """
    if reduce not in (None, "sum"):
        from ..errors import ChainruleError, op_error
        raise op_error(ChainruleError, "sparse.mm", f"reduce={reduce!r} is not supported here")
    return sparse_matmul(mat1, mat2, "sparse.mm")


def spmm(input: Tensor, mat2: Tensor) -> Tensor:
    """``torch.spmm``: the sparse @ dense product (``torch.sparse.mm``).

    >>> import chainrule as cr
    >>> cr.spmm(cr.eye(2).to_sparse(), cr.tensor([[1., 2.], [3., 4.]]))
    tensor([[1., 2.],
            [3., 4.]])
    """
    return sparse_matmul(input, mat2, "spmm")
