

def test_evaluation_passes_under_no_grad_are_not_steps():
    import chainrule as cr
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.ReLU(), cr.nn.Linear(4, 2))
    monitor = cr.diagnostics.watch(model)
    model(cr.randn(5, 3)).sum().backward()
    with cr.no_grad():
        model(cr.randn(5, 3))
    model(cr.randn(5, 3)).sum().backward()
    steps = monitor.report().steps
    assert len(steps) == 2
    assert all("grad_norm" in s["layers"]["0"] for s in steps)
