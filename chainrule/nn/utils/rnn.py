"""``chainrule.nn.utils.rnn``: padding variable-length sequences into one tensor (and back).

``pad_sequence`` is differentiable (each sequence is padded, then stacked). Packed sequences
(``pack_padded_sequence`` …) are not provided here.

>>> import chainrule as cr
>>> from chainrule.nn.utils.rnn import pad_sequence
>>> pad_sequence([cr.tensor([1, 2]), cr.tensor([3])], padding_value=9).tolist()
[[1, 3], [2, 9]]
"""
from __future__ import annotations

from ...errors import ChainruleError, ShapeError, op_error
from ...tensor import Tensor

__all__ = ["pad_sequence", "unpad_sequence"]


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors of shapes ``(L_i, *)`` into ``(L_max, B, *)`` (``(B, L_max, *)`` when
    ``batch_first``), filling with ``padding_value`` on ``padding_side``."""
    from ... import ops
    from ..functional import pad
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise op_error(ChainruleError, "pad_sequence", "received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise op_error(ValueError, "pad_sequence", f"Expected padding_side to be one of left or "
                       f"right, but got {padding_side}.")
    trailing = tuple(sequences[0].shape[1:])
    for k, s in enumerate(sequences):
        if s.ndim == 0 or tuple(s.shape[1:]) != trailing:
            raise op_error(ShapeError, "pad_sequence",
                           f"every sequence must be (L, *) with the same trailing dims "
                           f"{trailing}; sequence {k} has shape {tuple(s.shape)}")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = longest - s.shape[0]
        if extra:
            # F.pad's widths run from the last dim backwards: only the first dim is padded
            widths = [0, 0] * len(trailing) + ([0, extra] if padding_side == "right" else [extra, 0])
            s = pad(s, widths, value=padding_value)
        padded.append(s)
    return ops.functions.stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor, batch_first: bool = False) -> list:
    """The sequences of a padded batch, each cut to its length (inverse of pad_sequence)."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[: int(n)] for seq, n in zip(padded_sequences.unbind(0), lengths.tolist())]
