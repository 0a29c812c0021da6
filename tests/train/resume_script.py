"""Run by test_resume.py in fresh processes: train, optionally stop early or resume."""
import sys



import chainrule as cr
from chainrule.train import Callback, ModelCheckpoint, fit
from chainrule.utils.data import DataLoader, TensorDataset


class StopAt(Callback):
    """Stop after optimizer step ``step`` (> 0) or after epoch ``-step`` ends (< 0)."""

    def __init__(self, step):
        self.step = step

    def on_batch_end(self, state):
        if state.step == self.step:
            raise SystemExit(0)  # an abrupt end, as a killed process

    def on_epoch_end(self, state):
        if state.epoch == -self.step:
            raise SystemExit(0)  # after the epoch-end checkpoint, as a Ctrl-C between epochs


def main(mode: str, workdir: str, stop_step: int) -> None:
    cr.manual_seed(0)
    x = cr.randn(96, 8)
    y = (x[:, 0] + x[:, 1] > 0).long()
    model = cr.nn.Sequential(cr.nn.Linear(8, 16), cr.nn.ReLU(), cr.nn.Dropout(0.3),
                             cr.nn.Linear(16, 2))
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    sched = cr.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True,
                        generator=cr.Generator().manual_seed(1))
    callbacks = [ModelCheckpoint(workdir, every_n_steps=1)]
    resume = None
    if mode == "stop":
        callbacks.append(StopAt(stop_step))
    elif mode == "resume":
        resume = f"{workdir}/last.safetensors"
    fit(model, cr.nn.CrossEntropyLoss(), opt, loader, epochs=3, scheduler=sched,
        callbacks=callbacks, progress=False, resume_from=resume)
    cr.save({"model": model.state_dict(), "optimizer": opt.state_dict()},
            f"{workdir}/final-{mode}.safetensors")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))

