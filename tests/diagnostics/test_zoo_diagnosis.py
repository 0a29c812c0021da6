"""The monitor names the cause of every buggy setup of the zoo, and nothing on the healthy ones.

Each case trains under ``diagnostics.watch(model, optimizer)`` exactly as a user would;
the first finding must be the expected kind and name the layers at fault (when a
layer is), and a healthy setup must give no finding at all.
"""
import warnings

import pytest

import chainrule as cr

from zoo import BUGS, HEALTHY


def _diagnose(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some bugs warn (as PyTorch does): not the point here
        setup = case.build(cr, case.healthy)
        monitor = cr.diagnostics.watch(setup.model, setup.optimizer)
        setup.train(case.steps)
    monitor.remove()
    return monitor.report()


@pytest.mark.parametrize("case", BUGS, ids=lambda c: c.name)
def test_the_cause_of_each_bug_is_named_first(case):
    report = _diagnose(case)
    assert report.findings, f"{case.name}: no finding ({case.note})"
    first = report.findings[0]
    assert first.kind == case.expect_kind, report.summary()
    if case.expect_layers:
        assert set(case.expect_layers) <= set(first.layers), report.summary()
    assert first.suggestion and "first_step" in first.evidence


@pytest.mark.parametrize("case", HEALTHY, ids=lambda c: c.name)
def test_healthy_setups_give_no_finding(case):
    report = _diagnose(case)
    assert not report.findings, report.summary()


def test_the_zoo_covers_every_cause():
    from chainrule.diagnostics.causes import CAUSE_KINDS
    assert set(CAUSE_KINDS) <= {c.expect_kind for c in BUGS}
