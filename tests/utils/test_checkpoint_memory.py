"""Checkpointing keeps fewer activations between forward and backward: checked by walking
the graph (the bytes of arrays its saved tensors hold) and by tracemalloc (NumPy reports
its buffers to it), not by timing."""
import gc
import tracemalloc

import pytest

import chainrule as cr
from chainrule.autograd.graph import SavedTensor
from chainrule.utils.checkpoint import checkpoint_sequential


def _held_bytes(root) -> int:
    """Bytes of the distinct arrays the graph below ``root`` keeps for backward (what a
    saved-tensor hook replaced is not held; parameters are not activations)."""
    seen, arrays, stack = set(), {}, [root]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        saved = list(getattr(node, "saved", None) or ()) + [getattr(node, "saved_ans", None)]
        for s in saved:
            if type(s) is SavedTensor:
                data = s.data if s.leaf is None else (None if s.leaf.requires_grad else s.leaf._data)
                if data is not None:
                    arrays[id(data)] = data.nbytes
            elif s is not None:  # hooked: no array, but its checkpoint keeps the inputs
                frame = s.packed[1].__self__
                for a in frame.args:
                    if isinstance(a, cr.Tensor) and not (a.is_leaf and a.requires_grad):
                        arrays[id(a._data)] = a._data.nbytes
        stack.extend(getattr(node, "next_nodes", ()))
    return sum(arrays.values())


# 20 layers in 5 checkpointed segments: 4 segment inputs and one segment's activations
# are held instead of 20 layers' (about 0.4 of them)
DEPTH, SEGMENTS = 20, 5


def _model(depth=DEPTH, width=256, p=0.0):
    cr.manual_seed(0)
    layers = []
    for _ in range(depth):
        layers += [cr.nn.Linear(width, width), cr.nn.ReLU()] + ([cr.nn.Dropout(p)] if p else [])
    return cr.nn.Sequential(*layers)


def _forward(model, x, segments):
    if segments:
        return checkpoint_sequential(model, segments, x, use_reentrant=False).sum()
    return model(x).sum()


@pytest.mark.parametrize("p", [0.0, 0.1], ids=["plain", "dropout"])
def test_checkpoint_keeps_at_most_half_the_saved_activations(p):
    model = _model(p=p)
    x = cr.randn(64, 256, requires_grad=True)
    plain = _held_bytes(_forward(model, x, 0).grad_fn)
    ckpt_loss = _forward(model, x, SEGMENTS)
    ckpt = _held_bytes(ckpt_loss.grad_fn)
    assert plain >= DEPTH * 64 * 256 * 4  # at least one activation a layer
    assert ckpt <= 0.5 * plain, (ckpt, plain)
    ckpt_loss.backward()  # and the graph still works


def _live_after_forward(model, x, segments) -> int:
    """Bytes allocated by the forward that are still live when backward would start."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        loss = _forward(model, x, segments)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del loss
    return held


def test_checkpoint_halves_live_memory_after_forward():
    model = _model()
    x = cr.randn(64, 256, requires_grad=True)
    plain = _live_after_forward(model, x, 0)
    ckpt = _live_after_forward(model, x, SEGMENTS)
    assert plain >= DEPTH * 64 * 256 * 4
    assert ckpt <= 0.5 * plain, (ckpt, plain)
