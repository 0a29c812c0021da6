"""``IndexedGrad``: a sparse gradient (values at an index) that the walk adds in place.

Split from ``engine.py`` (which imports it back, so ``autograd.engine.IndexedGrad`` keeps
working): the backward ops of reads (slices, getitem, narrow …) return one instead of a
zero-padded array, and both the walk and leaf storage know how to add it into a buffer.
"""
from __future__ import annotations

from ..backends import NUMPY, backend_of

_FLOAT32 = NUMPY.float32


class IndexedGrad:
    """What the backward op of a read (slice, getitem) gives on arrays instead of a padded array:
    ``zeros(shape)`` with ``values`` at ``index`` (summed where ``accumulate`` and an index
    repeats). The engine adds it into the input's gradient buffer in place, so T slices
    of one tensor cost T slice-sized writes, not T full-sized zero arrays and sums."""

    __slots__ = ("index", "values", "shape", "accumulate")

    def __init__(self, index, values, shape, accumulate: bool = False) -> None:
        self.index = index
        self.values = values
        self.shape = tuple(shape)
        self.accumulate = accumulate

    def dense(self, xp):
        """The gradient as a fresh array of its own."""
        out = xp.zeros(self.shape, dtype=self.values.dtype)
        self.add_into(xp, out)
        return out

    def add_into(self, xp, target) -> None:
        if target.dtype.itemsize == 2 and target.dtype.kind in "fV":
            # bfloat16/float16: sum in float32 and round once, as PyTorch's CPU kernels (a
            # repeated index would otherwise round after every addition)
            wide = target.astype(_FLOAT32)
            IndexedGrad(self.index, self.values.astype(_FLOAT32), self.shape,
                        self.accumulate).add_into(xp, wide)
            target[...] = wide.astype(target.dtype)
            return
        values = self.values if self.values.dtype == target.dtype else self.values.astype(target.dtype)
        if self.accumulate:
            backend_of(target).scatter_add(target, self.index, values)
        else:
            target[self.index] += values
