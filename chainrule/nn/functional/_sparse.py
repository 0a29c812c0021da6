"""Functional embedding lookup: ``embedding`` (PyTorch's signature).

A lookup is a gather of rows; its gradient is a segment sum (repeated indices
accumulate) into a zero matrix, computed by sorting the indices once instead of
a scatter-add per element. The row ``padding_idx`` gets no gradient. Both
directions are ops whose rules are each other, so higher-order gradients work.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> w = cr.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> F.embedding(cr.tensor([[1, 2, 1]]), w).sum().backward()
>>> w.grad
tensor([[0., 0.],
        [2., 2.],
        [1., 1.]])
"""
from __future__ import annotations

from ..._host_calls import any_bad, capturing
from ...autograd.grad_mode import no_grad
from ...backends import backend_of, on_its_gpu
from ...errors import DTypeError, IndexingError, ShapeError, op_error
from ...ops.registry import defgrad, defop
from ...tensor import Tensor

__all__ = ["embedding"]


# --------------------------------------------------------------------- ops --
def _gather_rows_fwd(xp, w, indices, num_weights, padding_idx, masked):
    out = xp.take(w, indices, axis=0)
    if masked and padding_idx is not None:
        out *= (indices != padding_idx)[..., None]
    return out


def _row_sums_fwd(xp, g, indices, num_weights, padding_idx):
    """Zeros (num_weights, D) with each row of ``g`` added at its index; ``padding_idx`` kept 0."""
    d = g.shape[-1]
    flat_idx = indices.reshape(-1)
    rows = g.reshape(-1, d)
    out = xp.zeros((num_weights, d), dtype=g.dtype)
    if flat_idx.size:
        reduceat = getattr(xp.add, "reduceat", None)
        if reduceat is not None and not capturing():  # sort once, then one segment sum per
            # distinct index (how many: data; a capture scatters, shapes fixed by the input)
            order = xp.argsort(flat_idx, kind="stable")
            ordered = flat_idx[order]
            first = xp.flatnonzero(xp.concatenate([ordered[:1] + 1, ordered[:-1]]) != ordered)
            out[ordered[first]] = reduceat(rows[order], first, axis=0)
        else:
            backend_of(g).scatter_add(out, flat_idx, rows)
    if padding_idx is not None:
        out[padding_idx] = 0
    return out


gather_rows_op = defop("embedding", _gather_rows_fwd, saves=())
row_sums_op = defop("embedding_backward", _row_sums_fwd, saves=())
# the padding row's gradient is zero by definition (PyTorch), so embedding's rule is the
# row sum that skips it; the row sum's adjoint is the lookup with padding entries masked
defgrad(gather_rows_op, lambda m, g, ans, w, indices, num_weights, padding_idx, masked:
        row_sums_op.on(m, g, indices=indices, num_weights=num_weights, padding_idx=padding_idx))
defgrad(row_sums_op, lambda m, c, ans, g, indices, num_weights, padding_idx:
        gather_rows_op.on(m, c, indices=indices, num_weights=num_weights, padding_idx=padding_idx,
                          masked=True))


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (num_embeddings, D) picked by the integer tensor ``input``.

    ``padding_idx`` rows get no gradient; with ``max_norm`` the picked rows whose
    ``norm_type``-norm exceeds it are rescaled in place first (as PyTorch).
    """
    op = "embedding"
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise op_error(DTypeError, op, "expected tensors for input and weight, got "
                       f"{type(input).__name__} and {type(weight).__name__}")
    if input._data.dtype.kind not in "iu":
        raise op_error(DTypeError, op, f"indices must be an integer tensor, got dtype "
                       f"{input.dtype.name} (convert with .long())")
    if weight.ndim != 2:
        raise op_error(ShapeError, op, f"expected a 2-D weight (num_embeddings, embedding_dim), got "
                       f"shape {tuple(weight.shape)}")
    if scale_grad_by_freq or sparse:
        raise op_error(ValueError, op, "scale_grad_by_freq and sparse gradients are not supported")
    num = weight.shape[0]
    idx = on_its_gpu(input._data)
    if idx.size and any_bad((idx < 0) | (idx >= num), IndexingError,
                            f"{op}: an index is out of range for a weight with {num} rows"):
        bad = idx.min().item() if idx.min().item() < 0 else idx.max().item()
        raise op_error(IndexingError, op, f"index {bad} is out of range for a weight with {num} "
                       f"rows (expected 0 to {num - 1})")
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise op_error(IndexingError, op, f"padding_idx {padding_idx} must be within the "
                           f"{num} rows of weight")
        padding_idx = padding_idx % num
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
    return gather_rows_op(weight, indices=idx, num_weights=num, padding_idx=padding_idx,
                          masked=False)


def _renorm_rows(weight: Tensor, idx, max_norm: float, norm_type: float) -> None:
    """Rescale (in place, no grad) the referenced rows whose norm exceeds ``max_norm``."""
    xp = backend_of(weight._data)
    rows = xp.unique(idx.reshape(-1))
    with no_grad():
        picked = weight._data[rows]
        norms = (xp.abs(picked) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(picked.dtype)
        updated = weight._data.copy()
        updated[rows] = picked * scale[:, None]
        weight.copy_(Tensor._make(updated))
