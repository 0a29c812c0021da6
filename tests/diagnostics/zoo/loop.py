"""The usual training loop, minibatches and scores, for either library.

>>> import chainrule as lib
>>> b = Batches(lib, (np.arange(6, dtype=np.float32),), batch_size=4)
>>> [tuple(t.shape) for t in next(b)], [tuple(t.shape) for t in next(b)]
([(4,)], [(4,)])
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np


class Batches:
    """Endless minibatches over NumPy arrays (one per input/target), as ``lib`` tensors.

    Each epoch is a fresh permutation from a seeded NumPy RNG, so both libraries see
    the same batches; a short last batch is dropped.
    """

    def __init__(self, lib: Any, arrays: tuple[np.ndarray, ...], batch_size: int,
                 seed: int = 0, shuffle: bool = True) -> None:
        self.lib, self.arrays, self.batch_size, self.shuffle = lib, arrays, batch_size, shuffle
        self.n = len(arrays[0])
        assert batch_size <= self.n
        self.rng = np.random.default_rng(seed)
        self.order, self.at = np.arange(self.n), self.n

    def __iter__(self):
        return self

    def __next__(self) -> tuple:
        if self.at + self.batch_size > self.n:
            self.order = self.rng.permutation(self.n) if self.shuffle else np.arange(self.n)
            self.at = 0
        idx = self.order[self.at:self.at + self.batch_size]
        self.at += self.batch_size
        return tuple(self.lib.tensor(a[idx]) for a in self.arrays)


def standard_train(model: Any, opt: Any, loss_fn: Callable, batches: Batches,
                   scheduler: Any = None) -> Callable[[int], list[float]]:
    """``train(steps)`` with the loop everyone writes: zero_grad, forward, loss, backward, step."""
    def train(steps: int) -> list[float]:
        losses = []
        for _ in range(steps):
            x, y = next(batches)
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.item())
        return losses
    return train


def _evaluating(lib: Any, model: Any, fn: Callable[[], float]) -> float:
    """Run ``fn`` in eval mode under no_grad, then put the model back in the mode it was in."""
    was = model.training
    model.eval()
    try:
        with lib.no_grad():
            return fn()
    finally:
        model.train(was)


def accuracy(lib: Any, model: Any, x: np.ndarray, y: np.ndarray,
             predict: Callable[[Any], Any] | None = None) -> Callable[[], float]:
    """A score: the share of ``x`` whose prediction (argmax of the outputs by default) is ``y``."""
    xt = lib.tensor(x)

    def score() -> float:
        out = model(xt)
        pred = out.argmax(-1) if predict is None else predict(out)
        return float((pred.numpy().reshape(-1) == y.reshape(-1)).mean())
    return lambda: _evaluating(lib, model, score)


def eval_loss(lib: Any, model: Any, x: np.ndarray, y: np.ndarray,
              loss_fn: Callable[[Any, Any], Any]) -> Callable[[], float]:
    """A score: ``loss_fn(model(x), y)`` on all of ``x`` (the honest loss, whatever trains)."""
    xt, yt = lib.tensor(x), lib.tensor(y)
    return lambda: _evaluating(lib, model, lambda: float(loss_fn(model(xt), yt).item()))
