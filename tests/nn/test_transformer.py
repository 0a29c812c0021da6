"""Transformer, its encoder/decoder stacks and layers against PyTorch with identical weights.

The inputs require grad, which keeps PyTorch off its inference fast path (that path
zeroes padded positions; the regular path, which we follow, does not).
"""
import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import ShapeError
from tests.torch_oracle import assert_close, to_torch, load_into_torch

DTYPES = {"float64": (cr.float64, torch.float64), "float32": (cr.float32, torch.float32)}


def _mask(t):
    return None if t is None else torch.from_numpy(np.array(t.numpy(), copy=True))


def _compare(ours, theirs, *inputs, **masks):
    tinputs = [to_torch(x) for x in inputs]
    out = ours(*inputs, **masks)
    tout = theirs(*tinputs, **{k: _mask(v) for k, v in masks.items()})
    assert_close(out, tout, msg="output")
    g = cr.randn(*out.shape, dtype=out.dtype)
    out.backward(g)
    tout.backward(to_torch(g))
    for i, (x, tx) in enumerate(zip(inputs, tinputs)):
        assert_close(x.grad, tx.grad, msg=f"grad of input {i}")
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        assert_close(p.grad, tp.grad, msg=f"grad of {name}")


def _layer_pair(dtype, **kw):
    cr_dt, t_dt = DTYPES[dtype]
    ours = cr.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dtype=cr_dt, **kw)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dtype=t_dt, **kw)
    load_into_torch(ours, theirs)
    return ours, theirs, cr_dt


def _causal(n):
    return cr.arange(n).unsqueeze(0) > cr.arange(n).unsqueeze(1)  # True: not attended


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch_in_eval(activation, norm_first, batch_first, dtype):
    ours, theirs, dt = _layer_pair(dtype, activation=activation, norm_first=norm_first,
                                   batch_first=batch_first, dropout=0.1)
    ours.eval()
    theirs.eval()
    x = cr.randn(*((2, 5, 8) if batch_first else (5, 2, 8)), dtype=dt, requires_grad=True)
    padding = cr.tensor([[False] * 4 + [True], [False] * 5])
    _compare(ours, theirs, x, src_mask=_causal(5), src_key_padding_mask=padding)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_training_without_dropout_matches_torch(norm_first):
    ours, theirs, dt = _layer_pair("float64", norm_first=norm_first, dropout=0.0,
                                   layer_norm_eps=1e-3, batch_first=True)
    assert ours.training and theirs.training
    x = cr.randn(3, 4, 8, dtype=dt, requires_grad=True)
    _compare(ours, theirs, x)


def test_encoder_layer_callable_activation_and_unbatched():
    ours, theirs, dt = _layer_pair("float64", activation=torch.nn.functional.silu, dropout=0.0)
    ours.activation = cr.nn.functional.silu
    x = cr.randn(6, 8, dtype=dt, requires_grad=True)
    _compare(ours, theirs, x, src_mask=_causal(6))


def test_encoder_layer_dropout_active_only_in_training():
    layer = cr.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5, dtype=cr.float64)
    x = cr.randn(5, 2, 8, dtype=cr.float64)
    layer.eval()
    a = layer(x).detach().numpy()
    np.testing.assert_array_equal(layer(x).detach().numpy(), a)
    layer.train()
    b, c = layer(x).detach().numpy(), layer(x).detach().numpy()
    assert not np.allclose(a, b) and not np.allclose(b, c)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("final_norm", [False, True])
def test_encoder_stack_matches_torch(final_norm, dtype):
    cr_dt, t_dt = DTYPES[dtype]
    ours = cr.nn.TransformerEncoder(
        cr.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, dtype=cr_dt), num_layers=3,
        norm=cr.nn.LayerNorm(8, dtype=cr_dt) if final_norm else None)
    theirs = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, dtype=t_dt), num_layers=3,
        norm=torch.nn.LayerNorm(8, dtype=t_dt) if final_norm else None,
        enable_nested_tensor=False)
    load_into_torch(ours, theirs)
    ours.eval()
    theirs.eval()
    x = cr.randn(2, 6, 8, dtype=cr_dt, requires_grad=True)
    padding = cr.tensor([[False] * 6, [False] * 3 + [True] * 3])
    _compare(ours, theirs, x, mask=_causal(6), src_key_padding_mask=padding)


def test_encoder_layers_are_independent_copies():
    layer = cr.nn.TransformerEncoderLayer(8, 2, 16)
    enc = cr.nn.TransformerEncoder(layer, num_layers=2)
    names = [n for n, _ in enc.named_parameters()]
    assert names[0] == "layers.0.self_attn.in_proj_weight" and "layers.1.norm2.bias" in names
    assert len(names) == 2 * len(list(layer.parameters()))
    p0 = enc.layers[0].linear1.weight
    p1 = enc.layers[1].linear1.weight
    assert p0 is not p1 and p0 is not layer.linear1.weight
    np.testing.assert_array_equal(p0.detach().numpy(), p1.detach().numpy())


def test_encoder_layer_bad_activation():
    with pytest.raises(ValueError, match="activation.*'relu' or 'gelu'.*'tanh'"):
        cr.nn.TransformerEncoderLayer(8, 2, activation="tanh")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_encoder_agrees_with_torch_fast_path_off_the_padding():
    """torch's no-grad inference path zeroes padded positions; the others must agree."""
    ours = cr.nn.TransformerEncoder(cr.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
                                         2)
    load_into_torch(ours, theirs)
    ours.eval()
    theirs.eval()
    x = cr.randn(2, 5, 8)
    padding = cr.tensor([[False] * 3 + [True] * 2, [False] * 5])
    with torch.no_grad():
        tout = theirs(to_torch(x), src_key_padding_mask=_mask(padding))
    out = ours(x, src_key_padding_mask=padding)
    keep = ~padding.numpy()
    np.testing.assert_allclose(out.detach().numpy()[keep], tout.numpy()[keep], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- decoder --
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first, batch_first):
    kw = dict(dim_feedforward=16, norm_first=norm_first, batch_first=batch_first,
              dtype=cr.float64)
    ours = cr.nn.TransformerDecoderLayer(8, 2, **kw)
    theirs = torch.nn.TransformerDecoderLayer(8, 2, **{**kw, "dtype": torch.float64})
    load_into_torch(ours, theirs)
    ours.eval()
    theirs.eval()
    shape = (lambda n: (2, n, 8)) if batch_first else (lambda n: (n, 2, 8))
    tgt = cr.randn(*shape(4), dtype=cr.float64, requires_grad=True)
    memory = cr.randn(*shape(6), dtype=cr.float64, requires_grad=True)
    _compare(ours, theirs, tgt, memory,
             tgt_mask=_causal(4),
             tgt_key_padding_mask=cr.tensor([[False] * 4, [False] * 3 + [True]]),
             memory_key_padding_mask=cr.tensor([[False] * 5 + [True], [False] * 6]))


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_transformer_matches_torch(dtype):
    cr_dt, t_dt = DTYPES[dtype]
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
              dim_feedforward=16, batch_first=True)
    ours = cr.nn.Transformer(**kw, dtype=cr_dt)
    theirs = torch.nn.Transformer(**kw, dtype=t_dt)
    load_into_torch(ours, theirs)
    ours.eval()
    theirs.eval()
    src = cr.randn(2, 6, 8, dtype=cr_dt, requires_grad=True)
    tgt = cr.randn(2, 5, 8, dtype=cr_dt, requires_grad=True)
    padding = cr.tensor([[False] * 6, [False] * 4 + [True] * 2])
    _compare(ours, theirs, src, tgt,
             tgt_mask=cr.nn.Transformer.generate_square_subsequent_mask(5, dtype=cr_dt),
             src_key_padding_mask=padding, memory_key_padding_mask=padding)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_transformer_init_and_square_subsequent_mask():
    m = cr.nn.Transformer(16, 2, 1, 1, 32)
    t = torch.nn.Transformer(16, 2, 1, 1, 32)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    w = m.encoder.layers[0].linear1.weight.detach().numpy()  # xavier, not Linear's default
    bound = (6 / (16 + 32)) ** 0.5
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    np.testing.assert_array_equal(cr.nn.Transformer.generate_square_subsequent_mask(5).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(5).numpy())


def test_transformer_shape_errors():
    m = cr.nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(ShapeError, match=r"batch size of src and tgt.*\(5, 2, 8\).*\(4, 3, 8\)"):
        m(cr.randn(5, 2, 8), cr.randn(4, 3, 8))
    with pytest.raises(ShapeError, match="d_model=8"):
        m(cr.randn(5, 2, 8), cr.randn(4, 2, 6))
