"""Matrix products: matmul (1-D, 2-D, batched with broadcast batch dims), mm, bmm, dot…"""
from __future__ import annotations

from .._args import index_value, tensor_value
from ..errors import DTypeError, ShapeError, op_error
from ..tensor import Tensor
from ._operands import binary_operands, tensor_method, wrap_dim
from ..amp.autocast_mode import AUTOCAST, autocast_inputs
from .registry import defgrad, defop
from .shape import reshape, transpose, unsqueeze, squeeze


def _matmul_explain(inputs, params):
    a, b = (tuple(t.shape) for t in inputs)
    if len(a) == 0 or len(b) == 0:
        return f"both arguments must have at least 1 dimension, got shapes {a} and {b}"
    k_a = a[-1]
    k_b = b[0] if len(b) == 1 else b[-2]
    if k_a != k_b:
        return (f"shapes {a} and {b} cannot be multiplied: the last dim of the first ({k_a}) must "
                f"equal the {'only' if len(b) == 1 else 'second-to-last'} dim of the second ({k_b})")
    return (f"the batch dims of {a[:-2]} and {b[:-2]} cannot be broadcast together "
            "(sizes must be equal or 1)")


# The op works on ≥2-D operands; 1-D operands are promoted (and the result
# squeezed) by the public function, so the rules only see matrices and batches.
matmul_op = defop("matmul", lambda xp, a, b: xp.matmul(a, b), explain=_matmul_explain,
                  reads=((1,), (0,)))
defgrad(matmul_op, lambda m, g, ans, a, b: m.matmul(g, m.swapaxes(b, -1, -2)),
        lambda m, g, ans, a, b: m.matmul(m.swapaxes(a, -1, -2), g))


@tensor_method("matmul", "__matmul__")
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with NumPy/PyTorch rules for 1-D operands and batch broadcasting.

    >>> import chainrule as cr
    >>> (cr.ones(2, 3) @ cr.ones(3)).shape
    chainrule.Size([2])
    """
    return _matmul(input, other, "matmul")


def _matmul(input: Tensor, other: Tensor, op: str) -> Tensor:
    """matmul, with errors that name ``op`` (the function the user called)."""
    if AUTOCAST.active:  # inside chainrule.autocast: the product in its lower precision
        input, other = autocast_inputs(input, other)
    a, b = input, other
    if type(a) is not Tensor or type(b) is not Tensor or a._data.dtype != b._data.dtype:
        if getattr(a, "is_sparse", False) or getattr(b, "is_sparse", False):
            from ..sparse import sparse_matmul
            return sparse_matmul(a, b, op)
        a, b = _matrices(a, b, op)  # the common case skips the call
    if a._data.ndim == 0 or b._data.ndim == 0:
        raise op_error(ShapeError, op, f"both arguments must have at least 1 dimension, got "
                       f"shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if a._data.dtype.kind == "b":
        raise op_error(ShapeError, op, "bool tensors are not supported; convert first")
    squeeze_a = a._data.ndim == 1
    squeeze_b = b._data.ndim == 1
    if a._data.shape[-1] != b._data.shape[0 if squeeze_b else -2]:
        # checked before 1-D operands are promoted, so the message shows the user's shapes
        raise op_error(ShapeError, op, _matmul_explain((a, b), {}))
    if squeeze_a:
        a = unsqueeze(a, 0)
    if squeeze_b:
        b = unsqueeze(b, 1)
    out = matmul_op(a, b)
    if squeeze_a and squeeze_b:
        return reshape(out, out.shape[:-2])
    if squeeze_a:
        return squeeze(out, -2)
    if squeeze_b:
        return squeeze(out, -1)
    return out


Tensor.__rmatmul__ = lambda self, other: matmul(other, self)


def _matrices(a, b, op: str) -> tuple:
    """The operands of a matrix product: tensors of one dtype (PyTorch does not promote here)."""
    tensor_value(a, op, "input"), tensor_value(b, op, "other")  # no numbers or lists, as PyTorch
    if a._data.dtype != b._data.dtype:
        raise op_error(DTypeError, op, f"expected operands of one dtype, got {a.dtype.name} and "
                       f"{b.dtype.name}; convert one with .to()")
    return a, b


@tensor_method("mm")
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """2-D matrix product."""
    if getattr(input, "is_sparse", False) or getattr(mat2, "is_sparse", False):
        from ..sparse import sparse_matmul
        return sparse_matmul(input, mat2, "mm")
    input, mat2 = _matrices(input, mat2, "mm")
    if input.ndim != 2 or mat2.ndim != 2:
        raise op_error(ShapeError, "mm", f"expects 2-D tensors, got shapes {tuple(input.shape)} and "
                       f"{tuple(mat2.shape)}")
    return _matmul(input, mat2, "mm")


@tensor_method("bmm")
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched 3-D matrix product (no broadcasting)."""
    input, mat2 = _matrices(input, mat2, "bmm")
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise op_error(ShapeError, "bmm", f"expects 3-D tensors with the same batch size, got shapes "
                       f"{tuple(input.shape)} and {tuple(mat2.shape)}")
    return _matmul(input, mat2, "bmm")


@tensor_method("mv")
def mv(input: Tensor, vec: Tensor) -> Tensor:
    input, vec = _matrices(input, vec, "mv")
    if input.ndim != 2 or vec.ndim != 1:
        raise op_error(ShapeError, "mv", f"expects a matrix and a vector, got shapes "
                       f"{tuple(input.shape)} and {tuple(vec.shape)}")
    return _matmul(input, vec, "mv")


@tensor_method("dot")
def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors."""
    input, other = _matrices(input, other, "dot")
    if input.ndim != 1 or other.ndim != 1:
        raise op_error(ShapeError, "dot", f"expects 1-D tensors, got shapes {tuple(input.shape)} and "
                       f"{tuple(other.shape)}")
    return _matmul(input, other, "dot")


inner = dot


@tensor_method("outer", "ger")
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two 1-D tensors."""
    input, vec2 = binary_operands(input, vec2, "outer")
    if input.ndim != 1 or vec2.ndim != 1:
        raise op_error(ShapeError, "outer", f"expects 1-D tensors, got shapes {tuple(input.shape)} "
                       f"and {tuple(vec2.shape)}")
    return unsqueeze(input, 1) * unsqueeze(vec2, 0)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``."""
    mat1, mat2 = _matrices(mat1, mat2, "addmm")
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise op_error(ShapeError, "addmm", f"expects 2-D mat1 and mat2, got shapes "
                       f"{tuple(mat1.shape)} and {tuple(mat2.shape)}")
    prod = _matmul(mat1, mat2, "addmm")
    _broadcasts_to(input, tuple(prod.shape), "addmm")
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:  # input is ignored, NaN and inf included (PyTorch's rule)
        return prod
    return prod + (input if beta == 1 else input * beta)


def _broadcasts_to(input, shape: tuple, op: str) -> None:
    """``input`` (added to a product of ``shape``) must broadcast to that shape."""
    src = tuple(getattr(input, "shape", ()))
    if len(src) > len(shape) or any(s != t and s != 1 for s, t in zip(reversed(src), reversed(shape))):
        raise op_error(ShapeError, op, f"input of shape {src} does not broadcast to the product's "
                       f"shape {shape}")


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Contract the last ``dims`` dims of ``a`` with the first of ``b`` (or given lists)."""
    if not isinstance(dims, (list, tuple)):
        dims = index_value(dims, "tensordot", "dims")
        if not 0 <= dims <= min(a.ndim, b.ndim):
            raise op_error(ShapeError, "tensordot", f"dims must be in [0, {min(a.ndim, b.ndim)}] "
                           f"for shapes {tuple(a.shape)} and {tuple(b.shape)}, got {dims}")
        dims_a = list(range(a.ndim - dims, a.ndim))
        dims_b = list(range(dims))
    else:
        dims_a, dims_b = [list(d) if isinstance(d, (list, tuple)) else [d] for d in dims]
        dims_a = [wrap_dim(d, a.ndim, "tensordot") for d in dims_a]
        dims_b = [wrap_dim(d, b.ndim, "tensordot") for d in dims_b]
    if [a.shape[i] for i in dims_a] != [b.shape[i] for i in dims_b]:
        raise op_error(ShapeError, "tensordot", f"contracted dims of shapes {tuple(a.shape)} "
                       f"(dims {dims_a}) and {tuple(b.shape)} (dims {dims_b}) do not match")
    free_a = [i for i in range(a.ndim) if i not in dims_a]
    free_b = [i for i in range(b.ndim) if i not in dims_b]
    import math
    k = math.prod(a.shape[i] for i in dims_a)
    am = reshape(a.permute(*free_a, *dims_a), (-1, k))
    bm = reshape(b.permute(*dims_b, *free_b), (k, -1))
    out_shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[i] for i in free_b)
    return reshape(matmul(am, bm), out_shape)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    batch1, batch2 = _matrices(batch1, batch2, "baddbmm")
    if batch1.ndim != 3 or batch2.ndim != 3 or batch1.shape[0] != batch2.shape[0]:
        raise op_error(ShapeError, "baddbmm", f"expects 3-D batches of one size, got shapes "
                       f"{tuple(batch1.shape)} and {tuple(batch2.shape)}")
    prod = _matmul(batch1, batch2, "baddbmm")
    _broadcasts_to(input, tuple(prod.shape), "baddbmm")
    return (prod * alpha if alpha != 1 else prod) + (input if beta == 1 else input * beta)


__all__ = ["matmul", "mm", "bmm", "mv", "dot", "inner", "outer", "addmm", "tensordot",
           "baddbmm", "transpose"]
