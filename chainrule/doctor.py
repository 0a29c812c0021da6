"""``chainrule doctor script.py [args]``: run a training script with every optimizer it
creates watched, then say what went wrong, in plain words.

Each optimizer the script makes is matched to the model(s) whose parameters it holds
(the outermost modules that own them), and :func:`chainrule.diagnostics.watch` is
attached to them before the first step. When the script ends — normally, by an
exception or by Ctrl-C — the findings are printed and a report folder is written
(``diagnostics.json`` and ``report.html``, with the step where each problem began).
With ``torch=True`` (``--torch``) ``import torch`` gives chainrule, so an unmodified
PyTorch script runs.

>>> import os, tempfile
>>> script = os.path.join(tempfile.mkdtemp(), "train.py")
>>> with open(script, "w") as f:
...     _ = f.write('''
... import chainrule as cr
... model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 1))
... opt = cr.optim.SGD(model.parameters(), lr=0.1)
... x, y = cr.randn(32, 4), cr.randn(32, 1)
... for _ in range(3):
...     opt.zero_grad(); cr.nn.functional.mse_loss(model(x), y).backward(); opt.step()
... ''')
>>> result = run(script, out_dir=os.path.dirname(script), quiet=True)
>>> [m.report().findings for m in result.monitors]
[[]]
"""
from __future__ import annotations

import gc
import os
import runpy
import sys
import traceback
from dataclasses import dataclass, field

from . import diagnostics
from .nn.module import Module
from .optim.optimizer import Optimizer


@dataclass
class DoctorResult:
    """What :func:`run` watched and wrote."""

    monitors: list = field(default_factory=list)
    report_dirs: list[str] = field(default_factory=list)
    error: BaseException | None = None


def _owners(params: set[int]) -> list[Module]:
    """The outermost modules alive now that own any of ``params`` (by id)."""
    # type(), not isinstance(): some objects answer __class__ lazily (and warn doing so)
    holders = [obj for obj in gc.get_objects()
               if issubclass(type(obj), Module) and any(id(p) in params for p in obj.parameters())]
    inner = {id(sub) for m in holders for sub in m.modules() if sub is not m}
    return [m for m in holders if id(m) not in inner]


class _Watcher:
    """Attaches a monitor to the models of each optimizer created while it is on."""

    def __init__(self) -> None:
        self.monitors: list = []
        self._watched: set[int] = set()
        self._original_init = Optimizer.__init__

    def __enter__(self) -> "_Watcher":
        original, watcher = self._original_init, self

        def init(opt, *args, **kwargs):
            original(opt, *args, **kwargs)
            watcher.attach(opt)

        Optimizer.__init__ = init
        return self

    def __exit__(self, *exc) -> None:
        Optimizer.__init__ = self._original_init

    def attach(self, optimizer) -> None:
        params = {id(p) for g in optimizer.param_groups for p in g["params"]}
        for model in _owners(params):
            if id(model) in self._watched:
                continue
            self._watched.add(id(model))
            self.monitors.append(diagnostics.watch(model, optimizer))


def _history(report) -> list[dict]:
    return [{"epoch": s["step"], "loss": sum(s["loss"]) / len(s["loss"])}
            for s in report.steps if s.get("loss")]


def _write(report, out_dir: str, name: str) -> str:
    from .train.report import build_report
    from .train.run import write_diagnostics
    run_dir = os.path.join(out_dir, name)
    os.makedirs(run_dir, exist_ok=True)
    write_diagnostics(run_dir, report, _history(report), x_label="step")
    build_report(run_dir)
    return run_dir


def run(script: str, args: list[str] | None = None, torch: bool = False,
        out_dir: str = "runs", quiet: bool = False) -> DoctorResult:
    """Run ``script`` (with ``args`` as its command line) watched; print and write findings."""
    from . import torch_alias
    result = DoctorResult()
    argv, path0 = sys.argv, list(sys.path)
    sys.argv = [script] + list(args or [])
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    if torch:
        torch_alias.install()
    try:
        with _Watcher() as watcher:
            try:
                runpy.run_path(script, run_name="__main__")
            except SystemExit as e:
                if e.code not in (None, 0):
                    result.error = e
            except (Exception, KeyboardInterrupt) as e:  # the findings may explain it
                result.error = e
                if not quiet:
                    traceback.print_exc()
    finally:
        sys.argv, sys.path[:] = argv, path0
        if torch:
            torch_alias.uninstall()
    result.monitors = watcher.monitors
    base = os.path.splitext(os.path.basename(script))[0]
    for i, monitor in enumerate(result.monitors):
        monitor.remove()
        report = monitor.report()
        name = f"doctor-{base}" + (f"-{i + 1}" if len(result.monitors) > 1 else "")
        run_dir = _write(report, out_dir, name)
        result.report_dirs.append(run_dir)
        if not quiet:
            model = type(monitor.model).__name__
            print(f"\nchainrule doctor: {model} ({len(report.steps)} steps watched)")
            print(_summary(report))
            print(f"report: {os.path.join(run_dir, 'report.html')}")
    if not result.monitors and not quiet:
        print("chainrule doctor: the script created no optimizer, so nothing was watched")
    return result


def _summary(report) -> str:
    """The findings, each with the step where it began."""
    text = report.summary()
    starts = [f.evidence.get("first_step") for f in report.findings]
    if any(s is not None for s in starts):
        text += "\n" + "\n".join(f"   {f.kind} began at step {s}" for f, s
                                 in zip(report.findings, starts) if s is not None)
    return text
