"""The recorded graph: one Node per op application, and what it saved for backward.

A Node knows its op, the op's non-tensor parameters, the shape and dtype of each
input (to undo broadcasting and casts centrally), the nodes its inputs came from
and the tensors its rules need. Each op has exactly one output, so the gradient
arriving at a Node *is* the gradient of that output tensor.
"""
from __future__ import annotations

import itertools
import weakref

_TENSOR: list = []
# creation order of nodes, counting down (newest lowest: first off a min-heap); every
# consumer is newer than its inputs
_SEQUENCE = itertools.count(0, -1)
# leaves that have hooks: while any exists, a plain backward counts how many
# gradients each leaf will get, so that its hooks run as soon as it has them all
class _WeakIdSet:
    """Objects held weakly and told apart by identity (a WeakSet compares Tensors with
    ``==``, which is elementwise)."""

    def __init__(self) -> None:
        self._refs: dict = {}

    def add(self, obj) -> None:
        key = id(obj)

        def forget(ref, key=key, refs=self._refs):
            if refs.get(key) is ref:
                del refs[key]
        self._refs[key] = weakref.ref(obj, forget)

    def discard(self, obj) -> None:
        ref = self._refs.get(id(obj))
        if ref is not None and ref() is obj:
            del self._refs[id(obj)]

    def __len__(self) -> int:
        return len(self._refs)

    def __bool__(self) -> bool:
        return bool(self._refs)


HOOKED_LEAVES = _WeakIdSet()


def _tensor_class():
    """chainrule.tensor.Tensor (tensor.py, which sits above this module, puts it in
    ``_TENSOR`` once the class exists)."""
    return _TENSOR[0]


class VersionCounter:
    """Shared by a tensor and its views; bumped by every in-place change."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class SavedTensor:
    """A tensor kept for backward, with the version it had when saved.

    A leaf is kept by reference (so higher-order gradients reach it); any other
    tensor is kept as its array plus the node that made it, so that an in-place op
    that later rebinds the tensor does not change what this node sees.
    """

    __slots__ = ("data", "grad_fn", "leaf", "counter", "version", "requires_grad", "packed")

    def __init__(self, tensor, is_output: bool = False) -> None:
        self.counter = tensor._vc
        self.version = tensor._vc.value
        if tensor.grad_fn is None and not is_output:
            self.leaf = tensor
            self.data = None
            self.grad_fn = None
        else:
            self.leaf = None
            self.data = tensor._data
            self.grad_fn = None if is_output else tensor.grad_fn
        # the op's output is saved before apply() marks it: it requires grad (that is
        # why the node exists), and higher-order gradients must flow through it
        self.requires_grad = True if is_output else tensor._requires_grad
        if SAVE_HOOKS:
            _pack(self, tensor)

    def unpack(self, owner: "Node", with_graph: bool):
        if self.counter.value != self.version:
            raise self._modified_error(owner)
        if self.leaf is not None:
            return self.leaf
        Tensor = _tensor_class()
        if not with_graph:
            return Tensor._make(self.data)
        grad_fn = owner if self.grad_fn is None else self.grad_fn  # None: the op's own output
        return Tensor._make(self.data, self.requires_grad, grad_fn, self.counter)

    def array(self, owner: "Node"):
        """The saved array itself, for the raw (array-level) rules."""
        if self.counter.value != self.version:
            raise self._modified_error(owner)
        return self.leaf._data if self.leaf is not None else self.data

    def _modified_error(self, owner: "Node") -> Exception:
        from ..errors import BackwardError
        if isinstance(self, _HookedSavedTensor):  # (its data would run the unpack hook)
            shape = self.packed[2]
        else:
            shape = tuple(self.leaf.shape) if self.leaf is not None else tuple(self.data.shape)
        return BackwardError(
            f"{owner.op.name} backward: a tensor it saved (shape {shape}) was modified by an "
            f"in-place operation after it was saved: it is at version {self.counter.value}, "
            f"expected version {self.version}. Use an out-of-place op (x = x + y instead of "
            f"x += y) or clone() the tensor before changing it.")


# (pack, unpack) pairs pushed by saved_tensors_hooks; the innermost one applies
SAVE_HOOKS: list = []


class saved_tensors_hooks:  # noqa: N801 - PyTorch's name
    """Within this context, every tensor an op saves for backward goes through
    ``pack_hook(tensor)`` at once and through ``unpack_hook(packed)`` when backward needs
    it (``unpack_hook`` must return a tensor equal to the one saved), as PyTorch's
    ``torch.autograd.graph.saved_tensors_hooks``.

    Unlike PyTorch, a saved leaf that requires grad (a parameter, an input made with
    ``requires_grad``) stays referenced as it is: its pack hook runs, its unpack hook does
    not.

    >>> import chainrule as cr
    >>> seen = []
    >>> def pack(t):
    ...     seen.append(tuple(t.shape))
    ...     return t.detach().clone()
    >>> x = cr.ones(2, requires_grad=True)
    >>> with cr.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
    ...     y = (x + 1).exp()
    >>> y.sum().backward(); seen
    [(2,)]
    >>> x.grad
    tensor([7.3891, 7.3891])
    """

    def __init__(self, pack_hook, unpack_hook) -> None:
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self) -> "saved_tensors_hooks":
        SAVE_HOOKS.append((self.pack_hook, self.unpack_hook))
        return self

    def __exit__(self, *exc) -> None:
        SAVE_HOOKS.pop()


def _pack(saved: SavedTensor, tensor) -> None:
    """Route ``saved`` through the innermost hooks: a non-leaf keeps only what the pack
    hook returned, and reads its array back through the unpack hook."""
    hooks = SAVE_HOOKS[-1]
    if hooks is None:
        return
    pack, unpack = hooks
    SAVE_HOOKS.append(None)  # ops run inside a hook save nothing through it (no recursion)
    try:
        packed = pack(tensor)
    finally:
        SAVE_HOOKS.pop()
    if saved.leaf is None or not tensor._requires_grad:  # (a leaf with grad stays itself)
        saved.packed = (packed, unpack, tuple(tensor._data.shape), tensor._data.dtype)
        saved.leaf = saved.data = None
        saved.__class__ = _HookedSavedTensor


class _HookedSavedTensor(SavedTensor):
    """A SavedTensor whose array comes back through an unpack hook (same layout: the
    class of a SavedTensor is switched to this one by :func:`_pack`)."""

    __slots__ = ()

    @property
    def data(self):
        from ..errors import BackwardError
        packed, unpack, shape, dtype = self.packed
        t = unpack(packed)
        if not isinstance(t, _tensor_class()):
            raise BackwardError(f"saved_tensors_hooks: the unpack hook must return a Tensor, "
                                f"got {type(t).__name__}")
        data = t._data
        if tuple(data.shape) != shape or data.dtype != dtype:
            raise BackwardError(f"saved_tensors_hooks: the unpack hook returned a tensor of shape "
                                f"{tuple(data.shape)} and dtype {data.dtype}, but the saved one "
                                f"had shape {shape} and dtype {dtype}")
        return data

    @data.setter
    def data(self, value) -> None:
        _SLOT_DATA.__set__(self, value)

    def unpack(self, owner: "Node", with_graph: bool):
        if not self.requires_grad and self.grad_fn is None:  # a constant (a dropout mask …)
            if self.counter.value != self.version:
                raise self._modified_error(owner)
            return _tensor_class()._make(self.data)
        return SavedTensor.unpack(self, owner, with_graph)


_SLOT_DATA = SavedTensor.data  # the slot itself (the subclass's property hides it)


def _reads_for(op, needs_grad: tuple, n_inputs: int) -> tuple:
    """The inputs to save when only the rules of inputs in ``needs_grad`` will run."""
    keep = set()
    for i, need in enumerate(needs_grad):
        if need:
            keep.update(op.reads[i])
    base = range(n_inputs) if op.saves is None else op.saves
    found = op.saves_for[needs_grad] = tuple(j for j in base if j in keep)
    return found


class Node:
    """One recorded op application: what backward needs to send gradients on."""

    # set for every node: slots; set for few: class defaults, then the instance __dict__
    __slots__ = ("op", "params", "input_meta", "next_nodes", "saved", "saved_ans", "freed", "seq",
                 "__dict__", "__weakref__")
    pre_hooks = None  # hooks on the gradient of this node's output (register_hook)
    retained = None  # weakref to the tensor whose retain_grad() wants this gradient
    trace = None  # the forward's stack, in anomaly mode
    kept = None  # what the forward kept for the joint rule (registry's Op.keeps), taken once

    def __init__(self, op, params, inputs, needs_grad, ans) -> None:
        self.op = op
        self.params = params
        self.seq = next(_SEQUENCE)
        n = len(inputs)
        if n == 2:  # most ops have one or two inputs: those spelled out, no loops
            a, b = inputs
            da, db = a._data, b._data
            self.input_meta = ((da.shape, da.dtype), (db.shape, db.dtype))
            need_a, need_b = needs_grad
            self.next_nodes = ((a.grad_fn or a._accum or accumulator_of(a)) if need_a else None,
                               (b.grad_fn or b._accum or accumulator_of(b)) if need_b else None)
        elif n == 1:
            (a,) = inputs
            da = a._data
            self.input_meta = ((da.shape, da.dtype),)
            self.next_nodes = ((a.grad_fn or a._accum or accumulator_of(a)) if needs_grad[0] else None,)
        else:
            meta = []
            nexts = []
            for t, need in zip(inputs, needs_grad):
                data = t._data
                meta.append((data.shape, data.dtype))
                nexts.append((t.grad_fn or t._accum or accumulator_of(t)) if need else None)
            self.input_meta = tuple(meta)
            self.next_nodes = tuple(nexts)
        saves = op.saves  # None: every input; () nothing
        if op.reads is not None:
            saves = op.saves_for.get(needs_grad)
            if saves is None:
                saves = _reads_for(op, needs_grad, n)
        if saves is None:
            self.saved = tuple(map(SavedTensor, inputs))
        elif saves:
            kept = [None] * n
            for i in saves:
                if i < n:  # (a variadic op may list more than a call has)
                    kept[i] = SavedTensor(inputs[i])
            self.saved = tuple(kept)
        else:
            self.saved = None
        self.saved_ans = SavedTensor(ans, True) if op.saves_ans else None
        self.freed = False

    def name(self) -> str:
        return self.op.backward_name

    @property
    def next_functions(self) -> tuple:
        """``(node, 0)`` for each input, as PyTorch's (``(None, 0)`` for one without grad;
        a leaf's node is its AccumulateGrad)."""
        return tuple((n, 0) for n in self.next_nodes)

    def __repr__(self) -> str:
        return f"<{self.name()} object>"

    def release(self) -> None:
        """Drop the saved tensors once this node's rules have run."""
        if self.saved is not None or self.saved_ans is not None:
            self.saved = None
            self.saved_ans = None
            self.freed = True

    def register_prehook(self, fn):
        if self.pre_hooks is None:
            self.pre_hooks = []
        self.pre_hooks.append(fn)
        return RemovableHandle(self.pre_hooks, fn)


class AccumulateGrad:
    """The end of the graph for a leaf tensor: adds arriving gradients to ``.grad``."""

    __slots__ = ("_variable", "_keep", "__weakref__")
    op = None
    pre_hooks = None
    retained = None
    next_nodes = ()
    freed = False

    def __init__(self, variable) -> None:
        # the leaf holds its accumulator for good and the accumulator holds the leaf weakly
        # (no cycle, and none to rebuild each step); a leaf with hooks is kept alive by
        # its graph, as in PyTorch (see keep_alive)
        self._variable = weakref.ref(variable)
        self._keep = None

    @property
    def variable(self):
        """The leaf tensor, or None when nothing but the graph referred to it."""
        return self._variable()

    def keep_alive(self) -> None:
        """Hold the leaf strongly: its hooks must run even if the caller dropped it."""
        self._keep = self._variable()

    def name(self) -> str:
        return "AccumulateGrad"

    next_functions = ()  # the end of the graph

    def __repr__(self) -> str:
        return "<AccumulateGrad object>"


class RemovableHandle:
    """Returned by ``register_hook``: ``handle.remove()`` detaches the hook."""

    __slots__ = ("_hooks_ref", "_fn")

    def __init__(self, hooks: list, fn) -> None:
        self._hooks_ref = hooks
        self._fn = fn

    def remove(self) -> None:
        try:
            self._hooks_ref.remove(self._fn)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def accumulator_of(tensor) -> AccumulateGrad:
    """The leaf's AccumulateGrad node, made on first use and kept by the leaf."""
    acc = tensor._accum
    if acc is None:
        acc = tensor._accum = AccumulateGrad(tensor)
    return acc
