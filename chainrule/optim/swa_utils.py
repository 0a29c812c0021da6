"""Weight averaging (SWA and EMA), as ``torch.optim.swa_utils``.

``AveragedModel`` keeps a copy of a model whose parameters are a running average of
the model's (equal weights by default, or any ``avg_fn``/``multi_avg_fn`` such as the
EMA of :func:`get_ema_multi_avg_fn`); ``SWALR`` anneals the rate to a constant SWA
rate; ``update_bn`` recomputes BatchNorm statistics for the averaged weights.

>>> import chainrule as cr
>>> from chainrule.optim.swa_utils import AveragedModel
>>> net = cr.nn.Linear(1, 1, bias=False)
>>> swa = AveragedModel(net)
>>> for v in (1.0, 2.0, 6.0):
...     with cr.no_grad():
...         _ = net.weight.fill_(v)
...     swa.update_parameters(net)
>>> swa.module.weight.item(), int(swa.n_averaged)
(3.0, 3)
"""
from __future__ import annotations

import itertools
import math
from copy import deepcopy
from typing import Any, Callable, Iterable, Literal

from ..autograd.grad_mode import no_grad
from ..creation import tensor
from ..dtypes import int64
from ..errors import op_error
from ..nn.module import Module
from ..nn.normalization import _BatchNorm
from ..tensor import Tensor
from .lr_scheduler.base import LRScheduler, check_state_dict, format_param
from .optimizer import Optimizer

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise op_error(ValueError, "get_ema_avg_fn", f"Invalid decay value {decay} provided. "
                       "Please provide a value in [0,1] range.")


def _averages_in_place(t: Tensor) -> bool:
    """Floating (or complex) tensors are lerped in place; integer ones go through floats."""
    return t.is_floating_point() or bool(getattr(t.dtype, "is_complex", False))


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """An in-place EMA over lists of tensors: ``ema ← lerp(ema, current, 1 - decay)``.

    >>> import chainrule as cr
    >>> ema, cur = [cr.tensor([0.0])], [cr.tensor([1.0])]
    >>> get_ema_multi_avg_fn(0.75)(ema, cur, 1)
    >>> ema
    [tensor([0.2500])]
    """
    _check_decay(decay)

    def ema_update(ema_params: list, current_params: list, _num_averaged) -> None:
        with no_grad():
            if _averages_in_place(ema_params[0]):
                for p_ema, p_model in zip(ema_params, current_params):
                    p_ema.lerp_(p_model, 1 - decay)
            else:  # integer buffers: through floats, truncated back on copy
                for p_ema, p_model in zip(ema_params, current_params):
                    p_ema.copy_(p_ema * decay + p_model * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """An in-place equal-weight running average over lists of tensors.

    >>> import chainrule as cr
    >>> avg = [cr.tensor([1.0])]
    >>> get_swa_multi_avg_fn()(avg, [cr.tensor([4.0])], 2)  # 2 models averaged so far
    >>> avg
    [tensor([2.])]
    """
    def swa_update(averaged_params: list, current_params: list, num_averaged) -> None:
        with no_grad():
            if _averages_in_place(averaged_params[0]):
                weight = 1 / (num_averaged + 1)  # a float32 tensor when the count is a tensor
                weight = float(weight.item()) if isinstance(weight, Tensor) else weight
                for p_avg, p_model in zip(averaged_params, current_params):
                    p_avg.lerp_(p_model, weight)
            elif isinstance(num_averaged, Tensor):
                raise op_error(RuntimeError, "get_swa_multi_avg_fn", "Integer division with "
                               "addcdiv is no longer supported (an integer parameter or buffer "
                               "cannot be averaged in place with a tensor count)")
            else:
                for p_avg, p_model in zip(averaged_params, current_params):
                    p_avg.add_(p_model - p_avg, alpha=1.0 / (num_averaged + 1))
    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """An EMA of one tensor: returns ``decay · ema + (1 - decay) · current``.

    >>> import chainrule as cr
    >>> get_ema_avg_fn(0.5)(cr.tensor([0.0]), cr.tensor([1.0]), 3)
    tensor([0.5000])
    """
    _check_decay(decay)

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn() -> Callable:
    """An equal-weight running average of one tensor: ``avg + (current - avg) / (n + 1)``.

    >>> import chainrule as cr
    >>> get_swa_avg_fn()(cr.tensor([1.0]), cr.tensor([4.0]), 2)
    tensor([2.])
    """
    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` (on ``device`` if given) whose parameters (and buffers with
    ``use_buffers``) average the model's over calls of :meth:`update_parameters`.

    The first call copies the model; later calls apply ``multi_avg_fn`` (in place, on
    lists), ``avg_fn`` (per tensor, returning the new value) or, by default, the equal
    weight average. Without ``use_buffers`` the buffers are copied from the model.
    ``n_averaged`` is an int64 buffer, so it is saved with the state dict.
    """

    n_averaged: Tensor

    def __init__(self, model: Module, device=None,
                 avg_fn: Callable[[Tensor, Tensor, Tensor | int], Tensor] | None = None,
                 multi_avg_fn: Callable[[list, list, Tensor | int], None] | None = None,
                 use_buffers: bool = False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise op_error(AssertionError, "AveragedModel",
                           "Only one of avg_fn and multi_avg_fn should be provided")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        """The averaged copy's forward."""
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current parameters (and buffers) into the average."""
        with no_grad():
            if self.use_buffers:
                own = itertools.chain(self.module.parameters(), self.module.buffers())
                theirs = itertools.chain(model.parameters(), model.buffers())
            else:
                own, theirs = self.parameters(), model.parameters()
            own_list, their_list = [], []
            first = int(self.n_averaged.item()) == 0
            for p_avg, p_model in zip(own, theirs):
                current = p_model.detach().to(p_avg.device)
                own_list.append(p_avg.detach())
                their_list.append(current)
                if first:
                    p_avg.detach().copy_(current)
            if not first:
                self._average(own_list, their_list)
            if not self.use_buffers:
                for b_avg, b_model in zip(self.module.buffers(), model.buffers(), strict=True):
                    b_avg.detach().copy_(b_model.detach().to(b_avg.device))
            self.n_averaged += 1

    def _average(self, own: list, theirs: list) -> None:
        if self.multi_avg_fn is not None or self.avg_fn is None:
            # one call per (device, dtype) group, as PyTorch groups its foreach kernels
            groups: dict = {}
            for a, b in zip(own, theirs):
                groups.setdefault((str(a.device), str(a.dtype)), ([], []))
                groups[(str(a.device), str(a.dtype))][0].append(a)
                groups[(str(a.device), str(a.dtype))][1].append(b)
            for (device, _), (avgs, currents) in groups.items():
                count = self.n_averaged.to(device)
                if self.multi_avg_fn is not None:
                    self.multi_avg_fn(avgs, currents, count)
                else:
                    avg_fn = get_swa_avg_fn()
                    for a, b in zip(avgs, currents):
                        a.copy_(avg_fn(a, b, count))
        else:
            for a, b in zip(own, theirs):
                a.detach().copy_(self.avg_fn(a.detach(), b, self.n_averaged.to(a.device)))


def update_bn(loader: Iterable[Any], model: Module, device=None) -> None:
    """Recompute the running statistics of every BatchNorm in ``model`` with one pass over
    ``loader`` (a batch is a tensor, or a list/tuple whose first item is the input):
    the statistics are reset and averaged with equal weights over the batches.

    >>> import chainrule as cr
    >>> net = cr.nn.BatchNorm1d(1)
    >>> update_bn([cr.tensor([[1.0], [3.0]]), (cr.tensor([[5.0], [7.0]]), None)], net)
    >>> net.running_mean
    tensor([4.])
    """
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None  # a cumulative average over the pass
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None:
                batch = batch.to(device)
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's rate to ``swa_lr`` over ``anneal_epochs`` epochs (``"cos"`` or
    ``"linear"``), then hold it, as ``torch.optim.swa_utils.SWALR``.

    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = SWALR(opt, swa_lr=0.1, anneal_epochs=2, anneal_strategy="linear")
    >>> lrs = []
    >>> for _ in range(3):
    ...     opt.step()
    ...     s.step()
    ...     lrs.append(round(s.get_last_lr()[0], 6))
    >>> lrs
    [0.55, 0.1, 0.1]
    """

    def __init__(self, optimizer: Optimizer, swa_lr: float | list[float], anneal_epochs: int = 10,
                 anneal_strategy: Literal["cos", "linear"] = "cos", last_epoch: int = -1) -> None:
        swa_lrs = format_param("swa_lr", optimizer, swa_lr)
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise op_error(ValueError, "SWALR", "anneal_strategy must be one of 'cos' or "
                           f"'linear', instead got {anneal_strategy}")
        self._anneal_strategy = anneal_strategy
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise op_error(ValueError, "SWALR", "anneal_epochs must be equal or greater than 0, "
                           f"got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t: float) -> float:
        """The fraction of the way to ``swa_lr`` at progress ``t`` in [0, 1]."""
        return t if self._anneal_strategy == "linear" else (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        """The rate the annealing started from, given the rate ``alpha`` of the way along."""
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list:
        """The rates of the next step (counted by ``_step_count``, as PyTorch)."""
        self._warn_if_outside_step()
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [group["swa_lr"] * alpha + lr * (1 - alpha)
                for group, lr in zip(self.optimizer.param_groups, prev_lrs)]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore attributes saved by :meth:`state_dict`."""
        check_state_dict(state_dict, "SWALR")
        super().load_state_dict(state_dict)
