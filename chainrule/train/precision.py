"""``--precision``: the arithmetic a training step runs in.

* ``fp32`` (the default): everything in float32.
* ``bf16``: the forward pass and the loss under ``autocast('cpu', bfloat16)``: matrix
  products and convolutions in bfloat16, losses in float32; the parameters, their
  gradients and the optimizer stay float32 (PyTorch's CPU mixed-precision recipe).
* ``fp16``: the same in float16, with a :class:`~chainrule.amp.GradScaler` (float16
  gradients underflow without loss scaling).

chainrule emulates bfloat16/float16 on NumPy (each op computes in float32 and rounds), so
these modes reproduce mixed-precision numerics, not its speed: a step is slower than fp32.

>>> import chainrule as cr
>>> p = Precision("bf16")
>>> with p.autocast():
...     y = cr.nn.Linear(3, 2)(cr.ones(1, 3))
>>> y.dtype
chainrule.bfloat16
"""
from __future__ import annotations

import contextlib

CHOICES = ("fp32", "bf16", "fp16")


class Precision:
    """The autocast context and the backward/step of one ``--precision`` mode."""

    def __init__(self, mode: str = "fp32") -> None:
        if mode not in CHOICES:
            raise ValueError(f"precision must be one of {', '.join(CHOICES)}, got {mode!r}")
        import chainrule as cr
        self.mode = mode
        self.dtype = {"fp32": None, "bf16": cr.bfloat16, "fp16": cr.float16}[mode]
        self.scaler = cr.amp.GradScaler("cpu") if mode == "fp16" else None

    def autocast(self):
        """``autocast('cpu', dtype)`` for the low-precision modes; nothing for fp32."""
        if self.dtype is None:
            return contextlib.nullcontext()
        import chainrule as cr
        return cr.autocast("cpu", dtype=self.dtype)

    def backward_and_step(self, loss, optimizer) -> None:
        """``loss.backward(); optimizer.step()``, through the loss scaler in fp16."""
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)  # (skipped when a gradient overflowed)
        self.scaler.update()
