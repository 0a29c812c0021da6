"""Bugs in the model and its data: mode, normalisation, initialisation, padding,
recurrence, depth, bad inputs, cut graphs. build(lib, fixed) as elsewhere.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import data
from .case import Case, Setup
from .loop import Batches, accuracy, standard_train
from .models import mlp


def eval_mode_left_on(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.digits()
    x = x * 16.0   # raw pixel values 0..16: BatchNorm is what normalises them
    nn = lib.nn
    model = mlp(lib, [64, 64, 10], between={1: ("bn", nn.BatchNorm1d(64))})
    opt = lib.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    ce = nn.CrossEntropyLoss()
    if not fixed:
        model.eval()   # bug: left in eval mode (e.g. after a validation pass) while training
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)),
                 score=accuracy(lib, model, x, y))


def batchnorm_batch_of_two(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.blobs(seed=7, spread=1.5)
    nn = lib.nn
    # bug: BatchNorm statistics over 2 examples (each feature becomes +-1); the fix for
    # tiny batches is a per-example norm
    norm = ("norm", nn.LayerNorm(32) if fixed else nn.BatchNorm1d(32))
    model = mlp(lib, [16, 32, 4], between={1: norm})
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    ce = nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 2)),
                 score=accuracy(lib, model, x, y))


def _init_all_linear(lib: Any, model: Any, weight: float) -> None:
    """The init loop people write: every Linear gets a constant weight and zero bias."""
    for m in model.modules():
        if isinstance(m, lib.nn.Linear):
            lib.nn.init.constant_(m.weight, weight)
            lib.nn.init.zeros_(m.bias)


def zero_init(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.blobs(seed=8)
    model = mlp(lib, [16, 32, 4], act="Tanh")
    if not fixed:
        _init_all_linear(lib, model, 0.0)   # bug: "start from zero"
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


def constant_init(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.blobs(seed=9)
    model = mlp(lib, [16, 32, 4])
    if not fixed:
        _init_all_linear(lib, model, 0.5)   # bug: every hidden unit starts (and stays) identical
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)),
                 score=accuracy(lib, model, x, y))


def _bag_model(lib: Any, padding_idx: int | None):
    nn = lib.nn

    class BagOfEmbeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 16, padding_idx=padding_idx)
            self.out = nn.Linear(16, 2)

        def forward(self, tokens):
            return self.out(self.emb(tokens).mean(1))
    return BagOfEmbeddings()


def padding_trained(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    tokens, y = data.padded_bags(seed=10)
    # bug: pad token 0 fills most positions, and without padding_idx its row is trained
    model = _bag_model(lib, padding_idx=0 if fixed else None)
    opt = lib.optim.Adam(model.parameters(), lr=3e-2)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (tokens, y), 32)),
                 score=accuracy(lib, model, tokens, y))


def _rnn_classifier(lib: Any, pool: str, **rnn_kw):
    nn = lib.nn

    class RNNClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(4, 32, batch_first=True, **rnn_kw)
            self.out = nn.Linear(32, 2)

        def forward(self, x):
            h, _ = self.rnn(x)
            return self.out(h[:, -1] if pool == "last" else h.mean(1))
    return RNNClassifier()


def rnn_long_sequence(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    # the label is the sign of a sum over all 100 steps (a long document's overall tone)
    x, y = data.sequences(seed=11, n=1024, length=100)
    held_x, held_y = data.sequences(seed=111, n=512, length=100)
    # bug: only the last output reaches the loss, and the gradient dies within a few
    # steps back in time; the fix reads every time step (mean over time)
    model = _rnn_classifier(lib, "mean" if fixed else "last")
    opt = lib.optim.Adam(model.parameters(), lr=3e-2)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 32)),
                 score=accuracy(lib, model, held_x, held_y))


def rnn_large_recurrent_weights(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.sequences(seed=12, length=20)
    model = _rnn_classifier(lib, "last", nonlinearity="relu")
    # identity recurrence (IRNN) is the standard start for ReLU RNNs; the bug scales it up
    lib.nn.init.eye_(model.rnn.weight_hh_l0)
    if not fixed:
        with lib.no_grad():
            model.rnn.weight_hh_l0.mul_(1.5)   # bug: each step multiplies the state by 1.5
    opt = lib.optim.SGD(model.parameters(), lr=0.003, momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


def deep_sigmoid(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.blobs(seed=13)
    model = mlp(lib, [16] + [32] * 9 + [4], act="ReLU" if fixed else "Sigmoid")
    if fixed:   # the fix: ReLU with He init
        for m in model.modules():
            if isinstance(m, lib.nn.Linear):
                lib.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                lib.nn.init.zeros_(m.bias)
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


def nan_in_inputs(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.blobs(seed=14)
    x[37, 5] = np.nan   # a missing value in the raw data
    if fixed:
        x = np.nan_to_num(x)
    model = mlp(lib, [16, 32, 32, 4])
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


def detached_branch(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.regression(seed=15)
    nn = lib.nn

    class LinearPlusFeatures(nn.Module):
        """A linear path plus a learned ReLU feature branch."""

        def __init__(self):
            super().__init__()
            self.skip = nn.Linear(8, 1)
            self.branch = nn.Linear(8, 32)
            self.head = nn.Linear(32, 1)

        def forward(self, x):
            features = self.branch(x).relu()
            if not fixed:
                features = features.detach()   # bug: left over from logging the features
            return self.skip(x) + self.head(features)
    model = LinearPlusFeatures()
    opt = lib.optim.Adam(model.parameters(), lr=3e-2)
    mse = lib.nn.functional.mse_loss
    return Setup(model, opt, standard_train(model, opt, mse, Batches(lib, (x, y), 64)))


def dead_relu(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.blobs(seed=16)
    model = mlp(lib, [16, 32, 32, 4])
    if not fixed:
        lib.nn.init.constant_(model.fc2.bias, -10.0)   # bug: a large negative bias init
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


def deep_linear_exploding(lib: Any, fixed: bool) -> Setup:
    lib.manual_seed(0)
    x, y = data.regression(seed=17)
    model = mlp(lib, [8] + [32] * 7 + [1], act="")
    for m in model.modules():
        if isinstance(m, lib.nn.Linear):
            if fixed:
                lib.nn.init.orthogonal_(m.weight)     # gain 1: the signal keeps its size
            else:
                lib.nn.init.normal_(m.weight, std=1.0)   # bug: N(0, 1) grows it ~sqrt(32) a layer
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    mse = lib.nn.functional.mse_loss
    return Setup(model, opt, standard_train(model, opt, mse, Batches(lib, (x, y), 64)))


CASES = [
    Case("eval_mode_left_on", False, "mode", ("bn",), eval_mode_left_on,
         note="model.eval() left on while training: BatchNorm uses its initial running "
              "stats (0, 1) and never normalises the raw 0..16 pixels",
         metric="accuracy", learns=0.85, chance=0.1, bug_effect="worse"),
    Case("batchnorm_batch_of_two", False, "batch_statistics", ("norm",),
         batchnorm_batch_of_two, steps=200,
         note="BatchNorm1d trained on batches of 2: every feature normalises to +-1 and the "
              "running statistics do not match what training saw",
         metric="accuracy", learns=0.8, chance=0.25, bug_effect="worse"),
    Case("zero_init", False, "symmetry", ("fc1",), zero_init,
         note="every Linear initialised to zeros: hidden units are identical and get no gradient",
         learns=0.3, bug_effect="stuck"),
    Case("constant_init", False, "symmetry", ("fc1",), constant_init,
         note="every Linear weight constant_(0.5), bias 0: the hidden units stay identical "
              "(a width-1 network)",
         metric="accuracy", learns=0.85, chance=0.25, bug_effect="worse"),
    Case("padding_trained", False, "padding", ("emb",), padding_trained,
         note="Embedding without padding_idx on right-padded bags: the pad row (most "
              "positions) is trained and its share encodes the length; learning is slower "
              "(~0.88 vs 0.99 accuracy at 60 steps) but gets there",
         metric="accuracy", learns=0.7, chance=0.5, bug_effect="mild"),
    Case("rnn_long_sequence", False, "vanishing", ("rnn",), rnn_long_sequence, steps=30,
         note="tanh RNN over 100 steps, loss only on the last output: the label depends on "
              "the whole sequence but the gradient reaches only the last few steps "
              "(held-out accuracy)",
         metric="accuracy", learns=0.75, chance=0.5, bug_effect="stuck"),
    Case("rnn_large_recurrent_weights", False, "exploding", ("rnn",),
         rnn_large_recurrent_weights,
         note="ReLU RNN whose recurrent weight is 1.5 x identity: state and gradients grow "
              "1.5^t over 20 steps",
         learns=0.7, bug_effect="diverges"),
    Case("deep_sigmoid", False, "vanishing", ("fc1", "fc2", "fc3"), deep_sigmoid,
         note="10 Linear+Sigmoid layers: the gradient shrinks ~4x a layer toward the input",
         learns=0.3, bug_effect="stuck"),
    Case("nan_in_inputs", False, "non_finite", None, nan_in_inputs,
         note="one NaN in the input data: the loss and then every weight turn NaN",
         learns=0.3, bug_effect="diverges"),
    Case("detached_branch", False, "no_gradient", ("branch",), detached_branch,
         note="a branch's output .detach()ed before the head: that branch never trains",
         learns=0.3, bug_effect="worse"),
    Case("dead_relu", False, "dead_units", ("act2",), dead_relu,
         note="fc2 bias initialised to -10: every unit of the ReLU after it is dead",
         learns=0.3, bug_effect="stuck"),
    Case("deep_linear_exploding", False, "exploding", ("fc1", "fc2", "fc3"),
         deep_linear_exploding,
         note="8 Linear layers initialised N(0, 1): activations and gradients grow "
              "~sqrt(32) a layer",
         learns=0.5, bug_effect="diverges"),
]
