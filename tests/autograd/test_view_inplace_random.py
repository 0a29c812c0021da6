"""Random programs of views and in-place changes, run on chainrule and PyTorch.

Each seed builds one program: views of views (slices with steps, select, transpose,
diagonal, unsqueeze, narrow, unfold), in-place changes of any live tensor, and
out-of-place results that start new bases. Both libraries must agree: the same
values and gradients, or both raise.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def _view(t, rng):
    """A random view of ``t`` chosen from its shape alone (so both libraries choose alike)."""
    shape = tuple(t.shape)
    nd = len(shape)
    choices = ["unsqueeze"]
    if nd >= 1 and max(shape) > 0:
        choices += ["slice", "select", "narrow"]
    if nd >= 2:
        choices += ["transpose", "diagonal"]
    if nd >= 1 and nd <= 3 and shape[-1] >= 2:
        choices += ["unfold"]
    kind = choices[rng.integers(len(choices))]
    dims = [d for d in range(nd) if shape[d] > 0]
    if kind == "slice":
        d = dims[rng.integers(len(dims))]
        start = int(rng.integers(shape[d]))
        step = int(rng.integers(1, 3))
        index = (slice(None),) * d + (slice(start, None, step),)
        return t[index]
    if kind == "select":
        d = dims[rng.integers(len(dims))]
        return t.select(d, int(rng.integers(shape[d])))
    if kind == "narrow":
        d = dims[rng.integers(len(dims))]
        start = int(rng.integers(shape[d]))
        return t.narrow(d, start, int(rng.integers(1, shape[d] - start + 1)))
    if kind == "transpose":
        return t.transpose(0, nd - 1)
    if kind == "diagonal":
        return t.diagonal(int(rng.integers(-1, 2)))
    if kind == "unfold":
        size = int(rng.integers(1, shape[-1] + 1))
        return t.unfold(nd - 1, size, size)
    return t.unsqueeze(int(rng.integers(nd + 1)))


def _change(t, w, rng) -> None:
    kind = ["mul_", "add_", "copy_", "fill_", "zero_", "clamp_", "setitem", "relu_", "exp_",
            "div_", "sigmoid_", "tanh_"][rng.integers(12)]
    if kind == "mul_":
        t.mul_(w)
    elif kind == "add_":
        t.add_(w * w)
    elif kind == "copy_":
        t.copy_(w * 3)
    elif kind == "fill_":
        t.fill_(1.25)
    elif kind == "zero_":
        t.zero_()
    elif kind == "clamp_":
        t.clamp_(-1.0, 2.0)
    elif kind == "setitem":
        if t.ndim:
            t[int(rng.integers(t.shape[0])) if t.shape[0] else 0] = w + 1
        else:
            t[...] = w + 1
    elif kind == "relu_":
        t.sub_(0.5).relu_()
    elif kind == "exp_":
        t.mul_(0.1).exp_()
    elif kind == "sigmoid_":
        t.sigmoid_()
    elif kind == "tanh_":
        t.tanh_()
    else:
        t.div_(w + 2)


def _program(m, seed: int):
    rng = np.random.default_rng(seed)
    x = m.tensor(np.linspace(-1.5, 2.0, 24).reshape(4, 6), requires_grad=True)
    w = m.tensor(0.75, dtype=m.float64, requires_grad=True)
    live = [x * 1]
    for _ in range(12):
        t = live[rng.integers(len(live))]
        step = rng.integers(4)
        if step <= 1:
            live.append(_view(t, rng))
        elif step == 2:
            if t.numel():
                _change(t, w, rng)
        else:
            live.append(t * w + 1)
    loss = sum(((t * t) * (i + 1)).sum() for i, t in enumerate(live))
    gx, gw = m.autograd.grad(loss, [x, w], allow_unused=True)
    values = [np.array(t.detach().numpy()) for t in live]
    return values, [None if g is None else np.array(g.numpy()) for g in (gx, gw)]


def _outcome(m, seed):
    try:
        return _program(m, seed), None
    except Exception as e:  # noqa: BLE001 - raising is one of the outcomes compared
        return None, e


@pytest.mark.parametrize("seed", range(400))
def test_random_program_matches_pytorch(seed):
    theirs, their_error = _outcome(torch, seed)
    ours, our_error = _outcome(cr, seed)
    if their_error is not None:
        assert our_error is not None, f"PyTorch raises ({their_error}); chainrule does not"
        assert isinstance(our_error, RuntimeError), repr(our_error)
        return
    assert our_error is None, f"chainrule raises {our_error!r}; PyTorch does not"
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg="values")
    for a, b, name in zip(ours[1], theirs[1], ("x.grad", "w.grad")):
        if b is None:
            assert a is None or not np.any(a), name
        else:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=name)
