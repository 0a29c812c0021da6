"""``functional_call`` and ``stack_module_state``: a module's parameters as arguments.

Split from ``func.py`` (which re-exports both): these bridge ``nn.Module`` and the
transforms, which take functions of tensors. ``functional_call`` runs a module with
given parameters and buffers swapped in for the call; ``stack_module_state`` stacks
several same-shaped modules' states for ``vmap`` over models (ensembles).

>>> import chainrule as cr
>>> from chainrule.func import functional_call
>>> lin = cr.nn.Linear(2, 1, bias=False)
>>> functional_call(lin, {"weight": cr.ones(1, 2)}, (cr.tensor([[1.0, 2.0]]),))
tensor([[3.]])
"""
from __future__ import annotations

from typing import Any

from .errors import op_error
from .tensor import Tensor


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
    from .ops.join import stack
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
