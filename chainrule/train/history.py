"""The record of a training run: one dict of metrics per epoch."""
from __future__ import annotations

from typing import Iterator


class History:
    """Per-epoch metrics (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``,
    ``time`` …) in the order they were recorded.

    >>> h = History()
    >>> h.append({"epoch": 1, "loss": 0.5})
    >>> h["loss"], h.last["epoch"]
    ([0.5], 1)
    """

    def __init__(self, epochs: list[dict] | None = None) -> None:
        self.epochs: list[dict] = list(epochs or [])

    def append(self, metrics: dict) -> None:
        self.epochs.append(dict(metrics))

    def __getitem__(self, key: str) -> list:
        return [e.get(key) for e in self.epochs]

    def __len__(self) -> int:
        return len(self.epochs)

    def __iter__(self) -> Iterator[dict]:
        return iter(self.epochs)

    @property
    def last(self) -> dict:
        return self.epochs[-1] if self.epochs else {}

    def keys(self) -> list[str]:
        seen: dict = {}
        for e in self.epochs:
            for k in e:
                seen.setdefault(k, None)
        return list(seen)

    def __repr__(self) -> str:
        return f"History({len(self.epochs)} epochs, keys={self.keys()})"
