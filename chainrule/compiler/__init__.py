"""``chainrule.compile`` and ``chainrule.compiler``: capture a step, replay it.

:mod:`.traced` records the array calls of one eager run, :mod:`.capture` runs a step under
it (tensors' arrays traced, draws and host calls recorded), :mod:`.codegen` plans the tape
and writes the replay, :mod:`.api` holds the signatures, guards and warnings, and
:mod:`.explain` says what a capture saw.
"""
from .api import CompileError, CompiledFunction, CompileWarning, compile  # noqa: A004
from .explain import explain

compile.explain = explain  # chainrule.compile.explain(fn, *args): torch._dynamo.explain's role


def disable(fn=None, recursive: bool = True):
    """``torch.compiler.disable``: leave ``fn`` eager (here: hand it back)."""
    return fn if fn is not None else (lambda f: f)


def is_compiling() -> bool:
    """``torch.compiler.is_compiling``: True while a capture records this thread's calls."""
    from .traced import active
    return active() is not None


__all__ = ["compile", "explain", "CompiledFunction", "CompileWarning", "CompileError",
           "disable", "is_compiling"]
