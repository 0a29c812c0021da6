"""Helpers for the ``chainrule.compile`` agreement tests: run one set-up eagerly and a twin
of it compiled, and compare everything a training step leaves behind after every call.

A *set-up* is built twice from the same seed (so the same initial weights and data): the
eager twin runs ``setup.step`` itself, the compiled twin ``chainrule.compile(setup.step)``.
After each call both are photographed (:func:`snapshot`): the call's result, every
parameter, every ``.grad``, every optimizer state entry and every module buffer, and the
two photographs must be equal, bit for bit unless the test says why not (``rtol``).

For example::

    def make():
        w = cr.ones(3, requires_grad=True)
        def step():
            w.grad = None
            loss = (w * w).sum()
            loss.backward()
            return loss
        return Setup(step, [w])
    agree(make, calls=5)  # eager and compiled agree after each call; 3 replays
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import chainrule as cr
from chainrule.compiler import CompileWarning


def _default_call(fn, k: int, setup: "Setup"):
    return fn()


@dataclass
class Setup:
    """One twin: the step, what it trains, and how call ``k`` invokes it.

    ``call(fn, k, setup)`` runs the step (``fn`` is the eager step or the compiled one) and
    returns what is compared; it may keep state on the set-up (an RNN's hidden state)."""
    step: Callable
    params: list
    opt: Any = None
    modules: tuple = ()
    call: Callable = _default_call
    extra: dict = field(default_factory=dict)


def _array(t, where: str) -> np.ndarray:
    """A copy of a tensor's array; the array must be a plain ndarray again (a capture swaps
    in traced views while it records and must give every tensor its plain array back)."""
    assert type(t._data) is np.ndarray, f"{where}: holds a {type(t._data).__name__} after the call"
    return t._data.copy()


def _flatten(value, where: str, into: dict) -> None:
    if isinstance(value, cr.Tensor):
        into[where] = _array(value, where)
        into[where + ":meta"] = (tuple(value.shape), str(value.dtype), value.requires_grad)
    elif isinstance(value, (tuple, list)):
        into[where + ":len"] = len(value)
        for i, v in enumerate(value):
            _flatten(v, f"{where}[{i}]", into)
    elif isinstance(value, dict):
        into[where + ":keys"] = sorted(value)
        for k, v in value.items():
            _flatten(v, f"{where}[{k!r}]", into)
    else:
        into[where] = value


def snapshot(result, setup: Setup) -> dict:
    """Everything a call leaves behind, as copies: the result, parameters, ``.grad``,
    optimizer state and module buffers (BatchNorm's running statistics and counter)."""
    out: dict = {}
    _flatten(result, "result", out)
    for i, p in enumerate(setup.params):
        out[f"param {i}"] = _array(p, f"param {i}")
        out[f"param {i} .grad"] = None if p.grad is None else _array(p.grad, f"param {i} .grad")
        if setup.opt is not None:
            state = setup.opt.state.get(p, {})
            out[f"param {i} state keys"] = sorted(state)
            for key, value in state.items():
                _flatten(value, f"param {i} state {key!r}", out)
    if setup.opt is not None:
        out["lr"] = [g["lr"] for g in setup.opt.param_groups]
    for m, module in enumerate(setup.modules):
        for name, buf in module.named_buffers():
            out[f"module {m} buffer {name}"] = None if buf is None else _array(buf, name)
    return out


def assert_same(eager: dict, compiled: dict, where: str, rtol: float | None = None) -> None:
    """Equal photographs: arrays bit for bit (``rtol=None``), or within ``rtol`` of the
    eager value, with an absolute floor of ``rtol`` times the tensor's largest magnitude
    (an element that cancels to near zero has no meaningful relative error)."""
    assert eager.keys() == compiled.keys(), f"{where}: {sorted(eager.keys() ^ compiled.keys())}"
    for key, e in eager.items():
        c = compiled[key]
        if isinstance(e, np.ndarray):
            assert isinstance(c, np.ndarray), f"{where}, {key}: {type(c).__name__}"
            assert (e.shape, e.dtype) == (c.shape, c.dtype), f"{where}, {key}"
            if rtol is None or e.dtype.kind not in "fc":
                np.testing.assert_array_equal(c, e, err_msg=f"{where}, {key}", strict=True)
            else:
                scale = float(np.abs(e).max()) if e.size else 0.0
                np.testing.assert_allclose(c, e, rtol=rtol, atol=rtol * scale,
                                           err_msg=f"{where}, {key}")
        else:
            assert c == e, f"{where}, {key}: eager {e!r}, compiled {c!r}"


def agree(make: Callable[[], Setup], calls: int = 6, rtol: float | None = None,
          seed: int = 1234, reseed_each_call: bool = False, signatures: int | None = 1):
    """Build the set-up twice from ``seed``; run the eager twin ``calls`` times, then the
    compiled twin (its generator reseeded the same way, so dropout draws the same stream);
    compare after every call. Returns the compiled function (for its ``stats()``).

    Calls 1 and 2 of each signature are its captures and the later ones replays. Whether
    the parameters have a ``.grad`` is part of the signature, so the first call of a
    training step (no ``.grad`` yet) is a signature of its own, captured once: at most
    ``2 * signatures + 1`` captures, every other call a replay and none eager, so a test
    cannot pass by running eagerly; and no :class:`CompileWarning` may be raised (one says
    a signature fell back to eager). ``signatures=None`` (a test that changes something
    between calls, where recompiling and running eagerly are both right): only that some
    call replayed."""
    assert calls >= 5
    photos = []
    for compiled in (False, True):
        cr.manual_seed(seed)
        setup = make()
        fn = cr.compile(setup.step) if compiled else setup.step
        run, results = [], []
        with warnings.catch_warnings():
            warnings.simplefilter("error" if signatures else "ignore", CompileWarning)
            for k in range(calls):
                if reseed_each_call:
                    cr.manual_seed(seed + 1 + k)
                results.append(setup.call(fn, k, setup))
                run.append(snapshot(results[-1], setup))
        # the results kept until the end: a replay must not hand out memory that a later
        # call overwrites (where eager's results are fresh tensors, or views that change)
        run.append(snapshot(results, setup))
        photos.append(run)
    for k, (e, c) in enumerate(zip(*photos)):
        assert_same(e, c, f"call {k + 1}" if k < calls else "the results, kept to the end",
                    rtol)
    stats = fn.stats()
    if signatures is None:
        assert stats["replays"] >= 1, stats
        return fn
    assert 2 * signatures <= stats["captures"] <= 2 * signatures + 1, stats
    assert stats["replays"] == calls - stats["captures"], stats
    assert stats["eager"] == 0, stats
    return fn
