"""What a zoo case is, and how to tell whether a setup learned.

A :class:`Case` builds a training :class:`Setup` for either library (``lib`` is the
``chainrule`` or the ``torch`` module) in its buggy or fixed form. Whether it
learned is judged by the case's own criterion (``metric`` and ``learns``), and
how the bug shows by ``bug_effect``:

- ``diverges``: the loss ends non-finite or above where it started;
- ``stuck``: the loss stays within 10% of where it started (or accuracy within
  0.1 of chance);
- ``worse``: it learns, but clearly worse than the fixed twin (final loss at
  least twice the twin's and higher by a tenth of the starting loss; or
  accuracy 0.15 below the twin's);
- ``mild``: the loss does not show the bug; the buggy setup learns too.

>>> o = Outcome(initial=2.3, final=0.2, losses=[2.3, 0.2])
>>> c = Case("demo", healthy=True, expect_kind=None, expect_layers=None, build=None)
>>> learned(c, o)
True
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

METRICS = ("loss", "eval_loss", "accuracy")
EFFECTS = ("diverges", "stuck", "worse", "mild")


@dataclass
class Setup:
    """One training run, ready to go.

    ``train(steps)`` runs ``steps`` optimizer steps and returns their losses.
    ``score()`` (when the case's metric needs it) measures the model the same way
    in both twins, under ``no_grad`` and in eval mode, without changing its mode.
    """

    model: Any
    optimizer: Any
    train: Callable[[int], list[float]]
    score: Callable[[], float] | None = None


@dataclass
class Case:
    """A training setup, buggy or healthy, written once for chainrule and PyTorch.

    ``expect_layers``: module names (as in ``named_modules()``) at fault; where a problem
    spreads (vanishing, exploding, NaN) a finding may name more layers than these.
    ``metric``: "loss" compares the first training loss with the mean of the last
    five; "eval_loss" and "accuracy" compare ``setup.score()`` before and after
    training (use them where the buggy loss itself is not comparable).
    ``learns``: for loss metrics, learned means final <= learns * initial; for
    accuracy, final >= learns. ``chance``: accuracy of guessing. ``warns``: a pattern of
    the UserWarning PyTorch gives for the buggy setup (build or training), if any.
    """

    name: str
    healthy: bool
    expect_kind: str | None
    expect_layers: tuple[str, ...] | None
    build: Callable[[Any, bool], Setup]
    steps: int = 60
    note: str = ""
    metric: str = "loss"
    learns: float = 0.5
    bug_effect: str | None = None
    chance: float = 0.0
    warns: str | None = None

    def __post_init__(self) -> None:
        assert self.metric in METRICS, self.metric
        assert (self.bug_effect is None) == self.healthy, self.name
        assert self.bug_effect is None or self.bug_effect in EFFECTS, self.bug_effect
        assert self.healthy == (self.expect_kind is None), self.name


@dataclass
class Outcome:
    """Where a run started and ended by the case's metric, and its training losses."""

    initial: float
    final: float
    losses: list[float]


def run(case: Case, lib: Any, fixed: bool, steps: int | None = None) -> Outcome:
    """Build ``case`` under ``lib`` and train it ``steps`` (default ``case.steps``) steps."""
    setup = case.build(lib, fixed)
    before = setup.score() if case.metric != "loss" else None
    losses = setup.train(case.steps if steps is None else steps)
    if case.metric == "loss":
        return Outcome(losses[0], sum(losses[-5:]) / len(losses[-5:]), losses)
    return Outcome(before, setup.score(), losses)


def learned(case: Case, o: Outcome) -> bool:
    """Did the run learn, by the case's criterion?"""
    if not math.isfinite(o.final):
        return False
    if case.metric == "accuracy":
        return o.final >= case.learns
    return o.final <= case.learns * o.initial


def bug_shows(case: Case, bug: Outcome, fixed: Outcome) -> bool:
    """Does the buggy run show the case's ``bug_effect`` (compared with the fixed twin)?"""
    effect = case.bug_effect
    if effect == "mild":
        return learned(case, bug)
    if not math.isfinite(bug.final):
        return effect in ("diverges", "worse")
    if case.metric == "accuracy":
        if effect in ("diverges", "stuck"):
            return bug.final <= case.chance + 0.1
        return bug.final <= fixed.final - 0.15
    if effect == "diverges":
        return bug.final > bug.initial
    if effect == "stuck":
        return bug.final >= 0.9 * bug.initial
    return bug.final >= 2 * fixed.final and bug.final - fixed.final >= 0.1 * fixed.initial
