"""``chainrule.utils.tensorboard.SummaryWriter``: PyTorch's import path, tensorboardX's writer."""
from __future__ import annotations

import glob
import struct

from tensorboardX.proto import event_pb2

import chainrule as cr
from chainrule.utils.tensorboard import SummaryWriter


def _events(log_dir: str) -> list:
    """The events of the one event file in ``log_dir`` (TFRecord framing: length, crc, data, crc)."""
    (path,) = glob.glob(f"{log_dir}/events.out.tfevents.*")
    data = open(path, "rb").read()
    out, pos = [], 0
    while pos < len(data):
        (length,) = struct.unpack("<Q", data[pos:pos + 8])
        event = event_pb2.Event()
        event.ParseFromString(data[pos + 12:pos + 12 + length])
        out.append(event)
        pos += 12 + length + 4
    return out


def test_tensors_are_written_as_their_values(tmp_path):
    with SummaryWriter(log_dir=str(tmp_path)) as writer:
        writer.add_scalar("loss", cr.tensor(0.25), global_step=3)
        writer.add_scalar("lr", 0.5, 4)
        writer.add_histogram("w", cr.arange(10.0), 3)
    scalars = {(v.tag, e.step): v.simple_value for e in _events(str(tmp_path)) for v in e.summary.value
               if v.HasField("simple_value")}
    assert scalars == {("loss", 3): 0.25, ("lr", 4): 0.5}
    histograms = [v.histo for e in _events(str(tmp_path)) for v in e.summary.value if v.HasField("histo")]
    assert len(histograms) == 1 and histograms[0].num == 10 and histograms[0].sum == 45.0
