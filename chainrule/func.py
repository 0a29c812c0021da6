"""Functional transforms: ``grad``, ``value_and_grad``, ``vjp``, ``jvp``, ``jacrev``,
``jacfwd``, ``hessian``, ``vmap`` — with JAX / ``torch.func`` semantics, built on the engine —
and ``functional_call`` / ``stack_module_state`` to use a module's parameters as arguments.

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
from .tensor import Tensor

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call", "stack_module_state", "grad_and_value", "tree_flatten",
           "tree_unflatten"]


# ----------------------------------------------------------------- pytrees --
def tree_flatten(tree: Any) -> tuple[list, Any]:
    """The leaves of nested tuples / lists / dicts (in order), and the structure to rebuild
    it with :func:`tree_unflatten`. Anything else (a Tensor, a number, None) is a leaf.

    >>> leaves, spec = tree_flatten({"a": (1, 2), "b": 3})
    >>> leaves, tree_unflatten(spec, [10, 20, 30])
    ([1, 2, 3], {'a': (10, 20), 'b': 30})
    """
    leaves: list = []

    def walk(t):
        if isinstance(t, (tuple, list)):
            return (type(t), None, [walk(c) for c in t])
        if isinstance(t, dict):
            return (type(t), list(t.keys()), [walk(v) for v in t.values()])
        leaves.append(t)
        return None
    return leaves, walk(tree)


def tree_unflatten(spec: Any, leaves: Sequence) -> Any:
    """The tree of structure ``spec`` (from :func:`tree_flatten`) with these leaves."""
    it = iter(leaves)

    def build(sp):
        if sp is None:
            return next(it)
        kind, keys, children = sp
        made = [build(c) for c in children]
        if keys is not None:
            return kind(zip(keys, made))
        return kind(*made) if hasattr(kind, "_fields") else kind(made)  # (namedtuples)
    return build(spec)


def _spec_str(spec) -> str:
    if spec is None:
        return "*"
    kind, keys, children = spec
    inner = ", ".join((f"{k!r}: " if keys is not None else "") + _spec_str(c)
                      for k, c in zip(keys or [None] * len(children), children))
    return f"{kind.__name__}({inner})"


# ----------------------------------------------------------------- helpers --
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


def _name(wrapper, transform: str, func) -> None:
    wrapper.__name__ = f"{transform}({getattr(func, '__name__', 'f')})"
    wrapper.__doc__ = getattr(func, "__doc__", None)


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
    from .ops.shape import stack
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
        from .ops.shape import stack
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


# -------------------------------------------------------------------- vmap --
class _RefuseRandom:
    """Stands in for the default generator's NumPy generator while a ``vmap`` with
    ``randomness='error'`` runs: any draw raises, as in PyTorch."""

    def __init__(self, real) -> None:
        self.real = real

    def __getattr__(self, name: str):
        raise op_error(RuntimeError, "vmap", "called random operation while in randomness error "
                       "mode. Please either use the 'same' or 'different' randomness flags on "
                       "vmap or perform the randomness operation out of vmap")


def _vmap_where(func, in_dims) -> str:
    return f"vmap({getattr(func, '__name__', 'f')}, in_dims={in_dims}, ...)(<inputs>)"


def _batched_leaves(func, in_dims, args: tuple) -> tuple[list, Any, list]:
    """The flattened arguments, their structure, and each leaf's mapped dim (None: not
    mapped), checked as PyTorch checks them."""
    where = _vmap_where(func, in_dims)
    if not isinstance(in_dims, (int, tuple)) and in_dims is not None:
        raise op_error(ValueError, where, f"expected `in_dims` to be int or a (potentially nested) "
                       f"tuple matching the structure of inputs, got: {type(in_dims)}.")
    leaves, spec = tree_flatten(args)
    dims_tree = (in_dims,) * len(args) if not isinstance(in_dims, tuple) else in_dims
    dims: list = []

    def broadcast(d, sub_spec) -> bool:  # ``d`` is a prefix of the argument's structure
        if d is None or isinstance(d, int) and not isinstance(d, bool):
            dims.extend([d] * _count(sub_spec))
            return True
        if sub_spec is None or not isinstance(d, (tuple, list, dict)):
            return False
        kind, keys, children = sub_spec
        if keys is not None:
            if not isinstance(d, dict) or list(d.keys()) != keys:
                return False
            return all(broadcast(d[k], c) for k, c in zip(keys, children))
        if isinstance(d, dict) or len(d) != len(children):
            return False
        return all(broadcast(dd, c) for dd, c in zip(d, children))
    if not broadcast(tuple(dims_tree), spec):
        _, dspec = tree_flatten(tuple(dims_tree))
        raise op_error(ValueError, where, f"in_dims is not compatible with the structure of "
                       f"`inputs`. in_dims has structure {_spec_str(dspec)} but inputs has "
                       f"structure {_spec_str(spec)}.")
    for k, (leaf, d) in enumerate(zip(leaves, dims)):
        if d is None:
            continue
        if not isinstance(leaf, Tensor):
            raise op_error(ValueError, where, f"Got in_dim={d} for an input but the input is of "
                           f"type {type(leaf)}. We cannot vmap over non-Tensor arguments, please "
                           f"use None as the respective in_dim")
        nd = leaf.ndim
        if not -nd <= d < nd:
            raise op_error(ValueError, where, f"Got in_dim={d} for some input, but that input is a "
                           f"Tensor of dimensionality {nd} so expected in_dim to satisfy "
                           f"-{nd} <= in_dim < {nd}.")
        dims[k] = d % nd
    return leaves, spec, dims


def _count(spec) -> int:
    return 1 if spec is None else sum(_count(c) for c in spec[2])


def vmap(func: Callable[..., Any], in_dims: Any = 0, out_dims: Any = 0, randomness: str = "error",
         *, chunk_size: int | None = None) -> Callable[..., Any]:
    """``func`` mapped over a dimension of its inputs, with ``torch.func.vmap``'s interface.

    ``in_dims`` (an int, None, or a tuple per positional argument, nested like the argument:
    tuples / lists / dicts of tensors) says which dimension of each input is mapped (None:
    the input is passed whole to every call); ``out_dims`` where the mapped dimension goes
    in each output (None: the output is the same for every sample and is returned once).
    Keyword arguments are never mapped. ``randomness``: ``'error'`` (random ops raise),
    ``'different'`` (each sample draws its own) or ``'same'`` (each sample draws the same).

    This is a loop, not a batching transform: ``func`` runs once per sample on that sample
    (``x.select(dim, i)``) and the results are stacked, so it costs B calls of ``func`` and
    one ``stack`` per output; ``chunk_size`` is checked and otherwise has no effect. Results
    are differentiable like any other ops (and vmap nests, and composes with ``grad``).

    >>> import chainrule as cr
    >>> from chainrule.func import vmap
    >>> vmap(lambda row, w: (row * w).sum(), in_dims=(0, None))(cr.ones(3, 2), cr.tensor([1.0, 2.0]))
    tensor([3., 3., 3.])
    """
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise op_error(ValueError, "vmap", f"chunk_size should be None or greater than 0. (got "
                       f"{chunk_size})")
    if randomness not in ("error", "different", "same"):
        raise op_error(RuntimeError, "vmap", f"Only allowed values for randomness are 'error', "
                       f"'different', or 'same'. Got {randomness}")

    def wrapper(*args, **kwargs):
        from .random import default_generator
        leaves, spec, dims = _batched_leaves(func, in_dims, args)
        sizes = [leaf.shape[d] for leaf, d in zip(leaves, dims) if d is not None]
        if not sizes:
            raise op_error(ValueError, "vmap", "Expected at least one Tensor to vmap over")
        if len(set(sizes)) > 1:
            raise op_error(ValueError, "vmap", f"Expected all tensors to have the same size in the "
                           f"mapped dimension, got sizes {sizes} for the mapped dimension")
        size = sizes[0]

        def sample(i):
            if i is None:  # a size-0 batch: one call on zeros, for the outputs' shapes only
                from .creation import zeros
                return [leaf if d is None else zeros(*(leaf.shape[:d] + leaf.shape[d + 1:]),
                                                     dtype=leaf.dtype) for leaf, d in zip(leaves, dims)]
            return [leaf if d is None else leaf.select(d, i) for leaf, d in zip(leaves, dims)]

        real = default_generator._rng
        refuse = randomness == "error" and not isinstance(real, _RefuseRandom)
        state = default_generator.get_state() if randomness == "same" else None
        results = []
        try:
            if refuse:
                default_generator._rng = _RefuseRandom(real)
            for i in (range(size) if size else (None,)):
                if state is not None:
                    default_generator.set_state(state)
                results.append(func(*tree_unflatten(spec, sample(i)), **kwargs))
        finally:
            if refuse:
                default_generator._rng = real
        return _stack_outputs(func, results, out_dims, size)
    _name(wrapper, "vmap", func)
    return wrapper


def _stack_outputs(func, results: list, out_dims, size: int):
    """The per-sample results of ``func`` stacked along ``out_dims`` (structure as ``func``'s)."""
    from .creation import zeros
    from .ops.shape import stack
    name = getattr(func, "__name__", "f")
    first, spec = tree_flatten(results[0])
    per_leaf = [tree_flatten(r)[0] for r in results]
    if any(len(p) != len(first) for p in per_leaf):
        raise op_error(ValueError, f"vmap({name}, ...)", f"`{name}` returned outputs of different "
                       f"structures for different samples")
    if isinstance(out_dims, tuple) and isinstance(results[0], tuple):
        if len(out_dims) != len(results[0]):
            raise op_error(ValueError, f"vmap({name}, ..., out_dims={out_dims})", f"out_dims is not "
                           f"compatible with the structure of `outputs`: {len(out_dims)} out_dims "
                           f"for {len(results[0])} outputs")
        odims = [d for o, d in zip(results[0], out_dims) for _ in tree_flatten(o)[0]]
    elif isinstance(out_dims, tuple):
        raise op_error(ValueError, f"vmap({name}, ..., out_dims={out_dims})", "out_dims is a tuple "
                       "but the function returned a single output")
    else:
        odims = [out_dims] * len(first)
    out = []
    for k, (leaf, d) in enumerate(zip(first, odims)):
        column = [p[k] for p in per_leaf]
        if d is None:
            if isinstance(leaf, Tensor) and size and any(
                    not bool((c._data == leaf._data).all()) for c in column[1:]):
                raise op_error(ValueError, f"vmap({name}, ...)", f"`{name}` can not return a "
                               f"BatchedTensor when out_dim is None (this output differs between "
                               f"samples)")
            out.append(leaf)
            continue
        if not isinstance(leaf, Tensor):
            raise op_error(ValueError, f"vmap({name}, ...)", f"`{name}` must only return Tensors, "
                           f"got type {type(leaf)}. Did you mean to set out_dims= to None for "
                           f"output?")
        if not -(leaf.ndim + 1) <= d <= leaf.ndim:
            raise op_error(ValueError, f"vmap({name}, ..., out_dims={out_dims})", f"Got out_dim={d} "
                           f"for an output of dimensionality {leaf.ndim}; expected "
                           f"-{leaf.ndim + 1} <= out_dim < {leaf.ndim + 1}")
        if not size:
            d = d % (leaf.ndim + 1)
            out.append(zeros(*(leaf.shape[:d] + (0,) + leaf.shape[d:]), dtype=leaf.dtype))
        else:
            out.append(stack(column, d))
    return tree_unflatten(spec, out)


# ---------------------------------------------------------- functional_call --
def functional_call(module, parameter_and_buffer_dicts, args: Any = None,
                    kwargs: dict | None = None, *, tie_weights: bool = True,
                    strict: bool = False) -> Any:
    """Call ``module(*args, **kwargs)`` with the given tensors in place of its parameters and
    buffers (by their ``named_parameters`` / ``named_buffers`` names), restoring the
    originals afterwards (also when the call raises). The result is differentiable with
    respect to the given tensors, so ``grad(lambda p: loss(functional_call(m, p, x)))``
    differentiates a module's loss with respect to a dict of parameters.

    ``tie_weights``: a tensor given for one of several names of one parameter (tied
    weights) replaces it under all of them. ``strict``: the dict must name every parameter
    and buffer, and nothing else. ``args`` that is not a tuple is the one positional argument.

    >>> import chainrule as cr
    >>> from chainrule.func import functional_call
    >>> lin = cr.nn.Linear(2, 1)
    >>> functional_call(lin, {"weight": cr.ones(1, 2), "bias": cr.zeros(1)}, (cr.tensor([[1.0, 2.0]]),))
    tensor([[3.]])
    """
    if isinstance(parameter_and_buffer_dicts, dict):
        given = dict(parameter_and_buffer_dicts)
    else:
        given = {}
        for d in parameter_and_buffer_dicts:
            clash = [k for k in d if k in given]
            if clash:
                raise op_error(ValueError, "functional_call", f"{clash} appeared in multiple "
                               f"dictionaries; behavior of functional call is ambiguous")
            given.update(d)
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    kwargs = {} if kwargs is None else kwargs
    names: dict = {}  # id of each parameter / buffer → all of its names
    for name, t in list(module.named_parameters(remove_duplicate=False)) + \
            list(module.named_buffers(remove_duplicate=False)):
        if t is not None:
            names.setdefault(id(t), []).append(name)
    unexpected = [k for k in given if not any(k in group for group in names.values())]
    if tie_weights:
        for group in names.values():
            chosen = [n for n in group if n in given]
            if len(chosen) > 1 and len({id(given[n]) for n in chosen}) > 1:
                raise op_error(ValueError, "functional_call", f"functional_call got multiple "
                               f"values for keys {chosen}, which are tied. Consider using "
                               f"tie_weights=False")
            if chosen:
                given = {**{n: given[chosen[0]] for n in group}, **given}
    if strict:
        missing = [n for group in names.values() for n in group if n not in given]
        if unexpected or missing:
            text = f"Error(s) in reparametrizing for {type(module).__name__}:"
            if unexpected:
                text += "\n\tUnexpected key(s): " + ", ".join(f"'{k}'" for k in unexpected) + "."
            if missing:
                text += "\n\tMissing key(s): " + ", ".join(f"'{k}'" for k in missing) + "."
            raise op_error(RuntimeError, "functional_call", text)
    swapped = []  # (submodule, store or None for an attribute, name, old value)
    try:
        for name, value in given.items():
            path, _, leaf = name.rpartition(".")
            try:
                owner = module.get_submodule(path)
            except AttributeError:
                continue  # (not strict: a name the module does not have is ignored)
            for store in (owner._parameters, owner._buffers):
                if leaf in store:
                    swapped.append((owner, store, leaf, store[leaf]))
                    store[leaf] = value
                    break
            else:
                if leaf in owner.__dict__ and isinstance(owner.__dict__[leaf], Tensor):
                    swapped.append((owner, None, leaf, owner.__dict__[leaf]))
                    owner.__dict__[leaf] = value
        return module(*args, **kwargs)
    finally:
        for owner, store, leaf, old in reversed(swapped):
            if store is None:
                owner.__dict__[leaf] = old
            else:
                store[leaf] = old


def stack_module_state(models) -> tuple[dict, dict]:
    """The parameters and buffers of several modules of one architecture, each stacked
    along a new first dim (parameters as new leaves that require grad, as PyTorch's), for
    ``vmap(functional_call)`` over an ensemble.

    >>> import chainrule as cr
    >>> from chainrule.func import stack_module_state
    >>> params, buffers = stack_module_state([cr.nn.Linear(2, 1) for _ in range(3)])
    >>> {k: tuple(v.shape) for k, v in params.items()}
    {'weight': (3, 1, 2), 'bias': (3, 1)}
    """
    from .ops.shape import stack
    models = list(models)
    if not models:
        raise op_error(RuntimeError, "stack_module_state", "Expected at least one model, got 0.")
    if len({type(m) for m in models}) > 1 or len({m.training for m in models}) > 1:
        raise op_error(RuntimeError, "stack_module_state", "Expected all models to be of the same "
                       "class and in the same mode (train or eval)")
    named = [dict(m.named_parameters()) for m in models]
    params = {k: stack([n[k].detach() for n in named]).requires_grad_(named[0][k].requires_grad)
              for k in named[0]}
    named_b = [dict(m.named_buffers()) for m in models]
    buffers = {k: stack([n[k] for n in named_b]) for k in named_b[0]}
    return params, buffers
