

def test_subclass_overriding_getitem_is_not_bypassed_by_the_fast_path():
    import chainrule as cr
    from chainrule.utils.data import DataLoader, TensorDataset

    class Scaled(TensorDataset):
        def __getitem__(self, index):
            (a,) = super().__getitem__(index)
            return (a * 100,)

    ds = Scaled(cr.arange(8).float())
    (batch,) = next(iter(DataLoader(ds, batch_size=4)))
    assert batch.tolist() == [0.0, 100.0, 200.0, 300.0]

