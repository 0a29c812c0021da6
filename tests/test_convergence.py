"""Real training on the bundled digits (seeded): the accuracies the library promises, and the
vanishing-gradient story — 50 layers train with ReLU, He init and residual connections, and
do not with sigmoid and none of them."""
import pytest

import chainrule as cr
from chainrule import datasets, models
from chainrule.train import evaluate, fit
from chainrule.utils.data import DataLoader


def _train(model, optimizer, epochs: int, seed: int = 0, batch_size: int = 32) -> float:
    train, test = datasets.digits("train"), datasets.digits("test")
    scheduler = cr.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    fit(model, cr.nn.CrossEntropyLoss(), optimizer,
        DataLoader(train, batch_size=batch_size, shuffle=True,
                   generator=cr.Generator().manual_seed(seed)),
        epochs=epochs, scheduler=scheduler, progress=False)
    return evaluate(model, cr.nn.CrossEntropyLoss(), DataLoader(test, batch_size=256))["accuracy"]


@pytest.mark.slow
def test_mlp_reaches_97_percent_on_digits():
    cr.manual_seed(0)
    model = models.mlp(depth=2, width=128)
    assert _train(model, cr.optim.Adam(model.parameters(), lr=2e-3), epochs=30) >= 0.97


@pytest.mark.slow
def test_small_cnn_reaches_98_percent_on_digits():
    cr.manual_seed(0)
    model = models.small_cnn()
    optimizer = cr.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    assert _train(model, optimizer, epochs=30) >= 0.98


@pytest.mark.slow
def test_fifty_layers_train_with_relu_he_residual_but_not_with_sigmoid():
    cr.manual_seed(0)
    deep = models.residual_mlp(depth=50, width=64, activation="relu", init="he")
    assert sum(isinstance(m, cr.nn.Linear) for m in deep.modules()) >= 50
    assert _train(deep, cr.optim.Adam(deep.parameters(), lr=1e-3), epochs=15) >= 0.95
    cr.manual_seed(0)
    plain = models.mlp(depth=50, width=64, activation="sigmoid")
    assert sum(isinstance(m, cr.nn.Linear) for m in plain.modules()) >= 50
    # ten classes: chance is 10 %; vanishing gradients keep the net near it
    assert _train(plain, cr.optim.Adam(plain.parameters(), lr=1e-3), epochs=15) < 0.5
