"""Peak memory of one training step above the model and data, each library measured the
same way in a fresh subprocess of its own (so the allocators never mix).

In the child: build the model, data and SGD optimizer; run 2 warm-up steps; call
``opt.zero_grad(set_to_none=...)``; read VmRSS; reset the high-water mark (write ``5`` to
``/proc/self/clear_refs``); run forward, backward and ``opt.step()``; read VmHWM.
``peak = VmHWM - VmRSS before``. So the baseline is the model, data and optimizer state
(plain SGD has none), plus, with ``set_to_none=False``, the zeroed gradient buffers
that stay allocated; with ``set_to_none=True`` (PyTorch's default) the step's peak counts
the gradients too. A third row runs each parameter's SGD step from its post-accumulate-grad
hook and drops the gradient there (the same code for both libraries), so the gradients
never all exist at once: the peak is the activations, as with ``set_to_none=False``.

glibc's dynamic mmap threshold would let freed arrays stay in the heap, so the next step
reuses pages already counted in VmRSS and the peak reads low; the children run with
``MALLOC_MMAP_THRESHOLD_=131072`` (the default threshold, fixed), so every large array is
its own mapping, returned to the system when freed, and RSS follows live memory.

For chainrule the child also reports tracemalloc's peak for the same step (NumPy reports
its array buffers to tracemalloc) as a cross-check: one traced warm-up step, then the
traced peak minus the traced memory before the step.

Run: ``python -m benchmarks.memory [--lib chainrule|torch] [--set-to-none 0|1]``
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys

from . import workloads as W

MB = 2 ** 20
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072"}


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def _reset_hwm() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def measure(lib: str, set_to_none: bool, sizes=W.DEEP_MLP, batch: int = 256,
            traced: bool = False, in_backward: bool = False, compiled: bool = False) -> dict:
    """Runs in the child: the numbers for one library, in bytes. ``in_backward``: each
    parameter's SGD step runs from its post-accumulate-grad hook and drops its gradient,
    so gradients never all exist at once (the same code for both libraries). ``compiled``:
    the step through ``chainrule.compile`` (warmed up past its two captures: a replay is
    measured)."""
    model, opt, xt, yt, F = W.mlp_parts(lib, sizes, batch)

    if in_backward:
        per_param = {p: W._lib(lib).optim.SGD([p], lr=0.01) for p in model.parameters()}

        def step_now(p):
            per_param[p].step()
            p.grad = None
        for p in model.parameters():
            p.register_post_accumulate_grad_hook(step_now)

    def train():
        F.cross_entropy(model(xt), yt).backward()
        if not in_backward:  # (else each parameter stepped inside backward)
            opt.step()

    if compiled:
        import chainrule
        train = chainrule.compile(train)
    for _ in range(4 if compiled else 2):  # (compiled: captures, then a replay)
        opt.zero_grad(set_to_none=set_to_none)
        train()
    opt.zero_grad(set_to_none=set_to_none)
    gc.collect()
    before = _status("VmRSS")
    _reset_hwm()
    train()
    peak = _status("VmHWM") - before
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    out = {"lib": lib, "set_to_none": set_to_none, "in_backward": in_backward, "peak": peak,
           "compiled": compiled,
           "params": params,
           "data": xt.numel() * xt.element_size() + yt.numel() * yt.element_size(),
           "rss_before": before}
    if traced:
        import tracemalloc
        tracemalloc.start()
        opt.zero_grad(set_to_none=set_to_none)
        train()                                    # traced warm-up: live arrays now traced
        opt.zero_grad(set_to_none=set_to_none)
        gc.collect()
        current = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        train()
        out["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1] - current
        tracemalloc.stop()
    return out


def run_child(lib: str, set_to_none: bool, traced: bool = False, timeout: float = 300,
              in_backward: bool = False, compiled: bool = False) -> dict:
    """``measure`` in a fresh interpreter with the same environment for every library."""
    cmd = [sys.executable, "-m", "benchmarks.memory", "--child", "--lib", lib,
           "--set-to-none", str(int(set_to_none))] + (["--traced"] if traced else []) \
        + (["--in-backward"] if in_backward else []) + (["--compiled"] if compiled else [])
    env = {**os.environ, **MALLOC_ENV}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"memory child for {lib} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def rows(target: float = 0.8) -> list[dict]:
    """The memory table: set_to_none=True (PyTorch's default; the target applies), False,
    and the optimizer stepping inside backward (post-accumulate-grad hooks, both libraries)."""
    out = []
    for set_to_none, in_backward in ((True, False), (False, False), (True, True)):
        ours = run_child("chainrule", set_to_none, traced=True, in_backward=in_backward)
        theirs = run_child("torch", set_to_none, in_backward=in_backward)
        ratio = ours["peak"] / theirs["peak"]
        how = ("SGD step inside backward (post-accumulate-grad hooks)" if in_backward
               else f"zero_grad(set_to_none={set_to_none})")
        target_row = set_to_none and not in_backward  # PyTorch's usual step
        out.append({
            "workload": f"deep MLP 20x1024 step, batch 256, {how}",
            "chainrule_MB": f"{ours['peak'] / MB:.1f}", "torch_MB": f"{theirs['peak'] / MB:.1f}",
            "ratio": f"{ratio:.2f}",
            "target": f"<= {target}" if target_row else "-",
            "met": ("yes" if ratio <= target else "no") if target_row else "-",
            "chainrule_tracemalloc_MB": f"{ours['tracemalloc_peak'] / MB:.1f}",
            "params_MB": f"{ours['params'] / MB:.1f}",
        })
        if in_backward:  # (hooks: a compiled step would run eagerly)
            out[-1].update(compiled_MB="-", compiled_ratio="-", compiled_met="-")
            continue
        replayed = run_child("chainrule", set_to_none, compiled=True)
        c_ratio = replayed["peak"] / theirs["peak"]
        out[-1].update(compiled_MB=f"{replayed['peak'] / MB:.1f}", compiled_ratio=f"{c_ratio:.2f}",
                       compiled_met=("yes" if c_ratio <= target else "no") if target_row else "-")
    return out


COLUMNS = ["workload", "chainrule_MB", "torch_MB", "ratio", "target", "met", "compiled_MB",
           "compiled_ratio", "compiled_met", "chainrule_tracemalloc_MB", "params_MB"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lib", choices=("chainrule", "torch"))
    parser.add_argument("--set-to-none", type=int, choices=(0, 1), default=1)
    parser.add_argument("--traced", action="store_true")
    parser.add_argument("--compiled", action="store_true",
                        help="chainrule: the step through chainrule.compile (a replay measured)")
    parser.add_argument("--in-backward", action="store_true",
                        help="the SGD step runs inside backward (post-accumulate-grad hooks)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.lib, bool(args.set_to_none), traced=args.traced,
                                 in_backward=args.in_backward, compiled=args.compiled)))
        return
    if args.lib:
        r = run_child(args.lib, bool(args.set_to_none), traced=args.traced or args.lib == "chainrule",
                      in_backward=args.in_backward, compiled=args.compiled)
        print(json.dumps({k: (v / MB if isinstance(v, int) and not isinstance(v, bool) else v)
                          for k, v in r.items()}, indent=1))
        return
    from .timing import format_table
    print(format_table(rows(), COLUMNS))


if __name__ == "__main__":
    main()
