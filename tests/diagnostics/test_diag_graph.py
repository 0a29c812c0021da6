"""graph(): DOT text with the expected nodes and data-flow edges; files written or explained."""
import importlib
import os
import re
import stat

import pytest

import chainrule as cr
from chainrule import nn

graph_module = importlib.import_module("chainrule.diagnostics.graph")  # the name is the function


def parse(dot):
    """({id: label}, [(from label, to label)]) from the DOT text."""
    labels = dict(re.findall(r'^\s+(n\d+) \[label="([^"]*)"', dot, re.M))
    edges = [(labels[a], labels[b]) for a, b in re.findall(r"^\s+(n\d+) -> (n\d+);", dot, re.M)]
    return labels, edges


def test_mlp_graph_nodes_and_edges():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    y = model(cr.randn(5, 3)).sum()
    dot = cr.diagnostics.graph(y, params=model)
    assert dot.startswith("digraph chainrule {") and dot.rstrip().endswith("}")
    labels, edges = parse(dot)
    assert sorted(labels.values()) == sorted([
        "0.weight\\n(4, 3)", "0.bias\\n(4,)", "const\\n(5, 3)", "linear\\n(5, 4)",
        "relu\\n(5, 4)", "2.weight\\n(1, 4)", "2.bias\\n(1,)", "linear\\n(5, 1)", "sum\\n()"])
    assert sorted(edges) == sorted([
        ("const\\n(5, 3)", "linear\\n(5, 4)"), ("0.weight\\n(4, 3)", "linear\\n(5, 4)"),
        ("0.bias\\n(4,)", "linear\\n(5, 4)"), ("linear\\n(5, 4)", "relu\\n(5, 4)"),
        ("relu\\n(5, 4)", "linear\\n(5, 1)"), ("2.weight\\n(1, 4)", "linear\\n(5, 1)"),
        ("2.bias\\n(1,)", "linear\\n(5, 1)"), ("linear\\n(5, 1)", "sum\\n()")])
    root = [line for line in dot.splitlines() if "peripheries=2" in line]
    assert len(root) == 1 and "sum" in root[0]


def test_shared_input_and_unnamed_leaves():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    y = (a * a + b).sum()
    labels, edges = parse(cr.diagnostics.graph(y, params={"a": a}))
    assert edges.count(("a\\n(2,)", "mul\\n(2,)")) == 2  # used twice: two edges
    assert ("leaf\\n(2,)", "add\\n(2,)") in edges     # b has no name
    y.backward()
    assert cr.diagnostics.graph(y, params={"a": a}) == cr.diagnostics.graph(y, params={"a": a})


def test_named_intermediate():
    a = cr.tensor(2.0, requires_grad=True)
    h = a.exp()
    labels, _ = parse(cr.diagnostics.graph(h * 3, params={"a": a, "h": h}))
    assert "h = exp\\n()" in labels.values()


def test_svg_without_dot_writes_dot_file_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    a = cr.tensor(2.0, requires_grad=True)
    target = tmp_path / "g.svg"
    with pytest.warns(UserWarning, match="'dot' was not found"):
        text = cr.diagnostics.graph(a * a, path=target)
    assert not target.exists()
    assert (tmp_path / "g.dot").read_text() == text


def test_svg_with_dot_runs_it(tmp_path, monkeypatch):
    fake = tmp_path / "dot"
    fake.write_text('#!/bin/sh\n# fake Graphviz: record the format, copy stdin to -o\n'
                    'echo "$1" > "$3.args"; cat > "$3"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: str(fake))
    a = cr.tensor(2.0, requires_grad=True)
    target = tmp_path / "g.svg"
    text = cr.diagnostics.graph(a * a, path=target)
    assert target.read_text() == text
    assert (tmp_path / "g.svg.args").read_text().strip() == "-Tsvg"


def test_dot_path_writes_text(tmp_path):
    a = cr.tensor(2.0, requires_grad=True)
    text = cr.diagnostics.graph(a.relu(), path=os.fspath(tmp_path / "g.dot"))
    assert (tmp_path / "g.dot").read_text() == text
