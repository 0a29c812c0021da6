"""The layers added for real programs (pixel shuffles, Fold/Unfold, Upsample, padding layers,
instance/RMS/local-response norms, BatchNorm3d, SyncBatchNorm, shrinkage activations, LPPool,
distance layers, triplet and multi-margin losses): reprs, outputs, gradients and running
statistics against PyTorch's layers holding the same parameters, and PyTorch's errors and
warnings."""
import warnings

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F


def _pair(shape, seed=0, positive=False):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.2
    return cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _same_params(ours, theirs):
    """Copy PyTorch's parameters and buffers into our layer (its initialisation is random)."""
    state = {k: cr.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)


def _check(ours, theirs, *shapes, positive=False, rtol=1e-7):
    """Same output and input gradients (float64) for layers given the same inputs."""
    pairs = [_pair(s, k, positive) for k, s in enumerate(shapes)]
    out = ours(*[p[0] for p in pairs])
    tout = theirs(*[p[1] for p in pairs])
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=rtol, atol=1e-10)
    g = np.random.default_rng(9).standard_normal(tuple(tout.shape))
    out.backward(cr.tensor(g))
    tout.backward(torch.tensor(g))
    for (x, tx) in pairs:
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=1e-10)
    return out, tout


LAYERS = [
    ("PixelShuffle(3)", [(2, 18, 2, 3)], {}),
    ("PixelUnshuffle(2)", [(2, 3, 4, 6)], {}),
    ("ChannelShuffle(2)", [(2, 4, 3, 3)], {}),
    ("Upsample(scale_factor=2)", [(1, 2, 3, 4)], {}),
    ("Upsample(size=(5, 7), mode='bilinear')", [(1, 2, 3, 4)], {}),
    ("Upsample(scale_factor=(1.5, 2), mode='bilinear', align_corners=True)", [(2, 1, 4, 3)], {}),
    ("Upsample(scale_factor=3, mode='linear')", [(2, 2, 4)], {}),
    ("Upsample(size=4, mode='nearest-exact')", [(1, 1, 3)], {}),
    ("UpsamplingNearest2d(scale_factor=2)", [(1, 2, 2, 3)], {}),
    ("UpsamplingBilinear2d(size=(4, 5))", [(1, 2, 2, 3)], {}),
    ("Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=2)", [(2, 3, 5, 6)], {}),
    ("Fold(output_size=(4, 5), kernel_size=2)", [(2, 8, 12)], {}),
    ("ReflectionPad1d(2)", [(2, 3, 4)], {}),
    ("ReflectionPad2d((1, 2, 0, 1))", [(1, 2, 3, 4)], {}),
    ("ReflectionPad3d(1)", [(1, 1, 2, 3, 3)], {}),
    ("ReplicationPad1d((3, 1))", [(2, 4)], {}),
    ("ReplicationPad2d(2)", [(1, 2, 3, 3)], {}),
    ("ReplicationPad3d((1, 0, 2, 1, 0, 1))", [(1, 2, 2, 2, 3)], {}),
    ("CircularPad1d(1)", [(1, 2, 3)], {}),
    ("CircularPad2d((1, 1, 2, 0))", [(1, 1, 3, 3)], {}),
    ("CircularPad3d(1)", [(1, 1, 2, 2, 2)], {}),
    ("ZeroPad1d((1, 2))", [(2, 3, 2)], {}),
    ("ZeroPad2d((1, 2, 3, 0))", [(1, 2, 2, 3)], {}),
    ("ZeroPad3d(1)", [(1, 1, 2, 2, 2)], {}),
    ("ConstantPad1d(2, 3.5)", [(2, 3)], {}),
    ("ConstantPad2d((1, 0, 2, 1), -1.0)", [(1, 2, 2, 2)], {}),
    ("ConstantPad3d(1, 0.5)", [(1, 1, 2, 2, 2)], {}),
    ("Hardshrink()", [(3, 4)], {}),
    ("Softshrink(0.3)", [(3, 4)], {}),
    ("RReLU()", [(3, 4)], {"eval": True}),
    ("Softmax2d()", [(2, 3, 2, 2)], {}),
    ("Softmax2d()", [(3, 2, 2)], {}),
    ("LPPool2d(2, 3)", [(1, 2, 6, 6)], {}),
    ("LPPool1d(1.5, 2, stride=1, ceil_mode=True)", [(2, 3, 5)], {"positive": True}),
    ("LocalResponseNorm(3)", [(2, 5, 3, 3)], {}),
    ("LocalResponseNorm(2, alpha=0.5, beta=0.5, k=2.0)", [(2, 4, 3)], {}),
    ("RMSNorm(4)", [(2, 3, 4)], {}),
    ("RMSNorm([3, 4], eps=1e-5, elementwise_affine=False)", [(2, 3, 4)], {}),
    ("InstanceNorm1d(3)", [(2, 3, 5)], {}),
    ("InstanceNorm2d(3, affine=True)", [(2, 3, 4, 4)], {}),
    ("InstanceNorm2d(3)", [(3, 4, 4)], {}),
    ("InstanceNorm3d(2, affine=True)", [(2, 2, 3, 2, 2)], {}),
    ("BatchNorm3d(2)", [(3, 2, 2, 2, 2)], {}),
    ("SyncBatchNorm(3)", [(4, 3, 2)], {}),
    ("SyncBatchNorm(3)", [(4, 3)], {}),
    ("CosineSimilarity(dim=0)", [(3, 4), (3, 4)], {}),
    ("PairwiseDistance(p=1.0, keepdim=True)", [(3, 4), (3, 4)], {}),
    ("TripletMarginLoss(margin=2.0, swap=True)", [(4, 3), (4, 3), (4, 3)], {}),
    ("TripletMarginWithDistanceLoss(margin=1.5, reduction='sum')", [(4, 3), (4, 3), (4, 3)], {}),
    ("Dropout3d()", [(2, 3, 2, 2, 2)], {"eval": True}),
    ("AlphaDropout(0.3)", [(2, 3)], {"eval": True}),
]


@pytest.mark.parametrize("spec,shapes,options", LAYERS, ids=[s for s, _, _ in LAYERS])
def test_layer_matches_pytorch(spec, shapes, options):
    ours = eval("cr.nn." + spec)
    theirs = eval("torch.nn." + spec).double()
    ours = ours.double()
    assert repr(ours) == repr(theirs)
    _same_params(ours, theirs)
    if options.get("eval"):
        ours.eval()
        theirs.eval()
    _check(ours, theirs, *shapes, positive=options.get("positive", False))


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 2, 5)),
                                       ("InstanceNorm2d", (2, 2, 3, 3)),
                                       ("BatchNorm3d", (3, 2, 2, 3, 2)),
                                       ("SyncBatchNorm", (4, 2, 3))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_running_statistics_match_pytorch(cls, shape, momentum):
    kwargs = dict(momentum=momentum, track_running_stats=True, affine=True)
    ours, theirs = getattr(cr.nn, cls)(2, **kwargs).double(), getattr(torch.nn, cls)(2, **kwargs).double()
    for step in range(3):
        x, tx = _pair(shape, step)
        ours(x)
        theirs(tx)
    for name, buffer in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name].numpy(), buffer.numpy(), rtol=1e-10,
                                   err_msg=name)
    ours.eval()
    theirs.eval()
    _check(ours, theirs, shape)


def test_instance_norm_channel_mismatch_warns_or_raises_as_pytorch():
    with pytest.warns(UserWarning, match="does not match num_features"):
        cr.nn.InstanceNorm1d(4)(cr.randn(2, 3, 5))
    with pytest.raises(ValueError, match="num_features"):
        cr.nn.InstanceNorm1d(4, affine=True)(cr.randn(2, 3, 5))
    with pytest.raises(ValueError, match="expected 3D or 4D input"):
        cr.nn.InstanceNorm2d(3)(cr.randn(3, 4))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(cr.randn(2, 3, 1))


def test_convert_sync_batchnorm_keeps_parameters_and_statistics():
    net = cr.nn.Sequential(cr.nn.Conv2d(2, 3, 1), cr.nn.BatchNorm2d(3), cr.nn.ReLU())
    net(cr.randn(4, 2, 3, 3))
    converted = cr.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert isinstance(converted[1], cr.nn.SyncBatchNorm)
    assert converted[1].weight is net[1].weight or np.array_equal(converted[1].weight.detach().numpy(),
                                                                   net[1].weight.detach().numpy())
    np.testing.assert_array_equal(converted[1].running_mean.numpy(), net[1].running_mean.numpy())
    assert int(converted[1].num_batches_tracked) == 1


def test_rrelu_training_slopes_lie_between_the_bounds():
    x = cr.full((2000,), -1.0, requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = -y.detach().numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes, rtol=1e-6)  # the same slopes
    with pytest.raises(ValueError, match="lower bound"):
        F.rrelu(x, 0.5, 0.1, training=True)


def test_deprecated_upsample_functions_warn_and_match_interpolate():
    x, tx = _pair((1, 2, 3, 3))
    for name in ("upsample_nearest", "upsample_bilinear", "upsample"):
        with pytest.warns(UserWarning, match=f"nn.functional.{name}` is deprecated"):
            out = getattr(F, name)(x, scale_factor=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tout = getattr(torch.nn.functional, name)(tx, scale_factor=2)
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-7)


def test_pixel_shuffle_and_unshuffle_are_inverses_and_refuse_bad_shapes():
    x = cr.randn(2, 8, 3, 5)
    assert np.array_equal(F.pixel_unshuffle(F.pixel_shuffle(x, 2), 2).numpy(), x.numpy())
    with pytest.raises(cr.errors.ShapeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(cr.ones(1, 6, 2, 2), 2)
    with pytest.raises(cr.errors.ShapeError, match="divisible by downscale_factor"):
        F.pixel_unshuffle(cr.ones(1, 1, 3, 4), 2)
    with pytest.raises(cr.errors.ShapeError, match="at least 3 dimensions"):
        F.pixel_shuffle(cr.ones(4, 4), 2)


def test_fold_of_unfold_counts_each_pixels_patches():
    # fold(unfold(x)) = x times the number of patches covering each pixel, as PyTorch
    x, tx = _pair((1, 2, 5, 5))
    geometry = dict(kernel_size=3, padding=1, stride=2)
    ours = F.fold(F.unfold(x, **geometry), (5, 5), **geometry)
    theirs = torch.nn.functional.fold(torch.nn.functional.unfold(tx, **geometry), (5, 5), **geometry)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10)
    with pytest.raises(cr.errors.ShapeError, match="sliding blocks"):
        F.fold(cr.ones(1, 9, 5), (5, 5), 3)
    with pytest.raises(cr.errors.ShapeError, match="components must be at least one"):
        F.unfold(cr.ones(1, 1, 2, 2), 3)


def test_gumbel_softmax_samples_and_straight_through_gradient():
    logits = cr.tensor([[1.0, 2.0, 0.5]] * 4000, requires_grad=True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.detach().numpy().sum(1), 1.0, rtol=1e-6)
    hard = F.gumbel_softmax(logits, hard=True)
    values = hard.detach().numpy()
    assert set(np.unique(values)) == {0.0, 1.0} and (values.sum(1) == 1).all()
    # the argmax of logits + Gumbel noise is a sample of softmax(logits)
    freq = values.mean(0)
    expected = torch.softmax(torch.tensor([1.0, 2.0, 0.5]), 0).numpy()
    assert np.abs(freq - expected).max() < 0.03
    hard.sum().backward()  # gradient of the soft sample: the rows of softmax sum to a constant
    assert np.abs(logits.grad.numpy()).max() < 1e-5


def test_losses_refuse_what_pytorch_refuses():
    with pytest.raises(cr.errors.ShapeError, match="same number of dimensions"):
        F.triplet_margin_loss(cr.ones(3, 2), cr.ones(3, 2), cr.ones(2))
    with pytest.raises(ValueError, match="margin to be greater than 0"):
        cr.nn.TripletMarginWithDistanceLoss(margin=0)
    with pytest.raises(ValueError, match="p == 1 and p == 2"):
        F.multi_margin_loss(cr.ones(2, 3), cr.tensor([0, 1]), p=3)
    with pytest.raises(cr.errors.ShapeError, match="out of range"):
        F.multi_margin_loss(cr.ones(2, 3), cr.tensor([0, 3]))
    with pytest.raises(ValueError, match="lambda must be in range"):
        F.softshrink(cr.ones(2), -1.0)


@pytest.mark.parametrize("spec", ["MultiMarginLoss(p=2, margin=0.5)", "MultiLabelSoftMarginLoss()",
                                  "MultiLabelMarginLoss(reduction='none')"])
def test_multiclass_loss_modules_match_pytorch(spec):
    ours, theirs = eval("cr.nn." + spec), eval("torch.nn." + spec)
    x, tx = _pair((3, 4))
    if "Soft" in spec:
        target = np.array([[1.0, 0, 1, 0], [0, 1, 1, 1], [0, 0, 0, 0]])
    elif "Label" in spec:
        target = np.array([[2, 0, -1, 3], [1, -1, 0, 0], [3, 2, 1, 0]])
    else:
        target = np.array([1, 3, 0])
    out, tout = ours(x, cr.tensor(target)), theirs(tx, torch.tensor(target))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-7)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-7, atol=1e-12)


def test_new_layers_are_reachable_by_pytorchs_module_paths():
    assert cr.nn.modules.padding.ReflectionPad2d is cr.nn.ReflectionPad2d
    assert cr.nn.modules.pixelshuffle.PixelShuffle is cr.nn.PixelShuffle
    assert cr.nn.modules.instancenorm.InstanceNorm2d is cr.nn.InstanceNorm2d
    assert cr.nn.modules.upsampling.Upsample is cr.nn.Upsample
    assert cr.nn.modules.dropout.FeatureAlphaDropout is cr.nn.FeatureAlphaDropout
