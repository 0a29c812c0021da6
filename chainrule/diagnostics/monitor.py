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
from .causes import diagnose
from .findings import Thresholds
from .loss_watch import LossWatch
from .optimizer_watch import OptimizerWatch, sq_norm as _sq_norm
from .report import Report
from .structure_watch import MODE_KINDS, RECURRENT_KINDS, StructureWatch, family

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


class Monitor:
    """Records gradient-flow numbers for one model; made by :func:`watch`.

    A recorded *step* starts at a call of the watched model. With an optimizer, it
    lasts until ``optimizer.step()`` (so gradient accumulation over several forward
    and backward passes is one step); without one, each call starts a step.
    """

    def __init__(self, model, optimizer=None, every: int = 1, window: int = 5,
                 keep: int | None = 10_000, detail_every: int = 8) -> None:
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"watch: every must be a positive int, got {every!r}")
        if not isinstance(detail_every, int) or detail_every < 1:
            raise ValueError(f"watch: detail_every must be a positive int, got {detail_every!r}")
        self.model = model
        self.every = every
        self.detail_every = detail_every
        self.detail = True                   # this step measures everything (see _start_step)
        self.window = window
        self.keep = keep                     # recorded steps kept (oldest dropped); None: all
        self.non_finite: list[dict] = []     # inf/nan sightings in time order (first 1000)
        self.steps: list[dict] = []
        self.first_steps: list[dict] = []    # the first recorded steps, kept when old ones drop
        self._step = -1
        self._record: dict | None = None
        self._stepped = True                 # an optimizer step ended the last record
        self._active = True
        self._handles: list = []
        self._order: list[str] = []          # layers in the order their forward finished
        self._seen: set[str] = set()
        self._alive: dict[str, list] = {}    # relu layer -> [(step, per-unit "ever non-zero")]
        self.got_grad: set[int] = set()      # ids of parameters that received a gradient
        self._backward_seen = False
        self._outputs: dict[int, str] = {}   # id(output tensor) -> leaf layer, this step
        self.modules = {}                    # name -> module
        self.types = {}                      # name -> class name
        self.param_names: dict[str, list[tuple[str, Any]]] = {}  # name -> own parameters
        self.param_count: dict[str, int] = {}
        seen: set[int] = set()
        self._hookable: list = []            # (layer, parameter) to hook at detail steps
        self._param_handles: list = []       # their hooks while attached
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
                    self._hookable.append((name, p))
            if own:
                self.param_names[name] = own
                self.param_count[name] = sum(int(p._data.size) for _, p in own)
        self._mode_sensitive = [n for n, m in self.modules.items() if family(m, MODE_KINDS)]
        self.structure = StructureWatch(self)
        self._attach()
        self.optimizer_watch = OptimizerWatch(self, optimizer) if optimizer is not None else None
        self.loss_watch = LossWatch(self)
        self.paused = False

    def _attach(self) -> None:
        for name, mod in self.modules.items():
            if family(mod, RECURRENT_KINDS) and hasattr(mod, "batch_first"):
                self._handles.append(mod.register_forward_pre_hook(self._recurrent_hook(name)))
            self._handles.append(mod.register_forward_hook(self._forward_hook(name)))
        self._handles.append(self.model.register_forward_pre_hook(self._start_step))

    def _detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        self._param_hooks(False)

    # -- sampling -----------------------------------------------------------------
    def pause(self) -> None:
        """Take the model's hooks and the loss listeners off until :meth:`resume`: steps in
        between are not watched, and run as if no monitor were there (a compiled step
        replays them). The optimizer's hooks stay (they run inside ``step()``)."""
        if self.paused or not self._active:
            return
        self._detach()
        self.loss_watch.remove()
        self._record = None
        self.paused = True

    def resume(self, step: int | None = None) -> None:
        """Watch again from the next step; ``step``: that step's number (the steps run while
        paused were not counted)."""
        if not self.paused or not self._active:
            return
        if step is not None:
            self._step = step - 1
            self._stepped = True
        self._attach()
        self.loss_watch.attach()
        self.paused = False

    # -- steps ------------------------------------------------------------------
    def _start_step(self, module, args) -> None:
        if not self._active:
            return
        if not is_grad_enabled():
            # evaluation passes (no_grad) have no backward: they are not training steps
            self._record = None
            return
        if self.optimizer_watch is not None and not self._stepped and self._record is not None:
            return  # still accumulating toward the next optimizer step
        self._stepped = False
        self._step += 1
        self._outputs = {}
        if self._step % self.every == 0:
            # the loss is followed at every recorded step; gradients, weights,
            # activations, updates and the loss's inputs (whole passes over the
            # parameters and activations) at the first ones and then one in detail_every
            n = self._step // self.every
            self.detail = n < max(2 * self.window, 10) or n % self.detail_every == 0
            self._record = {"step": self._step, "layers": {}, "detail": self.detail}
            self._param_hooks(self.detail)
            if args and isinstance(args[0], Tensor) and args[0].ndim:
                self._record["batch"] = int(args[0].shape[0])
            self.steps.append(self._record)
            if len(self.first_steps) < self.window:
                self.first_steps.append(self._record)
            if self.keep is not None and len(self.steps) > self.keep:
                del self.steps[:len(self.steps) - self.keep]
        else:
            self._record = None
            self._param_hooks(False)

    def _param_hooks(self, on: bool) -> None:
        """Parameter hooks only at detail steps: a leaf with hooks sends every backward
        pass through the engine's slower hooked-leaf path."""
        if on and not self._param_handles:
            self._param_handles = [p.register_hook(self._param_hook(name, p))
                                   for name, p in self._hookable]
        elif not on and self._param_handles:
            for h in self._param_handles:
                h.remove()
            self._param_handles = []

    def current_record(self) -> dict | None:
        """The record of the step in progress (None between steps or when not sampled)."""
        return self._record if self._active else None

    def layer_record(self, name: str) -> dict | None:
        """The record of layer ``name`` in the step in progress (made on first use)."""
        rec = self._record
        if rec is None or not self._active:
            return None
        layer = rec["layers"].get(name)
        if layer is None:
            layer = rec["layers"][name] = {}
        return layer

    _layer = layer_record

    def optimizer_stepped(self) -> None:
        """Called after ``optimizer.step()``: the next forward starts a new step."""
        self._stepped = True

    def backward_started(self) -> None:
        """Called at each ``backward()``: note training with evaluation mode left on."""
        rec = self._record
        if rec is not None and self._mode_sensitive and not self.model.training:
            rec["eval_mode"] = [n for n in self._mode_sensitive if not self.modules[n].training]

    def producer_of(self, tensor) -> str | None:
        """The leaf layer whose output (or a view of it) ``tensor`` is, in this step."""
        for t in (tensor, getattr(tensor, "_base", None)):
            if t is not None and id(t) in self._outputs:
                return self._outputs[id(t)]
        return None

    def observe(self, loss, output=None, target=None, fn: str = "custom",
                reduction: str = "unknown") -> None:
        """Tell the monitor about a loss the library did not compute (a hand-written
        one): its value, and optionally what it compared (``output`` with ``target``).
        Losses of ``nn``/``nn.functional`` are seen without this."""
        self.loss_watch.observe(loss, output, target, fn, reduction)

    # -- forward: activations, weights; and a hook on the output's gradient ------
    def _recurrent_hook(self, name: str):
        def hook(module, args):
            if self._record is None or not self._active or not self.detail:
                return None
            return self.structure.before_recurrent(name, module, args)
        return hook

    def _forward_hook(self, name: str):
        def hook(module, args, output) -> None:
            layer = self._layer(name)
            if layer is None:
                return
            if name not in self._seen:
                self._seen.add(name)
                self._order.append(name)
            if not self.detail:
                return
            own = self.param_names.get(name)
            if own:
                squares = [(_sq_norm(p._data), p._data.ndim >= 2) for _, p in own]
                sq = sum(v for v, _ in squares)
                if not math.isfinite(sq):
                    self._flag(name, layer, "weight")
                layer["weight_norm"] = math.sqrt(sq)
                if any(matrix for _, matrix in squares):  # vectors are small by design
                    layer["matrix_norm"] = math.sqrt(sum(v for v, m in squares if m))
            self.structure.after_forward(name, module, args, layer)
            if isinstance(output, (tuple, list)) and output:  # e.g. RNNs: (output, state)
                output = output[0]
            if not isinstance(output, Tensor):
                return
            if not module._modules:
                self._outputs[id(output)] = name
            if output._data.dtype.kind != "f":
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
            mean = float((xp.sum(a)).item()) / a.size
            layer["act_mean"] = mean
            layer["act_std"] = math.sqrt(max(sq / a.size - mean * mean, 0.0)) \
                if math.isfinite(sq) else math.nan
        kind = kind_of(module)
        if kind == "relu":
            # a unit is one feature position; dead = zero for every example in the batch
            per_example = a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(1, -1)
            alive = xp.any(per_example != 0, axis=0)
            layer["dead_fraction"] = 1.0 - float((xp.mean(alive)).item())
            history = self._alive.setdefault(name, [])
            history.append((self._step, alive))
            del history[:-self.window]
        elif kind == "sigmoid":
            layer["saturated_fraction"] = float((xp.mean((a < 0.01) | (a > 0.99))).item())
        elif kind == "tanh":
            layer["saturated_fraction"] = float((xp.mean(xp.abs(a) > 0.99)).item())

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
    def _param_hook(self, name: str, param):
        pid = id(param)

        def hook(g) -> None:
            if not self._active:
                return
            self.got_grad.add(pid)
            self._backward_seen = True
            if not self.detail:
                return  # between detail steps only the loss is followed
            sq = _sq_norm(g._data)
            if self.optimizer_watch is not None:
                self.optimizer_watch.gradient_arrived(pid, g._data, math.sqrt(sq))
            layer = self._layer(name)
            if layer is None:
                return
            layer["grad_norm"] = math.sqrt(layer.get("grad_norm", 0.0) ** 2 + sq)
            if not math.isfinite(sq):
                self._flag(name, layer, "grad")
        return hook

    def _flag(self, name: str, layer: dict, where: str) -> None:
        flags = layer.setdefault("non_finite", [])
        if where not in flags:
            flags.append(where)
            if len(self.non_finite) < 1000:
                self.non_finite.append({"step": self._step, "layer": name, "where": where})

    # -- public -------------------------------------------------------------------
    def remove(self) -> None:
        """Detach every hook (optimizer and loss listeners too); the numbers are kept."""
        self._active = False
        self._detach()
        if self.optimizer_watch is not None:
            self.optimizer_watch.remove()
        self.loss_watch.remove()

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
                    if p.requires_grad and id(p) not in self.got_grad and p.grad is None:
                        no_grad.append((name, pname))
        order = self._order + [n for n in self.modules if n not in self._order]
        facts = {}
        if self.optimizer_watch is not None:
            facts = dict(self.optimizer_watch.facts)
            facts["not_updated"] = self.optimizer_watch.not_updated()
        report = Report(steps=self.steps, layers=list(self.modules), types=dict(self.types),
                        order=order, param_count=dict(self.param_count),
                        leaves=[n for n in order if not self.modules[n]._modules],
                        kinds={n: kind_of(m) for n, m in self.modules.items()},
                        non_finite=list(self.non_finite), facts=facts,
                        first_steps=list(self.first_steps))
        report.findings = diagnose(report, th, alive=self._alive, no_gradient=no_grad)
        return report

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def watch(model, optimizer=None, every: int = 1, window: int = 5,
          keep: int | None = 10_000, detail_every: int = 8) -> Monitor:
    """Attach a gradient-flow monitor to ``model`` (and ``optimizer.step``, when given).

    ``every``: measure one step in ``every``; ``window``: how many recorded steps the
    findings look back over; ``keep``: how many recorded steps to hold (the oldest are
    dropped, so memory stays bounded; None keeps all); ``detail_every``: after the first
    steps, gradients, weights, activations and updates are measured one recorded step
    in ``detail_every`` (the loss at every one), which keeps the cost near 5% of a step.
    Use ``monitor.report()`` for numbers and findings, ``monitor.remove()`` (or a
    ``with`` block) to detach.
    """
    return Monitor(model, optimizer, every=every, window=window, keep=keep,
                   detail_every=detail_every)
