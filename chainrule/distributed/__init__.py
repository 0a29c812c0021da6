"""``chainrule.distributed``: importable, with no process group (multi-process training over
MPI is a separate feature, not built yet).

``is_available()`` and ``is_initialized()`` are False, so programs that guard their
distributed code with them run single-process; ``init_process_group`` raises
NotImplementedError, and collectives raise PyTorch's "not initialized" ValueError.

>>> import chainrule.distributed as dist
>>> dist.is_available(), dist.is_initialized()
(False, False)
"""
from __future__ import annotations

import enum

__all__ = ["is_available", "is_initialized", "init_process_group", "destroy_process_group",
           "get_rank", "get_world_size", "barrier", "all_reduce", "broadcast", "all_gather",
           "reduce", "ReduceOp"]

_FEATURE = ("multi-process training (chainrule.distributed over MPI) is not implemented in "
            "chainrule yet")


class ReduceOp(enum.Enum):
    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


def is_available() -> bool:
    """False: chainrule has no distributed backend yet."""
    return False


def is_initialized() -> bool:
    """False: no process group can be made yet."""
    return False


def init_process_group(backend=None, *args, **kwargs) -> None:
    """Not implemented yet: raises NotImplementedError."""
    raise NotImplementedError(f"chainrule.distributed.init_process_group: {_FEATURE}")


def not_initialized(what: str) -> ValueError:
    """PyTorch's error for a collective called without a process group."""
    return ValueError(f"chainrule.distributed.{what}: Default process group has not been "
                      f"initialized, please make sure to call init_process_group ({_FEATURE})")


def _needs_group(name: str):
    def fn(*args, **kwargs):
        raise not_initialized(name)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = "Raises ValueError: there is no process group (see the module docstring)."
    return fn


get_rank = _needs_group("get_rank")
get_world_size = _needs_group("get_world_size")
destroy_process_group = _needs_group("destroy_process_group")
barrier = _needs_group("barrier")
all_reduce = _needs_group("all_reduce")
broadcast = _needs_group("broadcast")
all_gather = _needs_group("all_gather")
reduce = _needs_group("reduce")
