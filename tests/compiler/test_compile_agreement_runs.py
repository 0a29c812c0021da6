"""``chainrule.compile`` agrees with eager execution over whole runs and mode changes: the
digits training run of ``chainrule train`` (eager: :func:`chainrule.train.fit` itself),
inference of a compiled module under ``no_grad``, a change of batch size (a second
signature), ``eval()``/``train()`` toggling (the training flags are part of the signature),
an eager and a compiled twin called in turn, and changes made between calls (a new
learning rate, reloaded state, a frozen layer, a new hook, a replaced submodule).

See compile_agree.py for how twins are built and compared; equality is exact.
"""
from __future__ import annotations

import copy
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.models import small_cnn
from chainrule.compiler import CompileWarning
from chainrule.train import Callback, fit
from chainrule.train.run import build_optimizer, build_scheduler
from chainrule.utils.data import DataLoader
from compile_agree import Setup, agree, assert_same, snapshot

CALLS = 6


# ---------------------------------------------------------------- the digits run --
class _BatchLosses(Callback):
    def __init__(self):
        self.losses = []

    def on_batch_end(self, state):
        self.losses.append(state.batch_loss)


def _digits_run(seed: int = 0):
    """What ``chainrule train --data digits`` builds (cnn, adamw, cosine), at 2 epochs."""
    cr.manual_seed(seed)
    train = cr.datasets.digits("train", seed=seed)
    model = small_cnn(1, 10, 8)
    loader = DataLoader(train, batch_size=32, shuffle=True,
                        generator=cr.Generator().manual_seed(seed))
    opt = build_optimizer("adamw", model.parameters(), None)
    sched = build_scheduler("cosine", opt, 2, len(loader))
    return model, loader, opt, sched


@pytest.mark.slow
def test_digits_training_run_compiled_agrees_with_fit_exactly():
    """Two epochs of the CLI's digits run: eager through ``fit`` (the loop ``chainrule
    train`` runs), compiled as a loop over a compiled step. Every batch's loss, and at the end
    every parameter, gradient and AdamW state tensor, must be equal; the last batch of an
    epoch (1437 = 44·32 + 29 images) is a second signature."""
    model, loader, opt, sched = _digits_run()
    recorder = _BatchLosses()
    fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=2, scheduler=sched,
        callbacks=[recorder], progress=False)
    eager = snapshot(None, Setup(None, list(model.parameters()), opt, (model,)))

    model, loader, opt, sched = _digits_run()
    loss_fn = nn.CrossEntropyLoss()

    @cr.compile
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for _ in range(2):
            model.train()
            for x, y in loader:
                losses.append(float(step(x, y).item()))
            sched.step()
    compiled = snapshot(None, Setup(None, list(model.parameters()), opt, (model,)))

    assert len(losses) == len(recorder.losses) == 2 * len(loader)
    assert losses == recorder.losses
    assert_same(eager, compiled, "after 2 epochs")
    stats = step.stats()
    # the first batch (no .grad yet) captured once, then two signatures (batches of 32 and
    # of 29) captured twice each; the rest replays
    assert stats == {"captures": 5, "replays": 2 * len(loader) - 5, "eager": 0,
                     "recompiles": 2}, stats


# ---------------------------------------------------------- inference under no_grad --
class _Net(nn.Module):
    """Linear → BatchNorm1d → ReLU → Dropout → Linear (optionally without the dropout)."""

    def __init__(self, dropout: bool):
        super().__init__()
        self.fc1, self.bn, self.fc2 = nn.Linear(6, 10), nn.BatchNorm1d(10), nn.Linear(10, 3)
        self.drop = nn.Dropout(0.3) if dropout else nn.Identity()

    def forward(self, x):
        return self.fc2(self.drop(F.relu(self.bn(self.fc1(x)))))


def _inference(training: bool, dropout: bool = True):
    """``compiled = chainrule.compile(model)`` called under ``no_grad`` on a new batch each
    call (the replay must read the argument afresh). In training mode BatchNorm updates its
    running statistics and dropout draws (no graph is made, so nothing breaks)."""
    def make():
        model = _Net(dropout)
        with cr.no_grad():  # running statistics that are not the defaults
            model.bn.running_mean.copy_(cr.randn(10))
            model.bn.running_var.copy_(cr.rand(10) + 0.5)
        model.train(training)
        xs = [cr.randn(7, 6) for _ in range(3)]

        def call(fn, k, setup):
            with cr.no_grad():
                return fn(xs[k % 3])
        return Setup(model, list(model.parameters()), None, (model,), call)
    return make


def test_compiled_module_inference_in_eval_mode_agrees_exactly():
    agree(_inference(training=False), calls=CALLS)


def test_compiled_module_under_no_grad_in_training_mode_agrees_exactly():
    """BatchNorm's running statistics move under ``no_grad`` too (PyTorch's rule)."""
    agree(_inference(training=True, dropout=False), calls=CALLS)


def test_compiled_module_under_no_grad_with_dropout_agrees_exactly():
    agree(_inference(training=True, dropout=True), calls=CALLS)


def test_compiled_module_with_grad_enabled_runs_eagerly_with_a_warning_and_agrees():
    """A compiled module's output that carries a graph cannot be replayed (its backward runs
    outside): the signature stays eager, says so once, and still computes eager's values."""
    cr.manual_seed(0)
    model = _Net(dropout=False).eval()
    compiled = cr.compile(model)
    x = cr.randn(4, 6)
    with pytest.warns(CompileWarning, match="autograd graph"):
        outs = [compiled(x) for _ in range(5)]
    expected = model(x).detach().numpy()
    for out in outs:
        assert out.grad_fn is not None
        np.testing.assert_array_equal(out.detach().numpy(), expected, strict=True)
    assert compiled.stats()["replays"] == 0


# ------------------------------------------------------------- batch-size changes --
def _mlp_over_batches(sizes):
    """An Adam training step called with batches whose sizes follow ``sizes`` (one per call)."""
    def make():
        model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
        opt = cr.optim.Adam(model.parameters(), lr=1e-2)
        batches = {n: (cr.randn(n, 5), cr.randint(0, 2, (n,))) for n in sorted(set(sizes))}

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        def call(fn, k, setup):
            return fn(*batches[sizes[k]])
        return Setup(step, list(model.parameters()), opt, (model,), call)
    return make


def test_a_new_batch_size_recompiles_and_agrees_exactly():
    sizes = [8] * 5 + [3] * 5 + [8] * 3
    fn = agree(_mlp_over_batches(sizes), calls=len(sizes), signatures=2)
    # call 1 (no .grad yet) is a signature of its own; batches of 3: another, captured
    # twice; back to 8: replays
    assert fn.stats() == {"captures": 5, "replays": len(sizes) - 5, "eager": 0,
                          "recompiles": 2}, fn.stats()


def test_alternating_batch_sizes_agree_exactly():
    """Two signatures used in turn (a last short batch every epoch), each replayed."""
    sizes = [8, 3] * 5
    fn = agree(_mlp_over_batches(sizes), calls=len(sizes), signatures=2)
    assert fn.stats()["recompiles"] == 2  # (call 1, without .grad, is a signature too)


# ------------------------------------------------------------ eval()/train() toggling --
def _toggled(phases, dropout: bool):
    """A training step of a BatchNorm net whose mode changes between calls (``phases``: one
    training flag per call); in eval mode BatchNorm uses (and keeps) its running statistics,
    as when fine-tuning with frozen statistics."""
    def make():
        model = _Net(dropout)
        opt = cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        x, y = cr.randn(8, 6), cr.randint(0, 3, (8,))

        def step():
            opt.zero_grad()
            out = model(x)
            loss = F.cross_entropy(out, y)
            loss.backward()
            opt.step()
            return loss, out.detach()

        def call(fn, k, setup):
            model.train(phases[k])
            return fn()
        return Setup(step, list(model.parameters()), opt, (model,), call)
    return make


PHASES = [True] * 5 + [False] * 5 + [True] * 3


def test_train_eval_toggling_gives_separate_signatures_and_agrees_exactly():
    fn = agree(_toggled(PHASES, dropout=False), calls=len(PHASES), signatures=2)
    assert fn.stats() == {"captures": 5, "replays": len(PHASES) - 5, "eager": 0,
                          "recompiles": 2}, fn.stats()  # (call 1, without .grad: its own)


def test_train_eval_toggling_with_dropout_agrees_exactly():
    """Dropout draws in training mode only: the eval signature has no draws at all."""
    agree(_toggled(PHASES, dropout=True), calls=len(PHASES), signatures=2)


def test_compiled_inference_toggled_between_train_and_eval_agrees_exactly():
    """Validation in the middle of training: a compiled module under ``no_grad`` switched
    between the modes; each mode replays its own signature."""
    def make():
        setup = _inference(training=True, dropout=False)()
        inner = setup.call

        def call(fn, k, s):
            s.modules[0].train(k % 4 < 2)
            return inner(fn, k, s)
        setup.call = call
        return setup
    agree(make, calls=12, signatures=2)


def test_a_compiled_train_step_and_a_compiled_eval_step_over_one_model_agree_exactly():
    """Two compiled functions share a model: a training step, then validation under
    ``no_grad`` in eval mode, in turn (each function has its own signatures)."""
    def make():
        model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
        opt = cr.optim.Adam(model.parameters(), lr=1e-2)
        x, y, x_val = cr.randn(8, 4), cr.randint(0, 2, (8,)), cr.randn(5, 4)

        def train_step():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        def eval_step():
            with cr.no_grad():
                return model(x_val)
        evaluate = {}

        def call(fn, k, setup):
            if fn is not train_step and not evaluate:  # the compiled twin: compile both
                evaluate["fn"] = cr.compile(eval_step)
            model.train()
            loss = fn()
            model.eval()
            out = evaluate.get("fn", eval_step)()
            if k == CALLS - 1 and evaluate:
                assert evaluate["fn"].stats()["replays"] == CALLS - 2, evaluate["fn"].stats()
            return loss, out
        return Setup(train_step, list(model.parameters()), opt, (model,), call)
    agree(make, calls=CALLS)


def test_data_copied_into_a_preallocated_buffer_each_call_agrees_exactly():
    """The step reads tensors from its closure that the loop refills in place."""
    def make():
        model = nn.Linear(4, 2)
        opt = cr.optim.SGD(model.parameters(), lr=0.1)
        xb, yb = cr.zeros(8, 4), cr.zeros(8, 2)
        data = [(cr.randn(8, 4), cr.randn(8, 2)) for _ in range(3)]

        def step():
            opt.zero_grad()
            loss = F.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
            return loss

        def call(fn, k, setup):
            xb.copy_(data[k % 3][0])
            yb.copy_(data[k % 3][1])
            return fn()
        return Setup(step, list(model.parameters()), opt, (model,), call)
    agree(make, calls=CALLS)


def test_python_arguments_are_part_of_the_signature_and_agree_exactly():
    """A float and a flag that steer Python: each combination is its own signature."""
    def make():
        model = nn.Linear(4, 2)
        opt = cr.optim.SGD(model.parameters(), lr=0.1)
        x = cr.randn(3, 4)

        def step(scale, l1=False):
            opt.zero_grad()
            out = model(x) * scale
            loss = out.abs().mean() if l1 else out.pow(2).mean()
            loss.backward()
            opt.step()
            return loss

        def call(fn, k, setup):
            return fn(1.0 if k < 4 else 2.0, l1=k >= 8)
        return Setup(step, list(model.parameters()), opt, (model,), call)
    agree(make, calls=11, signatures=3)


# ------------------------------------------------------- twins called in turn --
def _state(photo: dict) -> dict:
    return {k: v for k, v in photo.items() if not k.startswith("result")}


def test_eager_and_compiled_twins_called_in_turn_agree_exactly():
    """Both twins alive and called alternately: a capture traces every live tensor's array
    (the eager twin's too) and must give each its plain array back (snapshot checks that
    every array it reads is a plain ndarray)."""
    def make():
        model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 2))
        opt = cr.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
        x, y = cr.randn(6, 4), cr.randn(6, 2)

        def step():
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss
        return Setup(step, list(model.parameters()), opt, (model,))
    cr.manual_seed(5)
    eager = make()
    cr.manual_seed(5)
    twin = make()
    compiled = cr.compile(twin.step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for k in range(CALLS):
            e = snapshot(eager.step(), eager)
            c = snapshot(compiled(), twin)
            assert_same(e, c, f"call {k + 1}")
            assert_same(_state(e), _state(snapshot(None, eager)),
                        f"call {k + 1}: the eager twin, after the compiled call")
    stats = compiled.stats()
    assert stats["captures"] == 3 and stats["replays"] == CALLS - 3, stats


# ------------------------------------------------------ changes between calls --
def _changed_at(call_index: int, change, optimizer=cr.optim.Adam, **kwargs):
    """An MLP training step; before call ``call_index`` (0-based, after two replays)
    ``change(model, opt)`` runs, in both twins. Recompiling and running eagerly are both
    right afterwards; replaying what was captured before the change is not."""
    def make():
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        opt = optimizer(model.parameters(), **(kwargs or dict(lr=1e-2)))
        x, y = cr.randn(4, 3), cr.randn(4, 1)

        def step():
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss

        def call(fn, k, setup):
            if k == call_index:
                change(model, opt)
            return fn()
        return Setup(step, list(model.parameters()), opt, (model,), call)
    return make


def _set_lr(model, opt):
    for group in opt.param_groups:
        group["lr"] = 0.5 * group["lr"]


def _reload_optimizer(model, opt):
    # (state tensors replaced by copies: a replay must read the new ones)
    opt.load_state_dict(copy.deepcopy(opt.state_dict()))


def _reload_model(model, opt):
    model.load_state_dict({k: v * 0.5 for k, v in model.state_dict().items()})


def _scale_in_place(model, opt):
    with cr.no_grad():
        model[0].weight.mul_(0.5)


def _replace_data(model, opt):
    model[0].weight.data = model[0].weight.data * 0.5


def _add_forward_hook(model, opt):
    model[0].register_forward_hook(lambda module, args, out: out * 2)


def _add_grad_hook(model, opt):
    model[0].weight.register_hook(lambda g: g * 0)


@pytest.mark.parametrize("change", [_set_lr, _reload_optimizer, _reload_model, _scale_in_place,
                                    _replace_data, _add_forward_hook, _add_grad_hook],
                         ids=["lr", "optimizer.load_state_dict", "model.load_state_dict",
                              "in-place", ".data=", "forward-hook", "tensor-hook"])
def test_a_change_between_calls_is_seen_by_the_replay(change):
    agree(_changed_at(4, change), calls=7, signatures=None)


def _freeze_first_layer(model, opt):
    model[0].requires_grad_(False)


def _replace_submodule(model, opt):
    model[1] = nn.ReLU()


@pytest.mark.parametrize("change", [_freeze_first_layer, _replace_submodule],
                         ids=["requires_grad_(False)", "submodule-replaced"])
def test_a_change_of_what_the_step_runs_is_seen_by_the_replay(change):
    agree(_changed_at(4, change), calls=7, signatures=None)


# -------------------------------------------------------------- a call that raises --
def test_a_bad_batch_raises_as_eager_and_leaves_the_same_state():
    """A loop that skips a bad batch (catches the error) and goes on training."""
    def make():
        model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Linear(6, 3))
        opt = cr.optim.SGD(model.parameters(), lr=0.1)
        x, good = cr.randn(8, 4), cr.randint(0, 3, (8,))
        bad = good.clone()
        bad[2] = 7

        def step(y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        def call(fn, k, setup):
            if k != 4:
                return fn(good)
            with pytest.raises(IndexError, match="out of bounds"):
                fn(bad)
            return None
        return Setup(step, list(model.parameters()), opt, (model,), call)
    agree(make, calls=7, signatures=None)


# ------------------------------------------------- the objects a capture walks past --
_ODD_OBJECT = '''
import chainrule as cr

class Odd:  # an object whose __class__ raises (a proxy, a lazy module stand-in)
    @property
    def __class__(self):
        raise RuntimeError("__class__ read")

t = cr.ones(3)  # a live tensor the capture lifts before it meets Odd
odd = Odd()
f = cr.compile(lambda x: x * 2)
for _ in range(3):
    f(cr.ones(2))
print(type(t._data).__name__, f.stats()["replays"])
'''
_TORCH_IMPORTED = '''
import warnings
import torch  # torch.distributed.reduce_op: an object whose __class__ warns
import chainrule as cr

warnings.simplefilter("error")
f = cr.compile(lambda x: x * 2)
for _ in range(3):
    f(cr.ones(2))
print("ndarray", f.stats()["replays"])
'''


@pytest.mark.slow  # (a fresh interpreter importing torch: seconds)
@pytest.mark.parametrize("script", [_ODD_OBJECT, _TORCH_IMPORTED], ids=["odd", "torch"])
def test_a_capture_reads_nothing_of_unrelated_objects(script):
    # (in a fresh interpreter: a capture that raises half-way would leave this process's
    # tensors traced)
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                         text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(root)))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["ndarray", "1"]
