"""Activation checkpointing, as ``torch.utils.checkpoint``: run a piece of the forward
without keeping its intermediate tensors, and recompute them when backward needs them.
Memory of the activations inside the piece is traded for one more forward of it.

>>> import chainrule as cr
>>> from chainrule.utils.checkpoint import checkpoint
>>> lin = cr.nn.Linear(3, 3)
>>> x = cr.ones(2, 3, requires_grad=True)
>>> y = checkpoint(lambda t: lin(t).relu().sum(), x, use_reentrant=False)
>>> y.backward()
>>> x.grad.shape
chainrule.Size([2, 3])

Two implementations, chosen with ``use_reentrant`` as in PyTorch:

* ``use_reentrant=False`` (recommended): the forward runs with grad on, inside
  :class:`chainrule.autograd.graph.saved_tensors_hooks` whose pack hook keeps only an index
  for each tensor an op saves. The first unpack in backward reruns the function (RNG and
  autocast state as in the forward) with hooks that collect the arrays saved there, in
  the same order. The graph is the plain one, so ``autograd.grad``, keyword arguments,
  tensors the function closes over and inputs that do not require grad all work.
* ``use_reentrant=True``: one custom Function; its forward runs the function under
  ``no_grad`` keeping the inputs; its backward reruns it with grad on and calls
  ``autograd.backward`` inside backward. As in PyTorch it refuses ``autograd.grad`` and
  ``backward(inputs=...)``, and gives no gradient when no input requires grad.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable

from ..autograd.engine import CHECKPOINT_VALID
from ..autograd.engine import backward as _backward
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad
from ..autograd.graph import saved_tensors_hooks
from ..errors import BackwardError, warn_user
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError"]


class CheckpointError(BackwardError):
    """The recomputation did not save what the forward saved (the function is not
    deterministic in what it computes), as PyTorch's ``CheckpointError``."""


_NO_REENTRANT_DEFAULT = (
    "chainrule.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
    "Starting in PyTorch 2.9, calling checkpoint without use_reentrant will raise an "
    "exception. use_reentrant=False is recommended, but if you need to preserve the current "
    "default behavior, you can pass use_reentrant=True. Refer to docs for more details on "
    "the differences between the two variants.")


def checkpoint(function: Callable, *args, use_reentrant: bool | None = None,
               context_fn: Callable | None = None, determinism_check: str = "default",
               debug: bool = False, early_stop: bool = True, **kwargs) -> Any:
    """``function(*args, **kwargs)``, keeping only its inputs for backward and
    recomputing the rest there (``preserve_rng_state=True`` replays the RNG so dropout
    draws the same mask). ``use_reentrant`` should be given: without it PyTorch warns and
    uses ``True``; so does chainrule."""
    if use_reentrant is None:
        warn_user(_NO_REENTRANT_DEFAULT)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    if use_reentrant:
        if context_fn is not None or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve, *args)
    return _Frame(function, args, kwargs, preserve, context_fn,
                  determinism_check == "default").run()


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool | None = None,
                          **kwargs):
    """Run ``functions`` (a list or an ``nn.Sequential``) on ``input`` in ``segments``
    pieces, each but the last under :func:`checkpoint`, as PyTorch's."""
    if use_reentrant is None:
        warn_user("chainrule.utils.checkpoint.checkpoint_sequential: the use_reentrant "
                  "parameter should be passed explicitly. In version 2.9 we will raise an "
                  "exception if use_reentrant is not passed. use_reentrant=False is "
                  "recommended, but if you need to preserve the current default behavior, you "
                  "can pass use_reentrant=True. Refer to docs for more details on the "
                  "differences between the two variants.")
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    from ..nn import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())

    def run(start: int, end: int):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run(end + 1, len(functions) - 1)(input)


# -- the state a recomputation must see again --------------------------------------------
class _Replay:
    """The RNG and autocast state at the forward, to restore around the recomputation: the
    CPU generator's and, as PyTorch's, the CUDA generators of the GPUs the inputs are on."""

    def __init__(self, preserve_rng_state: bool, inputs=()) -> None:
        from .. import random
        self.rng = random.get_rng_state() if preserve_rng_state else None
        self.gpus = sorted({a.device.index or 0 for a in inputs
                            if isinstance(a, Tensor) and a.device.type == "cuda"})
        self.cuda_rng = _cuda_states(self.gpus) if preserve_rng_state else None
        self.autocast = dict(_autocast_state().dtypes)

    @contextlib.contextmanager
    def restored(self):
        from .. import random
        state = _autocast_state()
        outer_rng = random.get_rng_state() if self.rng is not None else None
        outer_cuda = _cuda_states(self.gpus) if self.cuda_rng is not None else None
        outer_autocast = (state.active, dict(state.dtypes))
        if self.rng is not None:
            random.set_rng_state(self.rng)
        if self.cuda_rng is not None:
            _set_cuda_states(self.cuda_rng)
        state.dtypes.update(self.autocast)
        state.active = any(d is not None for d in state.dtypes.values())
        try:
            yield
        finally:
            state.active, dtypes = outer_autocast
            state.dtypes.update(dtypes)
            if outer_rng is not None:  # the recomputation's draws do not move the outer RNG
                random.set_rng_state(outer_rng)
            if outer_cuda is not None:
                _set_cuda_states(outer_cuda)


def _cuda_states(gpus) -> dict:
    from ..random import cuda_generator
    return {i: cuda_generator(i).get_state() for i in gpus}


def _set_cuda_states(states: dict) -> None:
    from ..random import cuda_generator
    for i, state in states.items():
        cuda_generator(i).set_state(state)


def _autocast_state():
    from ..amp.autocast_mode import AUTOCAST
    return AUTOCAST


def _detached(args: Iterable, requires_grad: Iterable | None = None) -> list:
    """Tensors detached, requiring grad as the originals did (``requires_grad``: one flag
    per tensor, where the tensors given are not the originals); others as they are."""
    flags = iter(requires_grad) if requires_grad is not None else None
    out = []
    for a in args:
        if isinstance(a, Tensor):
            d = a.detach()
            d.requires_grad_(next(flags) if flags is not None else a.requires_grad)
            a = d
        out.append(a)
    return out


# -- use_reentrant=False: saved-tensor hooks ---------------------------------------------
class _Frame:
    """One non-reentrant checkpoint call: its inputs, its replay state and, once backward
    asked, the arrays the recomputation saved (by the index the forward gave them)."""

    def __init__(self, fn, args, kwargs, preserve: bool, context_fn, check: bool) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.replay = _Replay(preserve, (*args, *kwargs.values()))
        self.context_fn = context_fn
        self.check = check
        self.shapes: list = []  # (shape, dtype) of each saved tensor, in save order
        self.recomputed: dict = {}

    def run(self):
        forward_ctx = self.context_fn()[0] if self.context_fn else contextlib.nullcontext()
        with saved_tensors_hooks(self._pack, self._unpack), forward_ctx:
            return self.fn(*self.args, **self.kwargs)

    def _pack(self, tensor: Tensor) -> int:
        self.shapes.append((tuple(tensor._data.shape), tensor._data.dtype))
        return len(self.shapes) - 1

    def _unpack(self, index: int) -> Tensor:
        if index not in self.recomputed:  # the first unpack (or one after a retained backward)
            self._recompute()
        return Tensor._make(self.recomputed.pop(index))

    def _recompute(self) -> None:
        found: list = []

        def keep(t: Tensor) -> None:
            found.append(t._data)

        def refuse(_):
            raise CheckpointError("chainrule.utils.checkpoint: a tensor saved during the "
                                  "recomputation was unpacked; this should not happen")
        recompute_ctx = self.context_fn()[1] if self.context_fn else contextlib.nullcontext()
        with self.replay.restored(), enable_grad(), saved_tensors_hooks(keep, refuse), \
                recompute_ctx:
            self.fn(*_detached(self.args), **self.kwargs)
        if self.check:
            shapes = [(tuple(a.shape), a.dtype) for a in found]
            if len(shapes) != len(self.shapes):
                raise CheckpointError(
                    f"chainrule.utils.checkpoint: A different number of tensors was saved during "
                    f"the original forward and recomputation.\nNumber of tensors saved during "
                    f"forward: {len(self.shapes)}\nNumber of tensors saved during "
                    f"recomputation: {len(shapes)}")
            for i, (was, now) in enumerate(zip(self.shapes, shapes)):
                if was != now:
                    raise CheckpointError(
                        f"chainrule.utils.checkpoint: Recomputed values for the following tensors "
                        f"have different metadata than during the forward pass.\ntensor at "
                        f"position {i}:\nsaved metadata: shape {was[0]}, dtype {was[1]}\n"
                        f"recomputed metadata: shape {now[0]}, dtype {now[1]}")
        self.recomputed = dict(enumerate(found))


# -- use_reentrant=True: a custom Function -----------------------------------------------
class CheckpointFunction(Function):
    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        if not any(a.requires_grad for a in args if isinstance(a, Tensor)):
            warn_user("None of the inputs have requires_grad=True. Gradients will be None")
        ctx.run_function = run_function
        ctx.replay = _Replay(preserve_rng_state, args)
        ctx.inputs = [None if isinstance(a, Tensor) else a for a in args]
        ctx.tensor_indices = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.save_for_backward(*(a for a in args if isinstance(a, Tensor)))
        # (saved tensors come back without grad in the plain walk: keep the flags)
        ctx.requires_grad = [a.requires_grad for a in args if isinstance(a, Tensor)]
        return run_function(*args)  # (Function.apply runs forward under no_grad)

    @staticmethod
    def backward(ctx, *grads):
        if not CHECKPOINT_VALID[0]:
            raise BackwardError(
                "When use_reentrant=True, chainrule.utils.checkpoint is incompatible with .grad() "
                "or passing an `inputs` parameter to .backward(). To resolve this error, you can "
                "either set use_reentrant=False, or call .backward() without passing the "
                "`inputs` argument.")
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t
        with ctx.replay.restored():
            detached = _detached(inputs, ctx.requires_grad)
            with enable_grad():
                outputs = ctx.run_function(*detached)
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        with_grad = [(o, g) for o, g in zip(outputs, grads)
                     if isinstance(o, Tensor) and o.requires_grad]
        if not with_grad:
            raise BackwardError("none of output has requires_grad=True, this checkpoint() is not "
                                "necessary")
        _backward([o for o, _ in with_grad], [g for _, g in with_grad])
        return (None, None) + tuple(d.grad if isinstance(d, Tensor) else None for d in detached)
