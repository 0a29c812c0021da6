"""The ``chainrule`` command: train, demo, report, explain.

``chainrule train`` with no arguments trains a small CNN on the bundled digits,
prints test accuracy and the gradient-flow findings, and writes ``runs/<name>/``
(checkpoints, metrics.csv, diagnostics.json, report.html and its PNGs).
"""
from __future__ import annotations

import argparse
import os
import sys

from .train.errors import UserError


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that reports bad arguments in one line and exits with status 2."""

    def error(self, message: str):  # noqa: D401 - argparse's signature
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model and write a run folder with a report")
    p.add_argument("--data", default="digits",
                   choices=["digits", "mnist", "fashion-mnist", "moons", "spirals"])
    p.add_argument("--data-dir", default=None, help="folder with the IDX files (mnist, fashion-mnist)")
    p.add_argument("--model", default="cnn", choices=["mlp", "cnn", "resnet"])
    p.add_argument("--depth", type=_int_up_to(MAX_DEPTH), default=None,
                   help=f"hidden layers (mlp: 3, resnet: 50; at most {MAX_DEPTH})")
    p.add_argument("--width", type=_int_up_to(MAX_WIDTH), default=None,
                   help=f"hidden units (mlp: 128, resnet: 64; at most {MAX_WIDTH})")
    p.add_argument("--activation", default="relu",
                   choices=["relu", "sigmoid", "tanh", "gelu", "leaky_relu", "elu", "silu"])
    p.add_argument("--no-residual", action="store_true", help="resnet without its skip connections")
    p.add_argument("--init", default="default", choices=["default", "he", "xavier", "normal"])
    p.add_argument("--optimizer", default="adamw", choices=["sgd", "momentum", "adam", "adamw", "rmsprop"])
    p.add_argument("--lr", type=_positive_float, default=None, help="learning rate (adamw: 2e-3, adam: 3e-3, sgd: 0.1)")
    p.add_argument("--schedule", default=None, choices=["none", "step", "cosine", "onecycle"],
                   help="learning-rate schedule (default: cosine)")
    p.add_argument("--batch-size", type=_positive_int, default=32)
    p.add_argument("--epochs", type=_positive_int, default=None, help="epochs (default depends on data)")
    p.add_argument("--seed", type=int, default=0, help="any integer; negative seeds count "
                   "from 2**64 as in torch.manual_seed")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"],
                   help="bf16/fp16: forward and loss under autocast (fp16 with a GradScaler); "
                        "emulated on NumPy, so slower than fp32")
    p.add_argument("--compile", action="store_true",
                   help="capture the training step once and replay it (chainrule.compile); the "
                        "diagnostics watch the first steps and one in 25 (eagerly)")
    p.add_argument("--name", type=_run_name, default=None,
                   help="run name, a folder inside --runs-dir (default: <data>-<model>-<time>)")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--resume", default=None,
                   help="a run folder (or checkpoint file) to continue with its own settings; "
                        "only --epochs may change (with --schedule none)")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.add_argument("--quiet", action="store_true", help="no progress output")


# sane sizes for a command-line run, so that a mistyped size is one line, not an exhausted
# memory or stack: a width of 4096 is 64 MB per float32 layer (larger belongs in a script)
MAX_DEPTH = 1000
MAX_WIDTH = 4096


def _int_up_to(high: int):
    def parse(text: str) -> int:
        value = _positive_int(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"expected a positive integer up to {high}, got "
                                             f"{value}")
        return value
    parse.__name__ = "positive integer"  # what argparse names in its messages
    return parse


def _run_name(text: str) -> str:
    """A run name is one folder inside --runs-dir: nothing that escapes it."""
    if text in ("", ".", "..") or "/" in text or os.sep in text or \
            (os.altsep and os.altsep in text) or "\0" in text:
        raise argparse.ArgumentTypeError(f"expected a folder name inside --runs-dir (no '/', "
                                         f"not '.' or '..', not empty), got {text!r}")
    return text


def _train_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return parser._subparsers._group_actions[0].choices["train"]._actions


def train_options() -> dict[str, argparse.Action]:
    """The ``train`` subcommand's options by destination (their types and choices)."""
    return {a.dest: a for a in _train_actions(build_parser())}


def given_options(argv: list[str] | None) -> set[str]:
    """The destinations of the options the user typed (not defaulted) in ``argv``."""
    parser = build_parser()
    for action in _train_actions(parser):
        action.default = argparse.SUPPRESS  # then only typed options reach the namespace
    try:
        return set(vars(parser.parse_args(argv))) - {"command", "func"}
    except SystemExit:
        return set()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="chainrule", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", parser_class=_ArgumentParser)
    _train_parser(sub)
    demo = sub.add_parser("demo", help="built-in demonstrations")
    demo.add_argument("which", choices=["vanishing"])
    demo.add_argument("--depth", type=_positive_int, default=50)
    demo.add_argument("--epochs", type=_positive_int, default=8)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--runs-dir", default="runs")
    demo.add_argument("--quiet", action="store_true")
    report = sub.add_parser("report", help="(re)build the HTML report of a run folder")
    report.add_argument("run_dir")
    sub.add_parser("explain", help="print the chain-rule trace of a small example")
    doctor = sub.add_parser("doctor", help="run a training script watched, then name what "
                            "went wrong (findings and an HTML report)")
    doctor.add_argument("--torch", action="store_true",
                        help="run an unmodified PyTorch script (import torch gives chainrule)")
    doctor.add_argument("--out", default="runs", help="folder for the report (default: runs)")
    doctor.add_argument("script")
    doctor.add_argument("script_args", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "train":
            from .train.run import train_command
            args.given = given_options(argv)  # --resume refuses options that contradict the run
            args.option_specs = train_options()  # … and checks the run's saved settings by them
            return train_command(args)
        if args.command == "demo":
            from .train.run import demo_vanishing_command
            return demo_vanishing_command(args)
        if args.command == "report":
            from .train.run import report_command
            return report_command(args)
        if args.command == "doctor":
            from .doctor import run
            if not os.path.isfile(args.script):
                raise UserError(f"no such script: {args.script}")
            result = run(args.script, args.script_args, torch=args.torch, out_dir=args.out)
            return 1 if result.error is not None else 0
        if args.command == "explain":
            from .train.run import explain_command
            return explain_command(args)
    except UserError as e:
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `chainrule train | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 0
    except OSError as e:  # a folder that cannot be made or written, a full disk …
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (MemoryError, RecursionError) as e:  # sizes beyond this machine
        print(f"chainrule {args.command}: error: {type(e).__name__}: {str(e)[:200]}; choose a "
              "smaller model (--width, --depth) or --batch-size", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
