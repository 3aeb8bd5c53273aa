"""Datasette's own table pages over kafka tables, made to read as little as
a topic allows.

Datasette 0.65 has no hook for a table page's query, so the plugin sets its
query arguments before the table view sees the request (an ASGI wrapper),
only for kafka tables and only where the visitor did not choose:

- `_sort_desc=rowid`: newest first (the rowid is offset-major), answered from
  the partitions' tails;
- `_nocount=1` and `_nosuggest=1`: a `count(*)` and the facet suggestions
  would each read the whole topic on every load;
- `_nocol=` for the hidden columns (`error`, `follow`, `schema_id`, ...),
  which Datasette lists as empty columns;
- the next page: Datasette asks for it with `rowid < :p1 OR rowid IS NULL OR
  (rowid = :p1 AND rowid > :p0)`, which SQLite 3.40 never hands to a
  virtual table as a bound (an OR of three terms, and no LIMIT beside an OR
  term), so every later page would read the topic; the wrapper turns the
  page's `_next` cursor into the filter `rowid__lt=` (`rowid__gt=` oldest
  first), which is pushed down with the LIMIT. The filter shows on the
  page, as what it is.
"""

import sqlite3
import urllib.parse

from datasette.utils import tilde_decode
from markupsafe import Markup, escape

from .reads import iso_time

KAFKA_TABLE_SQL = "CREATE VIRTUAL TABLE % USING kafka%"
# (database name, table) of the kafka tables whose pages the wrapper saw:
# render_cell runs synchronously and cannot ask the database itself.
seen_kafka_tables = set()


def table_of_path(path):
    """(database route, table) of a table page's path, or None."""
    parts = path.strip("/").split("/")
    if len(parts) != 2 or parts[0].startswith("-") or parts[1].startswith("-") or not all(parts):
        return None
    table = parts[1]
    for suffix in (".json", ".csv"):
        if table.endswith(suffix):
            table = table[: -len(suffix)]
    return parts[0], tilde_decode(table)


async def hidden_columns(datasette, route, table):
    """The hidden columns of a kafka table (None: not a kafka table, or one
    the extension is not loaded for: Datasette's page then says so)."""
    try:
        db = datasette.get_database(route=route)
        found = await db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? AND sql LIKE ?", [table, KAFKA_TABLE_SQL])
        if not found.first():
            return None
        columns = await db.execute("SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 1", [table])
    except (KeyError, sqlite3.Error):
        return None
    seen_kafka_tables.add((db.name, table))
    return [row[0] for row in columns.rows]


def kafka_page_args(args, hidden):
    """The query arguments (a list of pairs) of a kafka table's page."""
    given = dict(args)
    out = list(args)
    if not given.keys() & {"_sort", "_sort_desc", "_next"}:
        out.append(("_sort_desc", "rowid"))
    for sort, cursor in (("_sort_desc", "rowid__lt"), ("_sort", "rowid__gt")):
        if given.get(sort) == "rowid" and "_next" in given:
            # `_next` is "<sort value>,<rowid>" of the page's last row.
            last = given["_next"].split(",")[-1]
            out = [(n, v) for n, v in out if n not in ("_next", cursor)] + [(cursor, last)]
    out += [(name, "1") for name in ("_nocount", "_nosuggest") if name not in given]
    if not given.keys() & {"_col", "_nocol"}:
        out += [("_nocol", column) for column in hidden]
    return out


def wrap(datasette, app):
    async def kafka_table_pages(scope, receive, send):
        target = table_of_path(scope.get("path", "")) if scope.get("type") == "http" else None
        hidden = await hidden_columns(datasette, *target) if target else None
        if hidden is not None:
            args = urllib.parse.parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True)
            query = urllib.parse.urlencode(kafka_page_args(args, hidden))
            scope = dict(scope, query_string=query.encode())
        await app(scope, receive, send)

    return kafka_table_pages


def timestamp_cell(value, column, table, database):
    """A kafka table's timestamp as ISO-8601 UTC, the milliseconds in its
    tooltip (None: not such a cell)."""
    if column != "timestamp" or (database, table) not in seen_kafka_tables or type(value) is not int:
        return None
    return Markup(f'<span title="{value}">{escape(iso_time(value))}</span>')
