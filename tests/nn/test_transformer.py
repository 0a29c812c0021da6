"""TransformerEncoderLayer and TransformerEncoder against PyTorch with identical weights.

The inputs require grad, which keeps PyTorch off its inference fast path (that path
zeroes padded positions; the regular path, which we follow, does not).
"""
import numpy as np
import pytest
import torch

import chainrule as cr
from tests.torch_oracle import assert_close, to_torch

DTYPES = {"float64": (cr.float64, torch.float64), "float32": (cr.float32, torch.float32)}


def _load_into_torch(ours, theirs):
    sd = ours.state_dict()
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy(), copy=True))
                            for k, v in sd.items()})


def _mask(t):
    return None if t is None else torch.from_numpy(np.array(t.numpy(), copy=True))


def _compare(ours, theirs, x, **masks):
    tx = to_torch(x)
    out = ours(x, **masks)
    tout = theirs(tx, **{k: _mask(v) for k, v in masks.items()})
    assert_close(out, tout, msg="output")
    g = cr.randn(*out.shape, dtype=out.dtype)
    out.backward(g)
    tout.backward(to_torch(g))
    assert_close(x.grad, tx.grad, msg="grad of src")
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        assert_close(p.grad, tp.grad, msg=f"grad of {name}")


def _layer_pair(dtype, **kw):
    cr_dt, t_dt = DTYPES[dtype]
    ours = cr.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dtype=cr_dt, **kw)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dtype=t_dt, **kw)
    _load_into_torch(ours, theirs)
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
    _load_into_torch(ours, theirs)
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
    _load_into_torch(ours, theirs)
    ours.eval()
    theirs.eval()
    x = cr.randn(2, 5, 8)
    padding = cr.tensor([[False] * 3 + [True] * 2, [False] * 5])
    with torch.no_grad():
        tout = theirs(to_torch(x), src_key_padding_mask=_mask(padding))
    out = ours(x, src_key_padding_mask=padding)
    keep = ~padding.numpy()
    np.testing.assert_allclose(out.detach().numpy()[keep], tout.numpy()[keep], rtol=1e-4, atol=1e-5)
