"""Shared pieces of the held-out suite: the case registry, data and one training loop.

Every case is a function ``case(lib, bug, watch) -> list[float]`` (the loss per step):
``lib`` is ``chainrule`` or ``torch`` (the same code runs on both), ``bug`` picks the
buggy setup or its fixed twin, and ``watch(model, optimizer)`` is called where a user
would call ``chainrule.diagnostics.watch`` (a no-op under PyTorch; it returns the monitor
or None). Healthy cases ignore ``bug``.

Written without reading the monitor's source or its own zoo: the setups come from the
bugs practitioners report (Karpathy's recipe, "37 reasons why your neural network is
not working", common forum questions).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

CASES: list["Case"] = []


@dataclass
class Case:
    """One setup: ``kind`` is None for a healthy run, else the cause the monitor should name."""

    name: str
    run: Callable
    kind: str | None
    layers: tuple[str, ...] = ()      # any one of these must be named (empty: no layer asked)
    also: tuple[str, ...] = ()        # other kinds accepted where the cause is honestly ambiguous
    note: str = ""
    learn: float = 0.5                # the fixed twin / healthy run must end below learn * start
    begins: int | None = None         # step where the bug starts (for the report only)

    @property
    def healthy(self) -> bool:
        return self.kind is None


def bug(name: str, kind: str, layers: tuple[str, ...] = (), also: tuple[str, ...] = (),
        note: str = "", learn: float = 0.5, begins: int | None = None):
    """Register a buggy setup (with its fixed twin behind ``bug=False``)."""
    def register(fn):
        CASES.append(Case(name, fn, kind, tuple(layers), tuple(also), note, learn, begins))
        return fn
    return register


def healthy(name: str, note: str = "", learn: float = 0.5):
    """Register a healthy setup: it must learn and give no finding."""
    def register(fn):
        CASES.append(Case(name, fn, None, (), (), note, learn))
        return fn
    return register


# ----------------------------------------------------------------------------- data

_DIGITS: tuple[np.ndarray, np.ndarray] | None = None


def digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's 8x8 digits: pixel values 0..16 (float32) and labels 0..9 (int64)."""
    global _DIGITS
    if _DIGITS is None:
        from sklearn.datasets import load_digits
        d = load_digits()
        _DIGITS = d.data.astype(np.float32), d.target.astype(np.int64)
    return _DIGITS


def digits(flat: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Digits standardised per pixel (the usual preprocessing)."""
    x, y = digits_raw()
    x = (x - x.mean(0)) / (x.std(0) + 1.0)
    if not flat:
        x = x.reshape(-1, 1, 8, 8)
    return x.astype(np.float32), y


def blobs(n: int = 1024, dim: int = 10, classes: int = 4, seed: int = 0, spread: float = 1.0):
    """Gaussian clusters: an easy classification task."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.0, size=(classes, dim))
    y = rng.integers(0, classes, n)
    x = centers[y] + rng.normal(0, spread, size=(n, dim))
    return x.astype(np.float32), y.astype(np.int64)


def regression(n: int = 1024, dim: int = 8, seed: int = 0):
    """y = a smooth function of x, returned as (N,) float32."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    w = rng.normal(size=dim)
    y = np.sin(x @ w / math.sqrt(dim)) * 2.0 + 0.5 * x[:, 0]
    return x, y.astype(np.float32)


def sequences(n: int = 1024, length: int = 12, classes: int = 3, seed: int = 0):
    """(N, T, 1) noisy sequences; the class is the sign pattern of the running mean."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    t = np.linspace(0, 1, length)
    base = np.stack([np.sin(2 * np.pi * (c + 1) * t / 2) for c in range(classes)])
    x = base[y] + rng.normal(0, 0.3, size=(n, length))
    return x[..., None].astype(np.float32), y.astype(np.int64)


def seq_sum(n: int = 1024, length: int = 10, seed: int = 0):
    """(N, T, 1) inputs and the (N,) sum of each sequence: a regression over time."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, length, 1)).astype(np.float32)
    return x, x.sum((1, 2)).astype(np.float32) / math.sqrt(length)


def tokens(n: int = 1024, length: int = 10, vocab: int = 20, seed: int = 0,
           pad: bool = False):
    """Token sequences; class 1 when token 3 occurs more often than token 4.

    With ``pad`` sequences have random lengths 3..length and are right-padded with 0
    (real tokens are 1..vocab-1).
    """
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(n, length))
    if pad:
        lengths = rng.integers(3, length + 1, n)
        x[np.arange(length)[None, :] >= lengths[:, None]] = 0
    y = ((x == 3).sum(1) > (x == 4).sum(1)).astype(np.int64)
    return x.astype(np.int64), y


class Batches:
    """Random mini-batches of numpy arrays, handed out as ``lib`` tensors."""

    def __init__(self, lib, x: np.ndarray, y: np.ndarray, batch: int, seed: int = 0):
        self.lib, self.x, self.y, self.batch = lib, x, y, batch
        self.rng = np.random.default_rng(seed)

    def __call__(self):
        idx = self.rng.choice(len(self.x), self.batch, replace=False)
        return self.lib.from_numpy(self.x[idx].copy()), self.lib.from_numpy(self.y[idx].copy())


# ----------------------------------------------------------------------------- loop

def fit(lib, model, opt, batches, loss_fn, steps: int, *, zero_grad: str = "before",
        sched=None, clip: float | None = None, before_step=None, forward=None) -> list[float]:
    """The usual loop. ``zero_grad``: "before" (correct), "after_backward" or "never" (bugs).

    ``before_step(step)`` runs at the top of each step (validation, LR spikes, ...);
    ``forward(model, x)`` replaces ``model(x)``.
    """
    losses = []
    for step in range(steps):
        if before_step is not None:
            before_step(step)
        x, y = batches()
        if zero_grad == "before":
            opt.zero_grad()
        out = forward(model, x) if forward is not None else model(x)
        loss = loss_fn(out, y)
        loss.backward()
        if zero_grad == "after_backward":
            opt.zero_grad()
        if clip is not None:
            lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(float(loss.item()))
    return losses


def mlp(lib, sizes, act="relu", norm=None, dropout=0.0):
    """Linear layers named fc1, fc2, ... with activations (and optional norms) between."""
    nn = lib.nn
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.n = len(sizes) - 1
            for i in range(self.n):
                setattr(self, f"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1]))
                if i < self.n - 1:
                    if norm == "bn":
                        setattr(self, f"bn{i + 1}", nn.BatchNorm1d(sizes[i + 1]))
                    elif norm == "ln":
                        setattr(self, f"ln{i + 1}", nn.LayerNorm(sizes[i + 1]))
                    setattr(self, f"act{i + 1}", acts[act]())
                    if dropout:
                        setattr(self, f"drop{i + 1}", nn.Dropout(dropout))

        def forward(self, x):
            for i in range(1, self.n + 1):
                x = getattr(self, f"fc{i}")(x)
                if i < self.n:
                    for pre in ("bn", "ln", "act", "drop"):
                        m = getattr(self, f"{pre}{i}", None)
                        if m is not None:
                            x = m(x)
            return x

    return MLP()


def window(losses: list[float], frac: float = 0.1) -> tuple[float, float]:
    """Mean loss over the first and the last ``frac`` of the run (at least 3 steps)."""
    k = max(3, int(len(losses) * frac))
    return float(np.mean(losses[:k])), float(np.mean(losses[-k:]))


def learned(losses: list[float], ratio: float) -> bool:
    """True when the run ends finite and below ``ratio`` times where it began.

    >>> learned([2.3] * 5 + [0.4] * 5, 0.5), learned([2.3] * 10, 0.5)
    (True, False)
    """
    first, last = window(losses)
    return bool(np.isfinite(last) and np.isfinite(first) and last < ratio * first)


@dataclass
class Outcome:
    """What one run of a case gave."""

    losses: list[float] = field(default_factory=list)
    findings: list = field(default_factory=list)
    error: str | None = None


def cnn(lib, norm: str | None = None, width: int = 8, classes: int = 10):
    """A small CNN for 1x8x8 digits: conv1 [bn1|gn1] relu pool, conv2 [bn2|gn2] relu pool, fc."""
    nn = lib.nn

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, width, 3, padding=1)
            self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
            if norm == "bn":
                self.bn1, self.bn2 = nn.BatchNorm2d(width), nn.BatchNorm2d(2 * width)
            elif norm == "gn":
                self.bn1, self.bn2 = nn.GroupNorm(2, width), nn.GroupNorm(4, 2 * width)
            else:
                self.bn1 = self.bn2 = None
            self.act1, self.act2 = nn.ReLU(), nn.ReLU()
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(2 * width * 4, classes)

        def forward(self, x):
            x = self.conv1(x)
            if self.bn1 is not None:
                x = self.bn1(x)
            x = self.pool(self.act1(x))
            x = self.conv2(x)
            if self.bn2 is not None:
                x = self.bn2(x)
            x = self.pool(self.act2(x))
            return self.fc(x.flatten(1))

    return CNN()
