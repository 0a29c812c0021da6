"""chainrule.utils.data against torch.utils.data: batches, lengths, shuffling, collation."""
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import chainrule as cr
import chainrule.utils.data as crd


def _np(x):
    return x.numpy() if isinstance(x, cr.Tensor) else x.detach().numpy()


def assert_same_batch(ours, theirs, path="batch"):
    """Same container structure, and tensors of equal shape, dtype name and values."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, cr.Tensor), f"{path}: expected a Tensor, got {type(ours).__name__}"
        assert tuple(ours.shape) == tuple(theirs.shape), \
            f"{path}: shape {tuple(ours.shape)}, torch {tuple(theirs.shape)}"
        assert ours.dtype.name == str(theirs.dtype).replace("torch.", ""), \
            f"{path}: dtype {ours.dtype.name}, torch {theirs.dtype}"
        np.testing.assert_array_equal(_np(ours), _np(theirs), err_msg=path)
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs), f"{path}: {type(ours)} vs torch {type(theirs)}"
        assert list(ours) == list(theirs), f"{path}: keys {list(ours)} vs {list(theirs)}"
        for k in theirs:
            assert_same_batch(ours[k], theirs[k], f"{path}[{k!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours).__name__ == type(theirs).__name__, \
            f"{path}: {type(ours).__name__} vs torch {type(theirs).__name__}"
        assert len(ours) == len(theirs), f"{path}: length {len(ours)} vs {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same_batch(a, b, f"{path}[{i}]")
    else:
        assert ours == theirs, f"{path}: {ours!r} vs torch {theirs!r}"


def _pair(n=11, d=3):
    x = np.arange(n * d, dtype=np.float32).reshape(n, d)
    y = np.arange(n, dtype=np.int64) % 4
    return (crd.TensorDataset(cr.tensor(x), cr.tensor(y)),
            tud.TensorDataset(torch.tensor(x), torch.tensor(y)))


@pytest.mark.parametrize("batch_size", [1, 3, 4, 11, 20])
@pytest.mark.parametrize("drop_last", [False, True])
def test_tensor_dataset_batches_match_torch(batch_size, drop_last):
    ours, theirs = _pair()
    a = crd.DataLoader(ours, batch_size=batch_size, drop_last=drop_last)
    b = tud.DataLoader(theirs, batch_size=batch_size, drop_last=drop_last)
    assert len(a) == len(b), f"len: {len(a)} vs torch {len(b)}"
    got, want = list(a), list(b)
    assert len(got) == len(want) == len(a)
    for i, (x, y) in enumerate(zip(got, want)):
        assert_same_batch(x, y, f"batch {i}")


def test_fast_path_equals_per_item_collation():
    ours, _ = _pair(17)
    fast = list(crd.DataLoader(ours, batch_size=5))
    slow = list(crd.DataLoader(ours, batch_size=5, collate_fn=lambda b: crd.default_collate(b)))
    assert len(fast) == len(slow) == 4
    for f, s in zip(fast, slow):
        assert type(f) is list and type(s) is list
        for a, b in zip(f, s):
            assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_fast_path_is_used_for_tensor_datasets_and_subsets(monkeypatch):
    batch_calls = []
    original = crd.TensorDataset._batch

    def counting(self, indices):
        batch_calls.append(list(indices))
        return original(self, indices)
    monkeypatch.setattr(crd.TensorDataset, "_batch", counting)
    ds = crd.TensorDataset(cr.arange(10).float(), cr.arange(10))
    batches = list(crd.DataLoader(crd.Subset(ds, [9, 1, 5]), batch_size=2))
    assert batch_calls == [[9, 1], [5]], "expected one whole-batch read per batch"
    assert batches[0][1].tolist() == [9, 1] and batches[1][1].tolist() == [5]


def test_shuffle_is_reproducible_with_a_generator_and_covers_everything():
    ours, _ = _pair(23)

    def order(seed):
        g = cr.Generator().manual_seed(seed)
        return [i for _, y in crd.DataLoader(ours, batch_size=4, shuffle=True, generator=g)
                for i in _np(y).tolist()]

    x_first = [row[0] for x, _ in crd.DataLoader(ours, batch_size=4, shuffle=True,
                                                   generator=cr.Generator().manual_seed(3))
               for row in _np(x).tolist()]
    assert sorted(x_first) == list(range(0, 69, 3)), "each sample exactly once per epoch"
    assert order(1) == order(1)
    assert order(1) != order(2)


def test_shuffle_follows_the_global_seed():
    ours, _ = _pair(30)

    def epoch():
        return [v for _, y in crd.DataLoader(ours, batch_size=30, shuffle=True)
                for v in y.tolist()]
    cr.manual_seed(5)
    a, b = epoch(), epoch()
    cr.manual_seed(5)
    assert epoch() == a
    assert a != b, "two epochs should see different orders"


def test_epochs_differ_with_one_generator():
    ours, _ = _pair(30)
    g = cr.Generator().manual_seed(0)
    loader = crd.DataLoader(ours, batch_size=30, shuffle=True, generator=g)
    e1, e2 = (next(iter(loader))[0][:, 0].tolist() for _ in range(2))
    assert e1 != e2


class Dicts(tud.Dataset):
    def __init__(self, lib, n=7):
        self.lib, self.n = lib, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        lib = self.lib
        return {"image": lib.ones(2, 2) * i, "label": i, "weight": float(i) / 2,
                "name": f"s{i}", "arr": np.full(3, i, dtype=np.int32), "flag": i % 2 == 0,
                "pair": (i, lib.tensor([i, -i]))}


@pytest.mark.parametrize("batch_size", [2, 3])
def test_dict_collation_matches_torch(batch_size):
    a = list(crd.DataLoader(Dicts(cr), batch_size=batch_size))
    b = list(tud.DataLoader(Dicts(torch), batch_size=batch_size))
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert_same_batch(x, y, f"batch {i}")


Point = namedtuple("Point", ["x", "y"])


@pytest.mark.parametrize("samples", [
    [(1, 2.0), (3, 4.0)],
    [[1, 2], [3, 4]],
    [np.float32(1.5), np.float32(2.5)],
    [np.int64(1), np.int64(2)],
    [True, False],
    [np.array([1.0, 2.0]), np.array([3.0, 4.0])],
    [{"a": [1, 2]}, {"a": [3, 4]}],
    [Point(1, 2.0), Point(3, 4.0)],
    [OrderedDict(b=1, a=2), OrderedDict(b=3, a=4)],
    ["x", "y"],
])
def test_default_collate_matches_torch(samples):
    assert_same_batch(crd.default_collate(samples), tud.default_collate(samples))


def test_default_collate_errors_match_torch():
    with pytest.raises(RuntimeError, match="equal size"):
        crd.default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="found <class 'object'>"):
        crd.default_collate([object(), object()])


def test_default_convert_and_batch_size_none():
    ds = [np.array([i, i]) for i in range(3)]
    out = list(crd.DataLoader(ds, batch_size=None))
    ref = list(tud.DataLoader(ds, batch_size=None))
    assert len(out) == 3
    for a, b in zip(out, ref):
        assert_same_batch(a, b)
    assert crd.default_convert((np.array([1]), 2))[1] == 2


def test_samplers_and_batch_sampler_lengths():
    for n, bs in [(10, 3), (9, 3), (1, 5), (0, 2)]:
        for drop in (False, True):
            ours = crd.BatchSampler(crd.SequentialSampler(range(n)), bs, drop)
            theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop)
            assert len(ours) == len(theirs), (n, bs, drop)
            assert list(ours) == list(theirs), (n, bs, drop)
    with pytest.raises(ValueError, match="batch_size"):
        crd.BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last"):
        crd.BatchSampler(range(3), 2, 1)


def test_random_samplers():
    g = cr.Generator().manual_seed(0)
    s = crd.RandomSampler(range(10), generator=g)
    assert sorted(s) == list(range(10)) and len(s) == 10
    r = list(crd.RandomSampler(range(5), replacement=True, num_samples=50, generator=g))
    assert len(r) == 50 and set(r) <= set(range(5)) and len(set(r)) > 1
    big = list(crd.RandomSampler(range(3), num_samples=7, generator=g))
    assert len(big) == 7 and sorted(big[:3]) == [0, 1, 2]
    sub = list(crd.SubsetRandomSampler([5, 7, 9], generator=g))
    assert sorted(sub) == [5, 7, 9]
    w = list(crd.WeightedRandomSampler([0.0, 1.0, 0.0], 20, generator=g))
    assert w == [1] * 20
    with pytest.raises(ValueError, match="num_samples"):
        crd.RandomSampler(range(3), num_samples=0)


def test_loader_with_sampler_and_batch_sampler():
    ours, theirs = _pair(10)
    a = list(crd.DataLoader(ours, sampler=[9, 0, 4], batch_size=2))
    b = list(tud.DataLoader(theirs, sampler=[9, 0, 4], batch_size=2))
    for x, y in zip(a, b):
        assert_same_batch(x, y)
    bs = [[1, 2, 3], [0], [8, 9]]
    a = crd.DataLoader(ours, batch_sampler=bs)
    b = tud.DataLoader(theirs, batch_sampler=bs)
    assert len(a) == len(b) == 3
    for x, y in zip(a, b):
        assert_same_batch(x, y)


@pytest.mark.parametrize("kwargs, match", [
    (dict(sampler=[0], shuffle=True), "mutually exclusive"),
    (dict(batch_sampler=[[0]], batch_size=2), "mutually exclusive"),
    (dict(batch_sampler=[[0]], drop_last=True), "mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "mutually exclusive"),
    (dict(num_workers=-1), "num_workers"),
    (dict(prefetch_factor=2), "prefetch_factor"),
])
def test_loader_argument_errors_match_torch(kwargs, match):
    ours, theirs = _pair(3)
    with pytest.raises(ValueError, match=match):
        crd.DataLoader(ours, **kwargs)
    with pytest.raises(ValueError):
        tud.DataLoader(theirs, **kwargs)


def test_num_workers_is_accepted_and_loads_in_process():
    ours, _ = _pair(5)
    loader = crd.DataLoader(ours, batch_size=2, num_workers=2, pin_memory=True)
    with pytest.warns(UserWarning, match="pin_memory"):   # no accelerator here, as PyTorch
        assert [len(y) for _, y in loader] == [2, 2, 1]
    assert crd.get_worker_info() is None


class Stream(tud.IterableDataset):
    def __init__(self, lib, n):
        self.lib, self.n = lib, n

    def __iter__(self):
        return iter([self.lib.tensor([float(i)]) for i in range(self.n)])

    def __len__(self):
        return self.n


class CrStream(crd.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter([cr.tensor([float(i)]) for i in range(self.n)])

    def __len__(self):
        return self.n


@pytest.mark.parametrize("drop_last", [False, True])
def test_iterable_dataset_matches_torch(drop_last):
    a = crd.DataLoader(CrStream(7), batch_size=3, drop_last=drop_last)
    b = tud.DataLoader(Stream(torch, 7), batch_size=3, drop_last=drop_last)
    assert len(a) == len(b)
    got, want = list(a), list(b)
    assert len(got) == len(want)
    for x, y in zip(got, want):
        assert_same_batch(x, y)
    with pytest.raises(ValueError, match="shuffle"):
        crd.DataLoader(CrStream(3), shuffle=True)


def test_random_split_counts_fractions_and_errors():
    g = cr.Generator().manual_seed(0)
    parts = crd.random_split(range(10), [0.5, 0.3, 0.2], generator=g)
    assert [len(p) for p in parts] == [5, 3, 2]
    seen = sorted(i for p in parts for i in p)
    assert seen == list(range(10))
    # PyTorch's remainder rule: floor each, then one more to the first splits in turn
    ref = tud.random_split(range(11), [0.5, 0.5], generator=torch.Generator().manual_seed(0))
    ours = crd.random_split(range(11), [0.5, 0.5], generator=cr.Generator().manual_seed(0))
    assert [len(p) for p in ours] == [len(p) for p in ref] == [6, 5]
    a = crd.random_split(range(20), [10, 10], generator=cr.Generator().manual_seed(7))
    b = crd.random_split(range(20), [10, 10], generator=cr.Generator().manual_seed(7))
    assert list(a[0]) == list(b[0])
    # lengths that sum to 1 are fractions, as in PyTorch, even when they are ints
    with pytest.warns(UserWarning, match="index 0 is 0"):
        ours = [len(p) for p in crd.random_split(range(5), [0, 1])]
    with pytest.warns(UserWarning):
        theirs = [len(p) for p in tud.random_split(range(5), [0, 1])]
    assert ours == theirs == [0, 5]
    with pytest.raises(ValueError, match=r"sum of input lengths \(9\).*\(10\)"):
        crd.random_split(range(10), [4, 5])


def test_concat_subset_stack():
    c = crd.ConcatDataset([[1, 2], [3, 4, 5]])
    t = tud.ConcatDataset([[1, 2], [3, 4, 5]])
    assert len(c) == len(t) == 5
    assert [c[i] for i in range(-5, 5)] == [t[i] for i in range(-5, 5)]
    with pytest.raises(IndexError):
        c[5]
    s = crd.Subset(["a", "b", "c"], [2, 0])
    assert len(s) == 2 and s[0] == "c" and s.__getitems__([1, 0]) == ["a", "c"]
    st = crd.StackDataset(x=[1, 2], y=[3, 4])
    assert st[1] == {"x": 2, "y": 4}
    with pytest.raises(ValueError, match="size mismatch"):
        crd.TensorDataset(cr.zeros(3), cr.zeros(4))
    added = crd.TensorDataset(cr.zeros(2)) + crd.TensorDataset(cr.ones(3))
    assert isinstance(added, crd.ConcatDataset) and len(added) == 5


def test_tqdm_style_len_and_reiteration():
    ours, _ = _pair(10)
    loader = crd.DataLoader(ours, batch_size=4)
    assert len(loader) == 3
    assert [len(y) for _, y in loader] == [len(y) for _, y in loader] == [4, 4, 2]


def test_grad_flows_through_fast_path_like_stack():
    x = cr.ones(4, 2, requires_grad=True)
    ds = crd.TensorDataset(x, cr.arange(4))
    (xb, _), = list(crd.DataLoader(ds, batch_size=4, sampler=[3, 1, 0, 2]))
    (xb * cr.tensor([[1.0, 2.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.tile([1.0, 2.0], (4, 1)))


@pytest.mark.parametrize("n, replicas", [(10, 3), (9, 3), (2, 4), (7, 1)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_matches_torch_unshuffled(n, replicas, drop_last):
    from torch.utils.data.distributed import DistributedSampler as TorchDS
    for rank in range(replicas):
        ours = crd.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchDS(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert len(ours) == len(theirs), (rank, len(ours), len(theirs))
        assert list(ours) == list(theirs), (rank, list(ours), list(theirs))


def test_distributed_sampler_shuffle_partitions_and_epochs():
    shares = [crd.DistributedSampler(range(12), 3, r, seed=4) for r in range(3)]
    first = [list(s) for s in shares]
    assert sorted(i for s in first for i in s) == list(range(12)), "ranks must partition the data"
    for s in shares:
        s.set_epoch(1)
    second = [list(s) for s in shares]
    assert sorted(i for s in second for i in s) == list(range(12)) and second != first
    with pytest.raises(ValueError, match=r"rank should be in the interval \[0, 1\]"):
        crd.DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(RuntimeError, match="num_replicas and rank"):
        crd.DistributedSampler(range(4))
    import chainrule.utils.data.distributed as dmod
    assert dmod.DistributedSampler is crd.DistributedSampler
