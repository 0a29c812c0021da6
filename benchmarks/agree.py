"""A manual check, not part of the benchmark run: the libraries compute the same losses.

Runs three SGD steps of each workload in every library that can run here and prints each
step's loss and the largest relative difference from PyTorch. Step 1's loss checks the
forward; steps 2 and 3 also check the gradients and the update.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.agree``
"""
from __future__ import annotations

import argparse

from . import peers as P
from . import workloads as W
from .timing import format_table

CASES = [
    ("overhead 10x10", lambda lib: W.overhead_step(lib, (10, 10)), ("overhead", {"shape": (10, 10)})),
    ("MLP 784-512-512-10 batch 128", lambda lib: W.mlp_step(lib, batch=128),
     ("mlp", {"batch": 128})),
    ("small CNN batch 64", W.cnn_step, ("cnn", {})),
    ("LSTM", W.lstm_step, None),
    ("transformer encoder layer", W.transformer_step, None),
    ("deep MLP 20x1024 batch 256", lambda lib: W.mlp_step(lib, W.DEEP_MLP, 256),
     ("mlp", {"sizes": W.DEEP_MLP, "batch": 256})),
]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.agree")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--peers", choices=("none", "all"), default="all")
    args = parser.parse_args()
    usable = P.available() if args.peers == "all" else {}
    for peer, why in usable.items():
        if why:
            print(f"{peer}: {why}")
    rows = []
    for name, make, peer_case in CASES:
        losses = {lib: [float(v) for v in _run(make(lib), args.steps)] for lib in ("chainrule", "torch")}
        for peer, why in usable.items():
            if why is None and peer_case is not None:
                try:
                    losses[peer] = [float(v) for v in _run(P.step(peer, peer_case[0], **peer_case[1]), args.steps)]
                except NotImplementedError:
                    pass
        ref = losses["torch"]
        for lib, vals in losses.items():
            rel = max(abs(v - r) / max(abs(r), 1e-12) for v, r in zip(vals, ref))
            rows.append({"workload": name, "library": lib,
                         "losses": "  ".join(f"{v:.7f}" for v in vals), "max_rel_diff_vs_torch": f"{rel:.1e}"})
    print(format_table(rows, ["workload", "library", "losses", "max_rel_diff_vs_torch"]))


def _run(step, n: int) -> list[float]:
    out = []
    for _ in range(n):
        loss = step()
        out.append(loss.item() if hasattr(loss, "item") else loss)
    return out


if __name__ == "__main__":
    main()
