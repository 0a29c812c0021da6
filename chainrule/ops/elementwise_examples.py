"""Runnable examples (doctests) of the elementwise ops, attached to their docstrings.

They live here so that ``elementwise.py`` stays one job within the file-size limit; the
functions stay where they are, and doctest collects each example from ``elementwise``
(the module the function belongs to). ``ops/__init__`` imports this file right after
``elementwise``, before any wrapper (``_opmath``, ``amp``, ``out=``) copies a docstring.
"""
from .elementwise import (  # noqa: A004  (round: the op, not the builtin)
    abs_fn, acos, add_fn, asin, atan, ceil, clamp, clamp_max, clamp_min, cos, cosh, div_fn,
    erf, erfinv, exp, exp2, expm1, floor, floor_divide, fmod_fn, frac, lerp, log, log10, log1p,
    log2, maximum, minimum, mul_fn, neg_fn, pow_fn, reciprocal, remainder_fn, round, rsqrt,
    sigmoid, sign, sin, sinh, sqrt, square, sub_fn, tan, tanh, trunc,
)


abs_fn.__doc__ += """

>>> import chainrule as cr
>>> cr.abs(cr.tensor([-1.5, 0., 2.]))
tensor([1.5000, 0.0000, 2.0000])
"""

acos.__doc__ = """Elementwise ``acos``.

>>> import chainrule as cr
>>> cr.acos(cr.tensor([1., 0.]))
tensor([0.0000, 1.5708])
"""

add_fn.__doc__ += """

>>> import chainrule as cr
>>> cr.add(cr.tensor([1, 2]), cr.tensor([10, 20]), alpha=2)
tensor([21, 42])
"""

asin.__doc__ = """Elementwise ``asin``.

>>> import chainrule as cr
>>> cr.asin(cr.tensor([0., 1.]))
tensor([0.0000, 1.5708])
"""

atan.__doc__ = """Elementwise ``atan``.

>>> import chainrule as cr
>>> cr.atan(cr.tensor([0., 1.]))
tensor([0.0000, 0.7854])
"""

ceil.__doc__ = """Elementwise ``ceil`` (zero gradient).

>>> import chainrule as cr
>>> cr.ceil(cr.tensor([-1.5, 0.2, 2.]))
tensor([-1.,  1.,  2.])
"""

clamp.__doc__ += """

>>> import chainrule as cr
>>> cr.clamp(cr.tensor([-2., 0.5, 3.]), min=0., max=1.)
tensor([0.0000, 0.5000, 1.0000])
"""

clamp_max.__doc__ += """

>>> import chainrule as cr
>>> cr.clamp_max(cr.tensor([-2., 0.5, 3.]), 1.)
tensor([-2.0000,  0.5000,  1.0000])
"""

clamp_min.__doc__ += """

>>> import chainrule as cr
>>> cr.clamp_min(cr.tensor([-2., 0.5, 3.]), 0.)
tensor([0.0000, 0.5000, 3.0000])
"""

cos.__doc__ = """Elementwise ``cos``.

>>> import chainrule as cr
>>> cr.cos(cr.tensor([0., 1.]))
tensor([1.0000, 0.5403])
"""

cosh.__doc__ = """Elementwise ``cosh``.

>>> import chainrule as cr
>>> cr.cosh(cr.tensor([0., 1.]))
tensor([1.0000, 1.5431])
"""

div_fn.__doc__ += """

>>> import chainrule as cr
>>> cr.div(cr.tensor([7, -7]), 2)
tensor([ 3.5000, -3.5000])
>>> cr.div(cr.tensor([7, -7]), 2, rounding_mode="floor")
tensor([ 3, -4])
"""

erf.__doc__ = """Elementwise ``erf``.

>>> import chainrule as cr
>>> cr.erf(cr.tensor([0., 1.]))
tensor([0.0000, 0.8427])
"""

erfinv.__doc__ = """Elementwise ``erfinv``.

>>> import chainrule as cr
>>> cr.erfinv(cr.tensor([0., 0.5]))
tensor([0.0000, 0.4769])
"""

exp.__doc__ = """Elementwise ``exp``.

>>> import chainrule as cr
>>> cr.exp(cr.tensor([0., 1.]))
tensor([1.0000, 2.7183])
"""

exp2.__doc__ = """Elementwise ``exp2``.

>>> import chainrule as cr
>>> cr.exp2(cr.tensor([0., 3.]))
tensor([1., 8.])
"""

expm1.__doc__ = """Elementwise ``expm1``.

>>> import chainrule as cr
>>> cr.expm1(cr.tensor([0., 1.]))
tensor([0.0000, 1.7183])
"""

trunc.__doc__ = """Elementwise ``trunc`` (zero gradient).

>>> import chainrule as cr
>>> cr.trunc(cr.tensor([-1.5, 1.5]))
tensor([-1.,  1.])
"""

floor.__doc__ = """Elementwise ``floor`` (zero gradient).

>>> import chainrule as cr
>>> cr.floor(cr.tensor([-1.5, 0.2, 2.]))
tensor([-2.,  0.,  2.])
"""

floor_divide.__doc__ += """

>>> import chainrule as cr
>>> cr.floor_divide(cr.tensor([7, -7]), 2)
tensor([ 3, -4])
"""

maximum.__doc__ += """

>>> import chainrule as cr
>>> cr.maximum(cr.tensor([1., 5.]), cr.tensor([3., 2.]))
tensor([3., 5.])
"""

minimum.__doc__ += """

>>> import chainrule as cr
>>> cr.minimum(cr.tensor([1., 5.]), cr.tensor([3., 2.]))
tensor([1., 2.])
"""

fmod_fn.__doc__ += """

>>> import chainrule as cr
>>> cr.fmod(cr.tensor([-3., 3.]), 2)
tensor([-1.,  1.])
"""

frac.__doc__ = """The fractional part, ``input - trunc(input)`` (``torch.frac``).

>>> import chainrule as cr
>>> cr.frac(cr.tensor([1.5, -2.25]))
tensor([ 0.5000, -0.2500])
"""

lerp.__doc__ += """

>>> import chainrule as cr
>>> cr.lerp(cr.tensor([0., 10.]), cr.tensor([10., 20.]), 0.5)
tensor([ 5., 15.])
"""

log.__doc__ = """Elementwise ``log``.

>>> import chainrule as cr
>>> cr.log(cr.tensor([1., 4.]))
tensor([0.0000, 1.3863])
"""

log10.__doc__ = """Elementwise ``log10``.

>>> import chainrule as cr
>>> cr.log10(cr.tensor([1., 10.]))
tensor([0., 1.])
"""

log1p.__doc__ = """Elementwise ``log1p``.

>>> import chainrule as cr
>>> cr.log1p(cr.tensor([0., 1.]))
tensor([0.0000, 0.6931])
"""

log2.__doc__ = """Elementwise ``log2``.

>>> import chainrule as cr
>>> cr.log2(cr.tensor([1., 8.]))
tensor([0., 3.])
"""

mul_fn.__doc__ += """

>>> import chainrule as cr
>>> cr.mul(cr.tensor([1, 2]), cr.tensor([3., 4.]))
tensor([3., 8.])
"""

neg_fn.__doc__ += """

>>> import chainrule as cr
>>> cr.neg(cr.tensor([1., -2.]))
tensor([-1.,  2.])
"""

pow_fn.__doc__ += """

>>> import chainrule as cr
>>> cr.pow(cr.tensor([1, 2, 3]), 2)
tensor([1, 4, 9])
>>> cr.pow(2, cr.tensor([1., 2.]))
tensor([2., 4.])
"""

reciprocal.__doc__ = """Elementwise ``reciprocal``.

>>> import chainrule as cr
>>> cr.reciprocal(cr.tensor([2., 4.]))
tensor([0.5000, 0.2500])
"""

remainder_fn.__doc__ += """

>>> import chainrule as cr
>>> cr.remainder(cr.tensor([-3., 3.]), 2)
tensor([1., 1.])
"""

round.__doc__ += """

>>> import chainrule as cr
>>> cr.round(cr.tensor([0.5, 1.5, 2.5]))
tensor([0., 2., 2.])
>>> cr.round(cr.tensor([1.2345]), decimals=2)
tensor([1.2300])
"""

rsqrt.__doc__ = """Elementwise ``rsqrt``.

>>> import chainrule as cr
>>> cr.rsqrt(cr.tensor([1., 4.]))
tensor([1.0000, 0.5000])
"""

sigmoid.__doc__ = """Elementwise ``sigmoid``.

>>> import chainrule as cr
>>> cr.sigmoid(cr.tensor([0., 2.]))
tensor([0.5000, 0.8808])
"""

sign.__doc__ = """Elementwise ``sign`` (zero gradient).

>>> import chainrule as cr
>>> cr.sign(cr.tensor([-2., 0., 3.]))
tensor([-1.,  0.,  1.])
"""

sin.__doc__ = """Elementwise ``sin``.

>>> import chainrule as cr
>>> cr.sin(cr.tensor([0., 1.]))
tensor([0.0000, 0.8415])
"""

sinh.__doc__ = """Elementwise ``sinh``.

>>> import chainrule as cr
>>> cr.sinh(cr.tensor([0., 1.]))
tensor([0.0000, 1.1752])
"""

sqrt.__doc__ = """Elementwise ``sqrt``.

>>> import chainrule as cr
>>> cr.sqrt(cr.tensor([4., 9.]))
tensor([2., 3.])
"""

square.__doc__ += """

>>> import chainrule as cr
>>> cr.square(cr.tensor([-2, 3]))
tensor([4, 9])
"""

sub_fn.__doc__ += """

>>> import chainrule as cr
>>> cr.sub(cr.tensor([5., 5.]), cr.tensor([1., 2.]), alpha=2)
tensor([3., 1.])
"""

tan.__doc__ = """Elementwise ``tan``.

>>> import chainrule as cr
>>> cr.tan(cr.tensor([0., 1.]))
tensor([0.0000, 1.5574])
"""

tanh.__doc__ = """Elementwise ``tanh``.

>>> import chainrule as cr
>>> cr.tanh(cr.tensor([0., 1.]))
tensor([0.0000, 0.7616])
"""
