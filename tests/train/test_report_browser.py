"""The HTML report in headless Chromium: every image loads and the console stays clean."""

import pytest

from chainrule.cli import main

from tests.browser import CHROMIUM, DRIVER, IN_CI, headless_chromium




@pytest.mark.skipif(not (CHROMIUM and DRIVER) and not IN_CI,
                    reason="chromium/chromedriver not installed (.ci/run installs them)")
def test_report_renders_in_headless_chromium(tmp_path):
    pytest.importorskip("selenium") if not IN_CI else None
    assert main(["train", "--model", "mlp", "--epochs", "2", "--runs-dir", str(tmp_path),
                 "--name", "b", "--quiet"]) == 0
    page = (tmp_path / "b" / "report.html").resolve()
    driver = headless_chromium()
    try:
        driver.get(page.as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth]);")
        assert len(images) == 4
        for alt, complete, width in images:
            assert complete and width > 0, f"image {alt!r} did not load"
        problems = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert problems == [], problems
        assert "Findings" in driver.page_source
    finally:
        driver.quit()
