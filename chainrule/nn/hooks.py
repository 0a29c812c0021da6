"""Module full backward hooks: ``hook(module, grad_input, grad_output)``.

The engine runs one node per op, each with one output, so a module's input
gradients arrive one tensor at a time. To hand a hook *all* of them at once, the
module's tensor inputs are packed into one tensor (an identity view for one
input, a flat concatenation for several) and the forward sees pieces of it; the
outputs are packed the same way. A pre-hook on the
output pack's node sees every ``grad_output`` together, a pre-hook on the input
pack's node every ``grad_input``; a hook's return value replaces them.

>>> import chainrule as cr
>>> layer = cr.nn.Linear(3, 2)
>>> seen = []
>>> h = layer.register_full_backward_hook(lambda m, gi, go: seen.append((gi[0].shape, go[0].shape)))
>>> layer(cr.ones(4, 3, requires_grad=True)).sum().backward()
>>> seen
[(chainrule.Size([4, 3]), chainrule.Size([4, 2]))]

As in PyTorch, ``grad_input`` has one entry per positional argument: None for
non-tensors, and, when no input requires grad, None for all; otherwise tensor
inputs that do not require grad get zeros; an in-place layer
(``ReLU(inplace=True)``) with backward hooks is an error, since its input is a
view. Difference from PyTorch: an output that got no gradient shows up in
``grad_output`` as zeros rather than None.
"""
from __future__ import annotations

from ..autograd.grad_mode import GRAD
from ..errors import ShapeError, op_error
from ..ops.view_meta import mark_refused
from ..tensor import Tensor

__all__ = ["wrap_backward_hooks"]

_HOOKED_VIEW = ("It carries the module's input to its backward hooks; an in-place change would "
                "bypass them (e.g. ReLU(inplace=True) with a full backward hook).")



def _pack(tensors: list[Tensor]) -> Tensor:
    """One tensor that carries all of ``tensors``: an identity view for one, else the
    flat concatenation. Built from the registry's reshape and cat ops, so its node's
    incoming gradient is every piece's gradient at once."""
    from ..dtypes import from_numpy_dtype, result_type
    from ..ops.shape import reshape_op
    from ..ops.join import cat_op
    if len(tensors) == 1:
        t = tensors[0]
        shape = tuple(t._data.shape)
        view = reshape_op(t, shape=shape, in_shape=shape)  # a view: shares the version
        # its history must stay the hook's pack node: an in-place change may not rebase it
        return mark_refused([view], "the backward hooks of a module", _HOOKED_VIEW)[0]
    target = result_type([from_numpy_dtype(t._data.dtype) for t in tensors], [], [])
    flat = [t.to(target).reshape(-1) for t in tensors]
    sizes = tuple(t._data.shape[0] for t in flat)
    return cat_op(*flat, dim=0, sizes=sizes)


def _unpack(packed: Tensor, like: list[Tensor]) -> list[Tensor]:
    if len(like) == 1:
        return [packed]
    out, start = [], 0
    for t in like:
        n = t.numel()
        out.append(packed[start:start + n].reshape(tuple(t.shape)))
        start += n
    return out


def _split(g: Tensor, like: list[Tensor]) -> list[Tensor]:
    if len(like) == 1:
        return [g]
    out, start = [], 0
    for t in like:
        n = t.numel()
        out.append(Tensor._make(g._data[start:start + n].reshape(tuple(t.shape))))
        start += n
    return out


def _join(parts: list, like: list[Tensor], g: Tensor, who: str) -> Tensor:
    """The flat gradient for a pack node from a hook's returned tuple."""
    for p, t in zip(parts, like):
        if p is not None and tuple(p.shape) != tuple(t.shape):
            raise op_error(ShapeError, who, f"the hook returned a gradient of shape {tuple(p.shape)} "
                           f"for a tensor of shape {tuple(t.shape)}")
    if len(like) == 1:
        p = parts[0]
        return g * 0 if p is None else p.to(g.dtype)
    from ..backends import backend_of
    xp = backend_of(g._data)
    dtype = g._data.dtype
    flat = [xp.zeros(t.numel(), dtype=dtype) if p is None else p._data.reshape(-1).astype(dtype)
            for p, t in zip(parts, like)]
    return Tensor._make(xp.concatenate(flat))


class _BackwardHookState:
    """What one call of a hooked module remembers until its backward runs."""

    def __init__(self, module, n_args: int, input_positions: list[int]) -> None:
        self.module = module
        self.n_args = n_args
        self.input_positions = input_positions
        self.inputs: list[Tensor] = []
        self.outputs: list[Tensor] = []
        self.output_positions: list[int] = []
        self.n_outputs = 1
        self.grad_output: tuple | None = None
        self.other_tensors: list = []

    # -- output side: grad_output arrives first
    def on_output_grad(self, g: Tensor):
        parts = _split(g, self.outputs)
        grad_output = [None] * self.n_outputs
        for pos, p in zip(self.output_positions, parts):
            grad_output[pos] = p
        grad_output = tuple(grad_output)
        replaced = False
        for hook in list(self.module._backward_pre_hooks):
            out = hook(self.module, grad_output)
            if out is not None:
                out = _as_tuple(out)
                if len(out) != self.n_outputs:
                    raise op_error(ShapeError, "backward pre-hook", f"returned {len(out)} gradients "
                                   f"for {self.n_outputs} outputs of {type(self.module).__name__}")
                grad_output, replaced = out, True
        self.grad_output = grad_output
        if not self.input_positions and self.module._backward_hooks:
            # no input needs a gradient: the hook still fires, with grad_input all None
            self._call_hooks((None,) * self.n_args)
        if replaced:
            return _join([grad_output[p] for p in self.output_positions], self.outputs, g,
                         "backward pre-hook")
        return None

    # -- input side: every grad_input together
    def on_input_grad(self, g: Tensor):
        parts = _split(g, self.inputs)
        grad_input = [None] * self.n_args
        for pos, p in zip(self.input_positions, parts):
            grad_input[pos] = p
        for pos, zeros in self.other_tensors:
            grad_input[pos] = zeros()  # as PyTorch: zeros for tensor inputs without grad
        new = self._call_hooks(tuple(grad_input))
        if new is None:
            return None
        return _join([new[p] for p in self.input_positions], self.inputs, g, "backward hook")

    def _call_hooks(self, grad_input: tuple):
        replaced = None
        for hook in list(self.module._backward_hooks):
            out = hook(self.module, grad_input, self.grad_output)
            if out is not None:
                out = _as_tuple(out)
                if len(out) != len(grad_input):
                    raise op_error(ShapeError, "backward hook", f"returned {len(out)} gradients for "
                                   f"{len(grad_input)} inputs of {type(self.module).__name__}")
                grad_input = replaced = out
        return replaced


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _zeros_maker(t: Tensor):
    from ..backends import backend_of
    shape, dtype, xp = t._data.shape, t._data.dtype, backend_of(t._data)
    return lambda: Tensor._make(xp.zeros(shape, dtype=dtype))


def wrap_backward_hooks(module, args: tuple, kwargs: dict):
    """Run ``module.forward`` so that its full backward (pre-)hooks fire in backward."""
    if not GRAD.enabled:
        return module.forward(*args, **kwargs)
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    state = _BackwardHookState(module, len(args), positions)
    if positions:
        state.other_tensors = [(i, _zeros_maker(a)) for i, a in enumerate(args)
                               if isinstance(a, Tensor) and not a.requires_grad]
        state.inputs = [args[i] for i in positions]
        packed = _pack(state.inputs)
        packed.grad_fn.register_prehook(state.on_input_grad)
        args = list(args)
        for i, piece in zip(positions, _unpack(packed, state.inputs)):
            args[i] = piece
        args = tuple(args)
    result = module.forward(*args, **kwargs)
    outs = _as_tuple(result) if isinstance(result, (tuple, list)) else (result,)
    out_positions = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
    if not out_positions:
        return result
    state.n_outputs = len(outs)
    state.output_positions = out_positions
    state.outputs = [outs[i] for i in out_positions]
    packed = _pack(state.outputs)
    packed.grad_fn.register_prehook(state.on_output_grad)
    new_outs = list(outs)
    for i, piece in zip(out_positions, _unpack(packed, state.outputs)):
        new_outs[i] = piece
    if isinstance(result, Tensor):
        return new_outs[0]
    return type(result)(new_outs) if isinstance(result, list) else tuple(new_outs)
