"""Connectionist temporal classification: the negative log-likelihood of each target under
(T, N, C) log-probabilities, by the forward-backward recursion in log space.

A target l of length S is extended to l' = (blank, l1, blank, l2, …, lS, blank), 2S+1
states. ``alpha[t, s]`` is the log-probability of all paths through l'[:s+1] in t+1
steps; a state is reached from itself, the state before, and from two before when
l'[s] is a label that differs from l'[s-2]. The loss is -logsumexp of the last two
states at the sample's last time step. Everything is vectorised over the batch and
the states; the Python loop is over time only.

The gradient is PyTorch's: ``exp(lp) - exp(log(Σ_s: l'_s = c  alpha·beta) + nll - lp)``,
the derivative with respect to the *logits* of a log_softmax that produced ``lp`` (it
equals the derivative with respect to ``lp`` after log_softmax's backward, which is
how CTC is always used). Time steps past a sample's input length get zero; with
``zero_infinity`` an infinite loss becomes 0 with a zero gradient. As in PyTorch, the
gradient is not differentiable again.
"""
from __future__ import annotations

from .registry import defop, defvjp, nondifferentiable


def _lse(xp, *terms):
    """Elementwise log(sum(exp(terms))) without overflow; all -inf gives -inf."""
    top = terms[0]
    for t in terms[1:]:
        top = xp.maximum(top, t)
    safe = xp.where(xp.isfinite(top), top, 0.0)
    total = sum(xp.exp(t - safe) for t in terms)
    with xp.errstate(divide="ignore"):
        return xp.log(total) + safe


def _extended(xp, targets, target_lengths, blank, states):
    """(N, 2·Smax+1) extended labels, and which states may skip from two before."""
    n = targets.shape[0]
    ext = xp.full((n, states), blank, dtype=xp.int64)
    ext[:, 1::2] = targets
    skip = xp.zeros((n, states), dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    valid = xp.arange(states)[None, :] < (2 * target_lengths + 1)[:, None]
    return ext, skip, valid


def _alphas(xp, lp, ext, skip, valid, input_lengths):
    """(T, N, L) log alphas; steps past a sample's length repeat its last step."""
    t_max, n, _ = lp.shape
    states = ext.shape[1]
    rows = xp.arange(n)[:, None]
    emit = lp[:, rows, ext]  # (T, N, L): each state's label log-probability
    neg = -xp.inf
    alpha = xp.full((t_max, n, states), neg, dtype=lp.dtype)
    first = xp.full((n, states), neg, dtype=lp.dtype)
    first[:, 0] = emit[0, :, 0]
    if states > 1:
        first[:, 1] = xp.where(valid[:, 1], emit[0, :, 1], neg)
    alpha[0] = first
    for t in range(1, t_max):
        prev = alpha[t - 1]
        one = xp.concatenate([xp.full((n, 1), neg, dtype=lp.dtype), prev[:, :-1]], axis=1)
        two = xp.concatenate([xp.full((n, 2), neg, dtype=lp.dtype), prev[:, :-2]], axis=1)
        two = xp.where(skip, two, neg)
        step = xp.where(valid, emit[t] + _lse(xp, prev, one, two), neg)
        alpha[t] = xp.where((t < input_lengths)[:, None], step, prev)
    return alpha, emit


def _nll(xp, alpha, input_lengths, target_lengths):
    n = alpha.shape[1]
    last = alpha[xp.maximum(input_lengths - 1, 0), xp.arange(n)]  # (N, L)
    end = 2 * target_lengths
    a = last[xp.arange(n), end]
    b = xp.where(target_lengths > 0, last[xp.arange(n), xp.maximum(end - 1, 0)], -xp.inf)
    return -_lse(xp, a, b)


def _ctc_fwd(xp, lp, targets, input_lengths, target_lengths, blank, zero_infinity):
    work = lp.astype(xp.float64)
    ext, skip, valid = _extended(xp, targets, target_lengths, blank, 2 * targets.shape[1] + 1)
    alpha, _ = _alphas(xp, work, ext, skip, valid, input_lengths)
    nll = _nll(xp, alpha, input_lengths, target_lengths)
    if zero_infinity:
        nll = xp.where(xp.isinf(nll), 0.0, nll)
    return nll.astype(lp.dtype)


def _ctc_grad_fwd(xp, lp, targets, input_lengths, target_lengths, blank, zero_infinity):
    """d nll / d logits for every sample: (T, N, C)."""
    work = lp.astype(xp.float64)
    t_max, n, c = work.shape
    states = 2 * targets.shape[1] + 1
    ext, skip, valid = _extended(xp, targets, target_lengths, blank, states)
    alpha, emit = _alphas(xp, work, ext, skip, valid, input_lengths)
    nll = _nll(xp, alpha, input_lengths, target_lengths)
    neg = -xp.inf
    # betas: the mirror recursion from each sample's own last step
    beta = xp.full((t_max, n, states), neg)
    end = 2 * target_lengths
    live = xp.zeros((n, states), dtype=bool)
    live[xp.arange(n), end] = True
    live[xp.arange(n), xp.maximum(end - 1, 0)] |= target_lengths > 0
    skip_next = xp.zeros((n, states), dtype=bool)  # state s may go to s+2
    skip_next[:, :-2] = skip[:, 2:]
    nxt = xp.full((n, states), neg)
    for t in range(t_max - 1, -1, -1):
        at_end = (t == input_lengths - 1)[:, None]
        one = xp.concatenate([nxt[:, 1:], xp.full((n, 1), neg)], axis=1)
        two = xp.concatenate([nxt[:, 2:], xp.full((n, 2), neg)], axis=1)
        two = xp.where(skip_next, two, neg)
        inner = xp.where(at_end, xp.where(live, 0.0, neg), _lse(xp, nxt, one, two))
        cur = xp.where(valid & (t < input_lengths)[:, None], emit[t] + inner, neg)
        beta[t] = cur
        nxt = cur
    both = alpha + beta  # (T, N, L); counts lp at t twice, taken out below
    lcab = xp.full((t_max, n, c), neg)
    for s in range(states):  # logsumexp over the states of each label
        cols = ext[:, s]
        cur = lcab[:, xp.arange(n), cols]
        lcab[:, xp.arange(n), cols] = _lse(xp, cur, both[:, :, s])
    with xp.errstate(over="ignore", invalid="ignore"):
        grad = xp.exp(work) - xp.exp(lcab + nll[None, :, None] - work)
    inside = xp.arange(t_max)[:, None] < input_lengths[None, :]
    grad = xp.where(inside[:, :, None], grad, 0.0)
    if zero_infinity:
        grad = xp.where(xp.isinf(nll)[None, :, None], 0.0, grad)
    return grad.astype(lp.dtype)


ctc_loss_op = defop("ctc_loss", _ctc_fwd)
ctc_loss_grad_op = nondifferentiable(
    defop("ctc_loss_backward", _ctc_grad_fwd),
    "PyTorch's CTC gradient is not differentiable again (no double backward)")
defvjp(ctc_loss_op, lambda g, ans, lp, **p: ctc_loss_grad_op(lp.detach(), **p) * g.reshape(1, -1, 1))
