"""``vmap``: a function over one example, mapped over a batch dimension (``torch.func.vmap``).

Split from ``func.py`` (which re-exports every name here): vmap is the one transform
that batches rather than differentiates. It runs the function once per example and
stacks the results, so it composes with the differentiating transforms (per-sample
gradients are ``vmap(grad(f))``); randomness inside is refused unless asked for.

>>> import chainrule as cr
>>> from chainrule.func import vmap
>>> vmap(lambda row: row.sum())(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
tensor([3., 7.])
"""
from __future__ import annotations

from typing import Any, Callable

from .errors import op_error
from .func_trees import _name, _spec_str, tree_flatten, tree_unflatten
from .tensor import Tensor


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
    from .ops.join import stack
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
