"""Reverse-mode autodiff: walk the graph from the outputs and apply each op's rules.

One walk (:func:`_walk`) serves ``backward`` and ``grad`` at every order. It is
iterative (no recursion limit) and runs nodes newest first, each once, on the sum of
its gradients; each node's gradient is dropped as soon as it has been passed on, and
(unless ``retain_graph``) its saved tensors are released right after its rules run.

Each op has one rule per input, written against a namespace ``m`` (see
rule_namespace.py). The walk carries arrays for a first-order backward and runs the
rules on them (``m`` the backend: no Tensor or Node per rule); under ``create_graph``
or anomaly mode it carries Tensors (``m`` = ``TENSORS``), so the same rules record a
graph for higher orders. Rules written on Tensors only (``defvjp``) get Tensors in both.
Leaves get their gradients in one place (:func:`_to_leaf`); a leaf with hooks, or any
leaf of a walk with ``inputs=`` or Tensors, first waits for all of its gradients.

Imported back here: ``.grad`` storage and hooks (``leaf_grads.py``), a rule's result
conformed to its input (``rule_grads.py``), ``IndexedGrad`` (``indexed_grad.py``) and the
checks that turn ``backward``/``grad``'s arguments into roots (``roots.py``).
"""
from __future__ import annotations

from heapq import heappop, heappush

from .._host_calls import user_callback
from .. import _mldtypes
from .._fp import loud as fp_loud, quiet as fp_quiet
from .grad_mode import GRAD
from .graph import HOOKED_LEAVES, AccumulateGrad, Node, RemovableHandle, SavedTensor, _tensor_class
from ..backends import NUMPY, backend_of
from ..errors import BackwardError, op_error
from .rule_namespace import TENSORS
from . import leaf_grads
from .indexed_grad import IndexedGrad
from .leaf_grads import (_array_sum, _checked_hook_result, _run_leaf_hooks, _run_post_accumulate_hooks,
                         _store_grad, _to_leaf)
from .roots import _as_tuple, _ones_like, _roots, _target_node  # noqa: F401
from .rule_grads import _check_finite, _conform, _dtype, _sum_to, _sum_to_array  # noqa: F401

_NDARRAY = NUMPY.ndarray
BF16_WIDEN = None  # chainrule._mldtypes.widen once a bfloat16 tensor exists


def _widen_low_precision_rules() -> None:
    global BF16_WIDEN
    BF16_WIDEN = _mldtypes.widen


_mldtypes.when_used(_widen_low_precision_rules)
_ONE: dict = {}  # dtype → a read-only 0-d one: the gradient of a scalar loss with respect to itself


_wrap = None  # tensor.wrap_array, bound by _bind_wrap (tensor.py imports this package)


def _bind_wrap() -> None:
    global _wrap
    if _wrap is None:
        from ..tensor import wrap_array
        _wrap = leaf_grads._wrap = wrap_array


# called with the roots of every ``backward()`` (instruments read the loss here)
_BACKWARD_OBSERVERS: list = []


def observe_backward(fn) -> RemovableHandle:
    """Call ``fn(tensors)`` at the start of every ``backward()`` (``tensors`` as passed:
    one Tensor or a sequence); ``handle.remove()`` stops it.

    >>> import chainrule as cr
    >>> seen = []
    >>> h = observe_backward(lambda t: seen.append(t.item()))
    >>> (cr.tensor(3.0, requires_grad=True) * 2).backward()
    >>> h.remove(); seen
    [6.0]
    """
    _BACKWARD_OBSERVERS.append(fn)
    return RemovableHandle(_BACKWARD_OBSERVERS, fn)


# False while autograd.grad() or backward(inputs=...) walks the graph: a reentrant
# checkpoint cannot recompute there (PyTorch's torch.autograd._is_checkpoint_valid)
CHECKPOINT_VALID = [True]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> cr.autograd.backward((x ** 2).sum())
    >>> x.grad
    tensor([2., 4.])
    """
    if _BACKWARD_OBSERVERS:
        user_callback("a backward observer (a training monitor)")
        for fn in list(_BACKWARD_OBSERVERS):
            fn(tensors)
    if grad_tensors is None and inputs is None and not create_graph and not GRAD.anomaly \
            and getattr(tensors, "_requires_grad", False) and tensors._data.size == 1:
        # the usual ``loss.backward()``: no argument checks to make, one root
        data = tensors._data
        node = tensors.grad_fn
        if type(data) is _NDARRAY and data.ndim == 0 and node is not None and not node.pre_hooks:
            ones = _ONE.get(data.dtype)
            if ones is None:
                ones = _ONE[data.dtype] = NUMPY.array(1, dtype=data.dtype)
                ones.flags.writeable = False
            _walk([(tensors, ones, False)], bool(retain_graph), False)  # shared: never ours
        else:
            _walk([(tensors, backend_of(data).ones(data.shape, data.dtype), True)],
                  bool(retain_graph), False)
        return
    tensors, grad_tensors = _roots(tensors, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    targets = None
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise op_error(BackwardError, "backward", "inputs= was given but is empty")
        targets = {_target_node(t, "backward"): t for t in inputs}
    prev_valid, CHECKPOINT_VALID[0] = CHECKPOINT_VALID[0], targets is None
    try:
        _walk(_walk_roots(tensors, grad_tensors, create_graph), retain_graph, create_graph, targets)
    finally:
        CHECKPOINT_VALID[0] = prev_valid


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated).

    >>> import chainrule as cr
    >>> x = cr.tensor(3.0, requires_grad=True)
    >>> (g,) = cr.autograd.grad(x ** 3, x, create_graph=True)
    >>> g, cr.autograd.grad(g, x)[0]
    (tensor(27., grad_fn=<MulBackward>), tensor(18.))
    """
    outputs, grad_outputs = _roots(outputs, grad_outputs, "grad")
    inputs = _as_tuple(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    targets = {}
    for i, t in enumerate(inputs):
        targets.setdefault(_target_node(t, "grad"), []).append(i)
    captured: dict = {}
    prev_valid, CHECKPOINT_VALID[0] = CHECKPOINT_VALID[0], False
    try:
        _walk(_walk_roots(outputs, grad_outputs, create_graph), retain_graph, create_graph, targets,
              capture=captured)
    finally:
        CHECKPOINT_VALID[0] = prev_valid
    result = []
    for i, t in enumerate(inputs):
        g = captured.get(i)
        if g is None:
            if materialize_grads:
                Tensor = _tensor_class()
                g = Tensor._make(_zeros_like(t._data))
            elif not allow_unused:
                raise op_error(BackwardError, "grad",
                               f"input {i} (shape {tuple(t.shape)}) was not used to compute the "
                               f"outputs; pass allow_unused=True to get None for it")
        result.append(g)
    return tuple(result)


def _walk_roots(tensors, grads, create_graph: bool) -> list:
    """``(tensor, gradient, ours)`` for :func:`_walk`: arrays for a first-order walk."""
    if create_graph or GRAD.anomaly:
        return [(t, g, False) for t, g in zip(tensors, grads)]
    return [(t, g._data, g._grad_owned) for t, g in zip(tensors, grads)]


def _zeros_like(array):
    return backend_of(array).zeros_like(array)


def _discover(roots) -> dict:
    """Count, for each node reachable from the roots, how many edges lead into it."""
    deps: dict = {}
    stack = []
    for node in roots:
        if node not in deps:
            deps[node] = 0
            stack.append(node)
    while stack:
        node = stack.pop()
        for parent in node.next_nodes:
            if parent is None:
                continue
            if parent in deps:
                deps[parent] += 1
            else:
                deps[parent] = 1
                stack.append(parent)
    return deps


def _needed(deps: dict, targets: dict) -> set:
    """The nodes from which some target can be reached (the only ones worth running)."""
    # reverse edges, then walk back from the targets
    consumers: dict = {}
    for node in deps:
        for parent in node.next_nodes:
            if parent is not None:
                consumers.setdefault(parent, []).append(node)
    needed = set()
    stack = [t for t in targets if t in deps]
    while stack:
        node = stack.pop()
        if node in needed:
            continue
        needed.add(node)
        stack.extend(consumers.get(node, ()))
    return needed


class _Walk:
    """The state of one backward walk, for the helpers off its hot loop. The class values
    are the defaults (a first-order walk to every leaf); the walk sets only what differs, as
    making this object is part of every ``backward()``'s fixed cost."""

    arrays = True  # gradients are arrays (first order), else Tensors
    create_graph = False
    targets = None
    capture = None
    # expected gradients per node, counted only where a leaf must wait for all of its
    # gradients (hooks, targets, Tensors): None, every leaf takes each as it arrives
    counts = None
    waiting = None  # with counts: the leaves waiting for the sum of their gradients
    # set on every walk: pending (node → the sum of its gradients so far), owned (nodes
    # whose pending array is a fresh buffer of this walk), heap ((seq, node) of the nodes
    # with a gradient: newest first)


_new_object = object.__new__


def _walk_state(pending: dict, owned: set, heap: list) -> _Walk:
    walk = _new_object(_Walk)
    walk.pending, walk.owned, walk.heap = pending, owned, heap
    return walk


def _walk(roots, retain_graph: bool, create_graph: bool, targets: dict | None = None,
          capture: dict | None = None) -> None:
    """The backward walk. ``roots`` are ``(tensor, gradient, ours)``: the gradient an array
    for a first-order walk (no ``create_graph``, no anomaly mode), else a Tensor, and
    ``ours`` whether it is a fresh buffer of this backward (which may be summed into in
    place or taken over by a leaf).

    Nodes run newest first (a heap on their creation number): a valid order, because
    every consumer is newer than its inputs, so when a node comes off the heap nothing
    left can still send it a gradient. Each node runs its rules once on the sum of its
    gradients: on arrays (rule namespace: the backend) or on Tensors (``TENSORS``, recorded
    under ``create_graph``). ``targets`` (node → input) limits the walk to what reaches
    those nodes; with ``capture`` the gradients arriving at targets are stored there by
    input position instead of being accumulated into ``.grad``. Leaves get their gradient
    in one place, :func:`_to_leaf`.
    """
    if _wrap is None:
        _bind_wrap()
    arrays = not create_graph and not GRAD.anomaly
    pending, owned, heap = {}, set(), []
    needed = counts = walk = None  # (walk: made when a helper first needs it)
    if arrays and targets is None and capture is None and not HOOKED_LEAVES \
            and len(roots) == 1 and roots[0][0].grad_fn is not None:
        # one loss (the usual backward): no sums to make yet
        t, g, ours = roots[0]
        node = t.grad_fn
        pending[node] = g
        if ours:
            owned.add(node)
        heap.append((node.seq, node))
    else:
        walk = _walk_state(pending, owned, heap)
        walk.arrays, walk.create_graph, walk.targets, walk.capture = \
            arrays, create_graph, targets, capture
        nodes = [t.grad_fn if t.grad_fn is not None else t._accumulator() for t, _, _ in roots]
        if not arrays or targets is not None or HOOKED_LEAVES:
            walk.counts = counts = _discover(nodes)
            walk.waiting = []
            if targets is not None:
                needed = _needed(counts, targets)
        for node, (_, g, ours) in zip(nodes, roots):
            _arrive(walk, node, g, ours)
    deliver = targets is not None or capture is not None
    prev_mode = GRAD.enabled
    GRAD.enabled = create_graph
    quiet = fp_quiet()  # rules make inf/nan as PyTorch's do: silently (chainrule._fp)
    try:
        while heap:
            node = heappop(heap)[1]
            g = pending.pop(node)
            if node.pre_hooks:
                g = _run_pre_hooks(node.pre_hooks, g, arrays)
                owned.discard(node)
            if deliver or node.retained is not None:
                _deliver(walk or _walk_state(pending, owned, heap), node, g)
            if node.freed:
                _check_not_freed(node)
            if needed is None or node in needed:
                if not arrays:
                    grads_out = _tensor_grads(node, g, create_graph, needed)
                elif node.op.array_rules:
                    grads_out = _raw_grads(node, g, needed, dense_reads=False)
                else:  # rules written on Tensors only: wrapped, run without recording
                    t = _wrap(g)
                    t._grad_owned = node in owned
                    grads_out = [(p, gi._data) for p, gi in _tensor_grads(node, t, False, needed)]
                for parent, gi in grads_out:
                    if arrays:
                        if type(gi) is IndexedGrad:  # a read's gradient: written into place
                            _arrive_indexed(walk or _walk_state(pending, owned, heap), parent, gi)
                            continue
                        # only a fresh array that owns its memory may later be summed into
                        # or taken over (a rule may return g itself or a view of it)
                        if gi is g:
                            ours = False
                        else:
                            flags = gi.flags
                            ours = flags.owndata and (flags.writeable if type(gi) is _NDARRAY
                                                      else getattr(flags, "writeable", True))  # (CuPy: none)
                    else:
                        ours = False  # Tensors are summed out of place
                    if parent.op is None and counts is None:  # a leaf that need not wait
                        leaf = parent._variable()
                        if leaf is not None:  # (None: the leaf is gone, no one can read it)
                            _to_leaf(leaf, gi, ours, False)
                    elif parent.op is None or parent in pending:
                        if walk is None:
                            walk = _walk_state(pending, owned, heap)
                        _arrive(walk, parent, gi, ours)
                    else:  # the first gradient for a node (_arrive's commonest case, inline)
                        pending[parent] = gi
                        if ours:
                            owned.add(parent)
                        heappush(heap, (parent.seq, parent))
            if counts is not None:
                _count_down(walk, node)
            # drop this node's gradients now: hooks of the next node may check they are gone
            grads_out = gi = g = t = leaf = None
            if not retain_graph and (node.saved is not None or node.saved_ans is not None):
                node.saved = node.saved_ans = None  # Node.release, inline
                node.freed = True
        for acc in (walk and walk.waiting) or ():  # leaves still waiting for a gradient that never came
            if acc in pending:
                _finish_leaf(walk, acc)
    finally:
        fp_loud(quiet)
        GRAD.enabled = prev_mode


def _arrive(walk: _Walk, node, gi, ours: bool) -> None:
    """A gradient reaches ``node``: summed into what is pending there, or (a leaf that
    need not wait) straight into its ``.grad``."""
    pending = walk.pending
    if node.op is None:  # AccumulateGrad: the end of the graph for a leaf
        if walk.counts is None:  # a first-order walk to every leaf, none with hooks
            leaf = node._variable()
            if leaf is not None:  # (None: the leaf is gone, no one can read its gradient)
                _to_leaf(leaf, gi, ours, False)
            return
        if node not in pending:
            walk.waiting.append(node)
    prev = pending.get(node)
    if prev is None:
        pending[node] = gi
        if ours:
            walk.owned.add(node)
        if node.op is not None:
            heappush(walk.heap, (node.seq, node))
    elif not walk.arrays:
        pending[node] = prev + gi  # (recorded under create_graph)
    elif node in walk.owned and prev.shape == gi.shape and prev.dtype == gi.dtype:
        prev += gi  # prev is an array (never a NumPy scalar): updated in place
    else:
        pending[node] = _array_sum(prev, gi)
        walk.owned.add(node)


def _arrive_indexed(walk: _Walk, node, gi: IndexedGrad) -> None:
    """An :class:`IndexedGrad` reaches ``node``: added into place in its pending buffer (or
    the leaf's own ``.grad``), so no full-sized temporary is made per read."""
    xp = backend_of(gi.values)
    if node.op is None and walk.counts is None:
        leaf = node._variable()
        if leaf is not None:
            _to_leaf(leaf, gi, True, False)
        return
    prev = walk.pending.get(node)
    if prev is None:
        _arrive(walk, node, gi.dense(xp), True)
    elif node in walk.owned:
        gi.add_into(xp, prev)
    else:
        prev = prev.copy()
        gi.add_into(xp, prev)
        walk.pending[node] = prev
        walk.owned.add(node)


def _count_down(walk: _Walk, node) -> None:
    """``node`` has run: each leaf it feeds waits for one gradient fewer, and gets the sum
    of its gradients (hooks first) when it waits for none."""
    counts = walk.counts
    for parent in node.next_nodes:
        if parent is not None and parent.op is None:
            left = counts[parent] = counts[parent] - 1
            if left == 0 and parent in walk.pending:
                _finish_leaf(walk, parent)


def _finish_leaf(walk: _Walk, acc) -> None:
    """A leaf's summed gradient: through its hooks, then captured (``grad``) or into
    ``.grad`` with its post-accumulate hooks."""
    g = walk.pending.pop(acc)
    ours = acc in walk.owned
    walk.owned.discard(acc)
    leaf = acc._variable()
    targets = walk.targets
    if leaf is None or (targets is not None and acc not in targets):
        return
    if walk.arrays:
        g = _wrap(g)
        g._grad_owned = ours
    g = _run_leaf_hooks(leaf, g)
    if walk.capture is not None:
        _capture(walk.capture, targets[acc], g, walk.create_graph)
        return
    _to_leaf(leaf, g, g._grad_owned, walk.create_graph)
    _run_post_accumulate_hooks(leaf)


def _deliver(walk: _Walk, node, g) -> None:
    """A non-leaf's gradient where it is asked for: ``retain_grad()``,
    ``backward(inputs=[non-leaf])`` or ``grad(…, non-leaf)``."""
    t = _wrap(g) if walk.arrays else g
    t._grad_owned = False  # the walk goes on with g: never taken over
    targets = walk.targets
    if walk.capture is not None:
        if node in targets:
            _capture(walk.capture, targets[node], t, walk.create_graph)
    elif node.retained is not None:
        owner = node.retained()
        if owner is not None and owner.grad_fn is node:
            _store_grad(owner, t, walk.create_graph)
    elif targets is not None and node in targets:
        _store_grad(targets[node], t, walk.create_graph)


def _run_pre_hooks(hooks, g, arrays: bool):
    """A node's gradient after its pre-hooks (each may return a replacement Tensor)."""
    user_callback("a gradient hook")
    t = _wrap(g) if arrays else g
    t._grad_owned = False  # a hook may keep it
    for hook in list(hooks):
        out = hook(t)
        if out is not None:
            t = _checked_hook_result(out, t, "hook")
    return t._data if arrays else t


def _capture(capture: dict, positions, g, create_graph: bool) -> None:
    for pos in positions if isinstance(positions, list) else (positions,):
        capture[pos] = g if create_graph else g.detach()


def _check_not_freed(node: Node) -> None:
    if node.freed:
        raise BackwardError(
            f"{node.op.name} backward: trying to backward through the graph a second time "
            "(its saved tensors were freed after the first backward). Pass retain_graph=True "
            "to the first backward() or autograd.grad() if you need to backward twice.")


def _saved_inputs(node: Node, unpack, *args):
    """``(inputs, ans)`` as the node saved them, each through ``unpack(saved, node, *args)``
    (version-checked; in anomaly mode the error also names the forward)."""
    saved = node.saved
    try:
        if saved is None:
            inputs = _NO_INPUTS.get(len(node.input_meta)) or [None] * len(node.input_meta)
        else:
            inputs = []
            for s in saved:  # (a loop: a list comprehension is one more call in Python 3.11)
                inputs.append(None if s is None else unpack(s, node, *args))
        ans = unpack(node.saved_ans, node, *args) if node.saved_ans is not None else None
    except BackwardError as e:
        if node.trace:
            from .anomaly import forward_trace_note
            raise BackwardError(f"{e}{forward_trace_note(node)}") from None
        raise
    return inputs, ans


def _tensor_grads(node: Node, g, create_graph: bool, needed) -> list:
    """``[(parent, gradient Tensor)]`` from the node's Tensor rules (any order of derivative)."""
    op = node.op
    inputs, ans = _saved_inputs(node, SavedTensor.unpack, create_graph)
    rules = op.vjps
    if op.joint is not None:
        rules = _joint_results(op, node, needed, TENSORS, g, ans, inputs, node.params)
    out = []
    for i, parent in enumerate(node.next_nodes):
        if parent is None or (needed is not None and parent not in needed):
            continue
        if GRAD.anomaly:
            try:
                gi = rules[i](TENSORS, g, ans, *inputs, **node.params)
            except Exception as e:
                from .anomaly import forward_trace_note
                raise BackwardError(f"anomaly: {node.name()} failed computing the gradient of "
                                    f"input {i}: {type(e).__name__}: {e}"
                                    f"{forward_trace_note(node)}") from e
        else:
            gi = rules[i](TENSORS, g, ans, *inputs, **node.params)
        if gi is None:
            continue
        shape, dtype = node.input_meta[i]
        if gi._data.shape != shape:
            gi = _sum_to(gi, shape, op.name, i)
        if gi._data.dtype != dtype:
            gi = gi.to(_dtype(dtype))
        if GRAD.anomaly and GRAD.anomaly_check_nan:
            _check_finite(node, i, gi)
        # a rule may hand back ``g`` itself, a view of it (add, reshape …) or a
        # broadcast view of a small array (sum, mean): only a fresh array that owns
        # its memory may be summed into in place or taken over by a leaf
        gi._grad_owned = not create_graph and _exclusive(gi._data, g._data)
        out.append((parent, gi))
    return out


def _raw_grads(node: Node, ga, needed, dense_reads: bool = True) -> list:
    """``[(parent, gradient array)]`` from the node's array-level rules (first order only);
    with ``dense_reads=False`` a read's gradient may stay an :class:`IndexedGrad`."""
    op = node.op
    # the saved arrays, unpacked inline; anything modified in place since it was saved
    # goes through _saved_inputs, which raises the error
    saved, saved_ans = node.saved, node.saved_ans
    intact = saved_ans is None or saved_ans.counter.value == saved_ans.version
    if saved is None:
        inputs = _NO_INPUTS.get(len(node.input_meta)) or [None] * len(node.input_meta)
    else:
        inputs = []
        for s in saved:
            if s is None:
                inputs.append(None)
            elif s.counter.value != s.version:
                intact = False
                break
            else:
                inputs.append(s.data if s.leaf is None else s.leaf._data)
    if intact:
        ans = None if saved_ans is None else saved_ans.data
    else:
        inputs, ans = _saved_inputs(node, SavedTensor.array)
    if BF16_WIDEN is not None:  # bfloat16 rules compute in float32 (see chainrule._mldtypes)
        ga, inputs, ans = BF16_WIDEN(ga, inputs, ans)
    xp = NUMPY if type(ga) is _NDARRAY else backend_of(ga)
    rules = op.vjps
    params = node.params
    joint = None
    if op.joint is not None:  # every needed gradient from one call that shares its work
        joint = _joint_grads(op, node, needed, xp, ga, ans, inputs, params)
    out = []
    i = -1
    for parent in node.next_nodes:
        i += 1
        if parent is None or (needed is not None and parent not in needed):
            continue
        gi = rules[i](xp, ga, ans, *inputs, **params) if joint is None else joint[i]
        if gi is None:
            continue
        shape, dtype = node.input_meta[i]
        kind = type(gi)
        if kind is _NDARRAY:
            if gi.shape != shape or (gi.dtype is not dtype and gi.dtype != dtype):
                gi = _conform(xp, gi, shape, dtype, op.name, i)
        elif kind is IndexedGrad:
            if dense_reads:
                gi = _conform(xp, gi.dense(xp), shape, dtype, op.name, i)
            elif gi.values.dtype != dtype:
                gi.values = gi.values.astype(dtype)
        else:
            gi = _conform(xp, gi, shape, dtype, op.name, i)
        out.append((parent, gi))
    return out


def _joint_results(op, node, needed, xp, ga, ans, inputs, params) -> list:
    """``op.joint``'s results as rules that return them, for _tensor_grads' loop."""
    return [lambda *_, result=result, **__: result
            for result in _joint_grads(op, node, needed, xp, ga, ans, inputs, params)]


def _joint_grads(op, node, needed, xp, ga, ans, inputs, params):
    """``op.joint``'s gradients, one per input (kept out of _raw_grads: a comprehension
    there would make ``needed`` a cell variable, slower on every node)."""
    needs = tuple([p is not None and (needed is None or p in needed) for p in node.next_nodes])
    if op.keeps is not None:  # what the forward kept for this rule: handed over once, then
        kept = node.kept      # dropped (a second backward through a retained graph recomputes)
        if kept is not None:
            del node.kept
        params = {**params, "kept": kept}
    return op.joint(xp, ga, ans, *inputs, needs=needs, **params)


_NO_INPUTS = {1: [None], 2: [None, None], 3: [None, None, None]}


def _exclusive(a, b) -> bool:
    """True when array ``a`` owns its (writable) memory and is not ``b``: a fresh result.

    ``b`` (the incoming gradient) is older than ``a``, so it cannot be a view of it.
    """
    if a is b:
        return False
    flags = a.flags
    return flags.owndata and getattr(flags, "writeable", True)  # (CuPy's flags have none)


