"""``graph(output)``: the recorded graph as Graphviz DOT (and SVG when ``dot`` exists).

Edges point the way data flows (inputs -> ops -> output); each op node shows the
op and the shape it produced; leaves are named by parameter name when ``params``
(a dict, a Module, or (name, tensor) pairs) is given.

>>> import chainrule as cr
>>> w = cr.ones(3, 2, requires_grad=True)
>>> dot = cr.diagnostics.graph((cr.ones(4, 3) @ w).relu().sum(), params={"w": w})
>>> print(dot)  # doctest: +ELLIPSIS
digraph chainrule {
  rankdir=LR;
  node [fontname="monospace", fontsize=10];
  n0 [label="w\\n(3, 2)", shape=box, style=filled, fillcolor=lightblue];
  n1 [label="const\\n(4, 3)", shape=box, style=dashed, color=gray50];
  n2 [label="matmul\\n(4, 2)", shape=ellipse];
  n3 [label="relu\\n(4, 2)", shape=ellipse];
  n4 [label="sum\\n()", shape=ellipse, peripheries=2];
  n1 -> n2;
  n0 -> n2;
  n2 -> n3;
  n3 -> n4;
}
"""
from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from typing import Any

from ..autograd.graph import AccumulateGrad
from ..tensor import Tensor
from ._walk import forward_order, names_by_node, output_shapes, root_node


def graph(output: Tensor, params: dict | Any = None, path: str | os.PathLike | None = None) -> str:
    """The graph that produced ``output`` as DOT text; with ``path``, also write it.

    ``path`` ending in ``.svg``/``.png``/``.pdf`` is rendered with Graphviz's ``dot``
    when that program is installed; otherwise the DOT text is written next to it
    (``x.svg`` -> ``x.dot``) with a warning saying so. Other suffixes get the DOT text.
    """
    root = root_node(output)
    order = forward_order(root)
    shapes = output_shapes(output, order)
    names = names_by_node(params)
    ids = {node: f"n{k}" for k, node in enumerate(_with_constants(order))}
    lines = ["digraph chainrule {", "  rankdir=LR;",
             '  node [fontname="monospace", fontsize=10];']
    edges = []
    for node in order:
        for i, parent in enumerate(getattr(node, "next_nodes", ())):
            if parent is None:  # an input that needed no gradient: drawn as a constant
                cid = ids[(node, i)]
                shape = _shape(node.input_meta[i][0])
                lines.append(f'  {cid} [label="const\\n{shape}", shape=box, style=dashed, '
                             f'color=gray50];')
                edges.append(f"  {cid} -> {ids[node]};")
            else:
                edges.append(f"  {ids[parent]} -> {ids[node]};")
        if isinstance(node, AccumulateGrad):
            name = names.get(node, "leaf")
            lines.append(f'  {ids[node]} [label="{_esc(name)}\\n{_shape(shapes[node])}", '
                         f'shape=box, style=filled, fillcolor=lightblue];')
        else:
            name = node.op.name if node not in names else f"{names[node]} = {node.op.name}"
            extra = ", peripheries=2" if node is root else ""
            lines.append(f'  {ids[node]} [label="{_esc(name)}\\n{_shape(shapes[node])}", '
                         f'shape=ellipse{extra}];')
    text = "\n".join(lines + edges + ["}"])
    if path is not None:
        _write(text, os.fspath(path))
    return text


def _with_constants(order) -> list:
    """Nodes, each preceded by placeholders for its constant inputs (so ids follow data flow)."""
    out = []
    for node in order:
        for i, parent in enumerate(getattr(node, "next_nodes", ())):
            if parent is None:
                out.append((node, i))
        out.append(node)
    return out


def _shape(shape) -> str:
    shape = tuple(shape)
    return f"({shape[0]},)" if len(shape) == 1 else str(shape)


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _write(text: str, path: str) -> None:
    stem, ext = os.path.splitext(path)
    fmt = ext.lstrip(".").lower()
    if fmt not in ("svg", "png", "pdf"):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return
    dot = shutil.which("dot")
    if dot is None:
        with open(stem + ".dot", "w", encoding="utf-8") as f:
            f.write(text)
        warnings.warn(f"graph: Graphviz 'dot' was not found, so {path} was not rendered; the "
                      f"DOT text was written to {stem}.dot (render it with "
                      f"'dot -T{fmt} {stem}.dot -o {path}')", stacklevel=3)
        return
    subprocess.run([dot, f"-T{fmt}", "-o", path], input=text.encode("utf-8"), check=True)
