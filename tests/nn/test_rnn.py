"""RNN, LSTM, GRU and their cells against PyTorch with identical weights.

Weights go from our module to torch's through ``state_dict`` (so names and shapes
must match); forward values and the gradients of the input, the initial state and
every parameter are compared, with random upstream gradients on every output.
"""
import math

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import DTypeError, ShapeError
from tests.torch_oracle import assert_close, to_torch, load_into_torch

DTYPES = {"float64": (cr.float64, torch.float64), "float32": (cr.float32, torch.float32)}
LAYERS = {"RNN": (cr.nn.RNN, torch.nn.RNN), "LSTM": (cr.nn.LSTM, torch.nn.LSTM),
          "GRU": (cr.nn.GRU, torch.nn.GRU)}
CELLS = {"RNNCell": (cr.nn.RNNCell, torch.nn.RNNCell), "LSTMCell": (cr.nn.LSTMCell, torch.nn.LSTMCell),
         "GRUCell": (cr.nn.GRUCell, torch.nn.GRUCell)}


def _randn(*shape, dtype, requires_grad=True):
    return cr.randn(*shape, dtype=dtype, requires_grad=requires_grad)


def _flatten(out) -> list:
    """Nested tuples of outputs ((output, (h, c)), (h, c), h …) → a flat list."""
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _flatten(item)]
    return [out]


def _compare(ours_mod, torch_mod, args, torch_args, leaves, torch_leaves):
    ours_list = _flatten(ours_mod(*args))
    theirs_list = _flatten(torch_mod(*torch_args))
    assert len(ours_list) == len(theirs_list)
    for i, (a, b) in enumerate(zip(ours_list, theirs_list)):
        assert_close(a, b, msg=f"output {i}")
    # a random upstream gradient on every output, so each path back is checked
    grads = [cr.randn(*a.shape, dtype=a.dtype) for a in ours_list]
    cr.autograd.backward(ours_list, grads)
    torch.autograd.backward(theirs_list, [to_torch(g) for g in grads])
    for i, (a, b) in enumerate(zip(leaves, torch_leaves)):
        assert a.grad is not None, f"leaf {i} got no gradient"
        assert_close(a.grad, b.grad, msg=f"grad of leaf {i}")
    for (name, p), (tname, tp) in zip(ours_mod.named_parameters(), torch_mod.named_parameters()):
        assert name == tname
        assert_close(p.grad, tp.grad, msg=f"grad of {name}")


def _build(kind, dtype, **kw):
    ours_cls, torch_cls = LAYERS[kind]
    cr_dt, t_dt = DTYPES[dtype]
    ours = ours_cls(4, 5, dtype=cr_dt, **kw)
    theirs = torch_cls(4, 5, dtype=t_dt, **kw)
    load_into_torch(ours, theirs)
    return ours, theirs, cr_dt


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("kind", ["RNN", "RNN-relu", "LSTM", "GRU"])
def test_layer_matches_torch(kind, layers, bidirectional, batch_first, dtype):
    extra = {"nonlinearity": "relu"} if kind == "RNN-relu" else {}
    ours, theirs, dt = _build(kind.split("-")[0], dtype, num_layers=layers,
                              bidirectional=bidirectional, batch_first=batch_first, **extra)
    seq, batch, dirs = 6, 3, 2 if bidirectional else 1
    x = _randn(*((batch, seq, 4) if batch_first else (seq, batch, 4)), dtype=dt)
    h0 = _randn(layers * dirs, batch, 5, dtype=dt)
    leaves = [x, h0]
    if kind == "LSTM":
        c0 = _randn(layers * dirs, batch, 5, dtype=dt)
        leaves.append(c0)
        state, tstate = (h0, c0), (to_torch(h0), to_torch(c0))
    else:
        state, tstate = h0, to_torch(h0)
    tleaves = [to_torch(x)] + (list(tstate) if isinstance(tstate, tuple) else [tstate])
    _compare(ours, theirs, (x, state), (tleaves[0], tstate), leaves, tleaves)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_default_zero_state_and_long_sequence(kind):
    # 23 steps: past the chunking threshold of _time_steps (16), chunks of unequal size
    ours, theirs, dt = _build(kind, "float64", num_layers=2, bidirectional=True)
    x = _randn(23, 2, 4, dtype=dt)
    tx = to_torch(x)
    _compare(ours, theirs, (x,), (tx,), [x], [tx])


@pytest.mark.parametrize("kind", list(LAYERS))
def test_unbatched_input(kind):
    ours, theirs, dt = _build(kind, "float64", num_layers=2, bidirectional=True, batch_first=True)
    x = _randn(7, 4, dtype=dt)
    h0 = _randn(4, 5, dtype=dt)
    if kind == "LSTM":
        c0 = _randn(4, 5, dtype=dt)
        args, targs = (x, (h0, c0)), (to_torch(x), (to_torch(h0), to_torch(c0)))
        leaves, tleaves = [x, h0, c0], [targs[0], *targs[1]]
    else:
        args, targs = (x, h0), (to_torch(x), to_torch(h0))
        leaves, tleaves = [x, h0], list(targs)
    out = ours(*args)
    assert tuple(out[0].shape) == (7, 10)
    _compare(ours, theirs, args, targs, leaves, tleaves)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_without_bias(kind):
    ours, theirs, dt = _build(kind, "float64", bias=False, num_layers=2)
    assert not any("bias" in n for n, _ in ours.named_parameters())
    x = _randn(5, 2, 4, dtype=dt)
    tx = to_torch(x)
    _compare(ours, theirs, (x,), (tx,), [x], [tx])


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_lstm_proj_size(dtype):
    ours, theirs, dt = _build("LSTM", dtype, proj_size=3, num_layers=2, bidirectional=True)
    x = _randn(5, 2, 4, dtype=dt)
    h0, c0 = _randn(4, 2, 3, dtype=dt), _randn(4, 2, 5, dtype=dt)
    out, (h, c) = ours(x, (h0, c0))
    assert tuple(out.shape) == (5, 2, 6) and tuple(h.shape) == (4, 2, 3) and tuple(c.shape) == (4, 2, 5)
    for t in (x, h0, c0):
        t.grad = None
    targs = (to_torch(x), (to_torch(h0), to_torch(c0)))
    _compare(ours, theirs, (x, (h0, c0)), targs, [x, h0, c0], [targs[0], *targs[1]])


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("kind", ["RNNCell", "RNNCell-relu", "LSTMCell", "GRUCell"])
def test_cell_matches_torch(kind, batched, dtype):
    ours_cls, torch_cls = CELLS[kind.split("-")[0]]
    cr_dt, t_dt = DTYPES[dtype]
    extra = {"nonlinearity": "relu"} if kind.endswith("relu") else {}
    ours, theirs = ours_cls(4, 5, dtype=cr_dt, **extra), torch_cls(4, 5, dtype=t_dt, **extra)
    load_into_torch(ours, theirs)
    lead = (3,) if batched else ()
    x = _randn(*lead, 4, dtype=cr_dt)
    h = _randn(*lead, 5, dtype=cr_dt)
    if kind == "LSTMCell":
        c = _randn(*lead, 5, dtype=cr_dt)
        args, targs = (x, (h, c)), (to_torch(x), (to_torch(h), to_torch(c)))
        leaves, tleaves = [x, h, c], [targs[0], *targs[1]]
    else:
        args, targs = (x, h), (to_torch(x), to_torch(h))
        leaves, tleaves = [x, h], list(targs)
    _compare(ours, theirs, args, targs, leaves, tleaves)
    # and with the default zero state
    for p in list(ours.parameters()) + [x]:
        p.grad = None
    for p in list(theirs.parameters()):
        p.grad = None
    tx = to_torch(x)
    _compare(ours, theirs, (x,), (tx,), [x], [tx])


def test_cell_steps_equal_layer():
    """Unrolling LSTMCell by hand gives the LSTM layer's output (same weights)."""
    layer = cr.nn.LSTM(4, 5, dtype=cr.float64)
    cell = cr.nn.LSTMCell(4, 5, dtype=cr.float64)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = cr.randn(6, 2, 4, dtype=cr.float64)
    out, (h_n, c_n) = layer(x)
    h = c = None
    for t in range(6):
        h, c = cell(x[t], None if h is None else (h, c))
        np.testing.assert_allclose(h.detach().numpy(), out[t].detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(c.detach().numpy(), c_n[0].detach().numpy(), rtol=1e-12)


def test_gradcheck_gru_finite_differences():
    gru = cr.nn.GRU(2, 3, num_layers=2, bidirectional=True, dtype=cr.float64)
    x = cr.randn(4, 2, 2, dtype=cr.float64, requires_grad=True)
    h0 = cr.randn(4, 2, 3, dtype=cr.float64, requires_grad=True)
    assert cr.autograd.gradcheck(lambda a, b: gru(a, b)[0], (x, h0), fast_mode=True)
    w = gru.weight_hh_l1_reverse
    assert cr.autograd.gradcheck(lambda a: _with_param(gru, "weight_hh_l1_reverse", a, x, h0),
                                 (w.detach().requires_grad_(),), fast_mode=True)


def _with_param(module, name, value, x, h0):
    saved = module._parameters[name]
    module._parameters[name] = value
    try:
        return module(x, h0)[0]
    finally:
        module._parameters[name] = saved


# ----------------------------------------------------------------- dropout --
@pytest.mark.parametrize("kind", list(LAYERS))
def test_dropout_only_in_training(kind):
    ours, theirs, dt = _build(kind, "float64", num_layers=3, dropout=0.5)
    x = cr.randn(5, 2, 4, dtype=dt)
    ours.eval()
    theirs.eval()
    first = ours(x)[0]
    assert_close(first, theirs(to_torch(x))[0])
    assert_close(ours(x)[0], first.detach().numpy(), msg="eval is deterministic")
    ours.train()
    a, b = ours(x)[0], ours(x)[0]
    assert not np.allclose(a.detach().numpy(), first.detach().numpy())
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())


def test_dropout_is_between_layers_only():
    # the last layer's output is never dropped: with one layer, train == eval
    with pytest.warns(UserWarning, match="num_layers=1"):
        rnn = cr.nn.GRU(4, 5, dropout=0.9, dtype=cr.float64)
    x = cr.randn(5, 2, 4, dtype=cr.float64)
    np.testing.assert_array_equal(rnn(x)[0].detach().numpy(), rnn.eval()(x)[0].detach().numpy())


# ------------------------------------------------------------ construction --
@pytest.mark.parametrize("kind", list(LAYERS))
def test_initialisation_is_uniform_in_bound(kind):
    m = LAYERS[kind][0](30, 40, num_layers=2, bidirectional=True)
    bound = 1 / math.sqrt(40)
    values = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert abs(values.mean()) < 0.02 * bound


def test_parameter_names_shapes_and_all_weights():
    m = cr.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    t = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in t.named_parameters()]
    assert [[tuple(p.shape) for p in group] for group in m.all_weights] == \
        [[tuple(p.shape) for p in group] for group in t.all_weights]
    assert repr(m) == repr(t)
    assert repr(cr.nn.RNN(3, 4, 2, nonlinearity="relu", batch_first=True)) == \
        repr(torch.nn.RNN(3, 4, 2, nonlinearity="relu", batch_first=True))
    assert repr(cr.nn.GRUCell(3, 4, bias=False)) == repr(torch.nn.GRUCell(3, 4, bias=False))


def test_float32_module_by_default_and_to_float64():
    m = cr.nn.GRU(3, 4)
    assert m.weight_ih_l0.dtype == cr.float32
    m.double()
    out, h = m(cr.randn(2, 1, 3, dtype=cr.float64))
    assert out.dtype == cr.float64 and h.dtype == cr.float64


# ------------------------------------------------------------------ errors --
def test_wrong_input_size_names_layer_and_shapes():
    with pytest.raises(ShapeError, match=r"LSTM.*input_size.*expected 4, got 3.*\(5, 2, 3\)"):
        cr.nn.LSTM(4, 5)(cr.randn(5, 2, 3))


def test_wrong_input_rank():
    with pytest.raises(ShapeError, match=r"GRU.*2-D.*3-D.*\(1, 5, 2, 4\)"):
        cr.nn.GRU(4, 5)(cr.randn(1, 5, 2, 4))


def test_wrong_state_shape():
    with pytest.raises(ShapeError, match=r"RNN.*hx of shape \(4, 2, 5\).*got \(2, 2, 5\)"):
        cr.nn.RNN(4, 5, num_layers=2, bidirectional=True)(cr.randn(3, 2, 4), cr.randn(2, 2, 5))
    with pytest.raises(ShapeError, match=r"LSTM.*c_0 of shape \(1, 2, 5\)"):
        cr.nn.LSTM(4, 5)(cr.randn(3, 2, 4), (cr.randn(1, 2, 5), cr.randn(1, 3, 5)))
    with pytest.raises(TypeError, match="tuple"):
        cr.nn.LSTM(4, 5)(cr.randn(3, 2, 4), cr.randn(1, 2, 5))
    with pytest.raises(ShapeError, match=r"GRUCell.*hx of shape \(2, 5\)"):
        cr.nn.GRUCell(4, 5)(cr.randn(2, 4), cr.randn(3, 5))


def test_dtype_mismatch():
    with pytest.raises(DTypeError, match="float64.*float32"):
        cr.nn.GRU(4, 5)(cr.randn(3, 2, 4, dtype=cr.float64))
    with pytest.raises(DTypeError, match="float64.*float32"):
        cr.nn.LSTMCell(4, 5)(cr.randn(2, 4, dtype=cr.float64))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="nonlinearity"):
        cr.nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        cr.nn.LSTM(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="proj_size"):
        cr.nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="hidden_size"):
        cr.nn.GRU(3, 0)


# ------------------------------------------------------------- real client --
def test_pytorch_style_training_script_runs_and_learns():
    """A tutorial-shaped model (written as for torch) learns to sum a sequence: far better
    than predicting the mean (the loss ends below a tenth of the targets' variance)."""
    torch_like = cr  # the script below is PyTorch code with ``import chainrule as torch``

    class Summer(torch_like.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch_like.nn.GRU(1, 16, batch_first=True)
            self.head = torch_like.nn.Linear(16, 1)

        def forward(self, x):
            self.rnn.flatten_parameters()
            out, h = self.rnn(x)
            return self.head(out[:, -1])

    model = Summer()
    opt = torch_like.optim.Adam(model.parameters(), lr=0.03)
    loss_fn = torch_like.nn.MSELoss()
    x = torch_like.rand(64, 6, 1) * 2 - 1
    y = x.sum(1)
    for _ in range(50):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * y.var().item(), (loss.item(), y.var().item())


def test_lstm_layer_gradients_follow_an_upstream_gradient_changed_in_place():
    """The layer's four array rules share one pass of backpropagation through time, made
    per call: asking for one input's gradient, changing the upstream gradient in place and
    asking for another must use the new values (a result kept between calls once did not)."""
    from chainrule.nn._lstm import lstm_layer
    cr.manual_seed(0)
    gi = cr.randn(3, 2, 8, requires_grad=True)
    h0, c0 = cr.randn(2, 2), cr.randn(2, 2)
    w = cr.randn(8, 2, requires_grad=True)
    y = lstm_layer(gi, h0, c0, w)
    gy = cr.randn(*y.shape)
    cr.autograd.grad(y, gi, gy, retain_graph=True)
    gy.mul_(2)
    (dw,) = cr.autograd.grad(y, w, gy)
    (fresh,) = cr.autograd.grad(lstm_layer(gi, h0, c0, w), w, gy)
    assert_close(dw, fresh)
