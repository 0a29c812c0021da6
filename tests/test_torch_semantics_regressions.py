"""Cases a review found where chainrule silently differed from PyTorch (each compared with torch)."""
import numpy as np
import pytest
import torch

import chainrule as cr


def _same(ours, theirs):
    a = ours.detach().numpy() if isinstance(ours, cr.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy()
    assert a.shape == b.shape and np.array_equal(a, b), (a, b)


@pytest.mark.parametrize("index", [
    (0, slice(None), [0, 2, 1]),
    (1, Ellipsis, [1, 0, 1]),
    (None, 0, slice(None), [1, 0, 1]),
    ([0, 1], 0, [1, 2]),
])
def test_ints_beside_index_lists_select_first(index):
    x, tx = cr.arange(12.).reshape(2, 2, 3), torch.arange(12.).reshape(2, 2, 3)
    _same(x[index], tx[index])
    w, tw = x.clone().requires_grad_(), tx.clone().requires_grad_()
    weights = np.arange(1.0, 1 + w[index].numel()).reshape(tuple(w[index].shape)).astype(np.float32)
    (w[index] * cr.tensor(weights)).sum().backward()
    (tw[index] * torch.from_numpy(weights)).sum().backward()
    _same(w.grad, tw.grad)


def test_setitem_with_int_and_list_writes_like_torch():
    z, tz = cr.zeros(2, 2, 3), torch.zeros(2, 2, 3)
    z[0, :, [0, 2]] = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    tz[0, :, [0, 2]] = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    _same(z, tz)
    v = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    tv = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h, th = cr.zeros(2, 2, 3) * 1, torch.zeros(2, 2, 3) * 1
    h[0, :, [0, 2]] = v * 1
    th[0, :, [0, 2]] = tv * 1
    (h * cr.arange(12.).reshape(2, 2, 3)).sum().backward()
    (th * torch.arange(12.).reshape(2, 2, 3)).sum().backward()
    _same(v.grad, tv.grad)


def test_views_see_a_recorded_inplace_change_and_gradients_stay_right():
    x, tx = cr.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    h, th = x * 2, tx * 2
    v, tv = h[0], th[0]
    h.mul_(10)
    th.mul_(10)
    _same(v, tv)
    w, tw = cr.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    h, th = cr.tensor([1.0, 2.0]) * 1, torch.tensor([1.0, 2.0]) * 1
    view, tview = h[0:1], th[0:1]
    h.mul_(w)
    th.mul_(tw)
    with cr.no_grad():
        view.fill_(100.0)
    with torch.no_grad():
        tview.fill_(100.0)
    h.sum().backward()
    th.sum().backward()
    _same(w.grad, tw.grad)


def test_a_gradient_kept_by_a_hook_is_not_changed_by_later_accumulation():
    x = cr.ones(2, requires_grad=True)
    kept = []
    x.register_hook(lambda g: kept.append(g))
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    assert kept[0].tolist() == [3.0, 3.0] and x.grad.tolist() == [6.0, 6.0]


def test_inplace_on_zero_dim_results_and_out_of_range_ints():
    v = cr.tensor([1.0, 2.0])
    v[0] *= 2
    assert v.tolist() == [2.0, 2.0]
    with cr.no_grad():
        s = v.sum()
        s += 1
    assert s.item() == 5.0
    u, tu = cr.tensor([0, 5], dtype=cr.uint8), torch.tensor([0, 5], dtype=torch.uint8)
    u.add_(-1)
    tu.add_(-1)
    assert u.tolist() == tu.tolist()


def test_root_gradient_takes_the_output_dtype():
    x = cr.ones(2, requires_grad=True)
    (x * 2).backward(cr.tensor([1.0, 1.0], dtype=cr.float64))
    assert x.grad.dtype == cr.float32


def test_flip_and_single_cat_return_new_memory():
    x = cr.tensor([1.0, 2.0, 3.0])
    w = cr.ones(3, requires_grad=True)
    loss = (w * x).sum()
    x.flip(0).zero_()
    cr.cat([x]).zero_()
    assert x.tolist() == [1.0, 2.0, 3.0]
    loss.backward()
    assert w.grad.tolist() == [1.0, 2.0, 3.0]


def test_operands_no_rule_reads_are_not_saved():
    # x*2 with only x requiring grad needs 2, not x: a later in-place write to x is fine
    x, tx = cr.ones(2, 2, requires_grad=True), torch.ones(2, 2, requires_grad=True)
    h, th = x * 1, tx * 1
    h[1:] = h[:-1] * 2
    th[1:] = th[:-1] * 2
    h.sum().backward()
    th.sum().backward()
    _same(x.grad, tx.grad)
    w = cr.ones(3, requires_grad=True)
    data = cr.tensor([1.0, 2.0, 3.0])
    y = data * w
    assert y.grad_fn.saved[1] is None and y.grad_fn.saved[0] is not None


def test_grad_mode_is_per_thread():
    import threading
    inside, recorded = threading.Event(), []
    release = threading.Event()

    def worker():
        with cr.no_grad():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    recorded.append((cr.ones(1, requires_grad=True) * 2).requires_grad)
    release.set()
    t.join()
    assert recorded == [True]


def test_addmm_beta_zero_ignores_input_and_tensordot_wraps_dims():
    nan = cr.full((2, 2), float("nan"))
    a, b = cr.ones(2, 3), cr.ones(3, 2)
    _same(cr.addmm(nan, a, b, beta=0), torch.addmm(torch.full((2, 2), float("nan")),
                                                  torch.ones(2, 3), torch.ones(3, 2), beta=0))
    x, y = cr.arange(6.).reshape(2, 3), cr.arange(12.).reshape(3, 4)
    _same(cr.tensordot(x, y, dims=([-1], [0])),
          torch.tensordot(torch.arange(6.).reshape(2, 3), torch.arange(12.).reshape(3, 4),
                          dims=([-1], [0])))


def test_softmax_over_an_empty_dim_is_empty():
    x = cr.zeros(3, 0)
    assert tuple(cr.softmax(x, dim=1).shape) == (3, 0)
    assert tuple(cr.log_softmax(x, dim=1).shape) == (3, 0)


@pytest.mark.parametrize("make", [lambda t: t.repeat(1, 1), lambda t: t.tile((1,)),
                                  lambda t: cr.nn.functional.pad(t, (0, 0)),
                                  lambda t: cr.nn.functional.pad(t, (-1, 0)),
                                  lambda t: cr.nn.functional.pad(t, (0, 0), mode="constant", value=1.0)])
def test_repeat_tile_and_pad_return_new_memory_even_when_nothing_is_added(make):
    x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    y = make(x)
    with cr.no_grad():
        y.zero_()  # would silently change x if y shared its memory
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    # and the gradient still flows back
    x2 = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    make(x2).sum().backward()
    assert x2.grad is not None and float(x2.grad.sum()) > 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_on_column_views_and_extremes_matches_torch(dtype):
    """sigmoid runs as exp passes into its output, and LSTM gates run them in place on column
    views (NumPy 2.4's float32 negative in place steps through an (N, 1) column view as if
    it were contiguous: the nn_lstm_layer one-step spec caught that). Views of a tensor,
    transposes and inputs whose exp overflows must all agree with PyTorch."""
    base = np.random.default_rng(0).normal(size=(3, 6)).astype(dtype) * 40
    base[0, 0], base[1, 0] = -1e4, 1e4
    t = cr.tensor(base)
    for index in ((slice(None), slice(3, 4)), (slice(None), slice(1, 3)), (slice(None, None, 2),
                                                                         slice(None, None, 3))):
        view = base[index]
        ours = cr.sigmoid(t[index]).numpy()
        theirs = torch.sigmoid(torch.tensor(np.ascontiguousarray(view))).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=4 * np.finfo(dtype).eps, atol=0)
    with np.errstate(all="raise"):  # exp(-x) over- and underflows here: limits, not errors
        extremes = cr.sigmoid(cr.tensor(np.array([-1e4, -200, 200, 1e4], dtype=dtype))).numpy()
    tiny = np.array(1 / (1 + np.exp(200.0))).astype(dtype)  # 1.4e-87: 0 in float32
    np.testing.assert_array_equal(extremes, np.array([0, tiny, 1, 1], dtype=dtype))


def test_relu_gradient_passes_through_nan_as_torch():
    """PyTorch's relu backward blocks only where the output is ≤ 0, so a NaN input gets the
    gradient; both the array rule and the recorded one (double backward) agree."""
    values = [float("nan"), -1.0, 0.0, 2.0]
    x, tx = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    cr.relu(x).backward(cr.ones(4))
    torch.relu(tx).backward(torch.ones(4))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    (g,) = cr.autograd.grad(cr.relu(x).sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad(torch.relu(tx).sum(), tx, create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), tg.detach().numpy())


@pytest.mark.parametrize("other", [0.0, 5, "tensor"])
def test_where_as_a_method_takes_the_tensor_as_its_values(other):
    # x.where(condition, y) is where(condition, x, y): x was once taken for the condition
    c, tc = cr.tensor([True, False, True]), torch.tensor([True, False, True])
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    tx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y, ty = (cr.tensor([7.0, 8.0, 9.0]), torch.tensor([7.0, 8.0, 9.0])) if other == "tensor" \
        else (other, other)
    out, tout = x.where(c, y), tx.where(tc, ty)
    _same(out, tout)
    out.sum().backward()
    tout.sum().backward()
    _same(x.grad, tx.grad)
