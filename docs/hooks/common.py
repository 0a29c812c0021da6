"""What the figure makers share: a Figure on the Agg canvas (no pyplot, no display) and PNG bytes."""
from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

BUG, FIXED = "#c0392b", "#2e86c1"   # the buggy run and its bug-free twin, on every figure


def figure(width: float = 9.0, height: float = 3.4, panels: int = 1) -> tuple[Figure, list]:
    fig = Figure(figsize=(width, height), layout="constrained", dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels)
    return fig, list(axes) if panels > 1 else [axes]


def png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})  # no version stamp: same bytes each build
    return out.getvalue()
