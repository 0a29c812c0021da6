"""Every public function of the ``chainrule`` namespace shows a runnable example.

pytest runs the package's doctests (``--doctest-modules`` in pyproject's addopts), so an
example is a test of the op as PyTorch documents it. This file checks that each public
function has one, and that doctest collection really reaches it: many functions are
reached through wrappers (``functools.wraps`` in ``_opmath.py``, ``amp/policy.py``,
``_out.py``, reduce's ``alias_numpy_names``) or made by factories, and a docstring that
doctest's finder never visits would be an example that never runs.
"""
from __future__ import annotations

import doctest
import importlib
import inspect

import chainrule

# Public functions without an example, each with why an example would be meaningless or
# machine-dependent. Everything else, op or not, shows one.
EXEMPT = {
    # Changes the process-wide intra-op thread pool as a side effect; the only observable
    # result is the machine's thread count (get_num_threads shows the reading side).
    "set_num_threads",
    # PyTorch allows setting it once, before any inter-op work; an example would change
    # process-wide state for every later test, and shows nothing but a thread count.
    "set_num_interop_threads",
}


def _public_functions() -> dict:
    return {name: getattr(chainrule, name) for name in dir(chainrule)
            if not name.startswith("_") and inspect.isfunction(getattr(chainrule, name))}


def _has_example(fn) -> bool:
    return ">>>" in (fn.__doc__ or "")


def _collected_docstrings(functions) -> set:
    """The docstrings (with examples) that doctest's finder collects from the modules that
    define ``functions``: what ``pytest --doctest-modules`` runs."""
    modules = set()
    for fn in functions:
        modules.add(fn.__module__)
        modules.add(inspect.unwrap(fn).__module__)
    finder = doctest.DocTestFinder()
    found = set()
    for name in sorted(modules):
        for test in finder.find(importlib.import_module(name)):
            if test.examples:
                found.add(test.docstring)
    return found


def test_every_public_function_has_an_example():
    missing = sorted(name for name, fn in _public_functions().items()
                     if name not in EXEMPT and not _has_example(fn))
    assert not missing, f"public functions without a >>> example: {missing}"


def test_every_example_is_collected_by_doctest():
    functions = {name: fn for name, fn in _public_functions().items() if _has_example(fn)}
    collected = _collected_docstrings(functions.values())
    lost = sorted(name for name, fn in functions.items() if fn.__doc__ not in collected)
    assert not lost, f"examples doctest never collects (not reached in their module): {lost}"


def test_exempt_names_are_public_functions_without_examples():
    public = _public_functions()
    stale = sorted(name for name in EXEMPT if name not in public or _has_example(public[name]))
    assert not stale, f"EXEMPT lists names that are gone or now have examples: {stale}"


def test_every_public_function_has_a_docstring():
    bare = sorted(name for name, fn in _public_functions().items()
                  if not (fn.__doc__ or "").strip())
    assert not bare, f"public functions without a docstring: {bare}"
