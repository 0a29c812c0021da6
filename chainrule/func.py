"""Functional transforms: ``grad``, ``value_and_grad``, ``vjp``, ``jvp``, ``jacrev``,
``jacfwd``, ``hessian``, ``vmap`` — with JAX / ``torch.func`` semantics, built on the engine —
and ``functional_call`` / ``stack_module_state`` to use a module's parameters as arguments.
``vmap`` lives in ``func_vmap.py`` and the module bridge in ``func_modules.py``; this file
re-exports both, so ``chainrule.func`` is the one import path.

Each transform takes a function of tensors and returns a function. Inputs that do
not require grad are replaced by fresh leaves, so results come back detached;
inputs that already require grad (an enclosing transform, or the user's own
graph) are differentiated in place with ``create_graph=True``, which is what makes
transforms nest: ``grad(grad(f))`` is the second derivative.

>>> import chainrule as cr
>>> from chainrule.func import grad
>>> f = lambda x: (x ** 3).sum()
>>> grad(f)(cr.tensor([1.0, 2.0]))
tensor([ 3., 12.])
>>> grad(lambda x: grad(f)(x).sum())(cr.tensor([1.0, 2.0]))
tensor([ 6., 12.])
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from .autograd.engine import grad as _autograd_grad
from .autograd.grad_mode import enable_grad
from .errors import DTypeError, ShapeError, op_error
from .func_trees import _name, _spec_str, tree_flatten, tree_unflatten  # noqa: F401
from .func_modules import functional_call, stack_module_state  # noqa: F401  (chainrule.func's API)
from .func_vmap import vmap  # noqa: F401  (chainrule.func's API)
from .tensor import Tensor

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call", "stack_module_state", "grad_and_value", "tree_flatten",
           "tree_unflatten"]


def _argnums_tuple(argnums, nargs: int, op: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not isinstance(n, int) or not -nargs <= n < nargs:
            raise op_error(ValueError, op, f"argnums {argnums!r} is out of range for a function "
                           f"called with {nargs} positional argument(s)")
    return tuple(n % nargs for n in nums)


def _prepare(x, op: str) -> tuple[Tensor, bool]:
    """The tensor to differentiate with respect to, and whether it is nested in a graph."""
    if not isinstance(x, Tensor):
        raise op_error(DTypeError, op, f"can only differentiate with respect to Tensors, got "
                       f"{type(x).__name__}")
    if x._requires_grad:
        return x, True
    if not x.is_floating_point():
        raise op_error(DTypeError, op, f"can only differentiate with respect to floating-point "
                       f"tensors, got dtype {x.dtype.name}")
    return x.detach().requires_grad_(True), False


def _prepare_args(args: tuple, argnums, op: str) -> tuple[list, tuple, bool]:
    """The arguments with those in ``argnums`` ready to differentiate, those positions, and
    whether any of them is nested in an outer graph."""
    nums = _argnums_tuple(argnums, len(args), op)
    args = list(args)
    nested = False
    for n in nums:
        args[n], was = _prepare(args[n], op)
        nested = nested or was
    return args, nums, nested


def _scalar_output(out, op: str) -> Tensor:
    if not isinstance(out, Tensor):
        raise op_error(DTypeError, op, f"the function must return a Tensor, got {type(out).__name__}")
    if out._data.size != 1 or out._data.ndim != 0:
        raise op_error(ShapeError, op, f"the function must return a scalar (0-d) tensor, got shape "
                       f"{tuple(out.shape)}; use vjp or jacrev for non-scalar outputs")
    if not out.is_floating_point():
        raise op_error(DTypeError, op, f"the function must return a floating-point tensor, got "
                       f"dtype {out.dtype.name}")
    return out


def _split_aux(result, has_aux: bool, op: str):
    if not has_aux:
        return result, None
    if not isinstance(result, tuple) or len(result) != 2:
        raise op_error(TypeError, op, "with has_aux=True the function must return a pair "
                       "(output, aux)")
    return result


def _grads(outputs: Sequence[Tensor], inputs: Sequence[Tensor], grad_outputs, create_graph: bool,
           retain_graph: bool | None = None) -> list[Tensor]:
    """d outputs / d inputs (zeros for inputs the outputs do not depend on)."""
    from .creation import zeros_like
    live = [o for o in outputs if o._requires_grad]
    gouts = [go for o, go in zip(outputs, grad_outputs) if o._requires_grad]
    if not live:
        return [zeros_like(x) for x in inputs]
    grads = _autograd_grad(live, inputs, gouts, retain_graph=retain_graph, create_graph=create_graph,
                           allow_unused=True)
    return [zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]


def _detach_unless(t, nested: bool):
    if isinstance(t, Tensor) and not nested:
        return t.detach()
    return t


# -------------------------------------------------------------- grad family --
def value_and_grad(func: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    """A function returning ``(func(*args), grad)``; ``((out, aux), grad)`` with ``has_aux``.

    An argument differentiated may be a tensor or a tuple / list / dict of tensors (a dict
    of parameters, as ``functional_call`` takes): its gradient has the same structure.

    >>> import chainrule as cr
    >>> from chainrule.func import value_and_grad
    >>> value_and_grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(cr.tensor([2.0]), cr.tensor([5.0]))
    (tensor(10.), (tensor([5.]), tensor([2.])))
    >>> value_and_grad(lambda p: (p["w"] * 3).sum())({"w": cr.tensor([1.0])})
    (tensor(3.), {'w': tensor([3.])})
    """
    def wrapper(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args), "grad")
        args = list(args)
        nested = False
        trees = []  # per argument differentiated: (structure, its prepared tensors)
        for n in nums:
            leaves, spec = tree_flatten(args[n])
            prepared = [_prepare(leaf, "grad") for leaf in leaves]
            nested = nested or any(was for _, was in prepared)
            leaves = [p for p, _ in prepared]
            args[n] = tree_unflatten(spec, leaves)
            trees.append((spec, leaves))
        with enable_grad():
            out, aux = _split_aux(func(*args, **kwargs), has_aux, "grad")
        out = _scalar_output(out, "grad")
        wrt = [leaf for _, leaves in trees for leaf in leaves]
        grads = iter([_detach_unless(g, nested) for g in _grads([out], wrt, [None], create_graph=nested)])
        per_arg = [tree_unflatten(spec, [next(grads) for _ in leaves]) for spec, leaves in trees]
        g = per_arg[0] if isinstance(argnums, int) else tuple(per_arg)
        value = _detach_unless(out, nested)
        if has_aux:
            return (value, aux), g
        return value, g
    _name(wrapper, "value_and_grad", func)
    return wrapper


def grad(func: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    """The gradient of a scalar-valued ``func`` with respect to argument(s) ``argnums``.

    With ``has_aux=True`` ``func`` returns ``(output, aux)`` and the transform returns
    ``(grad, aux)``. A tuple ``argnums`` gives a tuple of gradients.

    >>> import chainrule as cr
    >>> from chainrule.func import grad
    >>> grad(lambda x: (x * x).sum())(cr.tensor([1.0, -3.0]))
    tensor([ 2., -6.])
    >>> g, aux = grad(lambda x: ((x * x).sum(), "note"), has_aux=True)(cr.tensor([1.0]))
    >>> g, aux
    (tensor([2.]), 'note')
    """
    vg = value_and_grad(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        if has_aux:
            return g, value[1]
        return g
    _name(wrapper, "grad", func)
    return wrapper


def grad_and_value(func: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    """``torch.func``'s spelling: ``(grad, value)``, or ``(grad, (value, aux))`` with ``has_aux``.

    >>> import chainrule as cr
    >>> from chainrule.func import grad_and_value
    >>> grad_and_value(lambda x: (x * x).sum())(cr.tensor([1.0, 2.0]))
    (tensor([2., 4.]), tensor(5.))
    """
    vg = value_and_grad(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return g, value
    _name(wrapper, "grad_and_value", func)
    return wrapper


# ------------------------------------------------------------- vjp and jvp --
def _as_outputs(out, op: str) -> tuple[tuple[Tensor, ...], bool]:
    if isinstance(out, Tensor):
        return (out,), True
    if isinstance(out, (tuple, list)) and all(isinstance(o, Tensor) for o in out):
        return tuple(out), False
    raise op_error(DTypeError, op, f"the function must return a Tensor or a tuple of Tensors, got "
                   f"{type(out).__name__}")


def vjp(func: Callable[..., Any], *primals: Tensor, has_aux: bool = False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangent)`` is the tuple of vᵀJ, one per primal.

    ``vjp_fn`` may be called many times (the graph is kept). For a function with
    several outputs, pass one cotangent per output.

    >>> import chainrule as cr
    >>> from chainrule.func import vjp
    >>> out, vjp_fn = vjp(lambda x: x * x, cr.tensor([1.0, 2.0]))
    >>> vjp_fn(cr.tensor([1.0, 10.0]))
    (tensor([ 2., 40.]),)
    """
    if not primals:
        raise op_error(ValueError, "vjp", "expected at least one primal tensor")
    prepared = [_prepare(p, "vjp") for p in primals]
    xs = [p for p, _ in prepared]
    nested = any(was for _, was in prepared)
    with enable_grad():
        result, aux = _split_aux(func(*xs), has_aux, "vjp")
    outs, single = _as_outputs(result, "vjp")

    def vjp_fn(*cotangents):
        if single and len(cotangents) == 1 and isinstance(cotangents[0], (tuple, list)):
            cotangents = tuple(cotangents[0])
        if not single and len(cotangents) == 1 and isinstance(cotangents[0], (tuple, list)):
            cotangents = tuple(cotangents[0])
        if len(cotangents) != len(outs):
            raise op_error(ValueError, "vjp", f"expected {len(outs)} cotangent(s), one per output, "
                           f"got {len(cotangents)}")
        for o, c in zip(outs, cotangents):
            if not isinstance(c, Tensor) or tuple(c.shape) != tuple(o.shape):
                raise op_error(ShapeError, "vjp", f"cotangent of shape "
                               f"{tuple(getattr(c, 'shape', ()))} does not match the output's "
                               f"shape {tuple(o.shape)}")
        grads = _grads(outs, xs, list(cotangents), create_graph=nested, retain_graph=True)
        return tuple(_detach_unless(g, nested) for g in grads)

    shown = outs[0] if single else outs
    shown = _detach_unless(shown, nested) if single else tuple(_detach_unless(o, nested) for o in outs)
    if has_aux:
        return shown, vjp_fn, aux
    return shown, vjp_fn


def jvp(func: Callable[..., Any], primals: Sequence[Tensor], tangents: Sequence[Tensor],
        has_aux: bool = False):
    """``(func(*primals), J·tangents)``: a forward-mode product, by the double-vjp trick.

    Reverse mode gives ``u ↦ Jᵀu``, linear in ``u``; differentiating that with respect to
    ``u`` (it needs only ``create_graph``) gives ``t ↦ J t``.

    >>> import chainrule as cr
    >>> from chainrule.func import jvp
    >>> jvp(lambda x: x.sin(), (cr.tensor([0.0]),), (cr.tensor([2.0]),))
    (tensor([0.]), tensor([2.]))
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise op_error(ValueError, "jvp", f"got {len(primals)} primals but {len(tangents)} tangents")
    for p, t in zip(primals, tangents):
        if not isinstance(t, Tensor) or tuple(t.shape) != tuple(p.shape):
            raise op_error(ShapeError, "jvp", f"tangent of shape {tuple(getattr(t, 'shape', ()))} "
                           f"does not match its primal's shape {tuple(p.shape)}")
    prepared = [_prepare(p, "jvp") for p in primals]
    xs = [p for p, _ in prepared]
    nested = any(was for _, was in prepared)
    with enable_grad():
        result, aux = _split_aux(func(*xs), has_aux, "jvp")
        outs, single = _as_outputs(result, "jvp")
        from .creation import zeros_like
        # dummy cotangents: the value is irrelevant (Jᵀu is linear in u)
        us = [zeros_like(o).requires_grad_(True) if o.is_floating_point() else None for o in outs]
        live = [(o, u) for o, u in zip(outs, us) if u is not None]
        vjps = _grads([o for o, _ in live], xs, [u for _, u in live], create_graph=True,
                      retain_graph=True)
        tans = [t.to(x.dtype) for t, x in zip(tangents, xs)]
        jvps = _grads(vjps, [u for _, u in live], tans, create_graph=nested, retain_graph=nested)
    out_t = iter(jvps)
    results = [next(out_t) if u is not None else zeros_like(o) for o, u in zip(outs, us)]
    results = [_detach_unless(r, nested) for r in results]
    outs_shown = [_detach_unless(o, nested) for o in outs]
    if single:
        value, tangent = outs_shown[0], results[0]
    else:
        value, tangent = tuple(outs_shown), tuple(results)
    if has_aux:
        return value, tangent, aux
    return value, tangent


# --------------------------------------------------------------- Jacobians --
def _reverse_jacobians(out: Tensor, wrt: list, nested: bool) -> list:
    """d out / d x for each x of ``wrt``, by one vjp per element of ``out``."""
    from .creation import zeros
    from .ops.join import stack
    flat = out.reshape(-1)
    rows: list[list[Tensor]] = [[] for _ in wrt]
    for k in range(flat.shape[0]):
        e = zeros(flat.shape[0], dtype=out.dtype, device=out.device)
        e._data[k] = 1
        gs = _grads([flat], wrt, [e], create_graph=nested, retain_graph=True)
        for j, g in enumerate(gs):
            rows[j].append(g)
    jacs = []
    for x, r in zip(wrt, rows):
        if r:
            j = stack(r, 0).reshape(*out.shape, *x.shape)
        else:
            j = zeros(*out.shape, *x.shape, dtype=x.dtype, device=x.device)
        jacs.append(_detach_unless(j, nested))
    return jacs


def jacrev(func: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian by reverse mode (one vjp per output element): shape out.shape + in.shape.
    A function returning a tuple of tensors gets a tuple of Jacobians, one per output.

    >>> import chainrule as cr
    >>> from chainrule.func import jacrev
    >>> jacrev(lambda x: x * x)(cr.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
    """
    def wrapper(*args):
        args, nums, nested = _prepare_args(args, argnums, "jacrev")
        with enable_grad():
            out = func(*args)
            several = isinstance(out, tuple)  # a tuple of outputs: a Jacobian for each
            outs = out if several else (out,)
            if not outs or not all(isinstance(o, Tensor) for o in outs):
                got = ", ".join(type(o).__name__ for o in outs) if several else type(out).__name__
                raise op_error(DTypeError, "jacrev", f"the function must return a Tensor or a "
                               f"non-empty tuple of Tensors, got {got or 'an empty tuple'}")
            wrt = [args[n] for n in nums]
            per_output = []
            for o in outs:
                jacs = _reverse_jacobians(o, wrt, nested)
                per_output.append(jacs[0] if isinstance(argnums, int) else tuple(jacs))
        return tuple(per_output) if several else per_output[0]
    _name(wrapper, "jacrev", func)
    return wrapper


def jacfwd(func: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian by forward mode (one jvp per input element): shape out.shape + in.shape.

    >>> import chainrule as cr
    >>> from chainrule.func import jacfwd
    >>> jacfwd(lambda x: x.sum() * x)(cr.tensor([1.0, 2.0]))
    tensor([[4., 1.],
            [2., 5.]])
    """
    def wrapper(*args):
        from .creation import zeros, zeros_like
        from .ops.join import stack
        nums = _argnums_tuple(argnums, len(args), "jacfwd")
        jacs = []
        for n in nums:
            x = args[n]

            def f_of_x(xn, n=n):
                return func(*args[:n], xn, *args[n + 1:])
            cols = []
            out_shape = None
            for k in range(x.numel()):
                t = zeros_like(x).reshape(-1)
                t._data[k] = 1
                out, col = jvp(f_of_x, (x,), (t.reshape(*x.shape),))
                out_shape = tuple(out.shape)
                cols.append(col.reshape(-1))
            if cols:
                j = stack(cols, -1).reshape(*out_shape, *x.shape)
            else:
                out_shape = tuple(func(*args).shape)
                j = zeros(*out_shape, *x.shape, dtype=x.dtype, device=x.device)
            jacs.append(j)
        return jacs[0] if isinstance(argnums, int) else tuple(jacs)
    _name(wrapper, "jacfwd", func)
    return wrapper


def hessian(func: Callable[..., Any], argnums: int = 0) -> Callable[..., Any]:
    """The Hessian of a scalar-valued ``func``: shape in.shape + in.shape (reverse over reverse).

    >>> import chainrule as cr
    >>> from chainrule.func import hessian
    >>> hessian(lambda x: (x[0] ** 2) * x[1])(cr.tensor([1.0, 3.0]))
    tensor([[6., 2.],
            [2., 0.]])
    """
    wrapper = jacrev(jacrev(func, argnums), argnums)
    _name(wrapper, "hessian", func)
    return wrapper
