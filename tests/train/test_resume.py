"""Resuming a run at a step boundary, in a new process, gives bit-identical results."""
import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr

SCRIPT = os.path.join(os.path.dirname(__file__), "resume_script.py")


def _run(mode, workdir, stop_step=0):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))] +
        [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    subprocess.run([sys.executable, SCRIPT, mode, str(workdir), str(stop_step)], check=True,
                   env=env, timeout=300)


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _flatten(v, f"{prefix}/{k}")
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from _flatten(v, f"{prefix}/{i}")
    else:
        yield prefix, tree


# mid-epoch (epoch 2, batch 2), the last batch of an epoch, and after an epoch-end checkpoint
@pytest.mark.parametrize("stop_step", [8, 6, -1])
def test_resume_is_bit_identical_across_processes(tmp_path, stop_step):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    straight.mkdir()
    interrupted.mkdir()
    _run("straight", straight)
    _run("stop", interrupted, stop_step)
    assert not (interrupted / "final-stop.safetensors").exists()
    _run("resume", interrupted)
    a = cr.load(str(straight / "final-straight.safetensors"))
    b = cr.load(str(interrupted / "final-resume.safetensors"))
    fa, fb = dict(_flatten(a)), dict(_flatten(b))
    assert fa.keys() == fb.keys()
    for key in fa:
        va, vb = fa[key], fb[key]
        if isinstance(va, cr.Tensor):
            assert va.dtype == vb.dtype and tuple(va.shape) == tuple(vb.shape), key
            assert np.array_equal(va.numpy(), vb.numpy()), f"{key} differs after resume"
        else:
            assert va == vb, key
