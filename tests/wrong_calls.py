"""The harness for table-driven wrong-call tests: one call, run on chainrule and PyTorch.

A case is a name and a function of the library module (``chainrule`` or ``torch``)
that makes one call. Where PyTorch raises, chainrule must raise too, with an error
of its own (no NumPy or AttributeError text) that names the op or argument and ends
with the caller's line; where PyTorch warns, chainrule must warn; where PyTorch
succeeds, so must chainrule.

    CASES = [Case("zeros float size", lambda m: m.zeros(2.5), names="zeros")]
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import torch

import chainrule as cr

# text that shows an error came from inside NumPy or from a missing check, not from chainrule
LEAKS = re.compile(r"numpy|ndarray|ufunc|operands could not be broadcast|object has no attribute|"
                   r"'NoneType' object|not subscriptable|unsupported operand type|"
                   r"object cannot be interpreted|takes \d+ positional argument|got an unexpected "
                   r"keyword|referenced before assignment", re.IGNORECASE)


@dataclass
class Case:
    """One wrong (or borderline) call.

    ``names``: a word the error must contain (the op or the argument), compared
    case-insensitively. ``call(m)`` is run with ``m`` = chainrule and ``m`` = torch;
    ``torch_call`` overrides the PyTorch side where the spelling differs.
    """
    name: str
    call: Callable[[Any], Any]
    names: str
    torch_call: Callable[[Any], Any] | None = None


@dataclass
class Outcome:
    error: BaseException | None
    warned: list


def run(call: Callable[[Any], Any], module) -> Outcome:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call(module)
        except Exception as e:  # noqa: BLE001 - the outcome under test
            return Outcome(e, [w for w in caught])
    return Outcome(None, [w for w in caught])


# the built-in classes PyTorch's errors derive from, most specific first
_BUILTIN_ERRORS = (NotImplementedError, IndexError, KeyError, TypeError, ValueError, RuntimeError)


def check(case: Case, *, same_class: bool = False) -> None:
    """Assert chainrule's outcome of ``case`` matches PyTorch's, with a good message.

    ``same_class``: also require chainrule's error to be an instance of the built-in class
    PyTorch's error derives from (so ``except TypeError`` written for PyTorch still works).
    """
    theirs = run(case.torch_call or case.call, torch)
    ours = run(case.call, cr)
    if theirs.error is not None:
        assert ours.error is not None, (
            f"{case.name}: PyTorch raises {type(theirs.error).__name__}: "
            f"{str(theirs.error).splitlines()[0][:200]!r}; chainrule succeeds silently")
        text = str(ours.error)
        assert not LEAKS.search(text) and not isinstance(ours.error, (AttributeError, NameError)), (
            f"{case.name}: chainrule's error leaks internals: {type(ours.error).__name__}: {text}")
        assert case.names.lower() in text.lower(), (
            f"{case.name}: the error should name {case.names!r}: {text}")
        assert "(called at " in text and __file__ not in text, (
            f"{case.name}: the error should end with the caller's line: {text}")
        assert isinstance(ours.error, (TypeError, ValueError, RuntimeError, IndexError,
                                       KeyError, NotImplementedError)), (
            f"{case.name}: unexpected error type {type(ours.error).__name__}: {text}")
        base = next((b for b in _BUILTIN_ERRORS if isinstance(theirs.error, b)), None)
        assert not same_class or base is None or isinstance(ours.error, base), (
            f"{case.name}: PyTorch raises {type(theirs.error).__name__} (a {base.__name__}); "
            f"chainrule's {type(ours.error).__name__} is not one: {text}")
    else:
        assert ours.error is None, (
            f"{case.name}: PyTorch accepts this call; chainrule raises "
            f"{type(ours.error).__name__}: {ours.error}")
        torch_warned = [w for w in theirs.warned if issubclass(w.category, UserWarning)]
        if torch_warned:
            assert ours.warned, (f"{case.name}: PyTorch warns ({torch_warned[0].message}); "
                                 "chainrule is silent")
    leaked = [w for w in ours.warned if "numpy" in str(w.filename) or
              issubclass(w.category, RuntimeWarning)]
    assert not leaked, f"{case.name}: a NumPy warning reaches the user: {leaked[0].message}"
