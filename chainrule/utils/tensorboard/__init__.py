"""``chainrule.utils.tensorboard.SummaryWriter``: PyTorch's TensorBoard writer, by tensorboardX.

PyTorch's own writer needs the ``tensorboard`` package; chainrule's is tensorboardX's
``SummaryWriter`` (the same methods: ``add_scalar``, ``add_histogram``, ``add_image`` …,
``flush``, ``close``), an optional dependency imported when a writer is made.
Tensors passed to it are turned into NumPy arrays first.

>>> from chainrule.utils.tensorboard import SummaryWriter   # importing needs nothing extra
"""
from __future__ import annotations

from typing import Any

__all__ = ["SummaryWriter"]


def _plain(value: Any) -> Any:
    """A chainrule tensor as a NumPy array (a Python number for one element)."""
    from ...tensor import Tensor
    if isinstance(value, Tensor):
        array = value.detach().cpu().numpy()
        return array.item() if array.size == 1 and array.ndim == 0 else array
    return value


class SummaryWriter:
    """Writes TensorBoard event files under ``log_dir`` (default ``runs/<time>_<host>``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            from tensorboardX import SummaryWriter as Writer
        except ImportError as e:
            raise ImportError("chainrule.utils.tensorboard.SummaryWriter needs tensorboardX: "
                              "pip install tensorboardX") from e
        self._writer = Writer(*args, **kwargs)

    def __getattr__(self, name: str):
        method = getattr(self._writer, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any):
            return method(*map(_plain, args), **{k: _plain(v) for k, v in kwargs.items()})
        call.__name__ = name
        return call

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._writer.close()
