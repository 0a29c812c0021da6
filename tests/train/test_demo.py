"""``chainrule demo vanishing``: the sigmoid net vanishes, the residual ReLU net does not."""
import json

import pytest

from chainrule.cli import main


@pytest.mark.slow
def test_demo_vanishing_finds_vanishing_only_in_the_sigmoid_network(tmp_path, capsys):
    assert main(["demo", "vanishing", "--epochs", "2", "--runs-dir", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "comparison report:" in out
    sigmoid = json.loads((tmp_path / "vanishing-sigmoid" / "diagnostics.json").read_text())
    residual = json.loads((tmp_path / "vanishing-relu-residual-he" / "diagnostics.json").read_text())
    kinds = [f["kind"] for f in sigmoid["findings"]]
    assert "vanishing" in kinds
    vanishing = sigmoid["findings"][kinds.index("vanishing")]
    linear_layers = [n for n in sigmoid["order"] if sigmoid["types"].get(n) == "Linear"]
    early = linear_layers[:3]
    assert set(early) <= set(vanishing["layers"]), (early, vanishing["layers"])
    assert residual["findings"] == []
    assert (tmp_path / "vanishing-report.html").exists()
