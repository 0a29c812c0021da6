"""Op specs for chainrule.sparse (COO): the sparse @ dense products, to_dense and coalesce,
with gradients for the values and the dense operand, against PyTorch's sparse tensors."""
from __future__ import annotations

from harness import C, S, both

# a 3 x 4 pattern with a repeated entry (1, 2): uncoalesced, as sparse_coo_tensor leaves it
_IDX = [[0, 1, 2, 1, 0], [3, 2, 0, 2, 1]]


def _sparse(m, values):
    return m.sparse_coo_tensor(m.tensor(_IDX), values, (3, 4), check_invariants=True)


# PyTorch's sparse backward ops are not differentiable with respect to the incoming gradient
# (its double backward returns zeros there); gradgradcheck checks ours against finite differences
SPARSE_SECOND = "PyTorch's sparse backward has no derivative with respect to its incoming gradient"

SPECS = [
    S("sparse_mm", both(lambda m, v, d: m.sparse.mm(_sparse(m, v), d)),
      [C((5,), (4, 2)), C((5,), (4, 1))], ops=("sparse_coo_mm",), torch_second=SPARSE_SECOND),
    S("sparse_spmm_coalesced", both(lambda m, v, d: m.spmm(_sparse(m, v).coalesce(), d)),
      [C((5,), (4, 3))], ops=("sparse_coo_mm", "sparse_coo_sum_duplicates"),
      torch_second=SPARSE_SECOND),
    S("sparse_dense_matmul_sparse", both(lambda m, d, v: d @ _sparse(m, v)),
      [C((2, 3), (5,))], ops=("sparse_coo_mm",), torch_second=SPARSE_SECOND),
    S("sparse_to_dense", both(lambda m, v: _sparse(m, v).to_dense()),
      [C((5,))], ops=("sparse_coo_to_dense",), torch_second=SPARSE_SECOND),
    S("sparse_coalesce_values", both(lambda m, v: _sparse(m, v).coalesce().values()),
      [C((5,))], ops=("sparse_coo_sum_duplicates",), torch_second=SPARSE_SECOND),
    S("sparse_to_sparse_mm", both(lambda m, x, d: m.mm(x.to_sparse(), d)),
      [C((3, 4), (4, 2))], ops=("sparse_coo_mm",)),
]
