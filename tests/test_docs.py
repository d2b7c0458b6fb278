"""Every Python snippet in docs/ runs, against the demo API standing in for api.example.com."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)
PAGES = sorted(p for p in DOCS.glob("*.md") if FENCE.search(p.read_text()))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_snippets_run_in_order(page, demo):
    if page.name == "spark.md":
        pytest.importorskip("pyspark", reason="docs/spark.md needs the 'spark' extra")
        if shutil.which("java") is None:
            pytest.skip("docs/spark.md needs Java for its local SparkSession; java is not on PATH")
    namespace: dict[str, object] = {}
    for block in FENCE.findall(page.read_text()):
        code = block.replace("https://api.example.com", demo.base_url)
        exec(compile(code, str(page), "exec"), namespace)
