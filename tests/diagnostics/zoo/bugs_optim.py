"""Bugs in the optimizer and the loop: learning rate, zero_grad, what the optimizer is
given, weight decay, loss reduction. Each build(lib, fixed) makes the buggy setup or,
with fixed=True, its bug-free twin.
"""
from __future__ import annotations

from typing import Any

from . import data
from .case import Case, Setup
from .loop import Batches, accuracy, standard_train
from .models import mlp


def _classifier(lib: Any):
    lib.manual_seed(0)
    x, y = data.blobs(seed=0)
    return mlp(lib, [16, 32, 32, 4]), x, y


def _regressor(lib: Any):
    lib.manual_seed(0)
    x, y = data.regression(seed=1)
    return mlp(lib, [8, 32, 32, 1], act="Tanh"), x, y


def lr_too_high(lib: Any, fixed: bool) -> Setup:
    model, x, y = _regressor(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.05 if fixed else 3.0, momentum=0.9)
    mse = lib.nn.functional.mse_loss
    return Setup(model, opt, standard_train(model, opt, mse, Batches(lib, (x, y), 64)))


def lr_too_low(lib: Any, fixed: bool) -> Setup:
    model, x, y = _classifier(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.1 if fixed else 1e-7, momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


def missing_zero_grad(lib: Any, fixed: bool) -> Setup:
    model, x, y = _classifier(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    batches = Batches(lib, (x, y), 64)

    def train(steps: int) -> list[float]:
        losses = []
        for _ in range(steps):
            xb, yb = next(batches)
            if fixed:
                opt.zero_grad()
            # bug: without zero_grad, .grad holds the sum of every gradient so far
            loss = ce(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses
    return Setup(model, opt, train)


def layer_not_in_optimizer(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.rings(seed=2, d=16)
    model = mlp(lib, [16, 16, 2])
    # bug: the optimizer was built from the head only ("fine-tune the classifier") and the
    # hidden layer, which has to learn the radius, stays at its random start
    params = model.parameters() if fixed else model.out.parameters()
    opt = lib.optim.Adam(params, lr=3e-2)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)),
                 score=accuracy(lib, model, x, y))


def duplicate_parameters(lib: Any, fixed: bool) -> Setup:
    model, x, y = _classifier(lib)
    params = list(model.parameters())
    if not fixed:
        # bug: "make sure the head is trained" -- its parameters are now listed twice
        params += list(model.out.parameters())
    opt = lib.optim.SGD(params, lr=0.1, momentum=0.9)   # PyTorch warns (Case.warns)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


def weight_decay_sgd(lib: Any, fixed: bool) -> Setup:
    model, x, y = _classifier(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9,
                        weight_decay=5e-4 if fixed else 1.0)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


def weight_decay_adam(lib: Any, fixed: bool) -> Setup:
    model, x, y = _regressor(lib)
    opt = lib.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-5 if fixed else 1.0)
    mse = lib.nn.functional.mse_loss
    return Setup(model, opt, standard_train(model, opt, mse, Batches(lib, (x, y), 64)))


def sum_reduction(lib: Any, fixed: bool) -> Setup:
    model, x, y = _classifier(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # tuned for the mean
    ce = lib.nn.CrossEntropyLoss(reduction="mean" if fixed else "sum")
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 256)))


def hand_written_sum(lib: Any, fixed: bool) -> Setup:
    model, x, y = _regressor(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.05)

    def loss_fn(pred, target):
        sq = (pred - target) ** 2
        return sq.mean() if fixed else sq.sum()   # bug: sum over a batch of 128
    return Setup(model, opt, standard_train(model, opt, loss_fn, Batches(lib, (x, y), 128)))


CASES = [
    Case("lr_too_high", False, "learning_rate", None, lr_too_high,
         note="SGD lr=3 on a tanh regressor whose lr should be ~0.05: the loss blows up",
         bug_effect="diverges", learns=0.5),
    Case("lr_too_low", False, "learning_rate", None, lr_too_low,
         note="SGD lr=1e-7 (constant schedule): nothing moves",
         bug_effect="stuck", learns=0.3),
    Case("missing_zero_grad", False, "accumulating_gradients", None, missing_zero_grad,
         note="opt.zero_grad() forgotten: every step applies the sum of all past gradients",
         bug_effect="worse", learns=0.3),
    Case("layer_not_in_optimizer", False, "not_updated", ("fc1",), layer_not_in_optimizer,
         note="optimizer built from model.out.parameters(): the hidden layer never trains",
         metric="accuracy", learns=0.85, chance=0.5, bug_effect="worse", steps=100),
    Case("duplicate_parameters", False, "duplicate_parameters", None, duplicate_parameters,
         note="head parameters passed twice to SGD (PyTorch warns): the head gets two "
              "updates a step; the loss barely shows it",
         bug_effect="mild", learns=0.3, warns="duplicate parameters"),
    Case("weight_decay_sgd", False, "weight_decay", None, weight_decay_sgd,
         note="SGD weight_decay=1: the decay shrinks the weights faster than the "
              "gradient grows them, the model underfits",
         bug_effect="stuck", learns=0.3),
    Case("weight_decay_adam", False, "weight_decay", None, weight_decay_adam,
         note="Adam with (L2) weight_decay=1 on a regressor: the weights are pinned near zero",
         bug_effect="worse", learns=0.5),
    Case("sum_reduction", False, "loss_reduction", None, sum_reduction,
         note="CrossEntropyLoss(reduction='sum') with batch 256 and an lr tuned for the "
              "mean: steps 256x too big, the loss blows up",
         bug_effect="diverges", learns=0.3),
    Case("hand_written_sum", False, "loss_reduction", None, hand_written_sum,
         note="((pred - y) ** 2).sum() over a batch of 128 with an lr tuned for .mean()",
         bug_effect="diverges", learns=0.5),
]
