"""Op specs for the view ops (diagonal, unfold) and for in-place changes through views.

``view_scatter`` (a change made through a view reaching its base) and ``refused_view``
(the history of a view whose base changed while PyTorch would refuse to rebase it)
run inside in-place ops; ``diagonal_backward`` and ``unfold_backward`` are reached by
the gradient and second-order checks of their forward ops.
"""
from __future__ import annotations

from harness import C, S, both

SPECS = []


def _through_view(m, x, w):
    """x's copy with a window, a diagonal and a transposed row changed in place."""
    a = x * 1
    a[1:, :2].mul_(w)
    a.diagonal().add_(w[0] * 2)
    a.t()[0].copy_(w[0])
    return a


def _base_changed_with_views(m, x):
    """A base changed in place while a multi-output view and a plain view of it live."""
    a = x * 1
    pieces = a.unbind(0)  # noqa: F841 - alive while a changes: its history is refused
    row = a[0]
    a.mul_(3)
    return a, row * 2


SPECS.extend([
    S("diagonal", both(lambda m, x, *args: m.diagonal(x, *args) if hasattr(m, "diagonal")
                       else x.diagonal(*args)),
      [C((3, 3)), C((3, 4), 1), C((4, 3), -2), C((2, 3, 4), 0, 2, 0), C((2, 3, 4), 1, -1, 1),
       C((2, 2), 5)]),
    S("diagonal_method", both(lambda m, x: x.diagonal(offset=-1, dim1=1, dim2=0)), [C((3, 4))]),
    S("unfold", both(lambda m, x, d, size, step: x.unfold(d, size, step)),
      [C((7,), 0, 2, 2), C((7,), 0, 3, 1), C((2, 6), 1, 2, 3), C((5, 2), 0, 5, 1), C((4, 3), -2, 0, 2)]),
    S("inplace_through_view", both(_through_view), [C((3, 4), (2,))]),
    S("base_changed_with_views", both(_base_changed_with_views), [C((2, 3))]),
])
