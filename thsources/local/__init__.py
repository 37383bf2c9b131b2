"""The embedded sample: Treeherder's schema filled with deterministic, realistic data.

It gives every query and test a local, offline source that behaves like the production
database (same tables, keys and types), built once into a cached DuckDB file.
"""

from .loader import ensure_sample_db, load_into_duckdb, sample_db_path
from .sample import SAMPLE_END, iter_tables

__all__ = ["SAMPLE_END", "ensure_sample_db", "iter_tables", "load_into_duckdb", "sample_db_path"]
