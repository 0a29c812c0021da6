"""Helpers that compare chainrule tensors with PyTorch's (the second oracle)."""
from __future__ import annotations

import numpy as np
import torch

import chainrule as cr

TOL = {"float64": dict(rtol=1e-7, atol=1e-9), "float32": dict(rtol=1e-4, atol=1e-5)}


def to_torch(t: cr.Tensor, requires_grad: bool | None = None) -> torch.Tensor:
    """A torch tensor with the same values (and requires_grad, unless overridden)."""
    out = torch.from_numpy(np.array(t.detach().numpy(), copy=True))
    rg = t.requires_grad if requires_grad is None else requires_grad
    if rg:
        out.requires_grad_(True)
    return out


def from_torch(t: torch.Tensor, requires_grad: bool = False) -> cr.Tensor:
    return cr.tensor(t.detach().cpu().numpy(), requires_grad=requires_grad)


def load_into_torch(ours, theirs) -> None:
    """Copy a chainrule module's state into the torch module of the same layout (same
    names, order and shapes, asserted first)."""
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours_sd.items()] == \
        [(k, tuple(v.shape)) for k, v in theirs_sd.items()]
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy(), copy=True))
                            for k, v in ours_sd.items()})


def assert_close(ours, theirs, rtol: float | None = None, atol: float | None = None, msg: str = ""):
    """Values (and shapes) of a chainrule tensor equal a torch tensor's within tolerance."""
    a = ours.detach().numpy() if isinstance(ours, cr.Tensor) else np.asarray(ours)
    b = theirs.detach().cpu().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert a.shape == b.shape, f"{msg} shape {a.shape} != torch {b.shape}"
    tol = TOL.get(str(a.dtype), TOL["float32"])
    np.testing.assert_allclose(a, b, rtol=tol["rtol"] if rtol is None else rtol,
                               atol=tol["atol"] if atol is None else atol, err_msg=msg)
