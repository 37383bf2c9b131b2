"""JSON query expressions (JX), ActiveData's query language, without ActiveData.

Three parts, none of them a source, so the ``activedata`` source, its emulator and the
``local`` source can all use them:

- :mod:`.decode`: every answer format (list, table, cube, value) into the same flat records;
- :mod:`.evaluate`: JX run over a DuckDB table whose columns are dotted paths;
- :mod:`.fromsql`: SQL parsed with mo-sql-parsing and translated to JX client-side.

Importing this package imports nothing heavy; duckdb loads only when a query is evaluated.
"""

from __future__ import annotations
