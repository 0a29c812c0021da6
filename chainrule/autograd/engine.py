"""Reverse-mode autodiff: walk the graph from the outputs and apply each op's rules.

The walk is iterative (no recursion limit): one pass counts, for every node, how
many consumers will send it a gradient; a second pass runs each node once all of
them have, in depth-first order so gradients are freed early. Each node's
gradient is dropped as soon as it has been passed on, and (unless
``retain_graph``) its saved tensors are released right after its rules run.

Each op has one rule per input, written against a namespace ``m`` (see
rule_namespace.py): a first-order backward runs it on arrays (``m`` the backend), a
``create_graph`` backward or anomaly mode on Tensors (``m`` = ``TENSORS``), so the same
rule records a graph for higher orders. Rules written on Tensors only (``defvjp``, and
custom Functions) get Tensors in both.

That is ``run_backward``: it passes Tensors (any order of derivative, ``grad``,
``inputs=``, anomaly mode). The plain ``backward()`` of a loss goes through
``_backward_plain`` instead, which skips the counting pass (it runs nodes newest
first) and keeps gradients as raw arrays.
"""
from __future__ import annotations

from heapq import heappop, heappush

from .._fp import loud as fp_loud, quiet as fp_quiet
from .grad_mode import GRAD
from .graph import HOOKED_LEAVES, AccumulateGrad, Node, RemovableHandle, SavedTensor, _tensor_class
from ..backends import NUMPY, backend_of
from ..errors import BackwardError, ShapeError, op_error
from .rule_namespace import TENSORS

_NDARRAY = NUMPY.ndarray
BF16_WIDEN = None  # chainrule._mldtypes.widen once a bfloat16 tensor exists
_ONE: dict = {}  # dtype → a read-only 0-d one: the gradient of a scalar loss with respect to itself


class IndexedGrad:
    """What the backward op of a read (slice, getitem) gives on arrays instead of a padded array:
    ``zeros(shape)`` with ``values`` at ``index`` (summed where ``accumulate`` and an index
    repeats). The engine adds it into the input's gradient buffer in place, so T slices
    of one tensor cost T slice-sized writes, not T full-sized zero arrays and sums."""

    __slots__ = ("index", "values", "shape", "accumulate")

    def __init__(self, index, values, shape, accumulate: bool = False) -> None:
        self.index = index
        self.values = values
        self.shape = tuple(shape)
        self.accumulate = accumulate

    def dense(self, xp):
        """The gradient as a fresh array of its own."""
        out = xp.zeros(self.shape, dtype=self.values.dtype)
        self.add_into(xp, out)
        return out

    def add_into(self, xp, target) -> None:
        values = self.values if self.values.dtype == target.dtype else self.values.astype(target.dtype)
        if self.accumulate:
            backend_of(target).scatter_add(target, self.index, values)
        else:
            target[self.index] += values


_wrap = None  # tensor.wrap_array, bound by _bind_wrap (tensor.py imports this package)


def _bind_wrap() -> None:
    global _wrap
    if _wrap is None:
        from ..tensor import wrap_array
        _wrap = wrap_array


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


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> cr.autograd.backward((x ** 2).sum())
    >>> x.grad
    tensor([2., 4.])
    """
    if _BACKWARD_OBSERVERS:
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
            _backward_plain([(tensors, ones, False)], bool(retain_graph))  # shared: never ours
        else:
            _backward_plain([(tensors, backend_of(data).ones(data.shape, data.dtype), True)],
                            bool(retain_graph))
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
    if targets is None and not create_graph and not GRAD.anomaly:
        _backward_plain([(t, g._data, g._grad_owned) for t, g in zip(tensors, grad_tensors)],
                        retain_graph)
    else:
        run_backward(tensors, grad_tensors, retain_graph, create_graph, targets, capture=None)


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
    run_backward(outputs, grad_outputs, retain_graph, create_graph, targets, capture=captured)
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


def _zeros_like(array):
    return backend_of(array).zeros_like(array)


def _as_tuple(x) -> tuple:
    Tensor = _tensor_class()
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _target_node(t, op: str):
    if not t._requires_grad:
        raise op_error(BackwardError, op, f"one of the inputs (shape {tuple(t.shape)}) does not "
                       "require grad")
    return t.grad_fn if t.grad_fn is not None else t._accumulator()


def _roots(tensors, grads, op: str):
    Tensor = _tensor_class()
    tensors = _as_tuple(tensors)
    if grads is None:
        grads = (None,) * len(tensors)
    else:
        grads = _as_tuple(grads) if not isinstance(grads, Tensor) else (grads,)
    if len(grads) != len(tensors):
        raise op_error(BackwardError, op, f"got {len(tensors)} outputs but {len(grads)} gradients")
    out_grads = []
    for t, g in zip(tensors, grads):
        if not t._requires_grad:
            raise op_error(BackwardError, op,
                           f"the tensor (shape {tuple(t.shape)}) does not require grad and has no "
                           "grad_fn: nothing it was computed from requires grad, or it was made "
                           "under no_grad()")
        if g is None:
            if t._data.size != 1:
                raise op_error(BackwardError, op,
                               f"grad can be implicitly created only for scalar outputs; this "
                               f"output has shape {tuple(t.shape)}: pass gradient= of that shape")
            g = Tensor._make(_ones_like(t._data))
            g._grad_owned = True  # made here: a leaf may take it over
        elif not isinstance(g, Tensor):
            from ..creation import tensor as make
            g = make(g, dtype=t.dtype)
        if g._data.shape != t._data.shape:
            raise op_error(ShapeError, op, f"gradient has shape {tuple(g.shape)}, but the output "
                           f"has shape {tuple(t.shape)}")
        if g._data.dtype != t._data.dtype:
            g = g.to(t.dtype)  # gradients take their tensor's dtype, as in PyTorch
        out_grads.append(g)
    return tensors, out_grads


def _ones_like(array):
    return backend_of(array).ones_like(array)


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


def run_backward(tensors, grads, retain_graph: bool, create_graph: bool,
                 targets: dict | None, capture: dict | None) -> None:
    """The graph walk shared by ``backward`` and ``grad``.

    ``targets`` (node → input) limits the walk to what reaches those nodes;
    with ``capture`` the gradients arriving at targets are stored there by input
    position instead of being accumulated into ``.grad``.
    """
    _bind_wrap()
    root_nodes = []
    pending: dict = {}
    for t, g in zip(tensors, grads):
        node = t.grad_fn if t.grad_fn is not None else t._accumulator()
        root_nodes.append(node)
        pending[node] = g if node not in pending else _add(pending[node], g, create_graph)
    deps = _discover(root_nodes)
    needed = _needed(deps, targets) if targets is not None else None
    ready = [n for n in dict.fromkeys(root_nodes) if deps[n] == 0]
    prev_mode = GRAD.enabled
    GRAD.enabled = create_graph
    quiet = fp_quiet()  # rules make inf/nan as PyTorch's do: silently (chainrule._fp)
    try:
        while ready:
            node = ready.pop()
            g = pending.pop(node, None)
            if g is not None and node.pre_hooks:
                g._grad_owned = False  # a hook may keep g: never sum into it or hand it to a leaf
                for hook in list(node.pre_hooks):
                    out = hook(g)
                    if out is not None:
                        g = _checked_hook_result(out, g, "hook")
            if isinstance(node, AccumulateGrad):
                if g is not None and (targets is None or node in targets) \
                        and node.variable is not None:  # None: the leaf is gone, no one can read it
                    g = _run_leaf_hooks(node.variable, g)
                    if capture is not None:
                        _capture(capture, targets[node], g, create_graph)
                    else:
                        _store_grad(node.variable, g, create_graph)
                        _run_post_accumulate_hooks(node.variable)
                continue
            if g is not None and capture is None:
                if node.retained is not None:
                    owner = node.retained()
                    if owner is not None and owner.grad_fn is node:
                        _store_grad(owner, g, create_graph)
                elif targets is not None and node in targets:  # backward(inputs=[non-leaf])
                    _store_grad(targets[node], g, create_graph)
            if capture is not None and node in targets:
                if g is not None:
                    _capture(capture, targets[node], g, create_graph)
            if g is not None and (needed is None or node in needed):
                _run_node(node, g, pending, create_graph, retain_graph, needed)
            _count_down(node, deps, ready)
    finally:
        fp_loud(quiet)
        GRAD.enabled = prev_mode


def _backward_plain(roots, retain_graph: bool) -> None:
    """``run_backward`` for the common case: every leaf, first order, no anomaly mode.

    ``roots`` are ``(tensor, gradient array, whether that array is ours)``. Gradients
    stay raw arrays (Tensors are made only for hooks and ``.grad``); ``owned`` holds
    the nodes whose pending array is a fresh buffer of this backward, which may be
    summed into in place or taken over.

    No counting pass: nodes run newest first (a heap on their creation number),
    which is a valid order because every consumer is newer than its inputs, so
    when a node comes off the heap nothing left can still send it a gradient. A
    leaf's gradient is added to its ``.grad`` as it arrives; a leaf with hooks
    gets the sum of its gradients once, see :class:`_HookedLeaves`.
    """
    if _wrap is None:
        _bind_wrap()
    if len(roots) == 1 and roots[0][0].grad_fn is not None:  # one loss: no sums to make
        t, ga, is_ours = roots[0]
        node = t.grad_fn
        hooked = _HookedLeaves((node,)) if HOOKED_LEAVES else None  # None: no leaf has hooks
        pending = {node: ga}
        owned = {node} if is_ours else set()
        heap = [(node.seq, node)]
    else:
        pending, owned, heap = {}, set(), []
        nodes = [t.grad_fn if t.grad_fn is not None else t._accumulator() for t, _, _ in roots]
        hooked = _HookedLeaves(nodes) if HOOKED_LEAVES else None
        for node, (t, ga, is_ours) in zip(nodes, roots):
            _arrive(node, ga, is_ours, pending, owned, heap, hooked)
    prev_mode = GRAD.enabled
    GRAD.enabled = False
    quiet = fp_quiet()  # rules make inf/nan as PyTorch's do: silently (chainrule._fp)
    try:
        while heap:
            node = heappop(heap)[1]
            ga = pending.pop(node)
            if node.pre_hooks:
                ga = _run_hooks_on_array(node.pre_hooks, ga)
                owned.discard(node)
            if node.retained is not None:
                keeper = node.retained()
                if keeper is not None and keeper.grad_fn is node:
                    _store_grad(keeper, _wrap(ga), False)
            if node.freed:
                _check_not_freed(node)
            if node.op.array_rules:
                grads_out = _raw_grads(node, ga, None, dense_reads=False)
            else:
                g = _wrap(ga)
                g._grad_owned = node in owned
                grads_out = [(parent, gi._data) for parent, gi in _tensor_grads(node, g, False, None)]
            for parent, gi in grads_out:
                if type(gi) is IndexedGrad:  # a read's gradient: written into place
                    _arrive_indexed(parent, gi, pending, owned, heap, hooked)
                    continue
                # only a fresh array that owns its memory may later be summed into
                # or taken over (a rule may return ga itself or a view of it): _exclusive
                flags = gi.flags
                ours = gi is not ga and flags.owndata and flags.writeable
                if parent.op is None or parent in pending:
                    _arrive(parent, gi, ours, pending, owned, heap, hooked)
                else:  # the first gradient for a node (_arrive's commonest case, inline)
                    pending[parent] = gi
                    if ours:
                        owned.add(parent)
                    heappush(heap, (parent.seq, parent))
            # drop this node's arrays now: hooks of the next node may check they are gone
            grads_out = gi = g = ga = None
            if not retain_graph and (node.saved is not None or node.saved_ans is not None):
                node.saved = node.saved_ans = None  # Node.release, inline
                node.freed = True
        if hooked is not None:
            for acc in hooked.order:  # those still waiting for a gradient that never came
                _flush_leaf(acc, pending, owned)
    finally:
        fp_loud(quiet)
        GRAD.enabled = prev_mode


class _HookedLeaves:
    """The leaves with hooks that a plain backward reaches. Their gradients are summed
    and handed to the hooks once, when the last expected one has arrived (as PyTorch
    runs a leaf's hooks as soon as its gradient is complete). The expected counts come
    from one pass over the graph, made only while some leaf has hooks at all."""

    __slots__ = ("expected", "order")

    def __init__(self, root_nodes) -> None:
        self.expected = _discover(root_nodes)
        self.order: list = []  # accumulators, in order of their first gradient

    def complete(self, acc) -> bool:
        """One more gradient reached ``acc``: True when it was the last one expected."""
        left = self.expected[acc] = self.expected.get(acc, 1) - 1
        return left == 0


def _flush_leaf(acc, pending: dict, owned: set) -> None:
    """Hand a hooked leaf its summed gradient: hooks first, then ``.grad``."""
    ga = pending.pop(acc, None)
    leaf = acc._variable()
    if ga is not None and leaf is not None:
        g = _wrap(ga)
        g._grad_owned = acc in owned
        _store_grad(leaf, _run_leaf_hooks(leaf, g), False)
        _run_post_accumulate_hooks(leaf)


def _arrive(node, gi, is_ours: bool, pending: dict, owned: set, heap: list, hooked) -> None:
    """A gradient array reaches ``node``: summed into what is pending there, or (a leaf
    without hooks) straight into its ``.grad``."""
    if node.op is None:  # AccumulateGrad: the end of the graph for a leaf
        leaf = node._variable()
        if leaf is None:
            return  # the leaf is gone: no one can read its gradient
        if leaf._hooks is None:  # _store_grad's cases, the common ones spelled out
            grad = leaf._grad
            if grad is None:  # take over our own buffer, or keep a copy of a shared one
                leaf._grad = _wrap(gi if is_ours else gi.copy())
                leaf._grad_owned = True
            elif leaf._grad_owned and grad.grad_fn is None:
                grad._data += gi  # a .grad this engine made: accumulated in place
            else:
                g = _wrap(gi)
                g._grad_owned = is_ours
                _store_grad(leaf, g, False)
            return
    prev = pending.get(node)
    if prev is None:
        pending[node] = gi
        if is_ours:
            owned.add(node)
        if node.op is not None:
            heappush(heap, (node.seq, node))
            return
        hooked.order.append(node)
    elif node in owned and prev.shape == gi.shape and prev.dtype == gi.dtype:
        prev += gi  # prev is an array (never a NumPy scalar): updated in place
    else:
        pending[node] = _array_sum(prev, gi)
        owned.add(node)
    if node.op is None and hooked.complete(node):
        _flush_leaf(node, pending, owned)


def _arrive_indexed(node, gi: IndexedGrad, pending: dict, owned: set, heap: list, hooked) -> None:
    """An :class:`IndexedGrad` reaches ``node``: added into place in its pending buffer (or
    the leaf's own ``.grad``), so no full-sized temporary is made per read."""
    xp = backend_of(gi.values)
    if node.op is None:
        leaf = node.variable
        if leaf is None:
            return
        if leaf._hooks is None and leaf._grad is not None and leaf._grad_owned \
                and leaf._grad.grad_fn is None and leaf._grad._data.dtype == gi.values.dtype:
            gi.add_into(xp, leaf._grad._data)
            return
    prev = pending.get(node)
    if prev is None:
        _arrive(node, gi.dense(xp), True, pending, owned, heap, hooked)
        return
    if node in owned:
        gi.add_into(xp, prev)
    else:
        prev = prev.copy()
        gi.add_into(xp, prev)
        pending[node] = prev
        owned.add(node)
    if node.op is None and hooked.complete(node):
        _flush_leaf(node, pending, owned)


def _count_down(node, deps: dict, ready: list) -> None:
    """``node`` has run: each parent waits for one gradient fewer (ready at none)."""
    for parent in node.next_nodes:
        if parent is not None:
            deps[parent] -= 1
            if deps[parent] == 0:
                ready.append(parent)


def _array_sum(a, b):
    """``a + b`` as a fresh array (NumPy gives a scalar for two 0-d arrays)."""
    out = a + b
    if type(out) is not _NDARRAY and not isinstance(out, (type(a), type(b))):
        out = backend_of(a).asarray(out)
    return out


def _run_hooks_on_array(hooks, ga):
    """A node's gradient after its pre-hooks (each may return a replacement Tensor)."""
    g = _wrap(ga)
    for hook in list(hooks):
        out = hook(g)
        if out is not None:
            g = _checked_hook_result(out, g, "hook")
    return g._data


def _capture(capture: dict, positions, g, create_graph: bool) -> None:
    for pos in positions if isinstance(positions, list) else (positions,):
        capture[pos] = g if create_graph else g.detach()


def _run_node(node: Node, g, pending: dict, create_graph: bool, retain_graph: bool, needed) -> None:
    """Apply ``node``'s VJP rules to its gradient and pass the results on (as Tensors)."""
    _check_not_freed(node)
    if node.op.array_rules and not create_graph and not GRAD.anomaly:
        ga = g._data
        for parent, gi in _raw_grads(node, ga, needed):
            t = _wrap(gi)
            t._grad_owned = _exclusive(gi, ga)
            prev = pending.get(parent)
            pending[parent] = t if prev is None else _add(prev, t, False)
    else:
        for parent, gi in _tensor_grads(node, g, create_graph, needed):
            prev = pending.get(parent)
            pending[parent] = gi if prev is None else _add(prev, gi, create_graph)
    if not retain_graph:
        node.release()


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
    if op.joint is not None:  # every needed gradient from one call that shares its work
        rules = _joint_results(op, node, needed, xp, ga, ans, inputs, params)
    out = []
    i = -1
    for parent in node.next_nodes:
        i += 1
        if parent is None or (needed is not None and parent not in needed):
            continue
        gi = rules[i](xp, ga, ans, *inputs, **params)
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
    """``op.joint``'s results as rules that return them, for _raw_grads' loop (kept out
    of that function: a comprehension there would make ``needed`` a cell variable, slower
    on every node)."""
    needs = tuple([p is not None and (needed is None or p in needed) for p in node.next_nodes])
    joint = op.joint(xp, ga, ans, *inputs, needs=needs, **params)
    return [lambda *_, result=result, **__: result for result in joint]


def _conform(xp, gi, shape, dtype, op_name: str, i: int):
    """A raw rule's result as an array of the input's shape and dtype."""
    if gi.shape != shape:
        gi = _sum_to_array(gi, shape, op_name, i)
    if gi.dtype != dtype:
        gi = gi.astype(dtype)
    if type(gi) is not _NDARRAY and not isinstance(gi, xp.ndarray):
        gi = xp.asarray(gi)  # NumPy gives scalars for 0-d arithmetic and full reductions
    return gi


_NO_INPUTS = {1: [None], 2: [None, None], 3: [None, None, None]}


def _sum_to_array(g, shape, op_name: str, i: int):
    """Sum a broadcast gradient array down to ``shape`` (the input's)."""
    lead = g.ndim - len(shape)
    if lead < 0 or any(s != 1 and s != gs for s, gs in zip(shape, g.shape[lead:])):
        raise BackwardError(f"{op_name} backward: the rule for input {i} returned a gradient of "
                            f"shape {tuple(g.shape)}, which does not reduce to the input's shape "
                            f"{tuple(shape)}")
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(k for k, s in enumerate(shape) if s == 1 and g.shape[k] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def _exclusive(a, b) -> bool:
    """True when array ``a`` owns its (writable) memory and is not ``b``: a fresh result.

    ``b`` (the incoming gradient) is older than ``a``, so it cannot be a view of it.
    """
    if a is b:
        return False
    flags = a.flags
    return flags.owndata and flags.writeable


def _dtype(np_dtype):
    from ..dtypes import from_numpy_dtype
    return from_numpy_dtype(np_dtype)


def _sum_to(g, shape, op_name: str, i: int):
    from ..ops.shape import sum_to_size
    try:
        return sum_to_size(g, shape)
    except Exception as e:
        raise BackwardError(f"{op_name} backward: the rule for input {i} returned a gradient of "
                            f"shape {tuple(g.shape)}, which does not reduce to the input's shape "
                            f"{tuple(shape)}") from e


def _add(a, b, create_graph: bool):
    """Sum two gradients; in place when ``a`` is our own buffer and no graph is recorded."""
    if create_graph:
        return a + b
    if a._grad_owned and a._data.shape == b._data.shape and a._data.dtype == b._data.dtype:
        a._data += b._data
        return a
    Tensor = _tensor_class()
    out = Tensor._make(_array_sum(a._data, b._data))
    out._grad_owned = True
    return out


def _run_leaf_hooks(leaf, g):
    """The gradient after the leaf's hooks (each may return a replacement)."""
    if leaf._hooks:
        g._grad_owned = False  # a hook may keep g: the leaf must store a copy of its own
        for hook in list(leaf._hooks):
            out = hook(g)
            if out is not None:
                g = _checked_hook_result(out, g, "hook")
    return g


def _run_post_accumulate_hooks(leaf) -> None:
    """A leaf's ``.grad`` is complete for this backward: its post-accumulate hooks run."""
    for hook in list(leaf._post_accumulate_hooks or ()):
        out = hook(leaf)
        if out is not None:
            raise BackwardError("post-accumulate-grad hook: it is called for its effect and "
                                f"must return None, got {type(out).__name__}")


def _checked_hook_result(out, g, what: str):
    Tensor = _tensor_class()
    if not isinstance(out, Tensor):
        raise BackwardError(f"{what}: a gradient hook must return a Tensor or None, got "
                            f"{type(out).__name__}")
    if out._data.shape != g._data.shape:
        raise BackwardError(f"{what}: a gradient hook returned shape {tuple(out.shape)}, but the "
                            f"gradient has shape {tuple(g.shape)}")
    return out


def _store_grad(t, g, create_graph: bool) -> None:
    """Put ``g`` into ``t.grad``, so that no two tensors' ``.grad`` ever share memory.

    A gradient buffer made by this backward and reaching only ``t`` is taken over;
    any other (the root gradient the user passed, one that ``add`` handed to both
    operands, a hook's result) is copied. A ``.grad`` the engine made is accumulated
    in place; one the user assigned is replaced, never written to (PyTorch adds into
    it in place). With ``create_graph`` the gradient keeps its graph.
    """
    if t._grad is None:
        if create_graph:
            # the same gradient tensor may reach several leaves (a + b): each gets
            # its own copy, still in the graph, so that none aliases another
            from ..ops.conversion import clone
            t._grad = clone(g)
            t._grad_owned = False
        elif g._grad_owned:  # an exclusive buffer: take it over
            g._grad_owned = False
            t._grad = g if g.grad_fn is None else g.detach()
            t._grad_owned = True
        else:  # shared with another tensor: keep a copy of our own
            t._grad = _wrap(g._data.copy())
            t._grad_owned = True
    elif create_graph or t._grad.grad_fn is not None:
        t._grad = t._grad + g
        t._grad_owned = False
    elif t._grad_owned:
        t._grad._data += g._data
    else:
        t._grad = _wrap(_array_sum(t._grad._data, g._data))
        t._grad_owned = True


def _check_finite(node: Node, i: int, gi) -> None:
    from .anomaly import forward_trace_note
    xp = backend_of(gi._data)
    data = gi._data
    if data.dtype.kind in "fV" and not bool(xp.all(xp.isfinite(data))):
        kinds = [k for k, bad in (("nan", xp.any(xp.isnan(data))), ("inf", xp.any(xp.isinf(data))))
                 if bool(bad)]
        raise BackwardError(f"anomaly: {node.name()} returned non-finite values ({', '.join(kinds)}) "
                            f"in the gradient of input {i} (shape {tuple(gi.shape)})"
                            f"{forward_trace_note(node)}")
