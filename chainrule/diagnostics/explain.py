"""``explain(output)``: backprop on a small graph, node by node, in words and numbers.

Values come from running each recorded op's forward again on its inputs; gradients
from calling each op's own VJP rule, exactly as the engine does (the engine's
unbroadcasting included). Nothing is re-derived by hand. The local derivative shown
for an input is the op's Jacobian, read off by feeding the rule unit vectors.

>>> import chainrule as cr
>>> a = cr.tensor(3.0, requires_grad=True)
>>> b = cr.tensor(2.0, requires_grad=True)
>>> text = cr.diagnostics.explain(a * b + a, names={"a": a, "b": b}, quiet=True)
>>> print(text.split("backward")[0].strip())
explain: the chain rule for out = 9, step by step
<BLANKLINE>
forward (each value once its inputs exist):
  a   = 3    (leaf)
  b   = 2    (leaf)
  t1  = mul(a, b) = 6
  out = add(t1, a) = 9    (output)
>>> print(text.split("leaf gradients:")[1].strip())
a.grad = 1 + 2 = 3
  b.grad = 3
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..autograd.graph import AccumulateGrad
from ..autograd.rule_namespace import TENSORS
from ..backends import backend_of
from ..tensor import Tensor
from ._walk import constant_input, forward_order, names_by_node, root_node

MAX_JACOBIAN = 64  # entries; larger local derivatives are described, not printed


def explain(output: Tensor, names: dict | Any = None, gradient: Tensor | None = None, *,
            quiet: bool = False, file=None) -> str:
    """Print (unless ``quiet``) and return how backward computes ``output``'s gradients.

    ``names``: a dict name -> tensor (leaves or intermediates) or a Module, used to name
    nodes; others are called x0, x1 … (leaves) and t1, t2 … (ops). ``gradient``: the
    seed for a non-scalar output (default: ones, as for ``output.sum()``). Call it
    before ``backward()`` (or after ``backward(retain_graph=True)``): it needs the
    values the graph saved. Constants that ops like add do not save (the 1 in
    ``x + 1``) show as ``const`` unless the graph was built under
    :func:`chainrule.diagnostics.record`.
    """
    root = root_node(output)
    order = forward_order(root)
    if any(getattr(n, "freed", False) for n in order):
        raise RuntimeError("explain: the graph's saved values were freed by backward(); call "
                           "explain before backward(), or use backward(retain_graph=True)")
    label = _labels(order, names_by_node(names), root)
    values = _forward_values(order, output)
    lines = [f"explain: the chain rule for {label[root]} = {_fmt(values[root])}, step by step",
             "", "forward (each value once its inputs exist):"]
    width = max(len(label[n]) for n in order)
    missing = False
    for node in order:
        lhs = label[node].ljust(width)
        if isinstance(node, AccumulateGrad):
            lines.append(f"  {lhs} = {_fmt(values[node])}    (leaf)")
            continue
        args = _arg_names(node, label, values)
        missing = missing or "const" in args
        tail = "    (output)" if node is root else ""
        lines.append(f"  {lhs} = {node.op.name}({', '.join(args)}) = {_fmt(values[node])}{tail}")
    if missing or any(v is None for v in values.values()):
        lines.append("  (? and const: values the graph did not keep; build it under "
                     "cr.diagnostics.record() to see them)")
    seed = gradient._data if gradient is not None else \
        backend_of(output._data).ones_like(output._data)
    lines += ["", "backward (from the output: gradient arriving x local derivative = "
              "gradient passed to each input; arrivals at one node are summed):"]
    grads, arrivals = _backward(order, root, seed, values, label, lines)
    lines += ["", "leaf gradients:"]
    for node in order:
        if isinstance(node, AccumulateGrad):
            g, came = grads.get(node), arrivals.get(node, [])
            parts = f"{' + '.join(_fmt(x) for _, x in came)} = " if len(came) > 1 else ""
            lines.append(f"  {label[node]}.grad = {parts}{_fmt(g) if g is not None else 'None'}")
    text = "\n".join(lines)
    if not quiet:
        print(text, file=file or sys.stdout)
    return text


# -------------------------------------------------------------------- naming --
def _labels(order, given: dict, root) -> dict:
    label, leaves, ops = {}, 0, 0
    for node in order:
        if node in given:
            label[node] = given[node]
        elif isinstance(node, AccumulateGrad):
            label[node] = f"x{leaves}"
            leaves += 1
        elif node is root:
            label[node] = "out"
        else:
            ops += 1
            label[node] = f"t{ops}"
    return label


def _arg_names(node, label, values) -> list[str]:
    args = []
    for i, parent in enumerate(node.next_nodes):
        if parent is not None:
            args.append(label[parent])
        else:
            c = constant_input(node, i)
            args.append("const" if c is None else _fmt(c))
    args += [f"{k}={v!r}" for k, v in node.params.items()]
    return args


def _fmt(array) -> str:
    if array is None:
        return "?"
    a = np.asarray(backend_of(array).to_host(array)) if not isinstance(array, np.ndarray) \
        else array
    if a.size == 1:
        return f"{float(a.reshape(())):.6g}"
    return np.array2string(a, precision=4, separator=", ", max_line_width=10_000).replace("\n", "")


# -------------------------------------------------------------------- values --
def _forward_values(order, output) -> dict:
    """Each node's value: its op's forward run again on its inputs' values."""
    kept = {}  # values some consumer saved for its backward: the fallback when a
    for node in order:  # constant upstream was not kept
        for i, p in enumerate(getattr(node, "next_nodes", ())):
            if p is not None and node.saved is not None and node.saved[i] is not None:
                s = node.saved[i]
                kept[p] = s.leaf._data if s.leaf is not None else s.data
    values = {}
    for node in order:
        if isinstance(node, AccumulateGrad):
            leaf = node.variable
            values[node] = leaf._data if leaf is not None else kept.get(node)
            continue
        ins = [values.get(p) if p is not None else constant_input(node, i)
               for i, p in enumerate(node.next_nodes)]
        if all(v is not None for v in ins):
            values[node] = node.op.forward(backend_of(ins[0]), *ins, **node.params)
        elif node.saved_ans is not None:
            values[node] = node.saved_ans.data
        else:
            values[node] = kept.get(node)
    values[order[-1]] = output._data
    return values


# ------------------------------------------------------------------ gradients --
def _vjp(node, i: int, g, values):
    """Input ``i``'s gradient by ``node``'s own rule, reduced to the input's shape."""
    from ..autograd.engine import _dtype, _sum_to
    from ..autograd.grad_mode import no_grad
    ins = [Tensor._make(values[p]) if p is not None and values.get(p) is not None else
           (Tensor._make(constant_input(node, j)) if p is None and
            constant_input(node, j) is not None else None)
           for j, p in enumerate(node.next_nodes)]
    ans = Tensor._make(values[node]) if values.get(node) is not None else None
    with no_grad():
        gi = node.op.vjps[i](TENSORS, Tensor._make(g), ans, *ins, **node.params)
        if gi is None:  # the rule sends this input nothing (as the engine skips it)
            return None
        shape, dtype = node.input_meta[i]
        if gi._data.shape != shape:
            gi = _sum_to(gi, shape, node.op.name, i)
        if gi._data.dtype != dtype:
            gi = gi.to(_dtype(dtype))
    return gi._data


def _jacobian(node, i: int, values, out_shape):
    """d(node)/d(input i) as a matrix (rows: output elements), from unit vectors."""
    xp = backend_of(values[node]) if values.get(node) is not None else np
    size = int(np.prod(out_shape)) if out_shape else 1
    in_size = int(np.prod(node.input_meta[i][0])) if node.input_meta[i][0] else 1
    if size * in_size > MAX_JACOBIAN:
        return None
    rows = []
    for k in range(size):
        e = xp.zeros(size, dtype=node.input_meta[i][1])
        e[k] = 1
        row = _vjp(node, i, e.reshape(out_shape), values)
        if row is None:
            return None
        rows.append(row.reshape(-1))
    return xp.stack(rows)


def _backward(order, root, seed, values, label, lines) -> dict:
    grads = {root: seed}
    arrivals: dict = {}
    for node in reversed(order):
        g = grads.get(node)
        if g is None or isinstance(node, AccumulateGrad):
            continue
        name = label[node]
        came = arrivals.get(node)
        summed = f" = {' + '.join(_fmt(x) for _, x in came)}" if came and len(came) > 1 else ""
        lines.append(f"  {name} = {node.op.name}(...): gradient arriving d{label[root]}/d{name}"
                     f"{summed} = {_fmt(g)}")
        for i, parent in enumerate(node.next_nodes):
            if parent is None:
                continue
            try:
                gi = _vjp(node, i, g, values)
                jac = _jacobian(node, i, values, g.shape)
            except Exception as e:  # a rule that needs a value the graph did not keep
                lines.append(f"      -> {label[parent]}: cannot evaluate ({type(e).__name__}: "
                             f"a value was not kept; build the graph under record())")
                continue
            if gi is None:
                lines.append(f"      -> {label[parent]}: the rule passes no gradient")
                continue
            if jac is None:
                local = f"a {g.size}x{int(np.prod(node.input_meta[i][0]) or 1)} Jacobian " \
                        f"(applied by the op's VJP rule)"
                product = f"VJP(g) = {_fmt(gi)}"
            elif jac.size == 1:
                local = _fmt(jac)
                product = f"{_fmt(g)} x {local} = {_fmt(gi)}"
            else:
                local = _fmt(jac.reshape(g.size, -1))
                product = f"g . J = {_fmt(gi)}"
            lines.append(f"      -> {label[parent]}: local d{name}/d{label[parent]} = {local};"
                         f"  {product}")
            arrivals.setdefault(parent, []).append((node, gi))
            prev = grads.get(parent)
            grads[parent] = gi if prev is None else prev + gi
    return grads, arrivals
