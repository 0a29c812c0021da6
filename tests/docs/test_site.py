"""The documentation site: `mkdocs build --strict` passes, and the pages work in a browser.

The build runs chainrule to make the figures (docs/hooks/), so it also checks that every
finding kind still shows on its setup. The pages are then opened in headless Chromium from
the files, as a reader without network would: no console errors, every image loads, and
nothing is fetched from outside the site.
"""
import functools
import http.server
import importlib.util
import os
import threading
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chainrule.diagnostics import KINDS

ROOT = Path(__file__).resolve().parents[2]
from tests.browser import CHROMIUM, DRIVER, IN_CI, headless_chromium
HAVE_MKDOCS = all(importlib.util.find_spec(m) for m in
                  ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"))
needs_mkdocs = pytest.mark.skipif(not HAVE_MKDOCS and not IN_CI,
                                  reason="the docs extra is not installed (pip install -e '.[docs]')")


def _griffe_rest():
    spec = importlib.util.spec_from_file_location("griffe_rest",
                                                  ROOT / "docs" / "hooks" / "griffe_rest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_mkdocs
def test_docstrings_become_markdown():
    to_markdown = _griffe_rest().to_markdown
    text = ("Use :func:`watch` and ``x.grad``.\n\n>>> x = 1\n>>> x + 1\n2\n\n"
            "Launch it::\n\n    mpiexec -n 2 python train.py\n\nThen more.")
    assert to_markdown(text).splitlines() == [
        "Use `watch` and `x.grad`.", "",
        "```pycon", ">>> x = 1", ">>> x + 1", "2", "```", "",
        "Launch it:", "", "```", "mpiexec -n 2 python train.py", "```", "", "Then more."]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not HAVE_MKDOCS and not IN_CI:
        pytest.skip("the docs extra is not installed")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "NO_MKDOCS_2_WARNING": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                           str(ROOT / "mkdocs.yml"), "-d", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    return out, log, seconds


@pytest.mark.slow
def test_strict_build_has_every_page_and_figure(site):
    out, log, seconds = site
    assert "WARNING" not in log, log
    for page in ("index", "getting-started", "backprop", "diagnostics", "compatibility",
                 "distributed", "performance", "api/index", "api/tensor", "api/nn",
                 "api/functional", "api/optim", "api/autograd", "api/diagnostics", "api/train",
                 "api/distributed"):
        assert (out / f"{page}.html").is_file(), page
    guide = (out / "diagnostics.html").read_text()
    for kind in KINDS:  # a section, a figure and the monitor's own words for every kind
        assert f'id="{kind}"' in guide, kind
        assert (out / "figures" / "diagnostics" / f"{kind}.png").stat().st_size > 5000, kind
        assert f"<strong>{kind}</strong> (layers:" in guide, f"{kind}: not reported on its setup"
    for name in ("activations", "gradient-by-depth", "learning-rate", "backward-cost",
                 "plateaus"):
        assert (out / "figures" / "backprop" / f"{name}.png").stat().st_size > 5000, name
    for page in out.rglob("*.html"):  # every placeholder was filled
        assert not re.search(r"<!--\s*chainrule:", page.read_text()), page
    assert "a.grad = 2" in (out / "backprop.html").read_text()  # explain()'s trace
    print(f"mkdocs build: {seconds:.1f} s")




@pytest.mark.slow
@pytest.mark.skipif(not (CHROMIUM and DRIVER) and not IN_CI,
                    reason="chromium/chromedriver not installed (.ci/run installs them)")
@pytest.mark.parametrize("page, expected", [
    ("index.html", ["deep-learning library built around backpropagation", "Diagnostics guide"]),
    ("diagnostics.html", ["Causes before symptoms", "What the monitor says"]),
    ("api/diagnostics.html", ["chainrule.diagnostics", "watch", "Thresholds"]),
])
def test_pages_render_offline_in_headless_chromium(site, page, expected):
    if not IN_CI:
        pytest.importorskip("selenium")
    out, _, _ = site
    driver = headless_chromium()
    try:
        driver.get((out / page).as_uri())
        text = driver.find_element("tag name", "body").text
        for words in expected:
            assert words in text, words
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.src, i.complete, i.naturalWidth]);")
        for src, complete, width in images:
            assert complete and width > 0, f"image {src} did not load"
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name);")
        outside = [url for url in fetched if not url.startswith("file:")]
        assert outside == [], outside  # the site works offline: no fonts or scripts fetched
        problems = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert problems == [], problems
    finally:
        driver.quit()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.mark.slow
@pytest.mark.skipif(not (CHROMIUM and DRIVER) and not IN_CI,
                    reason="chromium/chromedriver not installed (.ci/run installs them)")
def test_links_work_from_disk_and_search_works_when_served(site):
    """Opened from disk a reader can follow the navigation; served (``mkdocs serve`` or any
    static server, still offline) the search finds pages too."""
    if not IN_CI:
        pytest.importorskip("selenium")
    from selenium.webdriver.common.by import By
    out, _, _ = site
    handler = functools.partial(_QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    driver = headless_chromium()
    try:
        driver.get((out / "index.html").as_uri())
        driver.find_element(By.LINK_TEXT, "Diagnostics guide").click()
        assert driver.current_url.endswith("/diagnostics.html")
        assert "Causes before symptoms" in driver.find_element(By.TAG_NAME, "body").text

        driver.set_window_size(1400, 1000)
        driver.get(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        driver.execute_script("document.getElementById('__search').click()")
        driver.find_element(By.CSS_SELECTOR, "input.md-search__input").send_keys("vanishing")
        deadline = time.time() + 20
        meta = ""
        while time.time() < deadline and "matching" not in meta:
            time.sleep(0.2)
            meta = driver.find_element(By.CSS_SELECTOR, ".md-search-result__meta").text
        assert "matching document" in meta, meta
        results = driver.find_element(By.CSS_SELECTOR, ".md-search-result__list").text
        assert "vanishing" in results.lower()
        problems = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert problems == [], problems
    finally:
        driver.quit()
        server.shutdown()
