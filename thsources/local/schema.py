"""Engine-neutral definitions of the Treeherder tables the embedded sample holds.

Names, types and keys follow Treeherder's PostgreSQL schema (Django models: ``<field>_id`` FK
columns, int4 ``id`` for AutoField, int8 for BigAutoField, naive ``timestamp`` holding UTC), so
SQL written for the production replica runs unchanged against the sample. One table is
declared once here and rendered for DuckDB, PostgreSQL and MySQL/MariaDB, so every loader
creates the same shape.

Deliberate omissions: indexes other than keys, Postgres-only details (GIN/trigram indexes,
CHECK >= 0 of PositiveIntegerField), and tables the sample does not fill (``repository_branch``,
``investigated_tests``, perf replicates/tags/backfill, telemetry-alerting tables).
Telemetry to join with lives in a file of its own (:mod:`thsources.local.telemetry`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

Dialect = Literal["duckdb", "postgresql", "mysql"]
DIALECTS: Final[tuple[Dialect, ...]] = ("duckdb", "postgresql", "mysql")

#: Neutral base types a column may have (``varchar`` carries a length).
BASE_TYPES: Final[tuple[str, ...]] = (
    "int",
    "bigint",
    "smallint",
    "varchar",
    "text",
    "tsvector",
    "boolean",
    "timestamp",
    "date",
    "double",
    "json",
)

_SPEC_RE = re.compile(r"^(?P<base>[a-z]+)(?:\((?P<length>\d+)\))?$")


@dataclass(frozen=True)
class Column:
    """One column: neutral type spec such as ``int`` or ``varchar(40)``, and nullability."""

    name: str
    type: str
    nullable: bool = False

    def __post_init__(self) -> None:
        m = _SPEC_RE.match(self.type)
        if not m or m["base"] not in BASE_TYPES:
            raise ValueError(f"{self.name}: unknown column type {self.type!r}")
        if (m["base"] == "varchar") != (m["length"] is not None):
            raise ValueError(f"{self.name}: only varchar takes (and needs) a length")

    @property
    def base(self) -> str:
        """The type without its length (``varchar(40)`` -> ``varchar``)."""
        return self.type.split("(", 1)[0]

    @property
    def length(self) -> int | None:
        """The varchar length, None for other types."""
        m = _SPEC_RE.match(self.type)
        return int(m["length"]) if m and m["length"] else None


@dataclass(frozen=True)
class ForeignKey:
    """``columns`` of this table reference ``ref_columns`` of ``ref_table``."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...] = ("id",)


@dataclass(frozen=True)
class TableDef:
    """A table: columns in order, primary key, foreign keys and unique constraints."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    doc: str = ""
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for i, c in enumerate(self.columns):
            if c.name in self._index:
                raise ValueError(f"{self.name}: duplicate column {c.name}")
            self._index[c.name] = i
        keyed = [*self.primary_key, *(c for fk in self.foreign_keys for c in fk.columns)]
        keyed += [c for u in self.unique for c in u]
        missing = [c for c in keyed if c not in self._index]
        if missing:
            raise ValueError(f"{self.name}: constraint on unknown columns {missing}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return self.columns[self._index[name]]

    def index(self, name: str) -> int:
        """Position of a column in this table's rows."""
        return self._index[name]


def _cols(*specs: str) -> tuple[Column, ...]:
    """Columns from compact specs ``"name type"`` or ``"name type null"``."""
    out = []
    for spec in specs:
        parts = spec.split()
        if len(parts) == 3 and parts[2] == "null":
            out.append(Column(parts[0], parts[1], nullable=True))
        elif len(parts) == 2:
            out.append(Column(parts[0], parts[1]))
        else:
            raise ValueError(f"bad column spec {spec!r}")
    return tuple(out)


def _fk(column: str, ref_table: str, ref_column: str = "id") -> ForeignKey:
    return ForeignKey((column,), ref_table, (ref_column,))


# Tables in dependency order: every FK points to a table listed earlier (or to itself).
TABLES: Final[tuple[TableDef, ...]] = (
    TableDef(
        "repository_group",
        _cols("id int", "name varchar(100)", "description text"),
        ("id",),
        unique=(("name",),),
    ),
    TableDef(
        "repository",
        _cols(
            "id int",
            "repository_group_id int",
            "name varchar(50)",
            "dvcs_type varchar(25)",
            "url varchar(255)",
            "branch varchar(255) null",
            "codebase varchar(50)",
            "description text",
            "active_status varchar(7)",
            "life_cycle_order int null",
            "performance_alerts_enabled boolean",
            "expire_performance_data boolean",
            "is_try_repo boolean",
            "tc_root_url varchar(255)",
            "accepts_pull_requests boolean",
        ),
        ("id",),
        (_fk("repository_group_id", "repository_group"),),
        (("name",),),
    ),
    TableDef(
        "auth_user",
        _cols(
            "id int",
            "password varchar(128)",
            "last_login timestamp null",
            "is_superuser boolean",
            "username varchar(150)",
            "first_name varchar(150)",
            "last_name varchar(150)",
            "email varchar(254)",
            "is_staff boolean",
            "is_active boolean",
            "date_joined timestamp",
        ),
        ("id",),
        unique=(("username",),),
        doc="Django's user table; only sheriffs/developers who classify or triage.",
    ),
    TableDef("product", _cols("id int", "name varchar(100)"), ("id",), unique=(("name",),)),
    TableDef("option", _cols("id int", "name varchar(100)"), ("id",), unique=(("name",),)),
    TableDef(
        "option_collection",
        _cols("id int", "option_collection_hash varchar(40)", "option_id int"),
        ("id",),
        (_fk("option_id", "option"),),
        (("option_collection_hash", "option_id"),),
    ),
    TableDef(
        "machine_platform",
        _cols("id int", "os_name varchar(25)", "platform varchar(100)", "architecture varchar(25)"),
        ("id",),
        unique=(("os_name", "platform", "architecture"),),
    ),
    TableDef(
        "build_platform",
        _cols("id int", "os_name varchar(25)", "platform varchar(100)", "architecture varchar(25)"),
        ("id",),
        unique=(("os_name", "platform", "architecture"),),
    ),
    TableDef("machine", _cols("id int", "name varchar(100)"), ("id",), unique=(("name",),)),
    TableDef(
        "job_group",
        _cols("id int", "symbol varchar(25)", "name varchar(255)", "description text"),
        ("id",),
        unique=(("name", "symbol"),),
    ),
    TableDef(
        "job_type",
        _cols("id int", "symbol varchar(25)", "name varchar(140)", "description text"),
        ("id",),
        unique=(("name", "symbol"),),
    ),
    TableDef(
        "failure_classification",
        _cols("id int", "name varchar(100)"),
        ("id",),
        unique=(("name",),),
    ),
    TableDef(
        "reference_data_signatures",
        _cols(
            "id int",
            "name varchar(255)",
            "signature varchar(50)",
            "build_os_name varchar(25)",
            "build_platform varchar(100)",
            "build_architecture varchar(25)",
            "machine_os_name varchar(25)",
            "machine_platform varchar(100)",
            "machine_architecture varchar(25)",
            "job_group_name varchar(255)",
            "job_group_symbol varchar(25)",
            "job_type_name varchar(140)",
            "job_type_symbol varchar(25)",
            "option_collection_hash varchar(64)",
            "build_system_type varchar(25)",
            "repository varchar(50)",
            "first_submission_timestamp int",
        ),
        ("id",),
        unique=(("name", "signature", "build_system_type", "repository"),),
        doc="Denormalised reference data; `repository` is the repository *name*, not a FK.",
    ),
    TableDef(
        "push",
        _cols(
            "id int",
            "repository_id int",
            "revision varchar(40)",
            "author varchar(150)",
            "time timestamp",
            "branch varchar(255) null",
        ),
        ("id",),
        (_fk("repository_id", "repository"),),
        (("repository_id", "revision"),),
    ),
    TableDef(
        "commit",
        _cols(
            "id int",
            "push_id int",
            "revision varchar(40)",
            "author varchar(150)",
            "comments text",
            "search_vector tsvector null",
        ),
        ("id",),
        (_fk("push_id", "push"),),
        (("push_id", "revision"),),
    ),
    TableDef(
        "job",
        _cols(
            "id bigint",
            "repository_id int",
            "guid varchar(50)",
            "project_specific_id int null",
            "autoclassify_status int",
            "coalesced_to_guid varchar(50) null",
            "signature_id int",
            "build_platform_id int",
            "machine_platform_id int",
            "machine_id int",
            "option_collection_hash varchar(64)",
            "job_type_id int",
            "job_group_id int",
            "product_id int",
            "failure_classification_id int",
            "who varchar(50)",
            "reason varchar(125)",
            "result varchar(25)",
            "state varchar(25)",
            "submit_time timestamp",
            "start_time timestamp",
            "end_time timestamp",
            "last_modified timestamp",
            "running_eta int null",
            "tier int",
            "push_id int",
        ),
        ("id",),
        (
            _fk("repository_id", "repository"),
            _fk("signature_id", "reference_data_signatures"),
            _fk("build_platform_id", "build_platform"),
            _fk("machine_platform_id", "machine_platform"),
            _fk("machine_id", "machine"),
            _fk("job_type_id", "job_type"),
            _fk("job_group_id", "job_group"),
            _fk("product_id", "product"),
            _fk("failure_classification_id", "failure_classification"),
            _fk("push_id", "push"),
        ),
        (("guid",),),
        doc="Times not known yet are epoch 0 (1970-01-01), never NULL. "
        "option_collection_hash is a plain string (fans out to option_collection rows).",
    ),
    TableDef(
        "taskcluster_metadata",
        _cols("job_id bigint", "task_id varchar(22)", "retry_id int"),
        ("job_id",),
        (_fk("job_id", "job"),),
    ),
    TableDef(
        "job_log",
        _cols("id int", "job_id bigint", "name varchar(50)", "url varchar(255)", "status int"),
        ("id",),
        (_fk("job_id", "job"),),
        (("job_id", "name", "url"),),
    ),
    TableDef(
        "job_note",
        _cols(
            "id bigint",
            "job_id bigint",
            "failure_classification_id int",
            "user_id int null",
            "text text",
            "created timestamp",
        ),
        ("id",),
        (
            _fk("job_id", "job"),
            _fk("failure_classification_id", "failure_classification"),
            _fk("user_id", "auth_user"),
        ),
    ),
    TableDef(
        "bugscache",
        _cols(
            "id bigint",
            "bugzilla_id int null",
            "status varchar(64)",
            "resolution varchar(64)",
            "summary varchar(255)",
            "dupe_of int null",
            "crash_signature text",
            "keywords text",
            "modified timestamp",
            "whiteboard varchar(100)",
            "processed_update boolean",
        ),
        ("id",),
        unique=(("bugzilla_id",),),
        doc="`id` is internal; the Bugzilla number is `bugzilla_id` (NULL: internal issue).",
    ),
    TableDef(
        "bug_job_map",
        _cols(
            "id bigint",
            "job_id bigint",
            "bug_id bigint",
            "created timestamp",
            "user_id int null",
            "bug_open boolean",
        ),
        ("id",),
        (_fk("job_id", "job"), _fk("bug_id", "bugscache"), _fk("user_id", "auth_user")),
        (("job_id", "bug_id"),),
        doc="`bug_id` is bugscache.id (internal), not a Bugzilla number.",
    ),
    TableDef(
        "classified_failure",
        _cols("id bigint", "bug_number int null", "created timestamp", "modified timestamp"),
        ("id",),
        unique=(("bug_number",),),
    ),
    TableDef(
        "text_log_error",
        _cols(
            "id bigint",
            "job_id bigint null",
            "line text",
            "line_number int",
            "new_failure boolean",
        ),
        ("id",),
        (_fk("job_id", "job"),),
        (("job_id", "line_number"),),
    ),
    TableDef(
        "failure_line",
        _cols(
            "id bigint",
            "job_guid varchar(50)",
            "repository_id int",
            "job_log_id int null",
            "action varchar(15)",
            "line int",
            "test text null",
            "subtest text null",
            "status varchar(7)",
            "expected varchar(7) null",
            "message text null",
            "signature text null",
            "level varchar(8) null",
            "stack text null",
            "stackwalk_stdout text null",
            "stackwalk_stderr text null",
            "best_classification_id bigint null",
            "best_is_verified boolean",
            "known_intermittent json null",
            "created timestamp",
            "modified timestamp",
        ),
        ("id",),
        (
            _fk("repository_id", "repository"),
            _fk("job_log_id", "job_log"),
            _fk("best_classification_id", "classified_failure"),
        ),
        (("job_log_id", "line"),),
        doc="Joins to job by job_guid + repository_id (job_guid is not a FK).",
    ),
    TableDef(
        "text_log_error_metadata",
        _cols(
            "text_log_error_id bigint",
            "failure_line_id bigint null",
            "best_classification_id bigint null",
            "best_is_verified boolean",
        ),
        ("text_log_error_id",),
        (
            _fk("text_log_error_id", "text_log_error"),
            _fk("failure_line_id", "failure_line"),
            _fk("best_classification_id", "classified_failure"),
        ),
        (("failure_line_id",),),
    ),
    TableDef("group", _cols("id bigint", "name varchar(255)"), ("id",), unique=(("name",),)),
    TableDef(
        "group_status",
        _cols(
            "id int",
            "status smallint",
            "duration smallint null",
            "job_log_id int",
            "group_id bigint",
        ),
        ("id",),
        (_fk("job_log_id", "job_log"), _fk("group_id", "group")),
        doc="status: 1 OK, 2 ERROR, 3 SKIP, 10 UNSUPPORTED; duration in seconds.",
    ),
    TableDef(
        "mozci_classification",
        _cols(
            "id int",
            "push_id int",
            "result varchar(7)",
            "task_id varchar(22)",
            "created timestamp",
        ),
        ("id",),
        (_fk("push_id", "push"),),
    ),
    TableDef(
        "performance_framework",
        _cols("id int", "name varchar(255)", "enabled boolean"),
        ("id",),
        unique=(("name",),),
    ),
    TableDef(
        "performance_signature",
        _cols(
            "id int",
            "signature_hash varchar(40)",
            "repository_id int",
            "framework_id int",
            "platform_id int",
            "option_collection_id int",
            "suite varchar(80)",
            "test varchar(80)",
            "application varchar(10)",
            "lower_is_better boolean",
            "last_updated timestamp",
            "parent_signature_id int null",
            "has_subtests boolean",
            "suite_public_name varchar(30) null",
            "test_public_name varchar(30) null",
            "tags varchar(360)",
            "extra_options varchar(422)",
            "measurement_unit varchar(50) null",
            "should_alert boolean null",
            "alert_change_type int null",
            "alert_threshold double null",
            "min_back_window int null",
            "max_back_window int null",
            "fore_window int null",
            "monitor boolean",
            "alert_severity int null",
        ),
        ("id",),
        (
            _fk("repository_id", "repository"),
            _fk("framework_id", "performance_framework"),
            _fk("platform_id", "machine_platform"),
            _fk("option_collection_id", "option_collection"),
            _fk("parent_signature_id", "performance_signature"),
        ),
        (("repository_id", "framework_id", "application", "signature_hash"),),
        doc="platform_id is a machine_platform; option_collection_id is ONE option row.",
    ),
    TableDef(
        "performance_datum",
        _cols(
            "id bigint",
            "repository_id int",
            "signature_id int",
            "value double",
            "push_timestamp timestamp",
            "application_version varchar(50)",
            "os_name varchar(50)",
            "platform_version varchar(50)",
            "job_id bigint null",
            "push_id int",
        ),
        ("id",),
        (
            _fk("repository_id", "repository"),
            _fk("signature_id", "performance_signature"),
            _fk("job_id", "job"),
            _fk("push_id", "push"),
        ),
        (("repository_id", "job_id", "push_id", "push_timestamp", "signature_id"),),
    ),
    TableDef(
        "issue_tracker",
        _cols("id int", "name varchar(255)", "task_base_url varchar(512)"),
        ("id",),
    ),
    TableDef(
        "performance_alert_summary",
        _cols(
            "id int",
            "repository_id int",
            "framework_id int",
            "prev_push_id int",
            "push_id int",
            "original_push_id int null",
            "original_prev_push_id int null",
            "manually_created boolean",
            "notes text null",
            "assignee_id int null",
            "created timestamp",
            "triage_due_date timestamp null",
            "first_triaged timestamp null",
            "last_updated timestamp null",
            "status int",
            "bug_number int null",
            "bug_status int null",
            "bug_due_date timestamp null",
            "bug_updated timestamp null",
            "issue_tracker_id int",
            "sheriffed boolean",
        ),
        ("id",),
        (
            _fk("repository_id", "repository"),
            _fk("framework_id", "performance_framework"),
            _fk("prev_push_id", "push"),
            _fk("push_id", "push"),
            _fk("original_push_id", "push"),
            _fk("original_prev_push_id", "push"),
            _fk("assignee_id", "auth_user"),
            _fk("issue_tracker_id", "issue_tracker"),
        ),
        (("repository_id", "framework_id", "prev_push_id", "push_id", "sheriffed"),),
        doc="status: 0 Untriaged 1 Downstream 2 Reassigned 3 Invalid 4 Improvement "
        "5 Investigating 6 Won't fix 7 Fixed 8 Backed out 9 Infra.",
    ),
    TableDef(
        "performance_alert",
        _cols(
            "id int",
            "summary_id int",
            "related_summary_id int null",
            "series_signature_id int",
            "is_regression boolean",
            "starred boolean",
            "classifier_id int null",
            "created timestamp null",
            "first_triaged timestamp null",
            "last_updated timestamp null",
            "status int",
            "amount_pct double",
            "amount_abs double",
            "prev_value double",
            "new_value double",
            "t_value double null",
            "confidence double null",
            "detection_method varchar(100) null",
            "noise_profile varchar(30)",
            "manually_created boolean",
        ),
        ("id",),
        (
            _fk("summary_id", "performance_alert_summary"),
            _fk("related_summary_id", "performance_alert_summary"),
            _fk("series_signature_id", "performance_signature"),
            _fk("classifier_id", "auth_user"),
        ),
        (("summary_id", "series_signature_id"),),
        doc="status: 0 Untriaged 1 Downstream 2 Reassigned 3 Invalid 4 Acknowledged 5 Infra.",
    ),
)

TABLES_BY_NAME: Final[dict[str, TableDef]] = {t.name: t for t in TABLES}


def table(name: str) -> TableDef:
    """The definition of one table, by name."""
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"no table {name!r} in the sample schema") from None


# Quoted in every dialect: SQL keywords that are (or might be) reserved somewhere.
RESERVED: Final[frozenset[str]] = frozenset(
    {"group", "commit", "option", "order", "user", "key", "range", "time", "text", "value",
     "level", "action", "line", "status", "name", "signature", "result", "state"}
)  # fmt: skip


def quote_ident(name: str, dialect: Dialect) -> str:
    """Quote ``name`` when it is a keyword (backticks for MySQL, double quotes otherwise)."""
    if name not in RESERVED:
        return name
    return f"`{name}`" if dialect == "mysql" else f'"{name}"'


_TYPE_MAP: Final[dict[Dialect, dict[str, str]]] = {
    "duckdb": {
        "int": "INTEGER",
        "bigint": "BIGINT",
        "smallint": "SMALLINT",
        "varchar": "VARCHAR",
        "text": "VARCHAR",
        "tsvector": "VARCHAR",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "double": "DOUBLE",
        "json": "JSON",
    },
    "postgresql": {
        "int": "integer",
        "bigint": "bigint",
        "smallint": "smallint",
        "varchar": "varchar({n})",
        "text": "text",
        "tsvector": "tsvector",
        "boolean": "boolean",
        "timestamp": "timestamp without time zone",
        "date": "date",
        "double": "double precision",
        "json": "jsonb",
    },
    "mysql": {
        "int": "INT",
        "bigint": "BIGINT",
        "smallint": "SMALLINT",
        "varchar": "VARCHAR({n})",
        "text": "LONGTEXT",
        "tsvector": "LONGTEXT",
        "boolean": "BOOL",
        "timestamp": "DATETIME(6)",
        "date": "DATE",
        "double": "DOUBLE",
        "json": "JSON",
    },
}


_MYSQL_TABLE_OPTIONS: Final = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"


def sql_type(column: Column, dialect: Dialect) -> str:
    """The column's type in ``dialect`` (DuckDB ignores varchar lengths, so none is given)."""
    return _TYPE_MAP[dialect][column.base].format(n=column.length)


def _names(cols: Iterable[str], dialect: Dialect) -> str:
    return ", ".join(quote_ident(c, dialect) for c in cols)


def create_table_sql(
    t: TableDef,
    dialect: Dialect,
    *,
    foreign_keys: bool | None = None,
    constraints: bool = True,
) -> str:
    """One CREATE TABLE statement.

    ``foreign_keys`` defaults to True for PostgreSQL/MySQL and False for DuckDB, where FK
    checks slow bulk loading and the sample is verified instead. ``constraints=False`` leaves
    out primary keys and unique constraints too (fastest bulk load).
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    if foreign_keys is None:
        foreign_keys = dialect != "duckdb"
    lines = [
        f"    {quote_ident(c.name, dialect)} {sql_type(c, dialect)}"
        + ("" if c.nullable else " NOT NULL")
        for c in t.columns
    ]
    if constraints:
        lines.append(f"    PRIMARY KEY ({_names(t.primary_key, dialect)})")
        lines += [f"    UNIQUE ({_names(u, dialect)})" for u in t.unique]
    if foreign_keys:
        lines += [
            f"    FOREIGN KEY ({_names(fk.columns, dialect)}) REFERENCES "
            f"{quote_ident(fk.ref_table, dialect)} ({_names(fk.ref_columns, dialect)})"
            for fk in t.foreign_keys
        ]
    body = ",\n".join(lines)
    suffix = _MYSQL_TABLE_OPTIONS if dialect == "mysql" else ""
    return f"CREATE TABLE {quote_ident(t.name, dialect)} (\n{body}\n){suffix}"


def ddl(
    dialect: Dialect,
    *,
    tables: Sequence[TableDef] | None = None,
    foreign_keys: bool | None = None,
    constraints: bool = True,
) -> list[str]:
    """CREATE TABLE statements for ``dialect``, parents before children.

    MySQL gets a binary utf8mb4 collation so comparisons are case-sensitive as in PostgreSQL.
    """
    return [
        create_table_sql(t, dialect, foreign_keys=foreign_keys, constraints=constraints)
        for t in (TABLES if tables is None else tables)
    ]
