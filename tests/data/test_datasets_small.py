"""Bundled digits and the synthetic demo sets."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import digits, moons, spirals
from chainrule.utils.data import DataLoader, TensorDataset


def test_digits_split_shapes_ranges_and_determinism():
    train, test = digits("train"), digits("test")
    x, y = train.tensors
    assert isinstance(train, TensorDataset)
    assert tuple(x.shape) == (1437, 1, 8, 8) and len(test) == 360
    assert x.dtype == cr.float32 and y.dtype == cr.int64
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert sorted(set(y.tolist())) == list(range(10))
    again = digits("train")
    np.testing.assert_array_equal(again.tensors[0].numpy(), x.numpy())
    other = digits("train", seed=1)
    assert not np.array_equal(other.tensors[1].numpy(), y.numpy())


def test_digits_train_and_test_are_disjoint_and_cover_all():
    from sklearn.datasets import load_digits
    full = load_digits().images.reshape(1797, -1) / 16.0
    parts = [digits(s, test_size=0.3, seed=4).tensors[0].numpy().reshape(-1, 64)
             for s in ("train", "test")]
    assert len(parts[1]) == 540  # ceil(0.3 * 1797), as scikit-learn
    rows = np.concatenate(parts)
    # every original image appears exactly as often as in the full set
    def key(a):
        return sorted(map(bytes, np.round(a * 16).astype(np.uint8)))
    assert key(rows) == key(full)
    with pytest.raises(ValueError, match="split"):
        digits("valid")
    with pytest.raises(ValueError, match="test_size"):
        digits(test_size=1.5)


def test_moons_and_spirals():
    m = moons(101, noise=0.0, seed=3)
    x, y = m.tensors
    assert tuple(x.shape) == (101, 2) and x.dtype == cr.float32 and y.dtype == cr.int64
    assert int((y == 0).sum()) == 50 and int((y == 1).sum()) == 51
    # without noise the upper moon lies on the unit circle
    upper = x.numpy()[y.numpy() == 0]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(moons(101, 0.2, 3).tensors[0].numpy(),
                                  moons(101, 0.2, 3).tensors[0].numpy())
    s = spirals(100, classes=4, noise=0.1, seed=0)
    sx, sy = s.tensors
    assert tuple(sx.shape) == (100, 2) and sorted(set(sy.tolist())) == [0, 1, 2, 3]
    assert float(np.abs(sx.numpy()).max()) <= 1.0 + 1e-6  # radius ≤ 1
    assert len(list(DataLoader(s, batch_size=32))) == 4
    with pytest.raises(ValueError, match="n should be a positive integer"):
        moons(0)
    with pytest.raises(ValueError, match="noise"):
        spirals(10, noise=-1)
