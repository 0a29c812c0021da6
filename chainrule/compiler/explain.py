"""``chainrule.compile.explain``: what a capture of one call sees (``torch._dynamo.explain``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .capture import run_captured
from .codegen import Compiled


@dataclass
class ExplainOutput:
    """What one capture of ``fn(*args)`` saw.

    ``graph_count`` is 1 when the call can be replayed, 0 when it breaks;
    ``break_reasons`` are ``(reason, "file:line")`` pairs; ``recorded_calls`` the array
    calls, draws and host calls recorded, ``replayed_calls`` those the plan keeps;
    ``host_calls`` the Python calls replayed as themselves; ``source`` the replay.
    """
    graph_count: int
    graph_break_count: int
    break_reasons: list = field(default_factory=list)
    recorded_calls: int = 0
    replayed_calls: int = 0
    host_calls: list = field(default_factory=list)
    draws: int = 0
    source: str = ""
    inside: list = field(default_factory=list)  # chainrule's frames where the break happened

    def __str__(self) -> str:
        lines = [f"Graph count: {self.graph_count}", f"Graph break count: {self.graph_break_count}",
                 f"Array calls recorded: {self.recorded_calls}, replayed after planning: "
                 f"{self.replayed_calls}",
                 f"Generator draws replayed: {self.draws}"]
        if self.host_calls:
            lines.append("Replayed as Python calls: " + ", ".join(self.host_calls))
        if self.break_reasons:
            lines.append("Break reasons:")
            lines += [f"  {reason}\n    at {line}" for reason, line in self.break_reasons]
            lines += [f"    inside chainrule: {frame}" for frame in self.inside]
        return "\n".join(lines)


def explain(fn, *args, **kwargs) -> ExplainOutput:
    """Run ``fn(*args, **kwargs)`` once (for real: parameters and optimizer state change as
    in any call) while recording it, and say whether a compiled ``fn`` would replay it.

    >>> import chainrule as cr
    >>> def f(x):
    ...     y = x * 2
    ...     if y.sum() > 0:      # data-dependent Python: a break
    ...         y = y + 1
    ...     return y
    >>> out = cr.compile.explain(f, cr.ones(3))
    >>> out.graph_break_count, out.break_reasons[0][0].split(" (")[0]
    (1, 'item() reads array data on the host')
    """
    target = fn._fn if hasattr(fn, "_fn") and hasattr(fn, "stats") else fn
    _, capture = run_captured(target, args, kwargs)
    rec = capture.recorder
    out = ExplainOutput(graph_count=0 if capture.broken else 1,
                        graph_break_count=1 if capture.broken else 0,
                        recorded_calls=len(rec.steps),
                        host_calls=[s.name for s in rec.steps if s.kind == "host"],
                        draws=sum(s.kind == "draw" for s in rec.steps))
    if capture.broken:
        out.break_reasons.append(capture.broken)
        out.inside = rec.broken_inside
    else:
        compiled = Compiled(capture)
        out.replayed_calls = len(compiled.steps)
        out.source = compiled.source
    return out
