"""The user docs stand alone: no pointer outside the repository, every local link resolves,
and the README lists every source kind the package has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from thsources.sources.base import known_kinds, source_class

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_docs_point_to_nothing_outside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    assert not re.findall(r"\breference/|\.\./shared|/work/", text)


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_local_links_resolve(doc: Path) -> None:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text()):
        if "://" in target:
            continue
        assert (doc.parent / target).resolve().exists(), target
        assert (doc.parent / target).resolve().is_relative_to(ROOT), target


def test_readme_sources_table_lists_every_kind() -> None:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Sources") :]
    listed = set(re.findall(r"^\| `([a-z]+)` \|", section, re.M))
    shipped = {k for k in known_kinds() if source_class(k).__module__.startswith("thsources.")}
    assert listed == shipped
