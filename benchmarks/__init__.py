"""Side-by-side benchmarks of chainrule and its peers (not tests; run ``python -m benchmarks``)."""

# Every benchmark measures chainrule as `fit` and `chainrule train` run it: with the host
# allocator tuned (an explicit, process-wide opt-in; see chainrule/backends/host_memory.py).
from chainrule.backends import host_memory as _host_memory

_host_memory.tune()
