"""``Optimizer``: the base of every optimizer, with PyTorch's param groups, state and state_dict.

A subclass validates its hyperparameters, passes them as ``defaults`` and writes
``step()``, which gathers the raw arrays of the parameters that have a gradient and
hands them to a pure functional update (``sgd_update``, ``adam_update`` …).

>>> import chainrule as cr
>>> w = cr.tensor([1.0, 2.0], requires_grad=True)
>>> opt = cr.optim.SGD([w], lr=0.1)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w
tensor([0.8000, 1.6000], requires_grad=True)
>>> opt.zero_grad()
>>> w.grad is None
True
"""
from __future__ import annotations

import functools
import numbers
from collections import defaultdict
from collections.abc import Mapping
from itertools import chain
from typing import Any, Callable, Iterable

from .._fp import loud as fp_loud, quiet as fp_quiet
from .._host_calls import host_call
from ..errors import op_error, warn_user
from ..autograd.grad_mode import GRAD
from ..autograd.graph import RemovableHandle
from ..backends import backend_of
from ..tensor import Tensor
from ._kernels import Scratch

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyperparameter that has no default and must be given per group."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]


def _scalar(x) -> float:
    """A hyperparameter as a Python float (a one-element tensor is allowed, as in PyTorch)."""
    return float(x.item()) if isinstance(x, Tensor) else x


def _no_differentiable(differentiable: bool) -> None:
    if differentiable:
        raise NotImplementedError("differentiable=True (recording the optimizer step in the "
                                  "graph) is not supported by chainrule; leave it False")


def check_non_negative(value, what: str, arg: str, op: str) -> None:
    """Raise PyTorch's ``ValueError("Invalid <what>: <value>")`` unless ``value >= 0``.

    ``arg`` is the keyword the user passed (named in the message) and ``op`` the optimizer.
    """
    if not isinstance(value, (numbers.Real, Tensor)):
        raise op_error(TypeError, op,
                       f"{arg} must be a number, got {type(value).__name__} {value!r}")
    if not 0.0 <= value:
        raise op_error(ValueError, op, f"Invalid {what}: {value} ({arg} must be >= 0)")


def check_lr(lr, op: str) -> None:
    """Validate a learning rate: non-negative, and one element when it is a tensor."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise op_error(ValueError, op, "Tensor lr must be 1-element")
    check_non_negative(lr, "learning rate", "lr", op)


def scalar_dtype():
    """The dtype of ``state["step"]``: float64 under a float64 default, else float32 (as PyTorch)."""
    from ..dtypes import float32, float64, get_default_dtype
    return float64 if get_default_dtype() is float64 else float32


def new_step_tensor(value: float = 0.0) -> Tensor:
    """A 0-dim CPU tensor holding a step count (PyTorch keeps ``step`` as a tensor too)."""
    from ..creation import tensor
    return tensor(float(value), dtype=scalar_dtype())


def zeros_state(p: Tensor, fill: float = 0.0) -> Tensor:
    """A state tensor shaped like ``p`` (same dtype and device), filled with ``fill``."""
    xp = backend_of(p._data)
    return Tensor._make(xp.full_like(p._data, fill) if fill else xp.zeros_like(p._data))


def check_betas(betas, op: str) -> tuple:
    """Validate Adam-style ``betas`` and return them as a tuple of two numbers."""
    betas = tuple(betas)
    if len(betas) != 2:
        raise op_error(ValueError, op, f"betas must be a pair (beta1, beta2), got {betas!r}")
    for i, b in enumerate(betas):
        if not 0.0 <= _scalar(b) < 1.0:
            raise op_error(ValueError, op, f"Invalid beta parameter at index {i}: {b} "
                           "(betas must be in [0, 1))")
    return betas


def _wrap_step(step: Callable) -> Callable:
    """Run ``step`` without recording a graph, with the step hooks, and mark the call
    (so an LR scheduler can warn when it is stepped before the optimizer)."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if getattr(self, "_in_step", False):  # a subclass calling super().step()
            return step(self, *args, **kwargs)
        self._in_step = True
        try:
            for hook in list(self._step_pre_hooks):
                result = hook(self, args, kwargs)
                if result is not None:
                    args, kwargs = result
            prev, GRAD.enabled = GRAD.enabled, False
            quiet = fp_quiet()  # the kernels make inf/nan from inf/nan grads silently, as PyTorch's
            try:
                out = step(self, *args, **kwargs)
            finally:
                fp_loud(quiet)
                GRAD.enabled = prev
            self._opt_called = True
            for hook in list(self._step_post_hooks):
                hook(self, args, kwargs)
            return out
        finally:
            self._in_step = False
    wrapper = host_call(wrapper)  # (a compiled step replays it as itself)
    wrapper._optimizer_step_wrapper = True  # type: ignore[attr-defined]
    return wrapper


class Optimizer:
    """Base class of all optimizers.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts
    (param groups) that each hold ``"params"`` and any hyperparameters that differ
    from ``defaults``. ``state`` maps each parameter to its per-parameter state
    (a dict), filled lazily by ``step()``.

    >>> import chainrule as cr
    >>> a, b = cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)
    >>> opt = cr.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    >>> [g["lr"] for g in opt.param_groups]
    [0.1, 0.5]
    >>> opt.state_dict()["param_groups"][1]["params"]
    [1]
    """

    defaults: dict[str, Any]
    state: defaultdict
    param_groups: list[dict[str, Any]]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_optimizer_step_wrapper", False):
            cls.step = _wrap_step(step)

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._step_pre_hooks: list = []
        self._step_post_hooks: list = []
        self._opt_called = False
        self._scratch = Scratch()  # temporaries reused by every step (see _kernels.Scratch)
        if isinstance(params, Tensor):
            raise op_error(TypeError, type(self).__name__,
                           "params argument given to the optimizer should be an iterable of "
                           f"Tensors or dicts, but got {type(params).__name__}; wrap a single "
                           "tensor in a list: [tensor]")
        if isinstance(params, (set, frozenset)):  # PyTorch only catches this inside a group
            raise op_error(TypeError, type(self).__name__,
                           "optimizer parameters need to be organized in ordered collections, but "
                           "the ordering of tensors in sets will change between runs. Please use "
                           "a list instead.")
        self.state = defaultdict(dict)
        self.param_groups = []
        if not isinstance(params, Iterable):
            raise op_error(TypeError, type(self).__name__,
                           "params argument given to the optimizer should be "
                           f"an iterable of Tensors or dicts, but got {type(params).__name__}")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise op_error(ValueError, type(self).__name__, "optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # -- groups -------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with optional per-group hyperparameters).

        >>> import chainrule as cr
        >>> opt = cr.optim.Adam([cr.zeros(1, requires_grad=True)], lr=1e-3)
        >>> opt.add_param_group({"params": cr.zeros(2, requires_grad=True), "lr": 1e-2})
        >>> [g["lr"] for g in opt.param_groups]
        [0.001, 0.01]
        """
        if not isinstance(param_group, dict):
            raise op_error(TypeError, f"{type(self).__name__}.add_param_group",
                           f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise op_error(KeyError, f"{type(self).__name__}.add_param_group",
                           "param_group must have a 'params' "
                           f"entry (the tensors to optimize), got keys {sorted(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise op_error(TypeError, f"{type(self).__name__}.add_param_group",
                           "optimizer parameters need to be organized in ordered collections, but "
                           "the ordering of tensors in sets will change between runs. Please use "
                           "a list instead.")
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        param_group["params"] = params
        if names:
            if len(names) != len(params):
                raise op_error(ValueError, f"{type(self).__name__}.add_param_group",
                               "all optimizer params should be with/without names. Some param "
                               "names are missing")
            param_group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise op_error(TypeError, f"{type(self).__name__}.add_param_group",
                               "optimizer can only optimize Tensors, but one of the params is "
                               f"{type(p).__name__}")
            if not (p.is_leaf or p.retains_grad):
                raise op_error(ValueError, f"{type(self).__name__}.add_param_group",
                               "can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise op_error(ValueError, f"{type(self).__name__}.add_param_group",
                               f"parameter group didn't specify a value of required "
                               f"optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in params]
        if len(ids) != len(set(ids)):
            warn_user("optimizer contains a parameter group with duplicate parameters; "
                      "in future, this will cause an error")
        # Tensors compare elementwise, so membership is checked by identity.
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                kind = "with names" if "param_names" in param_group else "without names"
                raise op_error(ValueError, f"{type(self).__name__}.add_param_group",
                               "all optimizer param groups should be with/without names. "
                               f"cannot add param group {kind} to the optimizer")
        if not seen.isdisjoint(ids):
            raise op_error(ValueError, f"{type(self).__name__}.add_param_group",
                           "some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # -- gradients ------------------------------------------------------------------
    @host_call
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``.grad``: to None (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g._data[...] = 0
                    g._vc.value += 1

    def step(self, closure: Callable[[], Any] | None = None):
        """Update the parameters once; ``closure`` re-evaluates the loss and returns it."""
        raise NotImplementedError

    def _run_closure(self, closure):
        if closure is None:
            return None
        if not callable(closure):
            raise op_error(TypeError, f"{type(self).__name__}.step", "closure must be a callable "
                           f"that recomputes the loss, got {type(closure).__name__}")
        prev, GRAD.enabled = GRAD.enabled, True
        try:
            return closure()
        finally:
            GRAD.enabled = prev

    @staticmethod
    def _bump(params) -> None:
        """Record the in-place change, so a graph that saved the old values refuses to run."""
        for p in params:
            p._vc.value += 1

    # -- hooks ------------------------------------------------------------------------
    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(optimizer, args, kwargs)`` before each ``step``; it may return
        new ``(args, kwargs)``."""
        self._step_pre_hooks.append(hook)
        return RemovableHandle(self._step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(optimizer, args, kwargs)`` after each ``step``."""
        self._step_post_hooks.append(hook)
        return RemovableHandle(self._step_post_hooks, hook)

    # -- state dict ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state, in PyTorch's layout.

        ``{"state": {index: {name: value}}, "param_groups": [{..., "params": [index]}]}``,
        where parameters are numbered in the order of the groups. Values are tensors,
        numbers, strings, bools, None and lists/dicts of them (tuples such as
        ``betas`` become lists), so the dict can be written without pickle. As in
        PyTorch, the state tensors are the live ones: copy the dict (or save it)
        before stepping again if you need a snapshot.
        """
        mapping: dict[int, int] = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: _plain(v) for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {mapping[id(p)] if isinstance(p, Tensor) else p: {k: _plain(v) for k, v in s.items()}
                 for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state produced by :meth:`state_dict` (of this or an identical optimizer).

        State tensors are copied, cast to their parameter's dtype and device (except
        ``step``); integer keys that came back as strings (from JSON) are accepted.
        """
        import copy
        if not isinstance(state_dict, Mapping) or "param_groups" not in state_dict:
            got = sorted(state_dict) if isinstance(state_dict, Mapping) else \
                type(state_dict).__name__
            raise op_error(TypeError if not isinstance(state_dict, Mapping) else KeyError,
                           f"{type(self).__name__}.load_state_dict", "expected a state_dict "
                           "with 'state' and 'param_groups' entries (from "
                           f"Optimizer.state_dict()), got {got}")
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise op_error(ValueError, f"{type(self).__name__}.load_state_dict",
                           f"loaded state dict has a different number of parameter groups "
                           f"({len(saved_groups)}) than the optimizer ({len(groups)})")
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise op_error(ValueError, f"{type(self).__name__}.load_state_dict",
                               f"loaded state dict contains a parameter group ({i}) that doesn't "
                               f"match the size of optimizer's group: {len(s['params'])} saved "
                               f"parameters, {len(g['params'])} in the optimizer")
        id_map = dict(zip((_key(i) for i in chain.from_iterable(s["params"] for s in saved_groups)),
                          chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            k = _key(k)
            if k in id_map:
                param = id_map[k]
                state[param] = {name: _cast(param, value, name) for name, value in v.items()}
            else:
                state[k] = v
        new_groups = []
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
            for name, value in s.items():  # JSON turned tuples (betas) into lists
                if isinstance(value, list) and isinstance(g.get(name, self.defaults.get(name)), tuple):
                    s[name] = tuple(value)
            new_groups.append(s)
        self.state = state
        self.param_groups = new_groups
        self._fill_group_defaults()

    def _fill_group_defaults(self) -> None:
        """Give loaded groups any hyperparameter they lack and a tensor ``step``."""
        for group in self.param_groups:
            for name, default in self.defaults.items():
                if default is not required:
                    group.setdefault(name, default)
        for s in self.state.values():
            if isinstance(s, dict) and "step" in s and not isinstance(s["step"], Tensor):
                s["step"] = new_step_tensor(float(s["step"]))

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        return "\n".join(lines) + "\n)"


def _plain(value):
    """Tuples become lists (JSON has no tuple); everything else is kept as is."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _key(k):
    return int(k) if isinstance(k, str) and k.lstrip("-").isdigit() else k


def _cast(param: Tensor, value, name):
    """A copy of ``value`` with its tensors in ``param``'s dtype and on its device (the
    step count excepted, as in PyTorch)."""
    if isinstance(value, Tensor):
        if name == "step":  # stays a CPU count, read on the host every step
            return Tensor._make(value._data.copy())
        out = value.detach().to(param.device)
        if param.is_floating_point():
            out = out.to(param.dtype)
        return Tensor._make(out._data.copy() if out._data is value._data else out._data)
    if isinstance(value, dict):
        return {k: _cast(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v, None) for v in value)
    return value
