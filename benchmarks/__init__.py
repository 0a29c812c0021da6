"""Side-by-side benchmarks of chainrule and its peers (not tests; run ``python -m benchmarks``)."""
