"""How tensors and modules cross process boundaries (``multiprocessing``'s ForkingPickler).

Only multiprocessing's pickler learns these rules: ``pickle.dumps`` of a tensor or module is
still refused (chainrule files are never pickles; see chainrule.save). A tensor in shared memory
travels as its block's name, offset, shape, strides and dtype, so the receiver writes to the same
memory, as PyTorch; a tensor not yet shared is moved to shared memory first (PyTorch does the
same). Modules travel as their attributes, as ``chainrule.save(module)`` stores them.
"""
from __future__ import annotations

from multiprocessing.reduction import ForkingPickler

from . import _shared


def _refuse_non_leaf(t) -> None:
    if t._requires_grad and t.grad_fn is not None:
        raise RuntimeError(
            "Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
            "does not support crossing process boundaries.  If you just want to transfer the "
            "data, call detach() on the tensor before serializing (e.g., putting it on the queue).")


def _finish(cls, array, requires_grad: bool):
    from ..tensor import Tensor
    t = Tensor._make(array)
    if cls is not Tensor:
        t = cls._from_tensor(t) if hasattr(cls, "_from_tensor") else _plain_subclass(cls, t)
    t.requires_grad_(requires_grad)
    return t


def _plain_subclass(cls, t):
    from ..tensor import Tensor
    out = object.__new__(cls)
    Tensor._init(out, t._data, False, None, None)
    return out


def rebuild_shared(cls, name: str, offset: int, shape, strides, dtype, requires_grad: bool):
    return _finish(cls, _shared.attach(name, offset, shape, strides, dtype), requires_grad)


def reduce_tensor(t):
    _refuse_non_leaf(t)
    # as PyTorch: a tensor sent to another process is moved to shared memory first, so both
    # sides see one array (tensors that are views of this one keep the old memory here)
    _shared.share_memory_(t)
    a = t._data
    name, offset = _shared.location(a)
    return rebuild_shared, (type(t), name, offset, a.shape, a.strides, a.dtype, t._requires_grad)


def reduce_module(m):
    from ..nn.module import Module
    return Module._from_saved_state, (type(m), m._saved_state())


def _reducer_override(self, obj):
    from ..tensor import Tensor
    from ..nn.module import Module
    if isinstance(obj, Tensor):
        return reduce_tensor(obj)
    if isinstance(obj, Module):
        return reduce_module(obj)
    previous = _PREVIOUS
    return previous(self, obj) if previous is not None else NotImplemented


_PREVIOUS = getattr(ForkingPickler, "reducer_override", None)


def init_reductions() -> None:
    """Teaches multiprocessing's pickler the rules above (idempotent)."""
    if getattr(ForkingPickler, "reducer_override", None) is not _reducer_override:
        ForkingPickler.reducer_override = _reducer_override
