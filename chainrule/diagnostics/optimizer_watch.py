"""What the monitor learns from the optimizer: its parameters, learning rate and updates.

Attached through the optimizer's step pre/post hooks, it records per step:

- ``lr`` (the largest learning rate of the groups) and, per layer, ``update_ratio``
  (|Δw| / |w| over the layer's matrices and kernels: vectors such as biases, norm
  gains or LayerScale γ are small by design and would make any update look huge);
- per layer, ``stale_grad``: the ``.grad`` the step used is larger than every
  gradient the backward passes since the last step produced, together (by the
  triangle inequality that cannot happen unless ``.grad`` still held an older
  gradient: ``zero_grad()`` is missing; deliberate accumulation over several
  backward passes followed by ``zero_grad()`` stays quiet);
- per layer, ``cleared_grad``: backward produced a gradient but ``.grad`` was None or
  zero at ``step()`` (``zero_grad()`` between ``backward()`` and ``step()``);
- per layer, ``decay_pull``: weight_decay · |w| / |grad|, how hard the decay pulls
  compared with the gradient; for decoupled decay (AdamW's) ``decay_rate``, the
  fraction lr · weight_decay the weights lose each step.

Run-level facts (``facts``): parameters the optimizer holds twice, parameters of the
model it does not hold at all (with their norms at the start, to tell later whether
something else moved them).
"""
from __future__ import annotations

import math

import numpy as np

from ..backends import backend_of


def sq_norm(array) -> float:
    """Sum of squares by one BLAS dot product; inf/nan exactly when the array has them."""
    xp = backend_of(array)
    flat = array.reshape(-1)
    with np.errstate(all="ignore"):  # inf/nan are reported as findings, not warned about
        s = float((xp.vdot(flat, flat)).item())
        if math.isinf(s):  # an inf in the data, or float32 overflow of finite values: rescale
            m = float((xp.max(xp.abs(flat))).item())
            if math.isfinite(m) and m > 0:
                scaled = flat / m
                s = float((xp.vdot(scaled, scaled)).item()) * m * m
    return s


def _world_size() -> int:
    from .. import distributed
    return distributed.get_world_size() if distributed.is_initialized() else 1


class OptimizerWatch:
    """Hooks on one optimizer, filing what each step did into the monitor's records."""

    def __init__(self, monitor, optimizer) -> None:
        self.monitor = monitor
        self.optimizer = optimizer
        self.received: dict[int, float] = {}  # param id -> Σ |grad| of backward passes since step
        self.last_grad: dict[int, object] = {}  # param id -> the array the last backward gave
        self.layer_of = {id(p): (name, pname) for name, own in monitor.param_names.items()
                         for pname, p in own}
        counts: dict[int, int] = {}
        held: dict[int, dict] = {}
        for group in optimizer.param_groups:
            for p in group["params"]:
                counts[id(p)] = counts.get(id(p), 0) + 1
                held[id(p)] = group
        self.group_of = held
        twice = [self.layer_of[i] for i, n in counts.items() if n > 1 and i in self.layer_of]
        outside = [(name, pname, p) for name, own in monitor.param_names.items()
                   for pname, p in own if id(p) not in held and p.requires_grad]
        self.facts = {
            "duplicates": [f"{m}.{p}" if m else p for m, p in twice],
            "duplicate_layers": list(dict.fromkeys(m for m, _ in twice)),
            "outside": [(name, pname) for name, pname, _ in outside],
        }
        self._outside_start = {(name, pname): math.sqrt(sq_norm(p._data))
                               for name, pname, p in outside}
        self._outside = {(name, pname): p for name, pname, p in outside}
        self._before: dict | None = None
        self._handles = [optimizer.register_step_pre_hook(self._pre),
                         optimizer.register_step_post_hook(self._post)]

    # -- fed by the monitor's parameter hooks ----------------------------------------
    def gradient_arrived(self, pid: int, grad, norm: float) -> None:
        self.received[pid] = self.received.get(pid, 0.0) + norm
        self.last_grad[pid] = grad

    # -- the step ------------------------------------------------------------------
    def _matrices(self, own):
        return [(pname, p) for pname, p in own if p._data.ndim >= 2]

    def _decoupled(self, group: dict) -> bool:
        """Does the decay act on the weights directly (AdamW), not through the gradient?"""
        return bool(group.get("decoupled_weight_decay")) or \
            any(c.__name__ == "AdamW" for c in type(self.optimizer).__mro__)

    def _pre(self, optimizer, args, kwargs) -> None:
        monitor = self.monitor
        record = monitor.current_record()
        if record is None:
            self._before = None
            return
        groups = optimizer.param_groups
        record["lr"] = max(float(g.get("lr", 0.0)) for g in groups) if groups else 0.0
        closure = bool(args) or "closure" in kwargs  # LBFGS: the closure refills .grad
        # data-parallel: .grad holds the average over the ranks, not this rank's gradients
        distributed = _world_size() > 1
        detail = monitor.detail
        for name, own in monitor.param_names.items() if detail else ():
            layer = monitor.layer_record(name)
            stale = False
            pulls = []
            for pname, p in own:
                g = p.grad
                if id(p) not in self.group_of:
                    continue
                if self.received.get(id(p), 0.0) > 0 and (
                        g is None or not bool((backend_of(g._data).any(g._data)).item())):
                    layer["cleared_grad"] = True  # backward gave one; step() sees none
                if g is None:
                    continue
                # .grad being the very array the last backward made means it is fresh
                fresh = g._data is self.last_grad.get(id(p))
                wd = float(self.group_of[id(p)].get("weight_decay", 0.0) or 0.0)
                if fresh and wd == 0:
                    continue
                gn = math.sqrt(sq_norm(g._data))
                got = self.received.get(id(p), 0.0)
                if not closure and not distributed and not fresh and math.isfinite(gn) and \
                        gn > got * (1 + 1e-3) + 1e-30:
                    stale = True
                if wd > 0 and p._data.ndim >= 2 and gn > 0 and math.isfinite(gn):
                    w = math.sqrt(sq_norm(p._data))
                    group = self.group_of[id(p)]
                    if self._decoupled(group):
                        # AdamW shrinks the weights by the fraction lr·wd each step,
                        # whatever the gradient: that fraction is what to judge
                        layer["decay_rate"] = float(group.get("lr", 0.0)) * wd
                    else:
                        pulls.append(wd * w / gn)
            if stale:
                layer["stale_grad"] = True
            if pulls:
                layer["decay_pull"] = max(pulls)
        self._before = None if not detail else \
            {name: [(p, p._data.copy()) for _, p in self._matrices(own)]
             for name, own in monitor.param_names.items()}

    def _post(self, optimizer, args, kwargs) -> None:
        monitor = self.monitor
        self.received.clear()
        self.last_grad.clear()
        before, self._before = self._before, None
        if before is not None:
            self._file_updates(before)
        monitor.optimizer_stepped()

    def _file_updates(self, before: dict) -> None:
        monitor = self.monitor
        for name, pairs in before.items():
            if not pairs:
                continue
            diff = old = 0.0
            for p, b in pairs:
                with np.errstate(all="ignore"):
                    delta = p._data - b
                diff += sq_norm(delta)
                old += sq_norm(b)
            layer = monitor.layer_record(name)
            if layer is None:
                continue
            layer["update_ratio"] = math.sqrt(diff) / math.sqrt(old) if old > 0 else \
                (0.0 if diff == 0 else math.inf)

    # -- at report time ------------------------------------------------------------
    def not_updated(self) -> list[tuple[str, str]]:
        """Parameters outside the optimizer that received gradients and never moved."""
        out = []
        for key, p in self._outside.items():
            if id(p) not in self.monitor.got_grad:
                continue  # no gradient either: the no_gradient rule (or deliberately unused)
            if math.sqrt(sq_norm(p._data)) == self._outside_start[key]:
                out.append(key)
        return out

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
