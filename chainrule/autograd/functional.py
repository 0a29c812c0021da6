"""``torch.autograd.functional``: ``vjp``, ``jvp``, ``jacobian``, ``hessian``, ``vhp``, ``hvp``
with PyTorch's signatures and result structures, built on :func:`chainrule.autograd.grad`.

``inputs`` is a tensor or a tuple of tensors; results follow it (a tensor, or a tuple per
input) and the function's outputs (a tuple per output when it returns a tuple). Results are
detached unless ``create_graph=True``. With ``strict=True`` an output independent of an
input is an error; otherwise its derivative is zeros.

>>> import chainrule as cr
>>> from chainrule.autograd.functional import jacobian, hessian
>>> jacobian(lambda x: x ** 2, cr.tensor([1.0, 2.0]))
tensor([[2., 0.],
        [0., 4.]])
>>> hessian(lambda x: (x ** 3).sum(), cr.tensor([1.0, 2.0]))
tensor([[ 6.,  0.],
        [ 0., 12.]])

``jacobian`` takes one reverse pass per output element (``vectorize`` and ``strategy`` are
accepted and change nothing but the checks), ``hessian`` a Jacobian of the gradient; ``jvp``
uses the double-vjp trick, and ``hvp`` is computed as ``vhp`` (the Hessian is symmetric).
"""
from __future__ import annotations

from typing import Any, Callable

from .engine import grad as _grad
from .grad_mode import enable_grad
from ..errors import ShapeError, op_error

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _tensor():
    from ..tensor import Tensor
    return Tensor


def _as_tuple(x, arg: str, fn: str) -> tuple[tuple, bool]:
    Tensor = _tensor()
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            where = f"{arg} (element {i})" if is_tuple else arg
            raise op_error(TypeError, fn, f"the {where} given to {fn} must be a Tensor or a tuple "
                           f"of Tensors, got {type(t).__name__}")
    return items, is_tuple


def _prepared(inputs: tuple, create_graph: bool) -> tuple:
    """Inputs to differentiate: the caller's own tensors when their graph must be kept
    (``create_graph``), else fresh leaves."""
    return tuple(t if create_graph and t.requires_grad else t.detach().requires_grad_(True)
                 for t in inputs)


def _finish(values, create_graph: bool, is_tuple: bool):
    values = tuple(v if create_graph else v.detach() for v in values)
    return values if is_tuple else values[0]


def _check_v(v, refs: tuple, fn: str, what: str) -> tuple:
    v, _ = _as_tuple(v, "v", fn)
    if len(v) != len(refs):
        raise op_error(ShapeError, fn, f"v has {len(v)} tensors but the {what} has {len(refs)}")
    for i, (a, b) in enumerate(zip(v, refs)):
        if tuple(a.shape) != tuple(b.shape):
            raise op_error(ShapeError, fn, f"entry {i} of v has shape {tuple(a.shape)} but the "
                           f"{what} has shape {tuple(b.shape)}")
    return v


def _fill(grads, refs: tuple, strict: bool, fn: str, text: str) -> tuple:
    from ..creation import zeros_like
    out = []
    for i, (g, r) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise op_error(RuntimeError, fn, text.format(i=i))
            g = zeros_like(r)
        out.append(g)
    return tuple(out)


def _vjp_of(outputs: tuple, inputs: tuple, v: tuple, create_graph: bool, strict: bool, fn: str):
    live = [(o, g) for o, g in zip(outputs, v) if o.requires_grad]
    if strict and len(live) != len(outputs):
        raise op_error(RuntimeError, fn, "the output of the user-provided function does not "
                       "require grad: it is independent of the inputs. This is not allowed in "
                       "strict mode.")
    grads = _grad([o for o, _ in live], inputs, [g for _, g in live], retain_graph=True,
                  create_graph=create_graph, allow_unused=True) if live else (None,) * len(inputs)
    return _fill(grads, inputs, strict, fn, "the outputs of the user-provided function are "
                 "independent of input {i}. This is not allowed in strict mode.")


def vjp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False):
    """``(func(*inputs), vᵀJ)``; ``v`` may be None when ``func`` returns one 1-element tensor.

    >>> import chainrule as cr
    >>> from chainrule.autograd.functional import vjp
    >>> vjp(lambda x: x * 3, cr.tensor([1.0, 2.0]), cr.tensor([1.0, -1.0]))
    (tensor([3., 6.]), tensor([ 3., -3.]))
    """
    from ..creation import ones_like
    with enable_grad():
        ins, in_tuple = _as_tuple(inputs, "inputs", "vjp")
        ins = _prepared(ins, create_graph)
        outs, out_tuple = _as_tuple(func(*ins), "outputs of the user-provided function", "vjp")
        if v is None:
            if len(outs) != 1 or outs[0].numel() != 1:
                raise op_error(RuntimeError, "vjp", "The vector v can only be None if the "
                               "user-provided function returns a single Tensor with a single "
                               "element.")
            v = (ones_like(outs[0]),)
        else:
            v = _check_v(v, outs, "vjp", "output")
        grads = _vjp_of(outs, ins, v, create_graph, strict, "vjp")
    return _finish(outs, create_graph, out_tuple), _finish(grads, create_graph, in_tuple)


def jvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False):
    """``(func(*inputs), J·v)``; ``v`` may be None when the input is one 1-element tensor.

    >>> import chainrule as cr
    >>> from chainrule.autograd.functional import jvp
    >>> jvp(lambda x: x ** 2, cr.tensor([1.0, 2.0]), cr.tensor([1.0, 1.0]))
    (tensor([1., 4.]), tensor([2., 4.]))
    """
    from ..creation import zeros_like
    with enable_grad():
        ins, in_tuple = _as_tuple(inputs, "inputs", "jvp")
        v = _input_vector(v, ins, "jvp")
        ins = _prepared(ins, create_graph)
        outs, out_tuple = _as_tuple(func(*ins), "outputs of the user-provided function", "jvp")
        # Jᵀu is linear in u: its derivative with respect to u along v is J v
        us = tuple(zeros_like(o).requires_grad_(True) for o in outs)
        vjps = _vjp_of(outs, ins, us, True, strict, "jvp")
        live = [(g, t) for g, t in zip(vjps, v) if g.requires_grad]
        grads = _grad([g for g, _ in live], us, [t for _, t in live], retain_graph=True,
                      create_graph=create_graph, allow_unused=True) if live else (None,) * len(us)
        grads = _fill(grads, outs, strict, "jvp", "output {i} of the user-provided function is "
                      "independent of the inputs. This is not allowed in strict mode.")
    return _finish(outs, create_graph, out_tuple), _finish(grads, create_graph, out_tuple)


def _check_strategy(strategy: str, fn: str) -> None:
    if strategy not in ("forward-mode", "reverse-mode"):
        raise op_error(ValueError, fn, 'Expected strategy to be either "forward-mode" or '
                       '"reverse-mode".')


def jacobian(func: Callable[..., Any], inputs: Any, create_graph: bool = False,
             strict: bool = False, vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: shape ``out.shape + in.shape`` per (output,
    input) pair, nested as ``(outputs)(inputs)`` where those are tuples."""
    from .. import func as cf
    _check_strategy(strategy, "jacobian")
    with enable_grad():
        ins, in_tuple = _as_tuple(inputs, "inputs", "jacobian")
        ins = _prepared(ins, create_graph)
        outs, out_tuple = _as_tuple(func(*ins), "outputs of the user-provided function",
                                    "jacobian")
        per_output = []
        for i, o in enumerate(outs):
            if strict and not o.requires_grad:
                raise op_error(RuntimeError, "jacobian", f"Output {i} of the user-provided "
                               f"function does not require gradients. The outputs must be "
                               f"computed in a differentiable manner from the input when "
                               f"running in strict mode.")
            jacs = cf._reverse_jacobians(o, list(ins), create_graph)
            per_output.append(tuple(jacs) if in_tuple else jacs[0])
    return tuple(per_output) if out_tuple else per_output[0]


def hessian(func: Callable[..., Any], inputs: Any, create_graph: bool = False,
            strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a ``func`` returning one 1-element tensor: ``in.shape + in.shape``, a
    tuple of tuples (one per pair of inputs) for a tuple of inputs."""
    _check_strategy(outer_jacobian_strategy, "hessian")
    _, in_tuple = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*ins):
        out = _single_scalar(func(*ins), "hessian")
        grads = _grad(out, ins, create_graph=True, allow_unused=True) if out.requires_grad \
            else (None,) * len(ins)
        grads = _fill(grads, ins, strict, "hessian", "the output of the user-provided function "
                      "is independent of input {i}. This is not allowed in strict mode.")
        return grads if in_tuple else grads[0]
    return jacobian(gradient, inputs, create_graph=create_graph, strict=strict)


def _single_scalar(out, fn: str):
    Tensor = _tensor()
    if not isinstance(out, Tensor):
        raise op_error(RuntimeError, fn, f"The function given to {fn} should return a single "
                       f"Tensor, got {type(out).__name__}")
    if out.numel() != 1:
        raise op_error(RuntimeError, fn, f"The Tensor returned by the function given to {fn} "
                       f"should contain a single element, got shape {tuple(out.shape)}")
    return out


def _input_vector(v: Any, ins: tuple, op: str) -> tuple:
    """``v`` checked against the inputs; None means ones for a single 1-element input."""
    from ..creation import ones_like
    if v is not None:
        return _check_v(v, ins, op, "input")
    if len(ins) != 1 or ins[0].numel() != 1:
        raise op_error(RuntimeError, op, "The vector v can only be None if the input to the "
                       "user-provided function is a single Tensor with a single element.")
    return (ones_like(ins[0]),)


def vhp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False):
    """``(func(*inputs), vᵀH)`` for a ``func`` returning one 1-element tensor."""
    from ..creation import ones_like
    with enable_grad():
        ins, in_tuple = _as_tuple(inputs, "inputs", "vhp")
        v = _input_vector(v, ins, "vhp")
        ins = _prepared(ins, create_graph)
        out = _single_scalar(func(*ins), "vhp")
        grads = _vjp_of((out,), ins, (ones_like(out),), True, strict, "vhp")
        result = _vjp_of(grads, ins, v, create_graph, strict, "vhp")
    return _finish((out,), create_graph, False), _finish(result, create_graph, in_tuple)


def hvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False):
    """``(func(*inputs), H·v)``: equal to :func:`vhp`, as the Hessian is symmetric."""
    return vhp(func, inputs, v, create_graph, strict)
