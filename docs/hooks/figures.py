"""mkdocs hook: the figures and texts that chainrule computes at build time.

``on_files`` runs the figure makers (backprop_figures.py, diagnostic_figures.py, which
train small models with chainrule) and adds their PNGs to the site as generated files,
so links to them are checked like any page's. ``on_page_markdown`` replaces each
``<!-- chainrule: KEY -->`` placeholder with the text made for KEY (an unknown key
fails the build).
"""
from __future__ import annotations

import logging
import re
import time

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

# mkdocs puts this folder on sys.path only while it loads the hook: import the makers now
import backprop_figures  # noqa: E402
import diagnostic_figures  # noqa: E402

log = logging.getLogger("mkdocs.hooks.figures")
PLACEHOLDER = re.compile(r"<!--\s*chainrule:\s*([\w:.-]+)\s*-->")
_texts: dict[str, str] = {}


def on_files(files, config):
    _texts.clear()
    for maker in (backprop_figures, diagnostic_figures):
        start = time.perf_counter()
        pngs, texts = maker.make()
        for name, data in pngs.items():
            files.append(File.generated(config, f"figures/{name}", content=data))
        _texts.update(texts)
        log.info("%s: %d figures in %.1f s", maker.__name__, len(pngs),
                 time.perf_counter() - start)
    return files


def on_page_markdown(markdown, page, config, files):
    def fill(match: re.Match) -> str:
        key = match.group(1)
        if key not in _texts:
            raise PluginError(f"{page.file.src_uri}: no generated text for placeholder {key!r}")
        return _texts[key]

    return PLACEHOLDER.sub(fill, markdown)
