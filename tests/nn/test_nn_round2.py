"""The second round of layers for real programs (EmbeddingBag, the 3-D convolutions and pools,
MaxUnpool, CTCLoss, Upsample's bicubic mode) and the spatial-transformer functions: reprs,
outputs, input and parameter gradients against PyTorch's layers holding the same
parameters, and PyTorch's errors and warnings."""
import warnings

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F


def _pair(shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape)
    return cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _same_params(ours, theirs):
    ours.load_state_dict({k: cr.tensor(v.detach().numpy().copy())
                          for k, v in theirs.state_dict().items()})


def _grads_match(ours, theirs, rtol=1e-7):
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=rtol, atol=1e-10,
                                   err_msg=name)


LAYERS = [
    ("Conv3d(4, 6, 3, padding=1)", (2, 4, 3, 5, 4)),
    ("Conv3d(4, 6, (2, 3, 1), stride=(1, 2, 1), dilation=(2, 1, 1), groups=2, bias=False)",
     (2, 4, 5, 5, 3)),
    ("Conv3d(2, 3, 3, padding='same', padding_mode='reflect')", (1, 2, 4, 4, 4)),
    ("Conv3d(2, 3, 2, padding=1, padding_mode='circular')", (2, 3, 3, 3)),
    ("ConvTranspose3d(4, 2, 3, stride=2, padding=1, output_padding=1)", (2, 4, 2, 3, 2)),
    ("ConvTranspose3d(4, 6, (2, 1, 3), groups=2, dilation=(2, 1, 1))", (4, 3, 2, 2)),
    ("MaxPool3d(2)", (2, 3, 4, 4, 6)),
    ("MaxPool3d((3, 2, 2), stride=(2, 1, 2), padding=1, ceil_mode=True)", (1, 2, 5, 4, 5)),
    ("AvgPool3d(2, stride=1)", (2, 3, 3, 4, 3)),
    ("AvgPool3d(3, stride=2, padding=1, count_include_pad=False)", (1, 2, 5, 5, 4)),
    ("AdaptiveAvgPool3d((2, None, 3))", (2, 2, 5, 3, 7)),
    ("AdaptiveAvgPool3d(1)", (2, 3, 2, 2, 2)),
    ("AdaptiveMaxPool3d((2, 3, 2))", (2, 2, 5, 6, 3)),
    ("Upsample(scale_factor=2, mode='bicubic')", (1, 2, 3, 4)),
    ("Upsample(size=(5, 3), mode='bicubic', align_corners=True)", (2, 1, 3, 4)),
]


@pytest.mark.parametrize("spec,shape", LAYERS, ids=[s for s, _ in LAYERS])
def test_layer_matches_pytorch(spec, shape):
    ours, theirs = eval("cr.nn." + spec).double(), eval("torch.nn." + spec).double()
    assert repr(ours) == repr(theirs)
    _same_params(ours, theirs)
    x, tx = _pair(shape)
    out, tout = ours(x), theirs(tx)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-7, atol=1e-10)
    g = np.random.default_rng(9).standard_normal(tuple(tout.shape))
    out.backward(cr.tensor(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-7, atol=1e-10)
    _grads_match(ours, theirs)


def test_conv3d_float32_and_default_init_scale():
    torch.manual_seed(0)
    cr.manual_seed(0)
    ours, theirs = cr.nn.Conv3d(3, 8, 3), torch.nn.Conv3d(3, 8, 3)
    bound = 1 / np.sqrt(3 * 27)  # kaiming_uniform_(a=√5): U(-1/√fan_in, 1/√fan_in)
    assert ours.weight.dtype == cr.float32 and float(ours.weight.abs().max()) <= bound
    _same_params(ours, theirs)
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 6, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(cr.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_conv_transpose3d_output_size():
    ours = cr.nn.ConvTranspose3d(2, 2, 3, stride=2)
    theirs = torch.nn.ConvTranspose3d(2, 2, 3, stride=2).double()
    ours = ours.double()
    _same_params(ours, theirs)
    x, tx = _pair((1, 2, 2, 3, 2))
    out = ours(x, output_size=(6, 8, 5))
    np.testing.assert_allclose(out.detach().numpy(),
                               theirs(tx, output_size=(6, 8, 5)).detach().numpy(), rtol=1e-7)
    assert out.shape == (1, 2, 6, 8, 5)


def test_conv3d_empty_batch():
    conv = cr.nn.Conv3d(2, 3, 2)
    x = cr.zeros(0, 2, 3, 3, 3, requires_grad=True)
    out = conv(x)
    assert out.shape == (0, 3, 2, 2, 2)
    out.sum().backward()
    assert x.grad.shape == x.shape and float(conv.weight.grad.abs().sum()) == 0.0


def test_max_pool3d_indices_and_unpool_round_trip():
    rng = np.random.default_rng(3)
    a = rng.permutation(2 * 2 * 4 * 4 * 6).reshape(2, 2, 4, 4, 6).astype(np.float64)
    pool, tpool = cr.nn.MaxPool3d(2, return_indices=True), torch.nn.MaxPool3d(2, return_indices=True)
    unpool, tunpool = cr.nn.MaxUnpool3d(2), torch.nn.MaxUnpool3d(2)
    assert repr(unpool) == repr(tunpool)
    out, idx = pool(cr.tensor(a))
    tout, tidx = tpool(torch.tensor(a))
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert idx.dtype == cr.int64
    x, tx = _pair(tuple(out.shape))
    back, tback = unpool(x, idx), tunpool(tx, tidx)
    np.testing.assert_array_equal(back.detach().numpy(), tback.detach().numpy())
    back.sum().backward()
    tback.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("nd", [1, 2])
def test_max_unpool_layers_with_output_size(nd):
    shape = (2, 3, 7) if nd == 1 else (2, 3, 5, 7)
    a = np.random.default_rng(4).permutation(int(np.prod(shape))).reshape(shape) * 1.0
    pool = getattr(torch.nn, f"MaxPool{nd}d")(2, return_indices=True)
    tout, tidx = pool(torch.tensor(a))
    ours, theirs = getattr(cr.nn, f"MaxUnpool{nd}d")(2), getattr(torch.nn, f"MaxUnpool{nd}d")(2)
    size = shape[2:]
    got = ours(cr.tensor(tout.numpy()), cr.tensor(tidx.numpy()), output_size=size)
    want = theirs(tout, tidx, output_size=size)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(ValueError, match="output_size"):
        ours(cr.tensor(tout.numpy()), cr.tensor(tidx.numpy()), output_size=tuple(s + 3 for s in size))


def test_max_unpool_rejects_bad_indices():
    x = cr.ones(1, 1, 2, 2)
    with pytest.raises(RuntimeError, match="invalid max index"):
        F.max_unpool2d(x, cr.tensor([[[[0, 1], [2, 99]]]]), 2)
    with pytest.raises(RuntimeError, match="same as that of the input"):
        F.max_unpool2d(x, cr.tensor([[[0, 1]]]), 2)


# ----------------------------------------------------------------- EmbeddingBag --
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_bag_layer_matches_pytorch(mode, padding_idx):
    ours = cr.nn.EmbeddingBag(6, 4, mode=mode, padding_idx=padding_idx).double()
    theirs = torch.nn.EmbeddingBag(6, 4, mode=mode, padding_idx=padding_idx).double()
    assert repr(ours) == repr(theirs)
    if padding_idx is not None:
        assert float(ours.weight[padding_idx].abs().sum()) == 0.0
    _same_params(ours, theirs)
    idx, off = [1, 2, 5, 2, 0, 3, 3, 4], [0, 3, 3, 6]
    out = ours(cr.tensor(idx), cr.tensor(off))
    tout = theirs(torch.tensor(idx), torch.tensor(off))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-7)
    g = np.random.default_rng(2).standard_normal(tuple(tout.shape))
    out.backward(cr.tensor(g))
    tout.backward(torch.tensor(g))
    _grads_match(ours, theirs)


def test_embedding_bag_text_classification_pattern():
    """The PyTorch text-classification tutorial: EmbeddingBag(mean) → Linear, a flat batch
    of token ids cut by offsets, trained with cross entropy."""
    class TextModel(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = cr.nn.EmbeddingBag(20, 8, sparse=False)
            self.fc = cr.nn.Linear(8, 3)

        def forward(self, text, offsets):
            return self.fc(self.embedding(text, offsets))

    cr.manual_seed(0)
    model = TextModel()
    opt = cr.optim.SGD(model.parameters(), lr=2.0)
    text = cr.tensor([1, 4, 5, 7, 2, 9, 11, 3, 3, 15])
    offsets = cr.tensor([0, 3, 6])
    labels = cr.tensor([0, 1, 2])
    first = None
    for _ in range(30):
        loss = cr.nn.functional.cross_entropy(model(text, offsets), labels)
        first = float(loss) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < first / 10


def test_embedding_bag_per_sample_weights_gradient():
    w, tw = _pair((5, 3))
    p, tp = _pair((6,), seed=1)
    idx, off = [0, 4, 4, 1, 2, 3], [0, 2]
    out = F.embedding_bag(cr.tensor(idx), w, cr.tensor(off), mode="sum", per_sample_weights=p)
    tout = torch.nn.functional.embedding_bag(torch.tensor(idx), tw, torch.tensor(off), mode="sum",
                                             per_sample_weights=tp)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-7)
    np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-7)


def test_embedding_bag_from_pretrained_and_max_norm():
    weights = np.random.default_rng(5).standard_normal((4, 3)) * 3
    ours = cr.nn.EmbeddingBag.from_pretrained(cr.tensor(weights), max_norm=1.0, mode="sum")
    theirs = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(weights), max_norm=1.0, mode="sum")
    assert repr(ours) == repr(theirs) and not ours.weight.requires_grad
    idx = [[0, 2], [3, 3]]
    np.testing.assert_allclose(ours(cr.tensor(idx)).numpy(), theirs(torch.tensor(idx)).numpy(),
                               rtol=1e-7)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-7)


@pytest.mark.parametrize("call,error,match", [
    (lambda w: F.embedding_bag(cr.tensor([1, 2]), w, cr.tensor([1])), ValueError, "offsets\\[0\\]"),
    (lambda w: F.embedding_bag(cr.tensor([1, 2]), w, cr.tensor([0, 5])), ValueError, "offsets\\[-1\\]"),
    (lambda w: F.embedding_bag(cr.tensor([1, 2]), w), ValueError, "1D Tensor"),
    (lambda w: F.embedding_bag(cr.tensor([[1, 2]]), w, cr.tensor([0])), ValueError, "2D"),
    (lambda w: F.embedding_bag(cr.tensor([1, 2]), w, cr.tensor([0]), mode="mean",
                               per_sample_weights=cr.ones(2)), NotImplementedError, "mode='sum'"),
    (lambda w: F.embedding_bag(cr.tensor([1, 9]), w, cr.tensor([0])), IndexError, "out of range"),
    (lambda w: F.embedding_bag(cr.tensor([1, 2]), w, cr.tensor([0]), mode="median"), ValueError,
     "mode"),
])
def test_embedding_bag_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(cr.ones(5, 2))


# ------------------------------------------------------------ spatial transformer --
def test_spatial_transformer_pattern_and_default_warning():
    """The spatial-transformer tutorial's stn(): affine_grid then grid_sample without
    align_corners; both warn as PyTorch does, and the gradient reaches theta."""
    theta, ttheta = _pair((2, 2, 3))
    x, tx = _pair((2, 3, 6, 5), seed=1)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        grid = F.affine_grid(theta, x.size())
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        out = F.grid_sample(x, grid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tout = torch.nn.functional.grid_sample(tx, torch.nn.functional.affine_grid(ttheta, tx.size()))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-7, atol=1e-12)
    out.square().sum().backward()
    tout.square().sum().backward()
    np.testing.assert_allclose(theta.grad.numpy(), ttheta.grad.numpy(), rtol=1e-7)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-7, atol=1e-12)


def test_grid_sample_identity_and_out_of_range():
    x = cr.arange(12.0).reshape(1, 1, 3, 4)
    grid = F.affine_grid(cr.tensor([[[1.0, 0, 0], [0, 1.0, 0]]]), (1, 1, 3, 4), align_corners=True)
    np.testing.assert_allclose(F.grid_sample(x, grid, align_corners=True).numpy(), x.numpy(),
                               rtol=1e-6, atol=1e-6)
    far = cr.full((1, 1, 1, 2), 5.0)
    assert float(F.grid_sample(x, far, align_corners=True)) == 0.0  # zeros padding
    assert float(F.grid_sample(x, far, padding_mode="border", align_corners=True)) == 11.0


@pytest.mark.parametrize("call,error,match", [
    (lambda: F.grid_sample(cr.ones(1, 1, 2, 2), cr.ones(1, 2, 2, 3), align_corners=False),
     ValueError, "size 2 in last"),
    (lambda: F.grid_sample(cr.ones(1, 1, 2, 2), cr.ones(1, 2, 2), align_corners=False),
     ValueError, "same number of dimensions"),
    (lambda: F.grid_sample(cr.ones(1, 1, 2, 2), cr.ones(1, 2, 2, 2), mode="cubic",
                           align_corners=False), ValueError, "mode"),
    (lambda: F.grid_sample(cr.ones(1, 1, 2, 2), cr.ones(1, 2, 2, 2), padding_mode="wrap",
                           align_corners=False), ValueError, "padding_mode"),
    (lambda: F.grid_sample(cr.ones(1, 1, 2, 2), cr.ones(1, 2, 2, 2, dtype=cr.float64),
                           align_corners=False), TypeError, "same dtype"),
    (lambda: F.affine_grid(cr.ones(2, 2, 3), (1, 1, 2, 2), align_corners=False), ValueError,
     "Nx2x3"),
    (lambda: F.affine_grid(cr.ones(1, 2, 3), (1, 1, 2), align_corners=False), NotImplementedError,
     "4D and 5D"),
])
def test_grid_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------- interpolate --
def test_interpolate_area_and_bicubic_argument_errors():
    x = cr.ones(1, 1, 4, 4)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, size=2, mode="area", align_corners=True)
    with pytest.raises(ValueError, match="bicubic"):
        F.interpolate(cr.ones(1, 1, 4), size=2, mode="bicubic")
    tx = torch.ones(1, 1, 4, 4)
    with pytest.raises(ValueError):
        torch.nn.functional.interpolate(tx, size=2, mode="area", align_corners=True)


# ---------------------------------------------------------------------------- CTC --
def test_ctc_loss_layer_training_step_matches_pytorch():
    """CTCLoss on log_softmax outputs of a Linear: the loss and the layer's gradients."""
    torch.manual_seed(0)
    ours, theirs = cr.nn.Linear(4, 5).double(), torch.nn.Linear(4, 5).double()
    _same_params(ours, theirs)
    assert repr(cr.nn.CTCLoss(blank=4)) == repr(torch.nn.CTCLoss(blank=4)) == "CTCLoss()"
    feats = np.random.default_rng(6).standard_normal((7, 3, 4))
    targets, il, tl = [[0, 1, 1], [2, 3, 0], [1, 2, 3]], [7, 6, 7], [3, 2, 3]
    loss = cr.nn.CTCLoss(blank=4)(ours(cr.tensor(feats)).log_softmax(2), cr.tensor(targets),
                                  cr.tensor(il), cr.tensor(tl))
    tloss = torch.nn.CTCLoss(blank=4)(theirs(torch.tensor(feats)).log_softmax(2),
                                      torch.tensor(targets), torch.tensor(il), torch.tensor(tl))
    np.testing.assert_allclose(float(loss), float(tloss.detach()), rtol=1e-10)
    loss.backward()
    tloss.backward()
    _grads_match(ours, theirs)


def test_ctc_loss_impossible_alignment():
    lp = cr.tensor(np.log(np.full((2, 1, 3), 1 / 3)), requires_grad=True)
    target = cr.tensor([[1, 1]])  # a repeated label needs a blank between: 3 steps
    assert float(F.ctc_loss(lp, target, [2], [2], reduction="sum")) == float("inf")
    zeroed = F.ctc_loss(lp, target, [2], [2], reduction="sum", zero_infinity=True)
    assert float(zeroed) == 0.0
    zeroed.backward()
    assert float(lp.grad.abs().sum()) == 0.0


@pytest.mark.parametrize("call,error,match", [
    (lambda lp: F.ctc_loss(lp, cr.tensor([[1]]), [4], [1]), ValueError, "at most 3"),
    (lambda lp: F.ctc_loss(lp, cr.tensor([[1]]), [3], [1], blank=5), ValueError, "blank"),
    (lambda lp: F.ctc_loss(lp, cr.tensor([[1]]), [3, 3], [1]), ValueError, "batch size"),
    (lambda lp: F.ctc_loss(lp, cr.tensor([[1]]), [3], [2]), ValueError, "at least 2"),
    (lambda lp: F.ctc_loss(lp, cr.tensor([[1]]), [3], [1], reduction="avg"), ValueError,
     "reduction"),
    (lambda lp: F.ctc_loss(lp, cr.tensor([[1.0]]), [3], [1]), TypeError, "integral"),
])
def test_ctc_loss_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(cr.zeros(3, 1, 4))


def test_new_layers_under_pytorch_module_paths():
    assert cr.nn.modules.conv.Conv3d is cr.nn.Conv3d
    assert cr.nn.modules.pooling.MaxUnpool2d is cr.nn.MaxUnpool2d
    assert cr.nn.modules.pooling.AdaptiveMaxPool3d is cr.nn.AdaptiveMaxPool3d
    assert cr.nn.modules.sparse.EmbeddingBag is cr.nn.EmbeddingBag
    assert cr.nn.modules.loss.CTCLoss is cr.nn.CTCLoss
