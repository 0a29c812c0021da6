"""Op specs for the functions of chainrule/ops/more_math.py that are ops with their own rules
(inverse hyperbolics, atan2): values against PyTorch and finite-difference gradients."""
from __future__ import annotations

from harness import UNIT, C, F, S, away_from, both

SPECS = []
SIGNED_NONZERO = away_from([0.0], -2.0, 2.0, gap=0.3)

for _name, _dom in (("asinh", (-2, 2)), ("acosh", (1.2, 3.0)), ("atanh", UNIT)):
    SPECS.append(S(_name, both(lambda m, a, _n=_name: getattr(m, _n)(a)),
                   [C(()), C((3,)), C((2, 3)), C((0,))], domain=_dom))
    SPECS.append(S(f"{_name}_method", both(lambda m, a, _n=_name: getattr(a, _n)()), [C((2, 3))],
                   domain=_dom))
SPECS.append(S("atan2", both(lambda m, a, b: m.atan2(a, b)),
               [C((2, 3), F((2, 3), domain=SIGNED_NONZERO)), C((2, 3), F((3,), domain=SIGNED_NONZERO)),
                C((), F((2, 3), domain=SIGNED_NONZERO))]))
