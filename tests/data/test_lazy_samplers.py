"""Samplers draw lazily: memory independent of ``num_samples`` (makemore asks for 1e10)."""
from __future__ import annotations

import itertools
import tracemalloc

import chainrule as cr
from chainrule.utils.data import DataLoader, RandomSampler, TensorDataset, WeightedRandomSampler


def _peak_while(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_ten_billion_draws_with_replacement_cost_nothing_up_front():
    ds = TensorDataset(cr.arange(100.0).reshape(50, 2))
    sampler = RandomSampler(ds, replacement=True, num_samples=int(1e10))
    assert len(sampler) == int(1e10)
    first = []
    peak = _peak_while(lambda: first.extend(itertools.islice(iter(sampler), 3000)))
    assert peak < 2_000_000, peak
    assert len(first) == 3000 and all(0 <= i < 50 for i in first) and len(set(first)) == 50
    loader = DataLoader(ds, batch_size=8, sampler=sampler)
    batches = []
    peak = _peak_while(lambda: batches.extend(itertools.islice(iter(loader), 5)))
    assert peak < 2_000_000 and [tuple(b[0].shape) for b in batches] == [(8, 2)] * 5


def test_weighted_draws_are_lazy_and_follow_the_weights():
    sampler = WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=int(1e12))
    draws = []
    peak = _peak_while(lambda: draws.extend(itertools.islice(iter(sampler), 20000)))
    assert peak < 3_000_000
    assert 0 not in draws and abs(draws.count(2) / len(draws) - 0.75) < 0.02


def test_seeded_draws_repeat():
    ds = list(range(10))
    one = list(RandomSampler(ds, True, 3000, generator=cr.Generator().manual_seed(3)))
    two = list(RandomSampler(ds, True, 3000, generator=cr.Generator().manual_seed(3)))
    assert one == two and len(one) == 3000
