"""Healthy training procedures that look unusual to a gradient monitor: accumulation,
two forward passes a step, schedules that end near zero, clipping, decay, smoothing,
per-group learning rates, a sum loss with its learning rate scaled.
build(lib, fixed) ignores ``fixed``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import data
from .case import Case, Setup
from .loop import Batches, standard_train
from .models import mlp

STEPS = 60   # the schedules below run their course in the case's 60 steps


def _classifier(lib: Any, seed: int):
    lib.manual_seed(0)
    x, y = data.blobs(seed=seed)
    return mlp(lib, [16, 32, 32, 4]), x, y


def gradient_accumulation(lib: Any, fixed: bool = True) -> Setup:
    model, x, y = _classifier(lib, 40)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    batches, accumulate = Batches(lib, (x, y), 16), 4

    def train(steps: int) -> list[float]:
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            total = 0.0
            for _ in range(accumulate):    # 4 micro-batches of 16 make one batch of 64
                xb, yb = next(batches)
                loss = ce(model(xb), yb) / accumulate
                loss.backward()
                total += loss.item()
            opt.step()
            losses.append(total)
        return losses
    return Setup(model, opt, train)


def contrastive_two_views(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, _ = data.blobs(seed=41, n=256)
    nn = lib.nn
    encoder = mlp(lib, [16, 64, 16])
    opt = lib.optim.Adam(encoder.parameters(), lr=1e-2)
    ce = nn.CrossEntropyLoss()
    batches = Batches(lib, (x,), 64)
    noise = np.random.default_rng(42)

    def view(xb):
        return xb + lib.tensor(0.3 * noise.standard_normal(tuple(xb.shape)).astype(np.float32))

    def train(steps: int) -> list[float]:
        losses = []
        for _ in range(steps):
            (xb,) = next(batches)
            opt.zero_grad()
            # the encoder runs twice a step, once per augmented view (SimCLR-style InfoNCE)
            z1 = nn.functional.normalize(encoder(view(xb)), dim=1)
            z2 = nn.functional.normalize(encoder(view(xb)), dim=1)
            logits = z1 @ z2.t() / 0.1
            loss = ce(logits, lib.arange(len(xb)))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses
    return Setup(encoder, opt, train)


def one_cycle(lib: Any, fixed: bool = True) -> Setup:
    model, x, y = _classifier(lib, 43)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=STEPS)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64), sched))


def cosine_to_zero(lib: Any, fixed: bool = True) -> Setup:
    model, x, y = _classifier(lib, 44)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    # the last steps barely move the weights: that is the schedule, not a bug
    sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS, eta_min=0.0)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64), sched))


def gradient_clipping(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, y = data.regression(seed=45)
    model = mlp(lib, [8, 32, 32, 1], act="Tanh")
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    mse = lib.nn.functional.mse_loss
    batches = Batches(lib, (x, y), 64)

    def train(steps: int) -> list[float]:
        losses = []
        for _ in range(steps):
            xb, yb = next(batches)
            opt.zero_grad()
            loss = mse(model(xb), yb)
            loss.backward()
            lib.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
            opt.step()
            losses.append(loss.item())
        return losses
    return Setup(model, opt, train)


def adamw(lib: Any, fixed: bool = True) -> Setup:
    model, x, y = _classifier(lib, 46)
    opt = lib.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


def label_smoothing(lib: Any, fixed: bool = True) -> Setup:
    model, x, y = _classifier(lib, 47)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    # the loss cannot reach zero (its floor is ~0.4 here); that is intended
    ce = lib.nn.CrossEntropyLoss(label_smoothing=0.1)
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


def param_groups(lib: Any, fixed: bool = True) -> Setup:
    model, x, y = _classifier(lib, 48)
    body = [p for name, p in model.named_parameters() if not name.startswith("out.")]
    # a slow body and a fast head, each with its own learning rate
    opt = lib.optim.SGD([{"params": body, "lr": 0.02},
                         {"params": model.out.parameters(), "lr": 0.2}], momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


def sum_reduction_scaled(lib: Any, fixed: bool = True) -> Setup:
    model, x, y = _classifier(lib, 49)
    batch = 256
    opt = lib.optim.SGD(model.parameters(), lr=0.1 / batch, momentum=0.9)  # scaled for the sum
    ce = lib.nn.CrossEntropyLoss(reduction="sum")
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), batch)))


CASES = [
    Case("gradient_accumulation", True, None, None, gradient_accumulation,
         note="zero_grad and step every 4 backward passes over micro-batches of 16",
         learns=0.3),
    Case("contrastive_two_views", True, None, None, contrastive_two_views,
         note="InfoNCE on two noisy views: the encoder runs twice per step", learns=0.5),
    Case("one_cycle", True, None, None, one_cycle, steps=STEPS,
         note="OneCycleLR (max_lr 0.2) over the run", learns=0.3),
    Case("cosine_to_zero", True, None, None, cosine_to_zero, steps=STEPS,
         note="CosineAnnealingLR decaying to 0 at the last step", learns=0.3),
    Case("gradient_clipping", True, None, None, gradient_clipping,
         note="clip_grad_norm_(max_norm=0.5) every step", learns=0.5),
    Case("adamw", True, None, None, adamw,
         note="AdamW with weight_decay=0.05", learns=0.3),
    Case("label_smoothing", True, None, None, label_smoothing,
         note="CrossEntropyLoss(label_smoothing=0.1)", learns=0.5),
    Case("param_groups", True, None, None, param_groups,
         note="SGD param groups: body lr 0.02, head lr 0.2", learns=0.3),
    Case("sum_reduction_scaled", True, None, None, sum_reduction_scaled,
         note="CrossEntropyLoss(reduction='sum') with lr divided by the batch size (256)",
         learns=0.3),
]
