"""``Module``: the base of every layer, with PyTorch's behaviour.

Parameters, buffers and sub-modules are found by attribute assignment; names are
dotted paths (``"0.weight"``) as in PyTorch, so state dicts line up.

>>> import chainrule as cr
>>> class Net(cr.nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.fc = cr.nn.Linear(2, 1)
...     def forward(self, x):
...         return self.fc(x)
>>> [name for name, _ in Net().named_parameters()]
['fc.weight', 'fc.bias']
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Mapping
from typing import Any, Callable, Iterator

from ..autograd.graph import RemovableHandle
from .._host_calls import host_call, user_callback
from ..errors import ShapeError, op_error
from ..tensor import Tensor
from .parameter import Buffer, Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class _HookList(list):
    """Hooks kept in order; handles remove themselves."""


class Module:
    """Base class for all layers and models."""

    # state a checkpoint may lack (it keeps its current value), e.g. a counter that older
    # checkpoints did not save
    _optional_state: tuple[str, ...] = ()

    training: bool

    def __init__(self, *args, **kwargs) -> None:
        if args or kwargs:
            raise op_error(TypeError, "Module",
                           f"{type(self).__name__}.__init__() got unexpected arguments")
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", _HookList())
        object.__setattr__(self, "_forward_pre_hooks", _HookList())
        object.__setattr__(self, "_backward_hooks", _HookList())
        object.__setattr__(self, "_backward_pre_hooks", _HookList())

    # -- the call -------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define it in the subclass")

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks):
            return self.forward(*args, **kwargs)  # the common case: no hooks at all
        user_callback(f"a hook of {type(self).__name__}")
        for hook in list(self._forward_pre_hooks):
            fn, with_kwargs = hook
            if with_kwargs:
                out = fn(self, args, kwargs)
                if out is not None:
                    args, kwargs = out
            else:
                out = fn(self, args)
                if out is not None:
                    args = out if isinstance(out, tuple) else (out,)
        try:
            if self._backward_hooks or self._backward_pre_hooks:
                from .hooks import wrap_backward_hooks
                result = wrap_backward_hooks(self, args, kwargs)
            else:
                result = self.forward(*args, **kwargs)
        except Exception:
            # hooks registered with always_call=True run even when forward raises
            for fn, with_kwargs, always in list(self._forward_hooks):
                if always:
                    try:
                        fn(self, args, kwargs, None) if with_kwargs else fn(self, args, None)
                    except Exception:
                        pass
            raise
        for fn, with_kwargs, _ in list(self._forward_hooks):
            out = fn(self, args, kwargs, result) if with_kwargs else fn(self, args, result)
            if out is not None:
                result = out
        return result

    # -- attribute registration ----------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(f"cannot assign {type(value).__name__} '{name}' before "
                                     "Module.__init__() has been called")
            object.__setattr__(self, name, value)
            return
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            buffers.pop(name, None)
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif isinstance(value, Buffer):
            self.register_buffer(name, Tensor._make(value._data), persistent=value.persistent)
        elif name in params:
            if value is not None:
                raise op_error(TypeError, type(self).__name__,
                               f"cannot assign {type(value).__name__} as parameter '{name}' "
                               "(chainrule.nn.Parameter or None expected)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise op_error(TypeError, type(self).__name__,
                               f"cannot assign {type(value).__name__} as child module '{name}' "
                               "(a Module or None expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise op_error(TypeError, type(self).__name__,
                               f"cannot assign {type(value).__name__} as buffer '{name}' "
                               "(a Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            table = d.get(store)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a placeholder) under ``name``."""
        _check_name(self, name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise op_error(TypeError, "Module.register_parameter",
                           f"cannot assign {type(param).__name__} as parameter '{name}' "
                           "(chainrule.nn.Parameter or None expected)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (e.g. running mean).

        Non-persistent buffers are left out of ``state_dict``.
        """
        _check_name(self, name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise op_error(TypeError, "Module.register_buffer",
                           f"cannot assign {type(tensor).__name__} as buffer '{name}' "
                           "(a Tensor or None expected)")
        if name in self.__dict__:
            del self.__dict__[name]
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Add a child module under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise op_error(TypeError, "Module.add_module",
                           f"{type(module).__name__} is not a Module subclass")
        _check_name(self, name, "module")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        if target == "":
            return self
        mod = self
        for part in target.split("."):
            if part not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no submodule '{part}' (in '{target}')")
            mod = mod._modules[part]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter '{name}'")
        return mod._parameters[name]

    # -- traversal ----------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """``(name, module)`` for this module and every descendant, each once."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if remove_duplicate:
                if id(mod) in memo:
                    continue
                memo.add(id(mod))
            yield name, mod
            children = [(name + ("." if name else "") + n, m) for n, m in mod._modules.items()
                        if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, get, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_prefix, mod in modules:
            for name, value in get(mod):
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(name, parameter)`` pairs, shared parameters once."""
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # -- modes and bulk changes --------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode here and below (affects Dropout, BatchNorm …)."""
        if not isinstance(mode, bool):
            raise op_error(ValueError, "Module.train", "training mode is expected to be a bool")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    @host_call
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (to None by default, as PyTorch;
        ``set_to_none=False`` zeroes them in place)."""
        for p in self.parameters():
            g = p.grad
            if g is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if g.grad_fn is not None:
                    g = g.detach()
                    p.grad = g
                g.zero_()

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every sub-module (children first) and on self."""
        if not callable(fn):
            raise op_error(TypeError, "Module.apply", f"fn must be callable, got {type(fn).__name__}")
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def _apply_to_tensors(self, convert: Callable[[Tensor], Tensor]) -> "Module":
        """Convert every parameter and buffer. Parameters stay the same objects (their
        data is swapped), so optimizers built before ``.to()`` keep working."""
        from ..autograd.grad_mode import no_grad
        with no_grad():
            for mod in self.modules():
                for p in mod._parameters.values():
                    if p is None:
                        continue
                    new = convert(p)
                    if new is not p:
                        p._data = new._data
                        if p.grad is not None:
                            p._grad = Tensor._make(convert(p.grad)._data)
                            p._grad_owned = True
                for name, b in mod._buffers.items():
                    if b is not None:
                        mod._buffers[name] = convert(b)
        return self

    def to(self, *args, **kwargs) -> "Module":
        """Move/cast parameters and buffers: ``m.to('cuda')``, ``m.to(cr.float64)``,
        ``m.to(tensor)``.

        Only floating tensors change dtype (integer buffers such as counters keep theirs).
        """
        from ..dtypes import to_dtype
        device, dtype = kwargs.get("device"), kwargs.get("dtype")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif _is_dtype(a):
                dtype = a
            elif a is not None:
                device = a
        if device is not None:
            device = _device(device)
        if dtype is not None:
            dtype = to_dtype(dtype)
            if not dtype.is_floating_point:
                raise op_error(TypeError, "Module.to",
                               f"only accepts floating point dtypes, got {dtype.name}")

        def convert(t: Tensor) -> Tensor:
            out = t if device is None else t.to(device)
            if dtype is not None and out.is_floating_point():
                out = out.to(dtype)
            return out
        return self._apply_to_tensors(convert)

    def float(self) -> "Module":
        return self._apply_to_tensors(lambda t: t.float() if t.is_floating_point() else t)

    def double(self) -> "Module":
        return self._apply_to_tensors(lambda t: t.double() if t.is_floating_point() else t)

    def half(self) -> "Module":
        return self._apply_to_tensors(lambda t: t.half() if t.is_floating_point() else t)

    def bfloat16(self) -> "Module":
        return self._apply_to_tensors(lambda t: t.bfloat16() if t.is_floating_point() else t)

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self, device=None) -> "Module":
        return self.to("cuda" if device is None else f"cuda:{device}" if isinstance(device, int)
                       else device)  # (a "cuda:1" string or a device, as Tensor.cuda takes)

    def type(self, dst_type) -> "Module":
        return self._apply_to_tensors(lambda t: t.to(dst_type))

    def share_memory(self) -> "Module":
        """Moves every parameter, buffer (and existing gradient) into shared memory, in place
        (``Tensor.share_memory_``), so forked or spawned processes update the same weights."""
        for mod in self.modules():
            for t in list(mod._parameters.values()) + list(mod._buffers.values()):
                if t is not None:
                    t.share_memory_()
                    if t.grad is not None:
                        t.grad.share_memory_()
        return self

    # -- state --------------------------------------------------------------
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False) -> "OrderedDict":
        """Parameters and persistent buffers by dotted name (detached unless ``keep_vars``)."""
        out = OrderedDict() if destination is None else destination
        # shared sub-modules appear under every name, as in PyTorch
        for mod_name, mod in self.named_modules(prefix=prefix.rstrip(".") if prefix else "",
                                                remove_duplicate=False):
            dot = mod_name + "." if mod_name else ""
            for name, p in mod._parameters.items():
                if p is not None:
                    out[dot + name] = p if keep_vars else p.detach()
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent:
                    out[dot + name] = b if keep_vars else b.detach()
            extra = getattr(mod, "get_extra_state", None)
            if extra is not None and type(mod).get_extra_state is not Module.get_extra_state:
                out[dot + "_extra_state"] = mod.get_extra_state()
        return out

    def get_extra_state(self):
        return None

    def set_extra_state(self, state) -> None:
        pass

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into parameters and buffers.

        Returns the missing and unexpected keys; with ``strict`` (default) either is an
        error, and so is any shape mismatch.
        """
        from ..autograd.grad_mode import no_grad
        if not isinstance(state_dict, Mapping):
            raise op_error(TypeError, "Module.load_state_dict", f"expected state_dict to be "
                           f"dict-like, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict and not self._optional_key(k)]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        with no_grad():
            for key, target in own.items():
                if key not in state_dict:
                    continue
                value = state_dict[key]
                if key.endswith("_extra_state"):
                    mod = self.get_submodule(key.rpartition(".")[0] if "." in key else "")
                    mod.set_extra_state(value)
                    continue
                if not isinstance(value, Tensor):  # PyTorch refuses lists and numbers too
                    errors.append(f"while copying the parameter named \"{key}\", expected a Tensor "
                                  f"from the checkpoint but received {type(value).__name__}")
                    continue
                if tuple(value.shape) != tuple(target.shape):
                    errors.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{tuple(value.shape)} from checkpoint, the shape in current "
                                  f"model is {tuple(target.shape)}")
                    continue
                if assign:
                    mod_path, _, name = key.rpartition(".")
                    mod = self.get_submodule(mod_path)
                    if name in mod._parameters:
                        mod._parameters[name] = Parameter(value, requires_grad=target.requires_grad)
                    else:
                        mod._buffers[name] = value
                else:
                    target.copy_(value)
        if strict:
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing))
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in unexpected))
        if errors:
            raise op_error(ShapeError, "Module.load_state_dict",
                           f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                           + "\n\t".join(errors))
        return IncompatibleKeys(missing, unexpected)

    def _optional_key(self, key: str) -> bool:
        """Whether a checkpoint may lack ``key`` (its owner's ``_optional_state`` names it)."""
        path, _, name = key.rpartition(".")
        return name in self.get_submodule(path)._optional_state

    # -- hooks ---------------------------------------------------------------
    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` before forward; may return new args."""
        return _add_hook(self._forward_pre_hooks, (hook, with_kwargs), prepend)

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` after forward; may return a new output.

        With ``always_call`` the hook also runs (with output None) when forward raises.
        """
        return _add_hook(self._forward_hooks, (hook, with_kwargs, always_call), prepend)

    def register_full_backward_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` when gradients w.r.t. the module's
        tensor inputs are computed; may return a replacement ``grad_input``."""
        return _add_hook(self._backward_hooks, hook, prepend)

    register_backward_hook = register_full_backward_hook

    def register_full_backward_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output)`` before the module's input gradients are computed."""
        return _add_hook(self._backward_pre_hooks, hook, prepend)

    # -- printing ------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, mod in self._modules.items():
            text = repr(mod).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        head = type(self).__name__ + "("
        if not lines:
            return head + ")"
        if len(lines) == 1 and not self._modules:
            return head + lines[0] + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    _HOOK_LISTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")

    def _saved_state(self) -> dict:
        """The attributes ``chainrule.save(module, f)`` stores: all but the hooks (functions of
        this process, like PyTorch's they are not restored)."""
        return {k: v for k, v in self.__dict__.items() if k not in Module._HOOK_LISTS}

    @staticmethod
    def _from_saved_state(cls: type, state: dict) -> "Module":
        """A ``cls`` with ``state`` as its attributes and no hooks; no ``__init__`` runs."""
        module = object.__new__(cls)
        module.__dict__.update(state)
        for name in Module._HOOK_LISTS:
            object.__setattr__(module, name, _HookList())
        return module

    def __getstate__(self):
        raise op_error(TypeError, "Module",
                       "chainrule modules are not pickled; save the module or its "
                       "state_dict() with chainrule.save")

    def __copy__(self):
        # Python's default shallow copy (it would otherwise go through __getstate__)
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    def __deepcopy__(self, memo):
        import copy
        new = object.__new__(type(self))
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            object.__setattr__(new, k, copy.deepcopy(v, memo))
        return new


def _is_dtype(a) -> bool:
    from ..dtypes import DType
    return isinstance(a, DType)


def _device(spec):
    """``spec`` as a Device, its error pointing at the caller of ``Module.to``."""
    from ..backends.base import Device
    try:
        return spec if isinstance(spec, Device) else Device(spec)
    except (TypeError, ValueError) as e:
        raise op_error(type(e), "Module.to", str(e)) from None


def _api(kind: str) -> str:
    """The method that registers a ``kind`` (for error messages)."""
    return "add_module" if kind == "module" else f"register_{kind}"


def _check_name(module: Module, name: str, kind: str) -> None:
    """PyTorch's rules for a new parameter/buffer/module name."""
    if not isinstance(name, str):
        raise op_error(TypeError, _api(kind),
                       f"{kind} name should be a string, got {type(name).__name__}")
    if not name:
        raise op_error(KeyError, _api(kind), f'{kind} name can\'t be empty string ""')
    if "." in name:
        raise op_error(KeyError, _api(kind), f'{kind} name can\'t contain ".", got "{name}"')
    own = {"parameter": module._parameters, "buffer": module._buffers,
           "module": module._modules}[kind]
    if name in own:
        return  # re-registering under the same kind replaces the entry
    if hasattr(type(module), name) or name in module.__dict__ or any(
            name in store for store in (module._parameters, module._buffers, module._modules)):
        raise op_error(KeyError, _api(kind), f"attribute '{name}' already exists")


def _add_hook(hooks: list, entry, prepend: bool) -> RemovableHandle:
    if prepend:
        hooks.insert(0, entry)
    else:
        hooks.append(entry)
    return RemovableHandle(hooks, entry)
