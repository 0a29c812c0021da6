"""Walking a recorded graph forward, and remembering the constants it used.

Shared by ``explain`` and ``graph``: both need the nodes in data-flow order, the
shape each node produced and names for leaves.
"""
from __future__ import annotations

import contextlib
import weakref

from ..autograd.graph import AccumulateGrad

# Node -> {input index: array} for inputs that needed no gradient (filled by record())
_CONSTANTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def root_node(output):
    """The node that made ``output`` (its accumulator when it is a leaf)."""
    if output.grad_fn is not None:
        return output.grad_fn
    if output.requires_grad:
        return output._accumulator()
    raise ValueError("the tensor has no graph: it does not require grad (make its inputs with "
                     "requires_grad=True, outside no_grad())")


def forward_order(root) -> list:
    """Every node reachable from ``root``, each after all of its inputs (iterative DFS)."""
    order, done = [], set()
    stack = [(root, 0)]
    while stack:
        node, i = stack.pop()
        nexts = node.next_nodes
        while i < len(nexts) and (nexts[i] is None or nexts[i] in done):
            i += 1
        if i < len(nexts):
            stack.append((node, i + 1))
            stack.append((nexts[i], 0))  # the stack is the current path: a DAG never loops
            continue
        if node not in done:
            done.add(node)
            order.append(node)
    return order


def output_shapes(output, order) -> dict:
    """The shape each node produced, read from what its consumers recorded about it."""
    shapes = {}
    for node in order:
        if isinstance(node, AccumulateGrad):
            if node.variable is not None:  # else its consumers recorded the shape
                shapes[node] = tuple(node.variable.shape)
            continue
        for i, parent in enumerate(node.next_nodes):
            if parent is not None and parent not in shapes:
                shapes[parent] = tuple(node.input_meta[i][0])
    shapes[order[-1]] = tuple(output.shape)
    return shapes


def names_by_node(names) -> dict:
    """{node: name} from a dict name -> tensor, a Module (its named_parameters) or pairs."""
    if names is None:
        return {}
    if hasattr(names, "named_parameters"):
        pairs = list(names.named_parameters())
    elif isinstance(names, dict):
        pairs = list(names.items())
    else:
        pairs = list(names)
    out = {}
    for name, t in pairs:
        if t.grad_fn is not None:
            out[t.grad_fn] = name
        elif t.requires_grad:
            out[t._accumulator()] = name
    return out


def constant_input(node, i: int):
    """The array of input ``i`` of ``node`` that needed no gradient, or None if not kept."""
    saved = node.saved
    if saved is not None and saved[i] is not None:
        s = saved[i]
        return s.leaf._data if s.leaf is not None else s.data
    return _CONSTANTS.get(node, {}).get(i)


@contextlib.contextmanager
def record():
    """Keep the constant operands (``x + 1``'s 1) of ops recorded inside the block.

    Ops such as add keep nothing for backward, so a constant they used cannot be read
    back from the graph; ``explain`` needs it to show values. Not thread-safe: it
    observes the op registry (``registry.observe_ops``) for the duration of the block.

    >>> import chainrule as cr
    >>> a = cr.tensor(2.0, requires_grad=True)
    >>> with cr.diagnostics.record():
    ...     b = a + 1
    >>> constant_input(b.grad_fn, 1)
    array(1., dtype=float32)
    """
    from ..ops import registry

    def keep_constants(op, inputs, params, out):
        node = out.grad_fn
        if node is not None and node.op is op:
            consts = {i: t._data for i, (t, nxt) in enumerate(zip(inputs, node.next_nodes))
                      if nxt is None}
            if consts:
                _CONSTANTS[node] = consts

    with registry.observe_ops(keep_constants):
        yield
