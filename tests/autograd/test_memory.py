"""Backward frees as it goes: saved arrays after each node, gradients once passed on."""
import gc
import tracemalloc
import weakref

import numpy as np

import chainrule as cr


def _sin_chain(n, size=8):
    """x → h1 → … → hn (each sin saves its input); weakrefs to each h's array."""
    x = cr.tensor(np.linspace(0.1, 1.0, size), requires_grad=True)
    hs, refs = [], []
    h = x
    for _ in range(n):
        h = h.sin()
        hs.append(h)
        refs.append(weakref.ref(h._data))
    return x, hs, refs


def test_saved_arrays_freed_node_by_node():
    x, hs, refs = _sin_chain(4)
    grad_refs = {}
    alive_at = {}

    def make_hook(i):
        def hook(g):
            grad_refs[i] = weakref.ref(g)
            # the node that saved h_i (its consumer) has run: h_i's array must be gone,
            # as must every later one and every later gradient
            alive_at[i] = ([r() is not None for r in refs[i:]],
                           [grad_refs[j]() is not None for j in range(i + 1, len(refs))])
        return hook

    for i, h in enumerate(hs):
        h.register_hook(make_hook(i))
    loss = hs[-1].sum()
    del hs, h
    gc.collect()
    assert all(r() is not None for r in refs[:-1])  # held by the graph (sum saves nothing)
    assert refs[-1]() is None
    loss.backward()
    for i in range(len(refs) - 1):
        arrays, grads = alive_at[i]
        assert not any(arrays), f"at h{i}: saved arrays still alive {arrays}"
        assert not any(grads), f"at h{i}: intermediate gradients still alive {grads}"
    assert x.grad is not None


def test_retain_graph_keeps_saved_arrays():
    x, hs, refs = _sin_chain(3)
    loss = hs[-1].sum()
    del hs
    loss.backward(retain_graph=True)
    gc.collect()
    assert all(r() is not None for r in refs[:-1])
    loss.backward()
    gc.collect()
    assert not any(r() is not None for r in refs[:-1])


def test_graph_freed_when_output_dropped():
    x, hs, refs = _sin_chain(3)
    loss = hs[-1].sum()
    del hs, loss
    gc.collect()
    assert not any(r() is not None for r in refs)


def test_no_grad_saves_nothing():
    x = cr.ones(4, requires_grad=True)
    with cr.no_grad():
        h = x.sin()
        ref = weakref.ref(h._data)
        y = h.sin()
    del h
    gc.collect()
    assert ref() is None and y.grad_fn is None


def test_peak_memory_of_backward_is_bounded_by_activations():
    n, size = 8, 250_000  # 2 MB float64 per activation
    x = cr.tensor(np.linspace(0, 1, size), requires_grad=True)
    gc.collect()
    tracemalloc.start()
    try:
        h = x
        for _ in range(n):
            h = h.sin()
        loss = h.sum()
        del h
        forward_mem, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        loss.backward()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one = size * 8
    # the graph held n - 1 activations (sum saves nothing); backward needs only a few
    # arrays at a time on top of them
    assert forward_mem >= (n - 1) * one * 0.95
    assert peak - forward_mem < 4 * one, (forward_mem / one, peak / one)
    assert after < forward_mem - (n - 3) * one  # activations released; x.grad remains


def test_backward_into_existing_grads_holds_one_weight_gradient_at_a_time():
    # with .grad kept (zero_grad(set_to_none=False)) each weight's fresh gradient is summed
    # into .grad and must be garbage before the next layer's is made
    cr.manual_seed(0)
    width, depth, batch = 256, 6, 32
    layers = []
    for _ in range(depth):
        layers += [cr.nn.Linear(width, width, bias=False), cr.nn.ReLU()]
    model = cr.nn.Sequential(*layers)
    x = cr.randn(batch, width)
    model(x).sum().backward()
    model.zero_grad(set_to_none=False)
    gc.collect()
    tracemalloc.start()
    try:
        out = model(x).sum()
        start, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        out.backward()
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    weight_bytes = width * width * 4
    activation_bytes = batch * width * 4
    # one weight gradient plus a few activation-sized buffers, never two weight gradients
    assert peak < weight_bytes + 6 * activation_bytes, peak
