"""The benchmark workloads, each as a training step for chainrule and for PyTorch built
from the same initial weights and data, so the two do identical arithmetic."""
from __future__ import annotations

import numpy as np


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ models --
def _mlp_layers(sizes):
    rng = _rng()
    return [(rng.standard_normal((o, i)).astype(np.float32) * np.sqrt(2.0 / i),
             np.zeros(o, np.float32)) for i, o in zip(sizes[:-1], sizes[1:])]


def mlp_step(lib: str, sizes=(784, 512, 512, 10), batch: int = 128, lr: float = 0.01):
    """One SGD step of a ReLU MLP with cross-entropy."""
    layers = _mlp_layers(sizes)
    rng = _rng(1)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch).astype(np.int64)
    if lib == "chainrule":
        import chainrule as M
        nn, F = M.nn, M.nn.functional
    else:
        import torch as M
        nn, F = M.nn, M.nn.functional
    mods = []
    for w, b in layers:
        lin = nn.Linear(w.shape[1], w.shape[0])
        with M.no_grad():
            lin.weight.copy_(M.from_numpy(w))
            lin.bias.copy_(M.from_numpy(b))
        mods += [lin, nn.ReLU()]
    model = nn.Sequential(*mods[:-1])
    opt = M.optim.SGD(model.parameters(), lr=lr)
    xt, yt = M.from_numpy(x), M.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
    return step


def cnn_step(lib: str, batch: int = 64, lr: float = 0.01):
    """One SGD step of conv 16 → pool → conv 32 → pool → linear on 1×28×28 images."""
    rng = _rng(2)
    x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    if lib == "chainrule":
        import chainrule as M
    else:
        import torch as M
    nn, F = M.nn, M.nn.functional
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    _same_weights(model, M)
    opt = M.optim.SGD(model.parameters(), lr=lr)
    xt, yt = M.from_numpy(x), M.from_numpy(y)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(xt), yt).backward()
        opt.step()
    return step


def _same_weights(model, M) -> None:
    """Deterministic weights by parameter order, identical in both libraries."""
    rng = _rng(3)
    with M.no_grad():
        for p in model.parameters():
            p.copy_(M.from_numpy((rng.standard_normal(tuple(p.shape)) * 0.1).astype(np.float32)))


def overhead_step(lib: str, shape=(10, 10)):
    """``(a*b + a).sum().backward()``: almost pure per-op overhead."""
    rng = _rng(4)
    if lib == "chainrule":
        import chainrule as M
    else:
        import torch as M
    a = M.from_numpy(rng.random(shape).astype(np.float32)).requires_grad_()
    b = M.from_numpy(rng.random(shape).astype(np.float32)).requires_grad_()

    def step():
        a.grad = None
        b.grad = None
        (a * b + a).sum().backward()
    return step


def mlp_flops(sizes, batch) -> float:
    """Matrix-product FLOPs of one training step: forward, and two products per layer back."""
    return sum(3 * 2 * batch * i * o for i, o in zip(sizes[:-1], sizes[1:]))


def cnn_flops(batch: int = 64) -> float:
    conv1 = 2 * batch * 28 * 28 * 16 * 1 * 9
    conv2 = 2 * batch * 14 * 14 * 32 * 16 * 9
    fc = 2 * batch * 32 * 7 * 7 * 10
    return 3 * (conv1 + conv2 + fc)
