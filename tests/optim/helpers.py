"""Shared set-up for the optimizer tests: the same parameters and gradients in both libraries."""
from __future__ import annotations

import json

import numpy as np
import torch

import chainrule as cr

SHAPES = [(3, 4), (5,), ()]
RTOL, ATOL = 1e-6, 1e-12


def make_params(seed: int = 0, shapes=SHAPES):
    """Equal float64 leaves in chainrule and torch."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in shapes]
    ours = [cr.tensor(a.copy(), dtype=cr.float64, requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    return ours, theirs


def grad_sequence(seed: int, steps: int, shapes=SHAPES):
    """A fixed random gradient sequence; the last parameter has no gradient on every third
    step (so the optimizers must skip it)."""
    rng = np.random.default_rng(1000 + seed)
    seq = []
    for k in range(steps):
        grads = [rng.standard_normal(s) for s in shapes]
        if k % 3 == 1:
            grads[-1] = None
        seq.append(grads)
    return seq


def set_grads(ours, theirs, grads) -> None:
    for c, t, g in zip(ours, theirs, grads):
        if g is None:
            c.grad, t.grad = None, None
        else:
            c.grad = cr.tensor(g.copy(), dtype=cr.float64)
            t.grad = torch.tensor(g.copy())


def assert_params_close(ours, theirs, msg: str = "") -> None:
    for i, (c, t) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=f"{msg} param {i}")


def as_array(v):
    if isinstance(v, cr.Tensor):
        return v.detach().numpy()
    if isinstance(v, torch.Tensor):
        return v.detach().numpy()
    return np.asarray(v)


def check_plain(obj, path: str = "state_dict") -> None:
    """Only tensors, numbers, strings, bools, None, lists and dicts (no tuples, no objects)."""
    if obj is None or isinstance(obj, (bool, int, float, str, cr.Tensor)):
        return
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            check_plain(v, f"{path}[{i}]")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert isinstance(k, (str, int)), f"{path}: key {k!r} of type {type(k).__name__}"
            check_plain(v, f"{path}[{k!r}]")
        return
    raise AssertionError(f"{path}: value of type {type(obj).__name__} is not plain data")


def through_json(sd):
    """What a safetensors + JSON-metadata save and load gives back: tensors copied out,
    everything else through ``json`` (int keys become strings, tuples lists)."""
    tensors = {}

    def strip(o):
        if isinstance(o, cr.Tensor):
            key = f"t{len(tensors)}"
            tensors[key] = o.detach().numpy().copy()
            return {"__tensor__": key}
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [strip(v) for v in o]
        return o

    def restore(o):
        if isinstance(o, dict):
            if set(o) == {"__tensor__"}:
                return cr.from_numpy(tensors[o["__tensor__"]])
            return {k: restore(v) for k, v in o.items()}
        if isinstance(o, list):
            return [restore(v) for v in o]
        return o

    return restore(json.loads(json.dumps(strip(sd))))
