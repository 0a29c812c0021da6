"""Healthy setups that look unusual to a gradient monitor: normalisation layers, shared
modules, saturated-but-confident outputs, tiny residual scales, frozen parts.
build(lib, fixed) ignores ``fixed`` (there is nothing to fix).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from . import data
from .case import Case, Setup
from .loop import Batches, accuracy, standard_train
from .models import mlp


def _cnn(lib: Any, norm: str):
    nn = lib.nn

    def block(c_in, c_out, i):
        n = nn.BatchNorm2d(c_out) if norm == "batch" else nn.GroupNorm(4, c_out)
        return [(f"conv{i}", nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)),
                (f"norm{i}", n), (f"act{i}", nn.ReLU())]
    return nn.Sequential(OrderedDict(
        block(1, 8, 1) + [("pool", nn.MaxPool2d(2))] + block(8, 16, 2)
        + [("flat", nn.Flatten()), ("out", nn.Linear(16 * 4 * 4, 10))]))


def batchnorm_cnn(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, y = data.digits(image=True)
    model = _cnn(lib, "batch")
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 32)),
                 score=accuracy(lib, model, x, y))


def groupnorm_cnn(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, y = data.digits(image=True)
    model = _cnn(lib, "group")
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 32)),
                 score=accuracy(lib, model, x, y))


def resnet_shared_relu(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, y = data.digits(image=True)
    nn = lib.nn

    class BasicBlock(nn.Module):
        """torchvision's BasicBlock: one ReLU module used twice."""

        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + x)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(1, 12, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(12), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(2))
            self.layer1 = BasicBlock(12)
            self.layer2 = BasicBlock(12)
            self.fc = nn.Linear(12 * 4 * 4, 10)

        def forward(self, x):
            x = self.layer2(self.layer1(self.stem(x)))
            return self.fc(x.flatten(1))
    model = ResNet()
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    ce = nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 32)),
                 score=accuracy(lib, model, x, y))


def dropout_mlp(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, y = data.digits()
    nn = lib.nn
    model = nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(64, 64)), ("act1", nn.ReLU()), ("drop1", nn.Dropout(0.3)),
        ("fc2", nn.Linear(64, 64)), ("act2", nn.ReLU()), ("drop2", nn.Dropout(0.3)),
        ("out", nn.Linear(64, 10))]))
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ce = nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)),
                 score=accuracy(lib, model, x, y))


def autoencoder(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, _ = data.digits()
    nn = lib.nn
    # pixels in [0, 1] behind a Sigmoid: the many zero pixels saturate it, as they should
    model = nn.Sequential(OrderedDict([
        ("enc1", nn.Linear(64, 32)), ("act1", nn.ReLU()), ("code", nn.Linear(32, 8)),
        ("dec1", nn.Linear(8, 32)), ("act2", nn.ReLU()), ("dec2", nn.Linear(32, 64)),
        ("sigmoid", nn.Sigmoid())]))
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    mse = nn.MSELoss()
    return Setup(model, opt, standard_train(model, opt, mse, Batches(lib, (x, x), 64)))


def sigmoid_bce(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, y = data.blobs(seed=20, classes=2, spread=0.5)
    model = mlp(lib, [16, 32, 1], final=("sigmoid", lib.nn.Sigmoid()))
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    bce = lib.nn.BCELoss()
    yf = y.astype(np.float32)[:, None]
    # separable data: the final sigmoid ends confident (outputs near 0 and 1), which is the goal
    return Setup(model, opt, standard_train(model, opt, bce, Batches(lib, (x, yf), 64)),
                 score=accuracy(lib, model, x, y, predict=lambda out: out > 0.5))


def layerscale(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, y = data.regression(seed=21)
    nn = lib.nn

    class Block(nn.Module):
        """Pre-norm residual MLP block whose branch is scaled by a learned gamma, 1e-4 at start."""

        def __init__(self, d):
            super().__init__()
            self.norm = nn.LayerNorm(d)
            self.fc1 = nn.Linear(d, 2 * d)
            self.act = nn.GELU()
            self.fc2 = nn.Linear(2 * d, d)
            self.gamma = nn.Parameter(1e-4 * lib.ones(d))

        def forward(self, x):
            return x + self.gamma * self.fc2(self.act(self.fc1(self.norm(x))))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(8, 32)
            self.blocks = nn.Sequential(*[Block(32) for _ in range(4)])
            self.norm = nn.LayerNorm(32)
            self.out = nn.Linear(32, 1)

        def forward(self, x):
            return self.out(self.norm(self.blocks(self.inp(x))))
    model = Net()
    opt = lib.optim.AdamW(model.parameters(), lr=1e-2)
    mse = nn.functional.mse_loss
    return Setup(model, opt, standard_train(model, opt, mse, Batches(lib, (x, y), 64)))


def frozen_layers(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, y = data.blobs(seed=22)
    model = mlp(lib, [16, 64, 32, 4])
    # a "pretrained" first layer, deliberately frozen; the optimizer gets the rest
    model.fc1.requires_grad_(False)
    opt = lib.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1,
                        momentum=0.9)
    ce = lib.nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


def frozen_unused_head(lib: Any, fixed: bool = True) -> Setup:
    lib.manual_seed(0)
    x, y = data.blobs(seed=23)
    nn = lib.nn

    class TwoHeads(nn.Module):
        """A model kept with an auxiliary head that this run neither uses nor trains."""

        def __init__(self):
            super().__init__()
            self.body = mlp(lib, [16, 32, 32])
            self.act = nn.ReLU()
            self.head = nn.Linear(32, 4)
            self.aux_head = nn.Linear(32, 3)
            self.aux_head.requires_grad_(False)

        def forward(self, x):
            return self.head(self.act(self.body(x)))
    model = TwoHeads()
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # frozen ones included
    ce = nn.CrossEntropyLoss()
    return Setup(model, opt, standard_train(model, opt, ce, Batches(lib, (x, y), 64)))


CASES = [
    Case("batchnorm_cnn", True, None, None, batchnorm_cnn,
         note="Conv-BatchNorm-ReLU CNN on 8x8 digits", metric="accuracy", learns=0.8),
    Case("groupnorm_cnn", True, None, None, groupnorm_cnn,
         note="Conv-GroupNorm-ReLU CNN on 8x8 digits (Adam)", metric="accuracy", learns=0.8),
    Case("resnet_shared_relu", True, None, None, resnet_shared_relu,
         note="two torchvision-style BasicBlocks, each calling one ReLU module twice",
         metric="accuracy", learns=0.8),
    Case("dropout_mlp", True, None, None, dropout_mlp,
         note="MLP with Dropout(0.3) after each hidden layer", metric="accuracy", learns=0.8),
    Case("autoencoder", True, None, None, autoencoder,
         note="64-32-8-32-64 autoencoder with a Sigmoid output and MSE", learns=0.5),
    Case("sigmoid_bce", True, None, None, sigmoid_bce,
         note="binary classifier ending in Sigmoid + BCELoss on separable data: the "
              "sigmoid ends confident (saturated), as intended", learns=0.2),
    Case("layerscale", True, None, None, layerscale,
         note="pre-norm residual MLP blocks with LayerScale gamma = 1e-4 (AdamW)",
         learns=0.5),
    Case("frozen_layers", True, None, None, frozen_layers,
         note="first layer frozen with requires_grad_(False), optimizer given the rest",
         learns=0.3),
    Case("frozen_unused_head", True, None, None, frozen_unused_head,
         note="an auxiliary head neither used in forward nor trainable (requires_grad False)",
         learns=0.3),
]
