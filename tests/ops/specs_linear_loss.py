"""Op specs for the fused ops of ``chainrule.nn.functional``: linear and cross_entropy
(class-index targets, probability targets, weights, ignore_index, label smoothing)."""
from __future__ import annotations

from harness import C, I, IV, S, both

SPECS = []


def _f(m):
    return m.nn.functional


SPECS += [
    S("nn_linear", both(lambda m, x, w, b=None: _f(m).linear(x, w, b)),
      [C((4, 3), (2, 3), (2,)), C((3,), (2, 3)), C((2, 5, 3), (4, 3), (4,)), C((0, 3), (2, 3), (2,))],
      ops=("linear",)),
    S("nn_cross_entropy", both(lambda m, x, t, **k: _f(m).cross_entropy(x, t, **k)),
      [C((4, 3), I((4,), 3)), C((4, 3), I((4,), 3), kw=dict(reduction="sum")),
       C((4, 3), I((4,), 3), kw=dict(reduction="none")),
       C((4, 3), IV([0, -100, 2, 1]), kw=dict(ignore_index=-100)),
       C((4, 3), I((4,), 3), kw=dict(label_smoothing=0.2)),
       C((2, 3, 5), I((2, 5), 3), id="spatial")],
      ops=("cross_entropy",)),
    S("nn_cross_entropy_probs", both(lambda m, x, p, **k: _f(m).cross_entropy(x, p.softmax(-1), **k)),
      [C((4, 3), (4, 3)), C((4, 3), (4, 3), kw=dict(reduction="none")),
       C((4, 3), (4, 3), kw=dict(label_smoothing=0.1))],
      ops=("soft_cross_entropy",)),
]
