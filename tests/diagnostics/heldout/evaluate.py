"""Run one case under ``lib`` (watched under chainrule) and judge the monitor's first finding."""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

from .common import Case, learned, window


@dataclass
class Verdict:
    """One watched run: what was expected, what the monitor said first, and whether it learned."""

    case: Case
    bug: bool
    losses: list[float] = field(default_factory=list)
    findings: list = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def first(self):
        return self.findings[0] if self.findings else None

    @property
    def learned(self) -> bool:
        return bool(self.losses) and learned(self.losses, self.case.learn)

    @property
    def named(self) -> bool:
        """The first finding has the expected kind and (where one is asked) an expected layer."""
        f = self.first
        if f is None or f.kind not in (self.case.kind,) + self.case.also:
            return False
        return not self.case.layers or any(name in self.case.layers for name in f.layers)

    @property
    def silent(self) -> bool:
        return self.error is None and not self.findings


def run_case(case: Case, lib, bug: bool = True, watched: bool = True) -> Verdict:
    """Train ``case`` (its buggy form when ``bug``) and collect the report's findings."""
    monitors = []

    def watch(model, optimizer):
        if not watched or lib.__name__ != "chainrule":
            return None
        m = lib.diagnostics.watch(model, optimizer)
        monitors.append(m)
        return m

    verdict = Verdict(case, bug)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # shape/duplicate warnings are part of some bugs
        try:
            verdict.losses = case.run(lib, bug, watch)
        except Exception as exc:           # a crash is a result too: report it
            verdict.error = f"{type(exc).__name__}: {exc}"
        if monitors:
            verdict.findings = list(monitors[-1].report().findings)
            for m in monitors:
                m.remove()
    verdict.seconds = time.perf_counter() - start
    return verdict


def judge(v: Verdict) -> bool:
    """Pass: a bug named correctly, or a healthy run that learns with no finding."""
    if v.case.healthy or not v.bug:
        return v.silent and v.learned
    return v.error is None and v.named


def describe_first(v: Verdict) -> str:
    if v.error:
        return f"ERROR {v.error[:70]}"
    f = v.first
    if f is None:
        return "-"
    step = f.evidence.get("first_step") if isinstance(f.evidence, dict) else None
    layers = ",".join(f.layers[:3]) + ("..." if len(f.layers) > 3 else "")
    return f"{f.kind}[{layers}]@{step}"


def loss_span(v: Verdict) -> str:
    if not v.losses:
        return ""
    a, b = window(v.losses)
    return f"{a:.3g}->{b:.3g}"
