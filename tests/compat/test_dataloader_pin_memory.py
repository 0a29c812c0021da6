"""``DataLoader(..., pin_memory=True)`` without an accelerator (minGPT's Trainer sets it):
batches as without it, and PyTorch's UserWarning each time an iterator is made, at the
user's line."""
from __future__ import annotations

import warnings

import pytest
import torch

import chainrule as cr

pytestmark = pytest.mark.skipif(cr.accelerator.is_available(), reason="needs a machine without GPU")


def _loader(lib, **kw):
    ds = lib.utils.data.TensorDataset(lib.arange(10.0), lib.arange(10))
    return lib.utils.data.DataLoader(ds, batch_size=4, **kw)


def _record(action):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = action()
    return result, [(w.category, str(w.message)) for w in caught], [w.filename for w in caught]


@pytest.mark.parametrize("action", ["construct", "iter twice", "for loop", "next"])
def test_pin_memory_warns_as_pytorch(action):
    def run(lib):
        loader = _loader(lib, pin_memory=True)
        if action == "iter twice":
            iter(loader), iter(loader)
        elif action == "for loop":
            return [y.tolist() for _, y in loader]
        elif action == "next":
            return next(iter(loader))[1].tolist()
    ours, our_warnings, where = _record(lambda: run(cr))
    theirs, their_warnings, _ = _record(lambda: run(torch))
    assert ours == theirs
    assert our_warnings == their_warnings
    assert all(path == __file__ for path in where)


def test_no_warning_without_pin_memory():
    _, caught, _ = _record(lambda: list(_loader(cr)))
    assert caught == []
