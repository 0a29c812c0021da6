"""The peers — JAX, HIPS autograd, tinygrad — on the same workloads, weights and data as
``workloads.py``, each used the way it is meant to be used:

* JAX: ``jax.jit`` of ``value_and_grad`` and the SGD update, parameters donated, on the CPU;
* autograd: ``value_and_grad`` of a NumPy function, SGD in NumPy (eager, no compiler);
* tinygrad: ``TinyJit`` of ``Tensor.gradient`` and the SGD update, on its CPU device.

Each is imported lazily, only when asked for; ``available()`` says which can run here.
Every ``*_step`` returns a function that runs one step, waits for it, and returns its loss.
"""
from __future__ import annotations

import os

from . import workloads as W

PEERS = ("jax", "autograd", "tinygrad")
INSTALL = "pip install -e '.[bench]'"


def _probe(name: str) -> None:
    """Import ``name`` and run one tiny gradient; raise if it cannot run here."""
    if name == "jax":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import jax
        import jax.numpy as jnp
        if jax.default_backend() != "cpu":
            raise RuntimeError(f"JAX picked {jax.default_backend()!r}, not the CPU")
        jax.grad(lambda a: jnp.sum(a * a))(jnp.ones(2)).block_until_ready()
    elif name == "autograd":
        import autograd
        import autograd.numpy as anp
        autograd.grad(lambda a: anp.sum(a * a))(anp.ones(2))
    elif name == "tinygrad":
        os.environ.setdefault("DEV", "CPU")
        from tinygrad import Tensor
        a = Tensor([1.0, 2.0])
        (a * a).sum().gradient(a)[0].realize()
    else:
        raise ValueError(f"unknown peer {name!r}; expected one of {PEERS}")


def available(names=PEERS) -> dict[str, str | None]:
    """``{peer: None if it runs here, else why not (one line)}``."""
    out = {}
    for name in names:
        try:
            _probe(name)
            out[name] = None
        except ImportError:
            out[name] = f"not installed ({INSTALL} installs it)"
        except Exception as e:  # noqa: BLE001 - any failure means "not usable here"
            msg = str(e).strip().splitlines()
            out[name] = f"installed but not usable here: {type(e).__name__}: {msg[-1] if msg else ''}"[:160]
    return out


def step(peer: str, workload: str, **kw):
    """The step function of ``peer`` on ``workload`` (``overhead``, ``mlp``, ``cnn``), or
    ``NotImplementedError`` where the peer has no reasonable API for it."""
    fn = globals().get(f"{peer}_{workload}")
    if fn is None:
        raise NotImplementedError(f"{peer} has no {workload} workload")
    return fn(**kw)


# --------------------------------------------------------------------- JAX --
def _jax_sgd(loss_fn, params, args, lr):
    import jax
    vg = jax.value_and_grad(loss_fn)

    def update(params, *args):
        loss, grads = vg(params, *args)
        return jax.tree.map(lambda p, g: p - lr * g, params, grads), loss
    update = jax.jit(update, donate_argnums=0)
    state = [params]

    def step():
        state[0], loss = update(state[0], *args)
        jax.block_until_ready((state[0], loss))
        return loss
    return step


def _jax_cross_entropy(logits, y):
    import jax
    import jax.numpy as jnp
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def jax_overhead(shape=(10, 10)):
    import jax
    import jax.numpy as jnp
    a, b = (jnp.asarray(v) for v in W.overhead_data(shape))
    f = jax.jit(jax.value_and_grad(lambda a, b: jnp.sum(a * b + a), argnums=(0, 1)))

    def step():
        loss, grads = f(a, b)
        jax.block_until_ready(grads)
        return loss
    return step


def _jax_mlp_loss(params, x, y):
    import jax.numpy as jnp
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w.T + b
        if i < len(params) - 1:
            h = jnp.maximum(h, 0)
    return _jax_cross_entropy(h, y)


def jax_mlp(sizes=(784, 512, 512, 10), batch=128, lr=0.01):
    import jax.numpy as jnp
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in W.mlp_layers(sizes)]
    x, y = W.mlp_data(sizes, batch)
    return _jax_sgd(_jax_mlp_loss, params, (jnp.asarray(x), jnp.asarray(y.astype("int32"))), lr)


def _jax_cnn_loss(params, x, y):
    import jax
    import jax.numpy as jnp
    w1, b1, w2, b2, wf, bf = params

    def conv_relu_pool(h, w, b):
        h = jax.lax.conv_general_dilated(h, w, (1, 1), ((1, 1), (1, 1)),
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
        h = jnp.maximum(h + b[None, :, None, None], 0)
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    h = conv_relu_pool(conv_relu_pool(x, w1, b1), w2, b2)
    return _jax_cross_entropy(h.reshape(h.shape[0], -1) @ wf.T + bf, y)


def jax_cnn(batch=64, lr=0.01):
    import jax.numpy as jnp
    params = [jnp.asarray(p) for p in W.normal_params(W.CNN_SHAPES)]
    x, y = W.cnn_data(batch)
    return _jax_sgd(_jax_cnn_loss, params, (jnp.asarray(x), jnp.asarray(y.astype("int32"))), lr)


# ---------------------------------------------------------------- autograd --
def autograd_overhead(shape=(10, 10)):
    import autograd
    import autograd.numpy as anp
    a, b = W.overhead_data(shape)
    f = autograd.value_and_grad(lambda a, b: anp.sum(a * b + a), argnum=(0, 1))

    def step():
        loss, _ = f(a, b)
        return loss
    return step


def autograd_mlp(sizes=(784, 512, 512, 10), batch=128, lr=0.01):
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp
    x, y = W.mlp_data(sizes, batch)
    rows = anp.arange(batch)

    def loss_fn(params):
        h = x
        for i, (w, b) in enumerate(params):
            h = anp.dot(h, w.T) + b
            if i < len(params) - 1:
                h = anp.maximum(h, 0.0)
        return anp.mean(logsumexp(h, axis=1) - h[rows, y])
    vg = autograd.value_and_grad(loss_fn)
    state = [W.mlp_layers(sizes)]

    def step():
        loss, grads = vg(state[0])
        state[0] = [(w - lr * gw, b - lr * gb) for (w, b), (gw, gb) in zip(state[0], grads)]
        return loss
    return step


# ---------------------------------------------------------------- tinygrad --
def _tiny_sgd(loss_fn, params, lr):
    from tinygrad import Tensor, TinyJit
    params = [Tensor(p).realize() for p in params]

    @TinyJit
    def step():
        loss = loss_fn(params)
        grads = loss.gradient(*params)
        for p, g in zip(params, grads):
            p.assign(p - lr * g)
        Tensor.realize(loss, *params)
        return loss

    def run():
        return step().item()
    return run


def tinygrad_overhead(shape=(10, 10)):
    from tinygrad import Tensor, TinyJit
    a, b = (Tensor(v).realize() for v in W.overhead_data(shape))

    @TinyJit
    def step():
        loss = (a * b + a).sum()
        ga, gb = loss.gradient(a, b)
        Tensor.realize(loss, ga, gb)
        return loss

    def run():
        return step().item()
    return run


def tinygrad_mlp(sizes=(784, 512, 512, 10), batch=128, lr=0.01):
    from tinygrad import Tensor
    x, y = W.mlp_data(sizes, batch)
    xt, yt = Tensor(x).realize(), Tensor(y.astype("int32")).realize()

    def loss_fn(params):
        h = xt
        for i in range(0, len(params), 2):
            h = h.linear(params[i].T, params[i + 1])
            if i < len(params) - 2:
                h = h.relu()
        return h.sparse_categorical_crossentropy(yt)
    return _tiny_sgd(loss_fn, [a for wb in W.mlp_layers(sizes) for a in wb], lr)
