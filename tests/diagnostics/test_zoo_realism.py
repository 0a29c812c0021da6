"""The zoo's setups are realistic: under PyTorch and under chainrule alike, every
bug-free twin learns, every bug hurts the way its case says, and healthy setups learn.

These tests check the test bed, not the monitor: a diagnosis test built on the zoo is
only meaningful if the buggy setups really fail and the fixed ones really work.
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest

import chainrule
from zoo import BUGS, CASES, HEALTHY, Case, bug_shows, learned, run

torch = pytest.importorskip("torch")

LIBS = {"torch": torch, "chainrule": chainrule}
# the kinds the zoo promises a case for (the monitor's new kinds and its classic ones)
KINDS = {"learning_rate", "accumulating_gradients", "not_updated", "duplicate_parameters",
         "weight_decay", "loss_input", "broadcast", "loss_reduction", "label_noise", "mode",
         "batch_statistics", "symmetry", "padding", "vanishing", "exploding", "non_finite",
         "no_gradient", "dead_units"}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Threads only fight over the few cores here; results do not depend on them."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _warned(case: Case, fixed: bool):
    """The buggy twin of a case with ``warns`` must warn (PyTorch does, and so must we)."""
    if case.warns and not fixed:
        return pytest.warns(UserWarning, match=case.warns)
    return contextlib.nullcontext()


def _run(case: Case, lib_name: str, fixed: bool):
    with _warned(case, fixed):
        return run(case, LIBS[lib_name], fixed)


# ------------------------------------------------------------------ the catalogue --
def test_catalogue_covers_every_kind_with_enough_cases():
    assert len(BUGS) >= 22 and len(HEALTHY) >= 22
    assert {c.expect_kind for c in BUGS} == KINDS
    assert all(not c.healthy for c in BUGS) and all(c.healthy for c in HEALTHY)
    assert len(CASES) == len(BUGS) + len(HEALTHY)
    assert all(c.note for c in BUGS + HEALTHY)


@pytest.mark.parametrize("lib_name", sorted(LIBS))
@pytest.mark.parametrize("case", BUGS, ids=lambda c: c.name)
def test_expected_layers_are_modules_of_the_model(case, lib_name):
    with warnings.catch_warnings():
        if case.warns:   # the expected warning is checked where the case runs
            warnings.filterwarnings("ignore", message=".*" + case.warns)
        setup = case.build(LIBS[lib_name], False)
    names = {n for n, _ in setup.model.named_modules()}
    assert set(case.expect_layers or ()) <= names, sorted(names)


@pytest.mark.parametrize("case", [CASES[n] for n in ("lr_too_low", "gpt_block", "padding_trained")],
                         ids=lambda c: c.name)
def test_builds_are_seeded(case):
    first = case.build(chainrule, False).train(3)
    again = case.build(chainrule, False).train(3)
    assert first == again


@pytest.mark.parametrize("lib_name", sorted(LIBS))
def test_the_zero_grad_case_really_accumulates(lib_name):
    """Both twins take the same first step; at the second the buggy .grad is the first
    batch's gradient plus the second's, the fixed one only the second's."""
    case, lib = CASES["missing_zero_grad"], LIBS[lib_name]
    bug, fixed = case.build(lib, False), case.build(lib, True)
    bug.train(1)
    fixed.train(1)
    first = fixed.model.fc1.weight.grad.numpy().copy()
    np.testing.assert_array_equal(bug.model.fc1.weight.grad.numpy(), first)
    bug.train(1)
    fixed.train(1)
    np.testing.assert_allclose(bug.model.fc1.weight.grad.numpy(),
                               first + fixed.model.fc1.weight.grad.numpy(), rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------- realism -------
@pytest.mark.slow
@pytest.mark.parametrize("case", BUGS, ids=lambda c: c.name)
def test_fixed_twin_learns_and_bug_hurts_in_both_libraries(case):
    results = {}
    for lib_name in LIBS:
        fixed = _run(case, lib_name, True)
        bug = _run(case, lib_name, False)
        assert learned(case, fixed), (lib_name, "fixed twin did not learn", fixed.initial,
                                      fixed.final)
        assert bug_shows(case, bug, fixed), (lib_name, case.bug_effect, bug.initial,
                                             bug.final, fixed.final)
        results[lib_name] = learned(case, bug)
    # the two libraries agree in direction: the bug lets both learn, or neither
    assert results["torch"] == results["chainrule"], results


@pytest.mark.slow
@pytest.mark.parametrize("case", HEALTHY, ids=lambda c: c.name)
def test_healthy_setup_learns_in_both_libraries(case):
    for lib_name in LIBS:
        outcome = _run(case, lib_name, True)
        assert learned(case, outcome), (lib_name, outcome.initial, outcome.final)
