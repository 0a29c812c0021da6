"""Anomaly mode: the error names the op and shows where its forward was called."""
import pytest

import chainrule as cr
from chainrule.errors import BackwardError

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _sqrt_at_zero():
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    y = x.sqrt()  # FORWARD-LINE
    return x, (y * 0).sum()  # 0 * inf in backward → nan


def _forward_line():
    import inspect
    src, start = inspect.getsourcelines(_sqrt_at_zero)
    return start + next(i for i, line in enumerate(src) if "FORWARD-LINE" in line)


def test_anomaly_names_op_and_forward_location():
    with cr.autograd.detect_anomaly():
        x, loss = _sqrt_at_zero()
        with pytest.raises(BackwardError) as info:
            loss.backward()
    msg = str(info.value)
    assert "SqrtBackward" in msg and "nan" in msg
    assert "'sqrt'" in msg
    assert f"test_anomaly.py\", line {_forward_line()}" in msg
    assert "y = x.sqrt()" in msg
    assert "chainrule/ops" not in msg  # only the user's frames are shown


def test_without_anomaly_nan_passes_silently():
    x, loss = _sqrt_at_zero()
    loss.backward()
    assert x.grad.isnan().any().item()


def test_anomaly_mode_is_restored_and_queryable():
    assert not cr.autograd.is_anomaly_enabled()
    with cr.autograd.detect_anomaly():
        assert cr.autograd.is_anomaly_enabled()
        with cr.autograd.set_detect_anomaly(False):
            assert not cr.autograd.is_anomaly_enabled()
        assert cr.autograd.is_anomaly_enabled()
    assert not cr.autograd.is_anomaly_enabled()


def test_set_detect_anomaly_as_call():
    cr.autograd.set_detect_anomaly(True)
    try:
        assert cr.autograd.is_anomaly_enabled()
    finally:
        cr.autograd.set_detect_anomaly(False)
    assert not cr.autograd.is_anomaly_enabled()


def test_detect_anomaly_as_decorator():
    @cr.autograd.detect_anomaly()
    def train_step():
        x, loss = _sqrt_at_zero()
        loss.backward()
    with pytest.raises(BackwardError, match="SqrtBackward"):
        train_step()
    assert not cr.autograd.is_anomaly_enabled()


def test_check_nan_false_only_records():
    with cr.autograd.detect_anomaly(check_nan=False):
        x, loss = _sqrt_at_zero()
        loss.backward()  # no error
    assert x.grad.isnan().any().item()


def test_anomaly_adds_forward_location_to_version_error():
    with cr.autograd.detect_anomaly():
        x = cr.tensor([1.0, 2.0], requires_grad=True)
        h = x * 2
        s = (h * h).sum()  # mul saves h
        with cr.no_grad():
            h.mul_(2)
        with pytest.raises(BackwardError) as info:
            s.backward()
    msg = str(info.value)
    assert "modified by an in-place operation" in msg
    assert "s = (h * h).sum()" in msg


def test_grads_fine_under_anomaly_mode():
    with cr.autograd.detect_anomaly():
        x = cr.tensor([1.0, 2.0], requires_grad=True)
        (x.exp() * x).sum().backward()
    assert x.grad is not None and x.grad.isfinite().all().item()


def test_a_modified_saved_output_names_its_forward_in_the_plain_backward():
    # recorded under anomaly mode, run by a plain backward() outside it (the array rules)
    x = cr.ones(3, requires_grad=True)
    with cr.autograd.detect_anomaly():
        y = x.exp()  # exp saves its output
    loss = y.sum()
    with cr.no_grad():
        y.add_(1)
    with pytest.raises(BackwardError, match="modified by an in-place operation") as info:
        loss.backward()
    assert "The forward op 'exp'" in str(info.value)
