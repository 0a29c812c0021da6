"""Reverse-mode autodiff: walk the graph from the outputs and apply each op's rules.

The walk is iterative (no recursion limit): one pass counts, for every node, how
many consumers will send it a gradient; a second pass runs each node once all of
them have, in depth-first order so gradients are freed early. Each node's
gradient is dropped as soon as it has been passed on, and (unless
``retain_graph``) its saved tensors are released right after its rules run.
"""
from __future__ import annotations

from .grad_mode import GRAD
from .graph import AccumulateGrad, Node
from ..errors import BackwardError, ShapeError, op_error


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> cr.autograd.backward((x ** 2).sum())
    >>> x.grad
    tensor([2., 4.])
    """
    tensors, grad_tensors = _roots(tensors, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    targets = None
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise op_error(BackwardError, "backward", "inputs= was given but is empty")
        targets = {_target_node(t, "backward"): t for t in inputs}
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
                from ..tensor import Tensor
                g = Tensor._make(_zeros_like(t._data))
            elif not allow_unused:
                raise op_error(BackwardError, "grad",
                               f"input {i} (shape {tuple(t.shape)}) was not used to compute the "
                               f"outputs; pass allow_unused=True to get None for it")
        result.append(g)
    return tuple(result)


def _zeros_like(array):
    from ..backends import backend_of
    return backend_of(array).zeros_like(array)


def _as_tuple(x) -> tuple:
    from ..tensor import Tensor
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _target_node(t, op: str):
    if not t._requires_grad:
        raise op_error(BackwardError, op, f"one of the inputs (shape {tuple(t.shape)}) does not "
                       "require grad")
    return t.grad_fn if t.grad_fn is not None else t._accumulator()


def _roots(tensors, grads, op: str):
    from ..tensor import Tensor
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
    from ..backends import backend_of
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
    from ..tensor import Tensor
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
                if g is not None and (targets is None or node in targets):
                    g = _run_leaf_hooks(node.variable, g)
                    if capture is not None:
                        _capture(capture, targets[node], g, create_graph)
                    else:
                        _store_grad(node.variable, g, create_graph)
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
            for parent in node.next_nodes:
                if parent is None:
                    continue
                deps[parent] -= 1
                if deps[parent] == 0:
                    ready.append(parent)
    finally:
        GRAD.enabled = prev_mode


def _capture(capture: dict, positions, g, create_graph: bool) -> None:
    for pos in positions if isinstance(positions, list) else (positions,):
        capture[pos] = g if create_graph else g.detach()


def _run_node(node: Node, g, pending: dict, create_graph: bool, retain_graph: bool, needed) -> None:
    """Apply ``node``'s VJP rules to its gradient and pass the results on."""
    if node.freed:
        raise BackwardError(
            f"{node.op.name} backward: trying to backward through the graph a second time "
            "(its saved tensors were freed after the first backward). Pass retain_graph=True "
            "to the first backward() or autograd.grad() if you need to backward twice.")
    op = node.op
    saved = node.saved
    n_inputs = len(node.input_meta)
    try:
        inputs = [None] * n_inputs if saved is None else \
            [s.unpack(node, create_graph) if s is not None else None for s in saved]
        ans = node.saved_ans.unpack(node, create_graph) if node.saved_ans is not None else None
    except BackwardError as e:
        if node.trace:
            from .anomaly import forward_trace_note
            raise BackwardError(f"{e}{forward_trace_note(node)}") from None
        raise
    for i, parent in enumerate(node.next_nodes):
        if parent is None or (needed is not None and parent not in needed):
            continue
        if GRAD.anomaly:
            try:
                gi = op.vjps[i](g, ans, *inputs, **node.params)
            except Exception as e:
                from .anomaly import forward_trace_note
                raise BackwardError(f"anomaly: {node.name()} failed computing the gradient of "
                                    f"input {i}: {type(e).__name__}: {e}"
                                    f"{forward_trace_note(node)}") from e
        else:
            gi = op.vjps[i](g, ans, *inputs, **node.params)
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
        prev = pending.get(parent)
        pending[parent] = gi if prev is None else _add(prev, gi, create_graph)
    if not retain_graph:
        node.release()


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
    from ..tensor import Tensor
    out = Tensor._make(a._data + b._data)
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


def _checked_hook_result(out, g, what: str):
    from ..tensor import Tensor
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
    from ..tensor import Tensor
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
            t._grad = Tensor._make(g._data.copy())
            t._grad_owned = True
    elif create_graph or t._grad.grad_fn is not None:
        t._grad = t._grad + g
        t._grad_owned = False
    elif t._grad_owned:
        t._grad._data += g._data
    else:
        t._grad = Tensor._make(t._grad._data + g._data)
        t._grad_owned = True


def _check_finite(node: Node, i: int, gi) -> None:
    from ..backends import backend_of
    from .anomaly import forward_trace_note
    xp = backend_of(gi._data)
    data = gi._data
    if data.dtype.kind == "f" and not bool(xp.all(xp.isfinite(data))):
        kinds = [k for k, bad in (("nan", xp.any(xp.isnan(data))), ("inf", xp.any(xp.isinf(data))))
                 if bool(bad)]
        raise BackwardError(f"anomaly: {node.name()} returned non-finite values ({', '.join(kinds)}) "
                            f"in the gradient of input {i} (shape {tuple(gi.shape)})"
                            f"{forward_trace_note(node)}")
