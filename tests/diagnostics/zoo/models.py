"""Model builders shared by many cases, with readable module names.

>>> import chainrule as lib
>>> [n for n, _ in mlp(lib, [4, 8, 2]).named_modules()]
['', 'fc1', 'act1', 'out']
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any


def mlp(lib: Any, sizes: list[int], act: str = "ReLU", final: tuple[str, Any] | None = None,
        between: dict[int, tuple[str, Any]] | None = None) -> Any:
    """Linear layers ``fc1, fc2, ...`` with activations ``act1, act2, ...``; the last Linear is
    ``out``. ``final`` = (name, module) is appended after it; ``between`` puts (name, module)
    right after ``fc{i}`` (before its activation), e.g. a BatchNorm."""
    nn = lib.nn
    layers: list[tuple[str, Any]] = []
    depth = len(sizes) - 1
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        last = i == depth
        layers.append(("out" if last else f"fc{i}", nn.Linear(a, b)))
        if not last:
            if between and i in between:
                layers.append(between[i])
            if act:
                layers.append((f"act{i}", getattr(nn, act)()))
    if final is not None:
        layers.append(final)
    return nn.Sequential(OrderedDict(layers))
