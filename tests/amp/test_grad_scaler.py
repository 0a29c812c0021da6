"""chainrule.amp.GradScaler against torch.amp.GradScaler('cpu'): the same sequence of
gradients (with injected inf and nan) gives the same scales, growth counts, skipped steps
and parameters; the misuse errors are PyTorch's."""
import warnings

import numpy as np
import pytest
import torch

import chainrule as cr


def _pair(seed=0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    ours = [cr.tensor(w, requires_grad=True), cr.tensor(b, requires_grad=True)]
    theirs = [torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)]
    return ours, theirs


def _run(m, params, steps, scaler_kwargs, explicit_unscale):
    """Train ``params`` with a scaler; step k's loss is poisoned by inf/nan where
    ``steps[k]`` says so. Returns (scale after each update, trackers, params stepped?)."""
    opt = m.optim.SGD(params, lr=0.01)
    scaler = m.amp.GradScaler("cpu", **scaler_kwargs)
    x = m.tensor(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4))
    scales, trackers, stepped = [], [], []
    for poison in steps:
        opt.zero_grad()
        loss = (x @ params[0].T + params[1]).square().mean()
        if poison is not None:
            loss = loss * poison
        scaler.scale(loss).backward()
        if explicit_unscale:
            scaler.unscale_(opt)
        before = params[0].detach().clone()
        scaler.step(opt)
        stepped.append(not bool((params[0].detach() == before).all()))
        scaler.update()
        scales.append(scaler.get_scale())
        trackers.append(scaler._get_growth_tracker())
    return scales, trackers, stepped, [p.detach().numpy().copy() for p in params]


STEPS = [None, None, float("inf"), None, None, None, float("nan"), None, None, None, None]


@pytest.mark.parametrize("explicit_unscale", [False, True])
@pytest.mark.parametrize("kwargs", [dict(init_scale=2.0 ** 10, growth_interval=3),
                                    dict(init_scale=3.0e38, growth_interval=2),  # growth overflows
                                    dict(init_scale=16.0, growth_factor=3.0, backoff_factor=0.25,
                                         growth_interval=1)])
def test_scales_and_skipped_steps_match_pytorch(kwargs, explicit_unscale):
    ours, theirs = _pair()
    a = _run(cr, ours, STEPS, kwargs, explicit_unscale)
    b = _run(torch, theirs, STEPS, kwargs, explicit_unscale)
    assert a[0] == b[0], "scales"
    assert a[1] == b[1], "growth trackers"
    assert a[2] == b[2], "skipped steps"
    assert a[2][2] is False and a[2][6] is False  # inf and nan steps were skipped
    for p, q in zip(a[3], b[3]):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-7)


def test_unscale_divides_the_gradients_as_pytorch():
    ours, theirs = _pair(1)
    for m, params in ((cr, ours), (torch, theirs)):
        opt = m.optim.SGD(params, lr=0.1)
        scaler = m.amp.GradScaler("cpu", init_scale=3.0)
        scaler.scale(params[0].sum() * 0.1).backward()
        scaler.unscale_(opt)
    np.testing.assert_array_equal(ours[0].grad.numpy(), theirs[0].grad.numpy())


def test_scale_keeps_dtypes_and_structure():
    for m in (cr, torch):
        scaler = m.amp.GradScaler("cpu", init_scale=4.0)
        out = scaler.scale([m.ones(2, dtype=m.bfloat16), (m.ones(1),)])
        assert out[0].dtype == m.bfloat16 and out[1][0].dtype == m.float32
        assert out[0].tolist() == [4.0, 4.0] and isinstance(out[1], tuple)
    with pytest.raises(ValueError, match="Tensor or an iterable"):
        cr.amp.GradScaler("cpu").scale(3.0)


def test_misuse_raises_as_pytorch():
    for m in (cr, torch):
        w = m.tensor([1.0], requires_grad=True)
        opt = m.optim.SGD([w], lr=0.1)
        scaler = m.amp.GradScaler("cpu")
        with pytest.raises(AssertionError, match="scale"):
            scaler.step(opt)  # before any scale()
        scaler.scale(w.sum()).backward()
        scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="already been called on this optimizer"):
            scaler.unscale_(opt)
        scaler.step(opt)
        with pytest.raises(RuntimeError, match="after step"):
            scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
            scaler.step(opt)
        with pytest.raises(RuntimeError, match="[Cc]losure"):
            scaler.step(opt, closure=lambda: 0)
        scaler.update()
        with pytest.raises(AssertionError, match="growth factor"):
            m.amp.GradScaler("cpu", growth_factor=1.0)
        with pytest.raises(AssertionError, match="backoff factor"):
            m.amp.GradScaler("cpu", backoff_factor=1.0)
        half = m.tensor([1.0], dtype=m.float16, requires_grad=True)
        hopt = m.optim.SGD([half], lr=0.1)
        scaler.scale(half.sum()).backward()
        with pytest.raises(ValueError, match="(?i)unscale FP16 gradients"):
            scaler.unscale_(hopt)


def test_update_with_a_new_scale_and_state_dicts_load_across():
    ours = cr.amp.GradScaler("cpu", init_scale=8.0, growth_interval=5)
    theirs = torch.amp.GradScaler("cpu", init_scale=8.0, growth_interval=5)
    assert ours.state_dict() == theirs.state_dict()
    for m, s in ((cr, ours), (torch, theirs)):
        w = m.tensor([1.0], requires_grad=True)
        opt = m.optim.SGD([w], lr=0.1)
        s.scale(w.sum()).backward()
        s.step(opt)
        s.update(m.tensor(2.0))
        assert s.get_scale() == 2.0
        s.update(0.5)
        with pytest.raises(AssertionError, match="1-element"):
            s.update(m.ones(2))
    ours.load_state_dict(theirs.state_dict() | {"scale": 64.0, "_growth_tracker": 3})
    theirs.load_state_dict(ours.state_dict())
    assert ours.state_dict() == theirs.state_dict() == {
        "scale": 64.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 5,
        "_growth_tracker": 3}
    with pytest.raises(RuntimeError, match="state dict is empty"):
        ours.load_state_dict({})
    assert cr.amp.GradScaler("cpu", enabled=False).state_dict() == {} \
        == torch.amp.GradScaler("cpu", enabled=False).state_dict()


def test_disabled_and_deprecated_spellings_as_pytorch():
    for m in (cr, torch):
        with pytest.warns(UserWarning, match=r"CUDA is not available.\s+Disabling"):
            assert not m.amp.GradScaler().is_enabled()  # device 'cuda' by default
        with pytest.warns(FutureWarning, match=r"cpu\.amp\.GradScaler\(args\.\.\.\)` is deprecated"):
            s = m.cpu.amp.GradScaler(init_scale=4.0)
        assert s.is_enabled() and s.get_scale() == 4.0
        with pytest.warns(FutureWarning, match=r"cpu\.amp\.autocast\(args\.\.\.\)` is deprecated"):
            ctx = m.cpu.amp.autocast()
        with ctx:
            assert (m.ones(2, 3) @ m.ones(3, 2)).dtype == m.bfloat16
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cr.cpu.is_available() and cr.cpu.device_count() == 1
