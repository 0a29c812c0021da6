"""Sparse COO tensors: ``indices`` (sparse_dim x nnz, int64) and ``values`` (nnz,) of a shape.

A :class:`SparseCOOTensor` keeps its ``values`` as an ordinary tensor, so gradients reach them
(and whatever they were computed from) through the sparse ops below: ``to_dense``, the sparse
matrix products (sparse @ dense, dense @ sparse) and ``coalesce``. Every other op sees the
sparse tensor as the dense array it stands for (and returns a dense result); that fallback is
refused while the values require grad, since it could not carry their gradient.

>>> import chainrule as cr
>>> s = cr.sparse_coo_tensor([[0, 1], [1, 0]], [2.0, 3.0], (2, 2))
>>> (s @ cr.ones(2, 1)).tolist()
[[2.0], [3.0]]
"""
from __future__ import annotations

import numpy as np

from ..autograd.graph import VersionCounter
from ..dtypes import from_numpy_dtype
from ..errors import ChainruleError, DTypeError, ShapeError, op_error
from ..ops.registry import defop, defvjp
from ..tensor import Size, Tensor

try:  # scipy comes with scikit-learn; without it the products scatter with np.add.at
    import scipy.sparse as _scipy_sparse
except ImportError:  # pragma: no cover - depends on the environment
    _scipy_sparse = None


class layout:
    """A tensor's memory layout: ``chainrule.strided`` (dense) or ``chainrule.sparse_coo``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"chainrule.{self.name}"

    def __reduce__(self):
        return self.name


strided = layout("strided")
sparse_coo = layout("sparse_coo")


# -- the ops (forward on arrays, VJP rules on tensors) --------------------------------------

def _to_dense_fwd(xp, values, indices, shape):
    out = xp.zeros(shape, dtype=values.dtype)
    xp.add.at(out, tuple(indices), values)
    return out


to_dense_op = defop("sparse_coo_to_dense", _to_dense_fwd, saves=())
defvjp(to_dense_op, lambda g, ans, values, indices, shape: g[_index_tuple(indices)])


def _index_tuple(indices) -> tuple:
    return tuple(Tensor._make(row) for row in indices)


def _spmm_fwd(xp, values, dense, rows, cols, n_rows, n_cols):
    """``S @ dense`` for the (n_rows x n_cols) matrix S with entries (rows, cols, values)."""
    if _scipy_sparse is not None and values.dtype.kind in "fc":
        m = _scipy_sparse.csr_matrix((values, (rows, cols)), shape=(n_rows, n_cols))
        return np.asarray(m @ dense, dtype=np.result_type(values, dense))
    out = xp.zeros((n_rows,) + dense.shape[1:], dtype=np.result_type(values, dense))
    xp.add.at(out, rows, values[:, None] * dense[cols])
    return out


spmm_op = defop("sparse_coo_mm", _spmm_fwd, reads=((1,), (0,)))
defvjp(spmm_op,
       # d values[k] = <g[rows[k]], dense[cols[k]]>
       lambda g, ans, values, dense, rows, cols, n_rows, n_cols:
           (g[Tensor._make(rows)] * dense[Tensor._make(cols)]).sum(-1),
       # d dense = S^T @ g: the same op with rows and cols swapped
       lambda g, ans, values, dense, rows, cols, n_rows, n_cols:
           spmm_op(values, g, rows=cols, cols=rows, n_rows=n_cols, n_cols=n_rows))


def _sum_duplicates_fwd(xp, values, inverse, n):
    out = xp.zeros((n,) + values.shape[1:], dtype=values.dtype)
    xp.add.at(out, inverse, values)
    return out


sum_duplicates_op = defop("sparse_coo_sum_duplicates", _sum_duplicates_fwd, saves=())
defvjp(sum_duplicates_op, lambda g, ans, values, inverse, n: g[Tensor._make(inverse)])


# -- the tensor ---------------------------------------------------------------------------------

class SparseCOOTensor(Tensor):
    """A sparse tensor in COO layout; make one with :func:`sparse_coo_tensor` or ``to_sparse()``."""

    __slots__ = ("_indices_arr", "_values_t", "_size", "_coalesced", "_dense_cache")
    is_sparse = True
    layout = sparse_coo

    @classmethod
    def _new(cls, indices: np.ndarray, values: Tensor, size, coalesced: bool) -> "SparseCOOTensor":
        s = object.__new__(cls)
        # the slots ops read: never an autograd input itself (its values are), so never
        # requires grad as far as dense ops are concerned
        s._requires_grad = False
        s.grad_fn = None
        s._vc = VersionCounter()
        s._indices_arr = indices
        s._values_t = values
        s._size = tuple(int(n) for n in size)
        s._coalesced = coalesced
        s._dense_cache = None
        return s

    # the dense array every other op sees (see the module docstring)
    @property
    def _data(self):
        v = self._values_t
        if v._requires_grad:
            raise op_error(ChainruleError, "sparse_coo",
                           "this operation has no sparse implementation here and its values "
                           "require grad; call .to_dense() first (it is differentiable), or "
                           "use a sparse product (torch.sparse.mm, @)")
        cache = self._dense_cache
        if cache is None or cache[0] is not v._data or cache[1] != v._vc.value:
            dense = _to_dense_fwd(np, v._data, self._indices_arr, self._size)
            dense.flags.writeable = False  # writing into it would not reach the values
            self._dense_cache = cache = (v._data, v._vc.value, dense)
        return cache[2]

    @_data.setter
    def _data(self, value) -> None:
        raise op_error(ChainruleError, "sparse_coo", "a sparse tensor cannot be changed in place")

    # -- metadata without making the dense array
    @property
    def shape(self) -> Size:
        return Size(self._size)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._size)
        return self._size[dim]

    @property
    def dtype(self):
        return self._values_t.dtype

    @property
    def device(self):
        return self._values_t.device

    @property
    def ndim(self) -> int:
        return len(self._size)

    def dim(self) -> int:
        return len(self._size)

    def numel(self) -> int:
        return int(np.prod(self._size))

    def is_floating_point(self) -> bool:
        return self._values_t.is_floating_point()

    def is_contiguous(self) -> bool:
        raise op_error(ChainruleError, "is_contiguous", "sparse tensors do not have is_contiguous")

    def _nnz(self) -> int:
        return int(self._indices_arr.shape[1])

    def sparse_dim(self) -> int:
        return len(self._size)

    def dense_dim(self) -> int:
        return 0

    # -- autograd: that of the values
    @property
    def requires_grad(self) -> bool:
        return self._values_t.requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self._values_t.requires_grad = value

    def requires_grad_(self, requires_grad: bool = True) -> "SparseCOOTensor":
        self._values_t.requires_grad_(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self._values_t.is_leaf

    @property
    def grad(self):
        """The values' gradient, as a sparse tensor of this one's indices."""
        g = self._values_t.grad
        if g is None:
            return None
        if self._coalesced:
            return SparseCOOTensor._new(self._indices_arr, g, self._size, True)
        # as PyTorch: the gradient at each position of the pattern, once (a repeated index's
        # entries all have that gradient), in sorted order
        flat = np.ravel_multi_index(tuple(self._indices_arr), self._size)
        uniq, first = np.unique(flat, return_index=True)
        idx = np.stack(np.unravel_index(uniq, self._size)).astype(np.int64)
        return SparseCOOTensor._new(idx, g[Tensor._make(first)], self._size, True)

    @grad.setter
    def grad(self, value) -> None:
        if value is None:
            self._values_t.grad = None
        else:
            raise op_error(ChainruleError, "grad", "assigning the gradient of a sparse tensor is "
                           "not supported; set it to None")

    # -- the sparse API
    def is_coalesced(self) -> bool:
        return self._coalesced

    def _indices(self) -> Tensor:
        return Tensor._make(self._indices_arr)

    def _values(self) -> Tensor:
        return self._values_t

    def indices(self) -> Tensor:
        self._need_coalesced("indices")
        return self._indices()

    def values(self) -> Tensor:
        self._need_coalesced("values")
        return self._values_t

    def _need_coalesced(self, what: str) -> None:
        if not self._coalesced:
            raise op_error(ChainruleError, what, f"Cannot get {what} on an uncoalesced tensor, "
                           "please call .coalesce() first")

    def coalesce(self) -> "SparseCOOTensor":
        """Indices sorted (row-major) and unique; the values of repeated indices summed."""
        if self._coalesced:
            return self
        idx = self._indices_arr
        if idx.shape[1] == 0:
            return SparseCOOTensor._new(idx, self._values_t, self._size, True)
        flat = np.ravel_multi_index(tuple(idx), self._size)
        uniq, inverse = np.unique(flat, return_inverse=True)
        values = sum_duplicates_op(self._values_t, inverse=inverse.reshape(-1), n=len(uniq))
        new_idx = np.stack(np.unravel_index(uniq, self._size)).astype(np.int64)
        return SparseCOOTensor._new(new_idx, values, self._size, True)

    def to_dense(self, dtype=None, *, masked_grad=None) -> Tensor:
        """The dense tensor (differentiable with respect to the values)."""
        values = self._values_t if dtype is None else self._values_t.to(dtype)
        return to_dense_op(values, indices=self._indices_arr, shape=self._size)

    def to_sparse(self, *args, **kwargs) -> "SparseCOOTensor":
        return self

    def to(self, *args, **kwargs) -> "SparseCOOTensor":
        values = self._values_t.to(*args, **kwargs)
        if values is self._values_t:
            return self
        return SparseCOOTensor._new(self._indices_arr, values, self._size, self._coalesced)

    def cpu(self) -> "SparseCOOTensor":
        return self.to("cpu")

    def float(self) -> "SparseCOOTensor":
        return self.to(from_numpy_dtype(np.dtype(np.float32)))

    def double(self) -> "SparseCOOTensor":
        return self.to(from_numpy_dtype(np.dtype(np.float64)))

    def detach(self) -> "SparseCOOTensor":
        return SparseCOOTensor._new(self._indices_arr, self._values_t.detach(), self._size,
                                    self._coalesced)

    def clone(self, *, memory_format=None) -> "SparseCOOTensor":
        return SparseCOOTensor._new(self._indices_arr.copy(), self._values_t.clone(), self._size,
                                    self._coalesced)

    def t(self) -> "SparseCOOTensor":
        if len(self._size) != 2:
            raise op_error(ShapeError, "t", f"expects a 2-D tensor, got {len(self._size)}-D")
        return SparseCOOTensor._new(self._indices_arr[::-1].copy(), self._values_t,
                                    self._size[::-1], False)

    def __repr__(self) -> str:
        from ..tensor import _format_tensor
        pad = " " * 15
        ind = _format_tensor(self._indices()).replace("\n", "\n" + pad)
        val = _format_tensor(self._values_t.detach()).replace("\n", "\n" + " " * 14)
        extra = ""
        if self._values_t.dtype.name != "float32":
            extra = f", dtype={self._values_t.dtype}"
        if self._values_t.requires_grad:
            extra += ", requires_grad=True"
        return (f"tensor(indices={ind},\n       values={val},\n       size={self._size}, "
                f"nnz={self._nnz()}{extra}, layout={sparse_coo})")

    __str__ = __repr__


# -- making sparse tensors ---------------------------------------------------------------------

def _as_index_array(indices) -> np.ndarray:
    if isinstance(indices, Tensor):
        arr = indices._data
    else:
        arr = np.asarray(indices)
    if arr.dtype.kind not in "iu":
        raise op_error(DTypeError, "sparse_coo_tensor",
                       f"indices must be an int64 tensor, got {arr.dtype}")
    return np.array(arr, dtype=np.int64, copy=True)


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None,
                      pin_memory: bool = False, requires_grad: bool = False,
                      check_invariants=None, is_coalesced=None) -> SparseCOOTensor:
    """A sparse COO tensor with ``values`` at the columns of ``indices`` (sparse_dim x nnz).

    >>> import chainrule as cr
    >>> cr.sparse_coo_tensor([[0, 2]], [1.0, 5.0], (4,)).to_dense()
    tensor([1., 0., 5., 0.])
    """
    from ..creation import tensor as make_tensor
    idx = _as_index_array(indices)
    if not isinstance(values, Tensor):
        values = make_tensor(values, dtype=dtype)
    elif dtype is not None:
        values = values.to(dtype)
    if device is not None:
        values = values.to(device)
    if idx.ndim != 2:
        raise op_error(ShapeError, "sparse_coo_tensor",
                       f"indices must be sparse_dim x nnz, but got: {list(idx.shape)}")
    if values.ndim != 1:
        raise op_error(ShapeError, "sparse_coo_tensor",
                       "only 1-D values (no dense dims) are supported here, got values of shape "
                       f"{tuple(values.shape)}")
    if idx.shape[1] != values.shape[0]:
        raise op_error(ShapeError, "sparse_coo_tensor",
                       f"indices and values must have same nnz, but got nnz from indices: "
                       f"{idx.shape[1]}, nnz from values: {values.shape[0]}")
    if idx.size and idx.min() < 0:
        raise op_error(ShapeError, "sparse_coo_tensor",
                       f"found negative index {int(idx.min())} for dim {int(np.argmin(idx.min(1)))}")
    if size is None:
        size = tuple(int(m) + 1 for m in idx.max(1)) if idx.shape[1] else (0,) * idx.shape[0]
    else:
        size = tuple(int(n) for n in size)
        if len(size) != idx.shape[0]:
            raise op_error(ShapeError, "sparse_coo_tensor",
                           f"number of dimensions must be sparse_dim ({idx.shape[0]}) + dense_dim "
                           f"(0), but got {len(size)}")
        if idx.shape[1]:
            for d, (top, n) in enumerate(zip(idx.max(1), size)):
                if top >= n:
                    raise op_error(ShapeError, "sparse_coo_tensor",
                                   f"size is inconsistent with indices: for dim {d}, size is {n} "
                                   f"but found index {int(top)}")
    if requires_grad:
        values = values.detach().requires_grad_(True)
    return SparseCOOTensor._new(idx, values, size, bool(is_coalesced))


def to_sparse(self: Tensor, sparse_dim=None, *, layout=None, blocksize=None,
              dense_dim=None) -> SparseCOOTensor:
    """The sparse COO form of a dense tensor: its non-zero entries, coalesced.

    Differentiable: the values are gathered from this tensor.
    """
    if isinstance(self, SparseCOOTensor):
        return self
    if (sparse_dim not in (None, self.ndim)) or dense_dim not in (None, 0):
        raise op_error(ChainruleError, "to_sparse", "only sparse_dim == ndim (no dense dims) is "
                       "supported here")
    if layout not in (None, sparse_coo):
        raise op_error(ChainruleError, "to_sparse", f"only layout=sparse_coo is supported, got "
                       f"{layout}")
    arr = self._data
    idx = np.stack(np.nonzero(arr)).astype(np.int64).reshape(arr.ndim, -1)
    values = self[_index_tuple(idx)] if arr.ndim else self.reshape(1)
    return SparseCOOTensor._new(idx, values, arr.shape, True)


# -- products --------------------------------------------------------------------------------

def _check_product(a, b, op: str) -> None:
    if a.ndim != 2 or b.ndim != 2:
        raise op_error(ShapeError, op, f"sparse products need 2-D operands here, got shapes "
                       f"{tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[1] != b.shape[0]:
        raise op_error(ShapeError, op, f"shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                       f"multiplied ({a.shape[1]} != {b.shape[0]})")
    if a.dtype != b.dtype:
        raise op_error(DTypeError, op, f"expected operands of one dtype, got {a.dtype.name} and "
                       f"{b.dtype.name}; convert one with .to()")


def sparse_matmul(a: Tensor, b: Tensor, op: str = "mm") -> Tensor:
    """``a @ b`` where either is a sparse COO matrix and the other dense; the result is dense."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise op_error(DTypeError, op, f"expected tensors, got {type(a).__name__} and "
                       f"{type(b).__name__}")
    _check_product(a, b, op)
    if a.is_sparse and b.is_sparse:
        raise op_error(ChainruleError, op, "sparse @ sparse is not supported here; call "
                       ".to_dense() on one operand")
    if a.is_sparse:
        rows, cols = a._indices_arr
        return spmm_op(a._values_t, b, rows=rows, cols=cols, n_rows=a.shape[0], n_cols=a.shape[1])
    # dense @ sparse = (sparse^T @ dense^T)^T
    rows, cols = b._indices_arr
    return spmm_op(b._values_t, a.mT, rows=cols, cols=rows, n_rows=b.shape[1], n_cols=b.shape[0]).mT
