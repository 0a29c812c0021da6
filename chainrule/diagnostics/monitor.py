"""``watch(model)``: hooks that record per-layer gradient health while a model trains.

Everything is measured with plain array math on ``._data`` (no recorded ops), so
the monitor is cheap enough to leave on; ``every=k`` measures one step in k.
A *step* starts at each call of the watched model; what the backward pass and
``optimizer.step()`` that follow it produce is filed under that step.

>>> import chainrule as cr
>>> class Net(cr.nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.w = cr.nn.Parameter(cr.ones(3, 2))
...     def forward(self, x):
...         return (x @ self.w).relu()
>>> net = Net()
>>> monitor = cr.diagnostics.watch(net)
>>> net(cr.ones(4, 3)).sum().backward()
>>> step = monitor.report().steps[0]
>>> round(step["layers"][""]["grad_norm"], 4)   # the root module is named ""
9.798
>>> monitor.remove()
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backends import backend_of
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from .findings import Thresholds, find
from .report import Report

# module types whose outputs the monitor inspects for dead or saturated units
DEAD_KINDS = ("ReLU", "ReLU6")
SATURATING = {"Sigmoid": "sigmoid", "Tanh": "tanh", "Hardtanh": "tanh"}


def kind_of(module) -> str | None:
    """'relu', 'sigmoid', 'tanh' or None, decided by the module's class (or a base class)."""
    for cls in type(module).__mro__:
        if cls.__name__ in DEAD_KINDS:
            return "relu"
        if cls.__name__ in SATURATING:
            return SATURATING[cls.__name__]
    return None


def _sq_norm(array) -> float:
    """Sum of squares by one BLAS dot product; inf/nan exactly when the array has them."""
    xp = backend_of(array)
    flat = array.reshape(-1)
    with np.errstate(all="ignore"):  # inf/nan are reported as findings, not warned about
        s = float(xp.vdot(flat, flat))
        if math.isinf(s):  # an inf in the data, or float32 overflow of finite values: rescale
            m = float(xp.max(xp.abs(flat)))
            if math.isfinite(m) and m > 0:
                scaled = flat / m
                s = float(xp.vdot(scaled, scaled)) * m * m
    return s


class Monitor:
    """Records gradient-flow numbers for one model; made by :func:`watch`."""

    def __init__(self, model, optimizer=None, every: int = 1, window: int = 5,
                 keep: int | None = 10_000) -> None:
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"watch: every must be a positive int, got {every!r}")
        self.model = model
        self.every = every
        self.window = window
        self.keep = keep                     # recorded steps kept (oldest dropped); None: all
        self.non_finite: list[dict] = []     # inf/nan sightings in time order (first 1000)
        self.steps: list[dict] = []
        self._step = -1
        self._record: dict | None = None
        self._active = True
        self._handles: list = []
        self._order: list[str] = []          # layers in the order their forward finished
        self._seen: set[str] = set()
        self._alive: dict[str, list] = {}    # relu layer -> [(step, per-unit "ever non-zero")]
        self._got_grad: set[int] = set()     # ids of parameters that received a gradient
        self._backward_seen = False
        self.modules = {}                    # name -> module
        self.types = {}                      # name -> class name
        self.param_names: dict[str, list[tuple[str, Any]]] = {}  # name -> own parameters
        self.param_count: dict[str, int] = {}
        seen: set[int] = set()
        for name, mod in model.named_modules():
            self.modules[name] = mod
            self.types[name] = type(mod).__name__
            own = []
            for pname, p in mod._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                own.append((pname, p))
                if p.requires_grad:
                    self._handles.append(p.register_hook(self._param_hook(name, id(p))))
            if own:
                self.param_names[name] = own
                self.param_count[name] = sum(int(p._data.size) for _, p in own)
            self._handles.append(mod.register_forward_hook(self._forward_hook(name)))
        self._handles.append(model.register_forward_pre_hook(self._start_step))
        self._optimizer = optimizer
        if optimizer is not None:
            self._patch_optimizer(optimizer)

    # -- steps ------------------------------------------------------------------
    def _start_step(self, module, args) -> None:
        if not self._active:
            return
        if not is_grad_enabled():
            # evaluation passes (no_grad) have no backward: they are not training steps
            self._record = None
            return
        self._step += 1
        if self._step % self.every == 0:
            self._record = {"step": self._step, "layers": {}}
            self.steps.append(self._record)
            if self.keep is not None and len(self.steps) > self.keep:
                del self.steps[:len(self.steps) - self.keep]
        else:
            self._record = None

    def _layer(self, name: str) -> dict | None:
        rec = self._record
        if rec is None or not self._active:
            return None
        layer = rec["layers"].get(name)
        if layer is None:
            layer = rec["layers"][name] = {}
        return layer

    # -- forward: activations, weights; and a hook on the output's gradient ------
    def _forward_hook(self, name: str):
        def hook(module, args, output) -> None:
            layer = self._layer(name)
            if layer is None:
                return
            if name not in self._seen:
                self._seen.add(name)
                self._order.append(name)
            own = self.param_names.get(name)
            if own:
                sq = sum(_sq_norm(p._data) for _, p in own)
                if not math.isfinite(sq):
                    self._flag(name, layer, "weight")
                layer["weight_norm"] = math.sqrt(sq)
            if isinstance(output, (tuple, list)) and output:  # e.g. RNNs: (output, state)
                output = output[0]
            if not isinstance(output, Tensor) or output._data.dtype.kind != "f":
                return
            self._activation_stats(name, module, layer, output._data)
            if output.grad_fn is not None:
                output.register_hook(self._output_grad_hook(name, layer))
        return hook

    def _activation_stats(self, name: str, module, layer: dict, a) -> None:
        xp = backend_of(a)
        layer["output_size"] = int(a.size)
        if a.size == 0:
            return
        sq = _sq_norm(a)
        if not math.isfinite(sq):
            self._flag(name, layer, "activation")
        with np.errstate(all="ignore"):  # inf/nan inputs are reported, not warned about
            mean = float(xp.sum(a)) / a.size
            layer["act_mean"] = mean
            layer["act_std"] = math.sqrt(max(sq / a.size - mean * mean, 0.0)) \
                if math.isfinite(sq) else math.nan
        kind = kind_of(module)
        if kind == "relu":
            # a unit is one feature position; dead = zero for every example in the batch
            per_example = a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(1, -1)
            alive = xp.any(per_example != 0, axis=0)
            layer["dead_fraction"] = 1.0 - float(xp.mean(alive))
            history = self._alive.setdefault(name, [])
            history.append((self._step, alive))
            del history[:-self.window]
        elif kind == "sigmoid":
            layer["saturated_fraction"] = float(xp.mean((a < 0.01) | (a > 0.99)))
        elif kind == "tanh":
            layer["saturated_fraction"] = float(xp.mean(xp.abs(a) > 0.99))

    def _output_grad_hook(self, name: str, layer: dict):
        def hook(g) -> None:
            if not self._active:
                return
            sq = _sq_norm(g._data)
            layer["output_grad_norm"] = math.sqrt(layer.get("output_grad_norm", 0.0) ** 2 + sq)
            layer["output_grad_size"] = int(g._data.size)
            if not math.isfinite(sq):
                self._flag(name, layer, "output_grad")
        return hook

    # -- backward: the gradient each parameter receives in this pass -------------
    def _param_hook(self, name: str, pid: int):
        def hook(g) -> None:
            if not self._active:
                return
            self._got_grad.add(pid)
            self._backward_seen = True
            layer = self._layer(name)
            if layer is None:
                return
            sq = _sq_norm(g._data)
            layer["grad_norm"] = math.sqrt(layer.get("grad_norm", 0.0) ** 2 + sq)
            if not math.isfinite(sq):
                self._flag(name, layer, "grad")
        return hook

    # -- optimizer.step: how far the update moved each layer's weights -----------
    def _patch_optimizer(self, optimizer) -> None:
        original = optimizer.step
        had_own = "step" in vars(optimizer)

        def step(*args, **kwargs):
            if not self._active or self._record is None:
                return original(*args, **kwargs)
            before = {name: [p._data.copy() for _, p in own]
                      for name, own in self.param_names.items()}
            result = original(*args, **kwargs)
            for name, own in self.param_names.items():
                diff = old = 0.0
                for (_, p), b in zip(own, before[name]):
                    with np.errstate(all="ignore"):
                        delta = p._data - b
                    diff += _sq_norm(delta)
                    old += _sq_norm(b)
                layer = self._layer(name)
                layer["update_ratio"] = math.sqrt(diff) / math.sqrt(old) if old > 0 else \
                    (0.0 if diff == 0 else math.inf)
            return result

        optimizer.step = step
        self._restore_optimizer = (lambda: setattr(optimizer, "step", original)) if had_own \
            else (lambda: vars(optimizer).pop("step", None))

    def _flag(self, name: str, layer: dict, where: str) -> None:
        flags = layer.setdefault("non_finite", [])
        if where not in flags:
            flags.append(where)
            if len(self.non_finite) < 1000:
                self.non_finite.append({"step": self._step, "layer": name, "where": where})

    # -- public -------------------------------------------------------------------
    def remove(self) -> None:
        """Detach every hook (and un-patch the optimizer); the numbers are kept."""
        self._active = False
        for h in self._handles:
            h.remove()
        self._handles = []
        if self._optimizer is not None:
            self._restore_optimizer()
            self._optimizer = None

    def report(self, thresholds: Thresholds | None = None, **overrides) -> Report:
        """The numbers recorded so far and the findings drawn from them.

        ``thresholds`` (or keyword overrides such as ``vanish_ratio=1e-4``) tune the rules;
        see :class:`chainrule.diagnostics.findings.Thresholds`.
        """
        th = thresholds or Thresholds(window=self.window)
        if overrides:
            th = th.replace(**overrides)
        no_grad = []
        if self._backward_seen:
            for name, own in self.param_names.items():
                for pname, p in own:
                    if p.requires_grad and id(p) not in self._got_grad and p.grad is None:
                        no_grad.append((name, pname))
        order = self._order + [n for n in self.modules if n not in self._order]
        report = Report(steps=self.steps, layers=list(self.modules), types=dict(self.types),
                        order=order, param_count=dict(self.param_count),
                        leaves=[n for n in order if not self.modules[n]._modules],
                        kinds={n: kind_of(m) for n, m in self.modules.items()},
                        non_finite=list(self.non_finite))
        report.findings = find(report, th, alive=self._alive, no_gradient=no_grad)
        return report

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def watch(model, optimizer=None, every: int = 1, window: int = 5,
          keep: int | None = 10_000) -> Monitor:
    """Attach a gradient-flow monitor to ``model`` (and ``optimizer.step``, when given).

    ``every``: measure one step in ``every``; ``window``: how many recorded steps the
    findings look back over; ``keep``: how many recorded steps to hold (the oldest are
    dropped, so memory stays bounded; None keeps all). Use ``monitor.report()`` for
    numbers and findings, ``monitor.remove()`` (or a ``with`` block) to detach.
    """
    return Monitor(model, optimizer, every=every, window=window, keep=keep)
