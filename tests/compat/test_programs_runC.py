"""API forms real PyTorch programs use (official tutorials, pytorch/examples), checked against
PyTorch. Each test exercises a call the way such a program writes it; found by running them (runC).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor([9]),                 # f"Predicted class: {y_pred}" (buildmodel tutorial)
    lambda lib: lib.tensor([[1.5, 2.0]]),
    lambda lib: lib.tensor(2.5),
    lambda lib: lib.tensor(7),
])
def test_fstring_of_tensor(make):
    assert f"{make(cr)}" == f"{make(torch)}"


@pytest.mark.parametrize("spec", [".2f", ">8", "e"])
def test_format_spec(spec):
    assert format(cr.tensor(2.5), spec) == format(torch.tensor(2.5), spec)
    with pytest.raises(TypeError, match="unsupported format string"):
        format(torch.tensor([2.5]), spec)
    with pytest.raises(TypeError, match="unsupported format string"):
        format(cr.tensor([2.5]), spec)


def test_scatter_with_0d_index_on_a_vector():
    # transforms tutorial: zeros(10).scatter_(0, torch.tensor(y), value=1) builds a one-hot vector
    for lib in (cr, torch):
        assert lib.zeros(10).scatter_(0, lib.tensor(3), value=1).tolist() == \
            [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    ours = cr.zeros(5).scatter_add(0, cr.tensor(2), cr.tensor(7.0))
    theirs = torch.zeros(5).scatter_add(0, torch.tensor(2), torch.tensor(7.0))
    assert ours.tolist() == theirs.tolist()
    got = cr.gather(cr.arange(5.0), 0, cr.tensor(2))
    want = torch.gather(torch.arange(5.0), 0, torch.tensor(2))
    assert tuple(got.shape) == tuple(want.shape) and got.item() == want.item()


def test_scatter_0d_index_gradients():
    x, s = cr.zeros(5, requires_grad=True), cr.tensor(3.0, requires_grad=True)
    x.scatter(0, cr.tensor(1), s).sum().backward()
    tx, ts = torch.zeros(5, requires_grad=True), torch.tensor(3.0, requires_grad=True)
    tx.scatter(0, torch.tensor(1), ts).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    assert s.grad.item() == ts.grad.item() and tuple(s.grad.shape) == ()


def test_scatter_0d_index_on_a_matrix_still_refused():
    with pytest.raises(RuntimeError):
        torch.zeros(2, 5).scatter(0, torch.tensor(1), value=1)
    with pytest.raises(Exception, match="index must have as many dims"):
        cr.zeros(2, 5).scatter(0, cr.tensor(1), value=1)


def test_autograd_variable_legacy_wrapper():
    # nlp tutorials (stored versions): autograd.Variable(x, requires_grad=True), Variable(z.data)
    from chainrule.autograd import Variable as CV
    from torch.autograd import Variable as TV
    for lib, V in ((cr, CV), (torch, TV)):
        t = lib.ones(3)
        v = V(t, requires_grad=True)
        assert v is not t and v.requires_grad and not t.requires_grad
        v.data[0] = 5
        assert t.tolist() == [5.0, 1.0, 1.0]                      # shares t's data
        z = lib.ones(2, requires_grad=True) * 2
        w = V(z)
        assert w.grad_fn is None and not w.requires_grad           # history dropped
        assert isinstance(lib.zeros(1), V) and not isinstance([1.0], V)
        assert tuple(V().shape) == (0,)
        with pytest.raises(TypeError, match="has to be a tensor"):
            V([1.0, 2.0])
        with pytest.raises(Exception, match="floating"):
            V(lib.ones(2, dtype=lib.long), requires_grad=True)
        with pytest.warns(UserWarning, match="volatile was removed"):
            V(lib.ones(2), volatile=True)
    x = CV(cr.tensor([1.0, 2.0, 3.0]), requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 3, 4), (2, 3, 4, 5)])
def test_functional_softmax_without_dim_warns_and_picks_legacy_dim(name, shape):
    # sequence_models tutorial: F.log_softmax(tag_space) with no dim
    x = np.random.default_rng(0).standard_normal(shape)
    with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name}"):
        ours = getattr(cr.nn.functional, name)(cr.tensor(x))
    with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name}"):
        theirs = getattr(torch.nn.functional, name)(torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_softmax_module_without_dim_warns():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        cr.nn.Softmax()(cr.ones(2, 3))


@pytest.mark.parametrize("call, name", [
    (lambda x, g: x.clone().add_(-0.5, g), "add_"),      # char_rnn tutorials: p.data.add_(-lr, grad)
    (lambda x, g: x.add(-0.5, g), "add"),
    (lambda x, g: x.clone().sub_(0.5, g), "sub_"),
    (lambda x, g: x.sub(0.25, g), "sub"),
    (lambda x, g: x.clone().addcmul_(2, g, g), "addcmul_"),
    (lambda x, g: x.addcdiv(2, g, g), "addcdiv"),
])
def test_deprecated_scalar_first_overloads(call, name):
    x = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    g = np.array([2.0, 0.5, -1.0], dtype=np.float32)
    with pytest.warns(UserWarning, match=f"This overload of {name} is deprecated"):
        ours = call(cr.tensor(x), cr.tensor(g))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns once per process (TORCH_WARN_ONCE)
        theirs = call(torch.tensor(x), torch.tensor(g))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_usual_forms_do_not_warn():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = cr.ones(2)
        x.add_(cr.ones(2), alpha=2).add(3).sub(cr.ones(2), alpha=0.5).addcmul_(x, x, value=2)


def test_int_index_of_0dim_tensor_names_item():
    # char_rnn tutorial (stored version): `loss.data[0]` on a 0-dim loss
    with pytest.raises(IndexError, match=r"invalid index of a 0-dim tensor. Use `tensor.item\(\)`"):
        torch.tensor(2.0)[0]
    with pytest.raises(IndexError, match=r"invalid index of a 0-dim tensor. Use `tensor.item\(\)`"):
        cr.tensor(2.0)[0]
    assert cr.tensor(2.0)[...].item() == 2.0 and tuple(cr.tensor(2.0)[None].shape) == (1,)


@pytest.mark.parametrize("call", [
    lambda t: t.unsqueeze_(-1),          # char_rnn_generation tutorial: target.unsqueeze_(-1)
    lambda t: t.unsqueeze_(0),
    lambda t: t.t_(),
    lambda t: t.transpose_(0, 1),
    lambda t: t.swapdims_(1, 0),
    lambda t: t.swapaxes_(0, 1),
    lambda t: t.reshape(1, 2, 3).squeeze_(),
    lambda t: t.reshape(1, 2, 3).squeeze_(0),
])
def test_inplace_shape_ops(call):
    x = np.arange(6.0).reshape(2, 3)
    ours, theirs = cr.tensor(x), torch.tensor(x)
    r, tr = call(ours), call(theirs)
    assert tuple(r.shape) == tuple(tr.shape)
    np.testing.assert_array_equal(r.numpy(), tr.numpy())
    if call(cr.ones(2, 3)).ndim == 2 and r is ours:   # same tensor, new shape, same memory
        assert tuple(ours.shape) == tuple(theirs.shape)


def test_inplace_shape_op_shares_memory_and_records_history():
    for lib in (cr, torch):
        z = lib.ones(2, 3)
        flat = z.view(6)
        assert z.t_() is z and tuple(z.shape) == (3, 2)
        z[0, 1] = 5
        assert flat.tolist() == [1, 1, 1, 5, 1, 1]
        x = lib.ones(2, 3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            x.unsqueeze_(0)
        y = x * 2
        v = y._version
        y.unsqueeze_(0)
        assert tuple(y.shape) == (1, 2, 3) and y._version == v + 1
        (y * lib.arange(6.0).reshape(1, 2, 3)).sum().backward()
        assert x.grad.tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]


@pytest.mark.parametrize("shape, reps", [((3, 4, 4), (4, 1, 1, 1)), ((1, 3), (5, 1)), ((2,), (1,)),
                                         ((2, 3), (2, 2))])
def test_repeat_returns_writable_new_memory(shape, reps):
    # fast_neural_style: style.repeat(batch, 1, 1, 1) then normalize_batch's batch.div_(255)
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    ours, theirs = cr.tensor(x), torch.tensor(x)
    r, tr = ours.repeat(*reps), theirs.repeat(*reps)
    r.div_(2.0), tr.div_(2.0)
    np.testing.assert_array_equal(r.numpy(), tr.numpy())
    np.testing.assert_array_equal(ours.numpy(), x)      # the input is untouched


@pytest.mark.parametrize("kw", [{}, {"batch_first": True}, {"padding_value": -1.5},
                                {"batch_first": True, "padding_side": "left"}])
def test_pad_sequence_values_and_gradients(kw):
    # pytorch/examples language_translation: pad_sequence(src_batch, padding_value=pad_idx)
    from chainrule.nn.utils.rnn import pad_sequence as cr_pad
    from torch.nn.utils.rnn import pad_sequence as t_pad
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, 3)) for n in (2, 5, 1)]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = cr_pad(ours, **kw), t_pad(theirs, **kw)
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
    w = rng.standard_normal(tuple(tout.shape))
    (out * cr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_pad_sequence_errors_and_unpad():
    from chainrule.nn.utils.rnn import pad_sequence, unpad_sequence
    with pytest.raises(RuntimeError, match="empty list of sequences"):
        pad_sequence([])
    with pytest.raises(Exception, match="trailing dims"):
        pad_sequence([cr.ones(2, 3), cr.ones(2, 4)])
    ints = pad_sequence([cr.tensor([1, 2]), cr.tensor([3])], padding_value=9)
    assert ints.tolist() == [[1, 3], [2, 9]] and ints.dtype == cr.int64
    back = unpad_sequence(pad_sequence([cr.ones(2, 3), cr.ones(4, 3)]), cr.tensor([2, 4]))
    assert [tuple(t.shape) for t in back] == [(2, 3), (4, 3)]
