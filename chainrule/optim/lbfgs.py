"""L-BFGS, as ``torch.optim.LBFGS`` (fixed steps, or ``line_search_fn="strong_wolfe"``).

Each ``step(closure)`` runs up to ``max_iter`` quasi-Newton iterations: the search
direction comes from the last ``history_size`` pairs of parameter and gradient
changes (the two-loop recursion), the step is ``lr`` (the first one scaled by the
gradient's size) or what the strong-Wolfe line search (``_line_search``) finds
from there, and iteration stops on PyTorch's tolerances. The parameters are
treated as one flat vector; the state is PyTorch's (``d``, ``t``, ``old_dirs``,
``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss``, ``n_iter``,
``func_evals``), kept on the first parameter.

>>> import chainrule as cr
>>> w = cr.tensor([1.5, -0.5], requires_grad=True)
>>> opt = cr.optim.LBFGS([w], lr=1)
>>> def closure():
...     opt.zero_grad()
...     loss = ((w - cr.tensor([3.0, 2.0])) ** 2).sum()
...     loss.backward()
...     return loss
>>> _ = opt.step(closure)
>>> [round(v, 4) for v in w.tolist()]
[3.0, 2.0]
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import op_error
from ..tensor import Tensor
from ._kernels import fused_axpy_
from ._line_search import strong_wolfe
from .optimizer import Optimizer, ParamsT, _scalar, check_lr

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    """Limited-memory BFGS on all parameters as one vector (one parameter group only)."""

    def __init__(self, params: ParamsT, lr: float | Tensor = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        check_lr(lr, "LBFGS")
        # an unknown line_search_fn is refused by step(), as in PyTorch
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise op_error(ValueError, "LBFGS", "LBFGS doesn't support per-parameter options "
                           "(parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self) -> np.ndarray:
        return np.concatenate([np.zeros(p.numel(), p._data.dtype) if p.grad is None
                               else np.asarray(p.grad._data).reshape(-1) for p in self._params])

    def _add(self, step, direction: np.ndarray) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            fused_axpy_(p._data, direction[offset:offset + n].reshape(p._data.shape), step)
            offset += n
        self._bump(self._params)

    def _set(self, arrays: list) -> None:
        for p, a in zip(self._params, arrays):
            p._data[...] = a
        self._bump(self._params)

    def _evaluate_at(self, closure, x: list, t, d: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss and flat gradient at ``x + t·d``; the parameters are put back to ``x``."""
        self._add(t, d)
        loss = float(self._run_closure(closure))
        flat_grad = self._flat_grad()
        self._set(x)
        return loss, flat_grad

    def step(self, closure: Callable[[], Any] | None = None):  # noqa: C901 - PyTorch's loop
        """Run up to ``max_iter`` iterations; ``closure`` (required) recomputes the loss."""
        if closure is None:
            raise op_error(RuntimeError, "LBFGS.step", "LBFGS requires a closure that "
                           "recomputes the loss (and calls backward)")
        group = self.param_groups[0]
        line_search_fn = group["line_search_fn"]
        lr = _scalar(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._run_closure(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if np.abs(flat_grad).max() <= tol_grad:
            return orig_loss

        arr = lambda v: None if v is None else np.asarray(v._data if isinstance(v, Tensor) else v)  # noqa: E731
        d, t = arr(state.get("d")), state.get("t")
        if isinstance(t, Tensor):  # a step length that came out of the line search
            t = np.asarray(t._data)[()]
        old_dirs = [arr(v) for v in state.get("old_dirs", [])]
        old_stps = [arr(v) for v in state.get("old_stps", [])]
        ro = [arr(v) for v in state.get("ro", [])]
        h_diag = arr(state.get("H_diag"))
        prev_flat_grad, prev_loss = arr(state.get("prev_flat_grad")), state.get("prev_loss")
        dtype = flat_grad.dtype.type

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, old_dirs, old_stps, ro, h_diag = -flat_grad, [], [], [], dtype(1)
            else:
                y = flat_grad - prev_flat_grad
                s = d * dtype(t)
                ys = y.dot(s)
                if ys > 1e-10:  # a curvature pair worth keeping
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y), old_stps.append(s), ro.append(dtype(1.0) / ys)
                    h_diag = ys / y.dot(y)
                al = [None] * len(old_dirs)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):  # the two-loop recursion
                    al[i] = old_stps[i].dot(q) * ro[i]
                    fused_axpy_(q, old_dirs[i], -al[i])  # rounded as PyTorch's add_
                d = r = q * h_diag
                for i in range(len(old_dirs)):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    fused_axpy_(r, old_stps[i], al[i] - be_i)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            # numpy scalars where PyTorch has 0-dim tensors, so float32 promotes alike
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tol_change:  # not a descent direction
                break
            ls_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":  # checked here, where PyTorch checks
                    raise op_error(RuntimeError, "LBFGS.step", "only 'strong_wolfe' is supported "
                                   f"as line_search_fn, got {line_search_fn!r}")
                x_init = [p._data.copy() for p in self._params]
                loss, flat_grad, t, ls_evals = strong_wolfe(
                    lambda x, step, direction: self._evaluate_at(closure, x, step, direction),
                    x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add(t, d)
            else:
                self._add(t, d)
                if n_iter != max_iter:  # the last iteration's point is not evaluated
                    loss = float(self._run_closure(closure))
                    flat_grad = self._flat_grad()
                    ls_evals = 1
            current_evals += ls_evals
            state["func_evals"] += ls_evals
            if n_iter == max_iter or current_evals >= max_eval:
                break
            if np.abs(flat_grad).max() <= tol_grad:
                break
            if np.abs(d * dtype(t)).max() <= tol_change or abs(loss - prev_loss) < tol_change:
                break

        wrap = lambda v: Tensor._make(np.asarray(v))  # noqa: E731
        if isinstance(t, (np.generic, np.ndarray)):  # a 0-dim tensor, as PyTorch keeps it
            t = wrap(t)
        state.update(d=wrap(d), t=t, old_dirs=[wrap(v) for v in old_dirs],
                     old_stps=[wrap(v) for v in old_stps], ro=[wrap(v) for v in ro],
                     H_diag=wrap(h_diag), prev_flat_grad=wrap(prev_flat_grad), prev_loss=prev_loss)
        return orig_loss
