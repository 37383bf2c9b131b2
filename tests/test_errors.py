"""The exception tree: as documented, catchable as Python's own kinds, one exit code each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import thsources
from thsources import errors
from thsources.errors import ThsourcesError, exit_code_for

ROOT = Path(__file__).resolve().parents[1]
CLASSES = {
    name: getattr(errors, name)
    for name in errors.__all__
    if isinstance(getattr(errors, name), type)
}


def drawn_tree(text: str) -> dict[str, str | None]:
    """``{class: parent}`` from a tree drawn with box characters (4 columns per level)."""
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    root_col: int | None = None
    for line in text.splitlines():
        m = re.match(r"^[ │├└─]*([A-Z][A-Za-z]+)(?=\s|$)", line)
        if m is None or m.group(1) not in CLASSES:
            continue
        name, col = m.group(1), m.start(1)
        root_col = col if root_col is None else root_col
        depth = (col - root_col) // 4
        del stack[depth:]
        parents[name] = stack[-1] if stack else None
        stack.append(name)
    return parents


def actual_tree() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name, cls in CLASSES.items():
        ours = [b for b in cls.__bases__ if issubclass(b, ThsourcesError)]
        out[name] = ours[0].__name__ if ours else None
    return out


@pytest.mark.parametrize(
    "text",
    [
        errors.__doc__ or "",
        re.search(r"```\nThsourcesError\n.*?```", (ROOT / "docs" / "design.md").read_text(), re.S)
        .group(0)  # type: ignore[union-attr]
        .strip("`"),
    ],
    ids=["errors.py", "docs/design.md"],
)
def test_the_drawn_tree_is_the_real_one(text: str) -> None:
    assert drawn_tree(text) == actual_tree()


def test_every_error_is_exported_from_the_package() -> None:
    missing = [n for n in CLASSES if not hasattr(thsources, n)]
    assert missing == []


@pytest.mark.parametrize(
    ("name", "builtin"),
    [
        ("ParameterError", ValueError),
        ("QueryTimeout", TimeoutError),
        ("NotFound", LookupError),
        ("MissingDependency", ImportError),
    ],
)
def test_python_code_can_catch_them_as_the_builtin_kind(name: str, builtin: type) -> None:
    with pytest.raises(builtin) as info:
        raise CLASSES[name]("what went wrong", source="s", query="SELECT 1")
    error = info.value
    assert isinstance(error, ThsourcesError)
    assert str(error) == "what went wrong"
    assert (error.source, error.query) == ("s", "SELECT 1")


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("ConfigError", 2),
        ("MissingDependency", 2),
        ("ParameterError", 2),
        ("UnsupportedQuery", 2),
        ("AuthenticationError", 3),
        ("PermissionDenied", 3),
        ("SourceError", 4),
        ("NotFound", 4),
        ("SourceUnavailable", 4),
        ("ProtocolError", 4),
        ("QueryError", 1),
        ("QueryTimeout", 5),
        ("QueryCancelled", 1),
        ("ThsourcesError", 1),
    ],
)
def test_exit_codes(name: str, code: int) -> None:
    assert exit_code_for(CLASSES[name]("x")) == code


def test_every_class_has_an_exit_code_test() -> None:
    tested = {p[0] for p in test_exit_codes.pytestmark[0].args[1]}  # type: ignore[attr-defined]
    assert tested == set(CLASSES)


def test_keyboard_interrupt_exits_130() -> None:
    assert exit_code_for(KeyboardInterrupt()) == 130


def test_the_query_stays_out_of_the_message_and_repr() -> None:
    sql = "SELECT " + ", ".join(f"col{i}" for i in range(500)) + " FROM job"
    error = thsources.QueryError("Binder Error: no column col7", source="local", query=sql)
    assert error.query == sql
    assert str(error) == "Binder Error: no column col7"
    assert repr(error) == "QueryError('Binder Error: no column col7')"
