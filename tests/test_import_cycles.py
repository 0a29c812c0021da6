"""chainrule's modules import one another without cycles, imports inside functions included.

A cycle hidden in a function-level import still ties two layers together (the lower one
cannot be read, tested or replaced without the higher), so every ``import`` statement
counts, wherever it stands; only imports under ``if TYPE_CHECKING:`` (never run) are left
out. The layers are described in docs/architecture.md. Each cycle found is printed as a
chain of ``module:line`` so that the edge to cut can be read off.

Where a lower module must call a higher one at run time, the higher one hands it the
function (``chainrule/_late_bindings.py``, ``_mldtypes.when_used``, the installers that
``chainrule/__init__`` calls once everything is imported): never an import upward. The
two installers that wrap public functions (``_opmath.install``, ``amp.policy.install``)
find those namespaces by name at install time and are imported by ``chainrule/__init__``
only.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "chainrule"


def module_files() -> dict[str, Path]:
    """``{"chainrule.ops.registry": path, "chainrule.ops": .../ops/__init__.py, ...}``"""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of import nodes inside ``if TYPE_CHECKING:`` blocks."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skipped


def _targets(module: str, is_package: bool, node, modules) -> list[str]:
    """The chainrule modules an import statement loads (``from x import name``: the
    submodule ``x.name`` when there is one, else ``x``)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = module.split(".")[: len(module.split(".")) - node.level + is_package]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                 for alias in node.names]
    found = []
    for name in names:
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in modules and name.split(".")[0] == "chainrule":
            found.append(name)
    return found


def import_graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], int]]:
    """``module → modules it imports`` and the line of one import per edge."""
    modules = module_files()
    edges: dict[str, set[str]] = defaultdict(set)
    lines: dict[tuple[str, str], int] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_only(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped:
                for target in _targets(module, path.name == "__init__.py", node, modules):
                    if target != module:
                        edges[module].add(target)
                        lines.setdefault((module, target), node.lineno)
    return edges, lines


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def one_loop(component: list[str], edges, lines) -> str:
    """A shortest import loop through the component's first module, as ``a:line → b …``."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges.get(node, ())):
                if child == start:
                    loop = paths[node] + [start]
                    return " → ".join(f"{a}:{lines[(a, b)]}" for a, b in zip(loop, loop[1:])) \
                        + f" → {start}"
                if child in members and child not in paths:
                    paths[child] = paths[node] + [child]
                    following.append(child)
        frontier = following
    return "?"


def test_no_import_cycles():
    edges, lines = import_graph()
    found = cycles(edges)
    shown = "\n".join(f"{len(c)} modules: {one_loop(c, edges, lines)}" for c in found)
    assert not found, f"{len(found)} import cycles:\n{shown}"


def test_the_cycle_finder_finds_a_planted_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    lines = {("a", "b"): 1, ("b", "c"): 2, ("c", "a"): 3, ("d", "a"): 4}
    assert cycles(edges) == [["a", "b", "c"]]
    assert one_loop(["a", "b", "c"], edges, lines) == "a:1 → b:2 → c:3 → a"
    assert cycles({"a": {"b"}, "b": set()}) == []


# The layers of docs/architecture.md, bottom up (a module belongs to the longest prefix
# that names it; modules no prefix names are held by the cycle test alone). A module may
# import from its own layer and those below, never from one above.
LAYERS = [
    ("backends", ["chainrule.backends", "chainrule.errors", "chainrule._fp", "chainrule.dtypes",
                  "chainrule._host_calls",
                  "chainrule._mldtypes", "chainrule._plain_args", "chainrule.runtime"]),
    ("graph", ["chainrule.autograd.graph", "chainrule.autograd.grad_mode",
               "chainrule.autograd.anomaly"]),
    ("tensor", ["chainrule.tensor", "chainrule._args", "chainrule.creation", "chainrule.random",
                "chainrule.legacy", "chainrule.utils.dlpack"]),
    ("registry", ["chainrule.ops.registry", "chainrule.ops.view_meta", "chainrule.ops._operands",
                  "chainrule.autograd.rule_namespace"]),
    ("engine", ["chainrule.autograd.engine", "chainrule.autograd.leaf_grads",
                "chainrule.autograd.rule_grads", "chainrule.autograd.roots",
                "chainrule.autograd.indexed_grad"]),
    ("op families", ["chainrule.ops", "chainrule.sparse", "chainrule.amp.autocast_mode",
                     "chainrule.cuda", "chainrule.autograd.function"]),
    ("nn", ["chainrule.nn", "chainrule.func", "chainrule.func_trees", "chainrule.func_vmap",
            "chainrule.func_modules", "chainrule.autograd.functional", "chainrule.distributed"]),
    ("optim", ["chainrule.optim", "chainrule.amp.grad_scaler"]),
    ("train, diagnostics", ["chainrule.train", "chainrule.diagnostics", "chainrule.compiler"]),
    ("cli", ["chainrule.cli", "chainrule.doctor", "chainrule.__main__"]),
]


def layer_of(module: str) -> int | None:
    best, length = None, -1
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = rank, len(prefix)
    return best


def test_no_layer_imports_a_layer_above_it():
    edges, lines = import_graph()
    upward = []
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            low, high = layer_of(source), layer_of(target)
            if low is not None and high is not None and high > low:
                upward.append(f"{source}:{lines[(source, target)]} ({LAYERS[low][0]}) imports "
                              f"{target} ({LAYERS[high][0]})")
    assert not upward, "\n".join(upward)


def test_every_layer_prefix_names_a_module():
    modules = module_files()
    stale = [p for _, prefixes in LAYERS for p in prefixes
             if not any(m == p or m.startswith(p + ".") for m in modules)]
    assert not stale, f"LAYERS names modules that no longer exist: {stale}"
