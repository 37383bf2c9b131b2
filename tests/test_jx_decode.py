"""The answer decoder on shapes the conformance cases do not pin down alone."""

from __future__ import annotations

import pytest

from thsources.jx.decode import DecodeError, decode, decode_columns


def test_bare_list_values_take_the_select_name() -> None:
    answer = {"meta": {"format": "list"}, "data": ["a", None, "c"]}
    assert decode(answer, {"from": "t", "select": "run.result"}).records == [
        {"run.result": "a"},
        {"run.result": None},
        {"run.result": "c"},
    ]


def test_nested_list_records_become_dotted_columns() -> None:
    answer = {"meta": {"format": "list"}, "data": [{"run": {"result": "x", "tier": 1}}, {}]}
    decoded = decode(answer, {"from": "t", "select": ["run.result", "run.tier"]})
    assert decoded.columns == ["run.result", "run.tier"]
    assert decoded.records == [{"run.result": "x", "run.tier": 1}, {}]


def test_table_cells_holding_objects_are_flattened_under_their_column() -> None:
    answer = {"meta": {"format": "table"}, "header": ["a"], "data": [[{"b": 1, "c": {"d": 2}}]]}
    assert decode(answer).records == [{"a.b": 1, "a.c.d": 2}]


def test_a_two_edge_cube_is_nested_one_level_per_edge() -> None:
    answer = {
        "meta": {"format": "cube"},
        "edges": [
            {"name": "a", "domain": {"type": "set", "partitions": [{"value": "x"}]}},
            {
                "name": "b",
                "allowNulls": False,
                "domain": {"partitions": [{"value": 1}, {"value": 2}]},
            },
        ],
        "data": {"count": [[3, 4], [5, 6]]},
    }
    assert decode(answer).records == [
        {"a": "x", "b": 1, "count": 3},
        {"a": "x", "b": 2, "count": 4},
        {"a": None, "b": 1, "count": 5},
        {"a": None, "b": 2, "count": 6},
    ]


def test_a_groupby_cube_drops_groups_that_do_not_exist() -> None:
    answer = {
        "meta": {"format": "cube"},
        "edges": [{"name": "a", "domain": {"partitions": [{"value": "x"}, {"value": "y"}]}}],
        "data": {"count": [2, 0, 1], "s": [5, None, 0]},
    }
    query = {"from": "t", "groupby": ["a"], "select": [{"aggregate": "count"},
                                                       {"aggregate": "sum", "value": "v",
                                                        "name": "s"}]}  # fmt: skip
    assert decode(answer, query).records == [
        {"a": "x", "count": 2, "s": 5},
        {"a": None, "count": 1, "s": 0},
    ]
    # without the query the cube is read as edges: complete, empty cells kept
    assert len(decode(answer).records) == 3


def test_time_partitions_stand_for_their_minimum() -> None:
    answer = {
        "meta": {"format": "cube"},
        "edges": [
            {
                "name": "t",
                "domain": {
                    "type": "time",
                    "key": "min",
                    "partitions": [{"min": 0, "max": 86400}, {"min": 86400, "max": 172800}],
                },
            }
        ],
        "data": {"count": [1, 2, 0]},
    }
    assert [r["t"] for r in decode(answer).records] == [0, 86400, None]


def test_value_answers_are_one_record() -> None:
    assert decode({"meta": {"format": "value"}, "data": {"a": 1, "b": 2}}).records == [
        {"a": 1, "b": 2}
    ]
    query = {"from": "t", "select": {"aggregate": "count"}}
    assert decode({"meta": {"format": "value"}, "data": 7}, query).records == [{"count": 7}]


def test_columns_fast_path_equals_the_records() -> None:
    table = {"meta": {"format": "table"}, "header": ["a", "b"], "data": [[1, "x"], [2, None]]}
    names, columns, fmt = decode_columns(table)
    assert (names, columns, fmt) == (["a", "b"], [[1, 2], ["x", None]], "table")
    nested = {"meta": {"format": "table"}, "header": ["a"], "data": [[{"b": 1}]]}
    assert decode_columns(nested) == (["a.b"], [[1]], "table")


@pytest.mark.parametrize(
    "answer",
    [
        {"meta": {"format": "list"}},
        {"meta": {"format": "list"}, "data": {"a": 1}},
        {"meta": {"format": "table"}, "data": [[1]]},
        {"meta": {"format": "cube"}, "data": [1]},
        {"meta": {"format": "pivot"}, "data": []},
    ],
)
def test_malformed_answers_raise_decode_error(answer: dict) -> None:
    with pytest.raises(DecodeError):
        decode(answer)
