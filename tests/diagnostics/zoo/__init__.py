"""A zoo of buggy and healthy training setups, each written once for chainrule and PyTorch.

``BUGS`` are the mistakes people make when training networks (each with a bug-free
twin, ``build(lib, fixed=True)``); ``HEALTHY`` are realistic setups on which a
gradient-flow monitor must stay silent. See README.md in this folder.

>>> import chainrule as lib
>>> setup = BUGS[0].build(lib, True)
>>> len(setup.train(2))
2
"""
from . import (bugs_loss, bugs_model, bugs_optim, healthy_models, healthy_sequence,
               healthy_training)
from .case import Case, Outcome, Setup, bug_shows, learned, run

BUGS: list[Case] = [*bugs_optim.CASES, *bugs_loss.CASES, *bugs_model.CASES]
HEALTHY: list[Case] = [*healthy_models.CASES, *healthy_sequence.CASES,
                        *healthy_training.CASES]
CASES: dict[str, Case] = {c.name: c for c in BUGS + HEALTHY}
assert len(CASES) == len(BUGS) + len(HEALTHY), "case names must be unique"

__all__ = ["BUGS", "HEALTHY", "CASES", "Case", "Setup", "Outcome", "run", "learned", "bug_shows"]
