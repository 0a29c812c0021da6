"""Bugs in what reaches the loss: wrong input for the loss function, shapes that
broadcast, labels that do not belong to their inputs. build(lib, fixed) as elsewhere.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import data
from .case import Case, Setup
from .loop import Batches, accuracy, eval_loss, standard_train
from .models import mlp


def double_softmax(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.digits()
    # bug: the model ends in Softmax and CrossEntropyLoss applies log-softmax again
    final = None if fixed else ("softmax", lib.nn.Softmax(dim=1))
    model = mlp(lib, [64, 32, 10], final=final)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)),
                 score=accuracy(lib, model, x, y))


def sigmoid_into_logits_loss(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.rings(seed=3)
    # bug: a Sigmoid at the end, and BCEWithLogitsLoss applies the sigmoid again
    final = None if fixed else ("sigmoid", lib.nn.Sigmoid())
    model = mlp(lib, [8, 32, 1], final=final)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    bce = lib.nn.BCEWithLogitsLoss()
    yf = y.astype(np.float32)[:, None]
    # the decision the model's author reads off: logit > 0, or (bug) probability > 0.5
    threshold = 0.0 if fixed else 0.5
    return Setup(model, opt, standard_train(model, opt, bce, Batches(lib, (x, yf), 64)),
                 score=accuracy(lib, model, x, y, predict=lambda out: out > threshold))


def mse_on_class_ids(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.digits()
    if fixed:
        model = mlp(lib, [64, 32, 10])
        loss_fn, target, predict = lib.nn.CrossEntropyLoss(), y, None
    else:
        # bug: the digit classes regressed as numbers 0..9 with a one-output head
        model = mlp(lib, [64, 32, 1])
        loss_fn, target = lib.nn.MSELoss(), y.astype(np.float32)[:, None]
        predict = lambda out: out.round().clamp(0, 9).long()  # noqa: E731
    opt = lib.optim.SGD(model.parameters(), lr=0.01 if not fixed else 0.1, momentum=0.9)
    return Setup(model, opt, standard_train(model, opt, loss_fn, Batches(lib, (x, target), 64)),
                 score=accuracy(lib, model, x, y, predict=predict))


def broadcast_target(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.regression(seed=4)
    model = mlp(lib, [8, 32, 32, 1], act="Tanh")
    # bug: targets kept as a flat (N,) vector: (N, 1) - (N,) broadcasts to (N, N)
    target = y if fixed else y[:, 0]
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    mse = lib.nn.MSELoss()
    return Setup(model, opt, standard_train(model, opt, mse, Batches(lib, (x, target), 64)),
                 score=eval_loss(lib, model, x, y, lib.nn.functional.mse_loss))


def shuffled_labels(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.blobs(seed=5)
    if not fixed:
        # bug: inputs and labels shuffled with separate permutations
        y = np.random.default_rng(6).permutation(y)
    model = mlp(lib, [16, 32, 32, 4])
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


CASES = [
    Case("double_softmax", False, "loss_input", ("softmax",), double_softmax,
         note="model ends in nn.Softmax and feeds CrossEntropyLoss (softmax applied twice)",
         metric="accuracy", learns=0.8, chance=0.1, bug_effect="worse"),
    Case("sigmoid_into_logits_loss", False, "loss_input", ("sigmoid",),
         sigmoid_into_logits_loss,
         note="model ends in nn.Sigmoid and feeds BCEWithLogitsLoss (sigmoid applied twice)",
         metric="accuracy", learns=0.8, chance=0.5, bug_effect="worse"),
    Case("mse_on_class_ids", False, "loss_input", None, mse_on_class_ids,
         note="digit classes regressed as numbers 0..9 with MSE and a one-output head",
         metric="accuracy", learns=0.8, chance=0.1, bug_effect="worse"),
    Case("broadcast_target", False, "broadcast", None, broadcast_target,
         note="MSELoss on prediction (N, 1) and target (N,): the loss broadcasts to N x N "
              "and the model learns the mean (PyTorch warns)",
         metric="eval_loss", learns=0.5, bug_effect="stuck", warns="target size"),
    Case("shuffled_labels", False, "label_noise", None, shuffled_labels,
         note="labels permuted independently of the inputs: the loss stays at chance",
         learns=0.3, bug_effect="stuck"),
]
