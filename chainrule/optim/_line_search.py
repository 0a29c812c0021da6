"""The strong-Wolfe line search behind ``LBFGS(line_search_fn="strong_wolfe")``.

The algorithm is PyTorch's (itself from minFunc / torch7's ``lswolfe``): grow the
step by cubic extrapolation until an interval is known to hold a point that meets
the strong Wolfe conditions, then shrink that interval by safeguarded cubic
interpolation. Every comparison, bound and fallback follows PyTorch's order so
that trajectories agree with it to rounding.

Values are NumPy scalars in the gradient's dtype wherever PyTorch has 0-dim
tensors (directional derivatives) and Python floats where it has floats (losses),
so mixed arithmetic promotes the same way.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["cubic_minimizer", "strong_wolfe"]


def cubic_minimizer(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through ``(x1, f1)`` and ``(x2, f2)`` with slopes
    ``g1``, ``g2``, clamped to ``bounds`` (default: between the two points); the
    middle of the bounds when the cubic has no minimum.

    >>> float(cubic_minimizer(0.0, 1.0, -2.0, 2.0, 1.0, 2.0))  # (x-1)^2: minimum at 1
    1.0
    >>> cubic_minimizer(0.0, 0.0, 3.0, 1.0, 2.0, 3.0)  # no minimum: the middle
    0.5
    """
    if bounds is None:
        lower, upper = (x1, x2) if x1 <= x2 else (x2, x1)
    else:
        lower, upper = bounds
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    discriminant = d1 ** 2 - g1 * g2
    if not discriminant >= 0:
        return (lower + upper) / 2.0
    d2 = np.sqrt(discriminant)
    # measured back from the right-hand point of the two
    if x1 <= x2:
        at = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        at = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(at, lower), upper)


class _Trial:
    """One evaluated step length: ``t``, the loss, the flat gradient and its slope along d."""

    __slots__ = ("t", "f", "g", "gtd")

    def __init__(self, t, f, g, gtd) -> None:
        self.t, self.f, self.g, self.gtd = t, f, g, gtd


def _ends(bracket: list) -> tuple[int, int]:
    """Indices of the lower-loss and the higher-loss end of a bracket (ties: the first)."""
    return (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)


def strong_wolfe(evaluate: Callable, x, t, d: np.ndarray, f: float, g: np.ndarray, gtd,
                 c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                 max_ls: int = 25):
    """Search along ``d`` from ``x`` (loss ``f``, gradient ``g``, slope ``gtd < 0``),
    starting at step ``t``; ``evaluate(x, t, d)`` returns the loss and flat gradient
    at ``x + t·d``. Returns ``(loss, gradient, t, evaluations)`` of the accepted step.

    The sufficient-decrease test is ``f(t) <= f + c1·t·gtd`` and the curvature test
    ``|g(t)·d| <= -c2·gtd``; at most ``max_ls`` evaluations after the first.

    >>> import numpy as np
    >>> def evaluate(x, t, d):  # f(x) = (x - 3)^2 from x = 0 along d = 1
    ...     y = x + t * d
    ...     return float(((y - 3) ** 2).sum()), 2 * (y - 3)
    >>> # t = 1 has too steep a slope for c2 = 0.1; extrapolation lands on the minimum
    >>> f, g, t, n = strong_wolfe(evaluate, np.zeros(1), 1.0, np.ones(1), 9.0,
    ...                           np.array([-6.0]), np.float64(-6.0), c2=0.1)
    >>> round(float(t), 6), n
    (3.0, 2)
    """
    d_norm = np.abs(d).max()
    start = _Trial(0, f, g.copy(), gtd)
    f_new, g_new = evaluate(x, t, d)
    evals = 1
    trial = _Trial(t, f_new, g_new, g_new.dot(d))

    # bracketing: extrapolate until the interval [prev, trial] must hold an acceptable step
    prev, done, bracket, ls_iter = start, False, None, 0
    while ls_iter < max_ls:
        if trial.f > (f + c1 * trial.t * gtd) or (ls_iter > 1 and trial.f >= prev.f):
            bracket = [prev, trial]
            break
        if abs(trial.gtd) <= -c2 * gtd:  # both Wolfe conditions hold already
            bracket, done = [trial], True
            break
        if trial.gtd >= 0:  # the slope turned: a minimum lies behind
            bracket = [prev, trial]
            break
        t = cubic_minimizer(prev.t, prev.f, prev.gtd, trial.t, trial.f, trial.gtd,
                            bounds=(trial.t + 0.01 * (trial.t - prev.t), trial.t * 10))
        prev = trial
        f_new, g_new = evaluate(x, t, d)
        evals += 1
        trial = _Trial(t, f_new, g_new, g_new.dot(d))
        ls_iter += 1
    if ls_iter == max_ls:  # out of evaluations: fall back on the start and the last trial
        bracket = [_Trial(0, f, g, None), _Trial(trial.t, trial.f, trial.g, None)]

    # zoom: shrink the bracket until a point meets both conditions
    low, high = _ends(bracket)
    insufficient_progress = False
    while not done and ls_iter < max_ls:
        if abs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change:
            break
        t = cubic_minimizer(bracket[0].t, bracket[0].f, bracket[0].gtd,
                            bracket[1].t, bracket[1].f, bracket[1].gtd)
        # keep the trial at least a tenth of the bracket away from its ends when the
        # previous trial already hugged one (or this one lies outside)
        ts = [bracket[0].t, bracket[1].t]
        top, bottom = max(ts), min(ts)
        margin = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < margin:
            if insufficient_progress or t >= top or t <= bottom:
                t = top - margin if abs(t - top) < abs(t - bottom) else bottom + margin
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False

        f_new, g_new = evaluate(x, t, d)
        evals += 1
        trial = _Trial(t, f_new, g_new, g_new.dot(d))
        ls_iter += 1

        if trial.f > (f + c1 * t * gtd) or trial.f >= bracket[low].f:
            bracket[high] = trial  # not low enough: it closes the bracket from above
            low, high = _ends(bracket)
        else:
            if abs(trial.gtd) <= -c2 * gtd:
                done = True
            elif trial.gtd * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]  # the old low end becomes the far end
            bracket[low] = trial

    best = bracket[low]
    return best.f, best.g, best.t, evals
