"""Shared test set-up: deterministic seeds, and torch available as the second oracle."""
import numpy as np
import pytest

import chainrule as cr


@pytest.fixture(autouse=True)
def _seed():
    cr.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(autouse=True)
def _no_leftover_observers():
    """A test that watches losses or backward passes (a diagnostics monitor it did not
    remove) must not keep watching in the tests after it: observers are process-wide, and a
    compiled step, for one, runs eagerly while any is attached."""
    from chainrule.autograd import engine
    from chainrule.nn.functional import _loss_observers
    yield
    _loss_observers._OBSERVERS.clear()
    engine._BACKWARD_OBSERVERS.clear()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(pytest.mark.slow)
