"""What the plugin's pages show, read through the extension on one
read-only SQLite connection: the catalog functions for clusters, groups and
the Schema Registry, and positioned reads of a TEMP kafka table for a
topic's messages. Nothing here writes to Kafka, commits a group position or
registers a schema: the connection's main database is read-only, and no
table here has a `group`.

Every function takes a sqlite3.Connection with the extension loaded, and
returns plain Python values for the templates; sqlite3.Error propagates (the
pages show its text, which the extension keeps free of secrets).
"""

import hashlib
import json
import sqlite3
import time
from datetime import datetime, timezone

MESSAGE_COLUMNS = "rowid, partition, offset, timestamp, key, value, headers, error"
RATE_WINDOW = 500       # newest messages per partition the rate chart reads
RATE_BUCKETS = 24      # bars of the rate chart
MAX_PAGE_SIZE = 500
SHOWN_CHARS = 10000     # of a key or value on the topic page
LAG_TIME_PARTITIONS = 50  # positioned reads a group page may make for lag in time


class BadFilter(ValueError):
    """A filter of the topic page the user typed that cannot be read."""


# ------------------------------------------------------------- options --

def quote(text):
    """An SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def catalog_options(cluster):
    """The options argument of the catalog functions for a cluster of the
    plugin configuration: its `config` file (credentials stay in the file,
    never in SQL or a page) and timeout_ms."""
    items = [f"{name}={quote(cluster[name])}" for name in ("config", "timeout_ms") if cluster.get(name)]
    return ", ".join(items) or None


def catalog_args(cluster, *args):
    """SQL argument text and parameters for a catalog function over cluster:
    (brokers, args..., options)."""
    params = [cluster["brokers"], *args]
    options = catalog_options(cluster)
    if options:
        params.append(options)
    return ", ".join("?" * len(params)), params


def rows_as_dicts(cursor):
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


# ------------------------------------------------------------- cluster --

def brokers(conn, cluster):
    args, params = catalog_args(cluster)
    return rows_as_dicts(conn.execute(
        f"SELECT id, host, port, rack, is_controller FROM kafka_brokers({args}) ORDER BY id", params))


def topics(conn, cluster):
    """Every topic with partitions, replication and its watermark total
    (high - low summed: an estimate, compaction and transaction markers
    make the real count lower): one metadata and one watermark request."""
    args, params = catalog_args(cluster)
    topic_rows = rows_as_dicts(conn.execute(
        f"SELECT topic, partitions, replication, internal FROM kafka_topics({args})", params))
    args, params = catalog_args(cluster, None)
    totals = dict(conn.execute(
        f"SELECT topic, sum(messages) FROM kafka_partitions({args}) GROUP BY topic", params).fetchall())
    for row in topic_rows:
        row["messages"] = totals.get(row["topic"])
    return sorted(topic_rows, key=lambda r: (r["internal"], r["topic"]))


def partitions(conn, cluster, topic):
    args, params = catalog_args(cluster, topic)
    return rows_as_dicts(conn.execute(
        f'SELECT "partition", leader, replicas, isr, low, high, messages '
        f'FROM kafka_partitions({args}) ORDER BY "partition"', params))


# ------------------------------------------------------------ registry --

def subjects(conn, registry):
    return rows_as_dicts(conn.execute(
        "SELECT subject, versions, latest_version, latest_id, schema_type "
        "FROM kafka_subjects(?) ORDER BY subject", [registry]))


def schemas(conn, registry, subject):
    rows = rows_as_dicts(conn.execute(
        "SELECT version, id, schema_type, schema FROM kafka_schemas(?, ?) ORDER BY version DESC",
        [registry, subject]))
    for row in rows:
        row["schema"] = pretty_json(row["schema"])
    return rows


REGISTRY_FORMATS = {"AVRO": "avro", "PROTOBUF": "protobuf", "JSON": "jsonschema"}


def registry_formats(conn, registry, topic):
    """The key and value formats of a topic whose subjects (TopicNameStrategy)
    are in the registry: {'key': 'avro', 'value': 'protobuf'}; {} without.
    Asked subject by subject: listing every subject takes a request each."""
    if not registry:
        return {}
    formats = {}
    for part in ("key", "value"):
        kind = subject_type(conn, registry, f"{topic}-{part}")
        if kind:
            formats[part] = REGISTRY_FORMATS.get(kind, "avro")
    return formats


def subject_type(conn, registry, subject):
    """The schema type of a subject's latest version; None when the registry
    has no such subject."""
    try:
        row = conn.execute("SELECT schema_type FROM kafka_schemas(?, ?) ORDER BY version DESC LIMIT 1",
                           [registry, subject]).fetchone()
    except sqlite3.Error as e:
        if "(HTTP 404)" in str(e):
            return None
        raise
    return (row[0] or "AVRO") if row else None


# -------------------------------------------------------------- topics --

class TopicTables:
    """TEMP kafka tables over topics, for one page: `tables(topic)` makes
    one on first use, so that a topic nobody declared a table for browses
    with the table's pushdown; all are dropped when the page is done (each
    holds a librdkafka consumer and its threads: kept on the connection for
    every topic ever browsed, they would pile up). Values are decoded with
    the registry when the topic's subjects are there, else read as text."""

    def __init__(self, conn, cluster, registry=None):
        self.conn, self.cluster, self.registry = conn, cluster, registry
        self.made = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for name in self.made.values():
            self.conn.execute(f"DROP TABLE IF EXISTS {name}")

    def __call__(self, topic):
        if topic not in self.made:
            self.made[topic] = self.create(topic)
        return self.made[topic]

    def create(self, topic):
        options = {"brokers": self.cluster["brokers"], "topic": topic}
        for name in ("config", "timeout_ms", "partitioner"):
            if self.cluster.get(name):
                options[name] = self.cluster[name]
        formats = registry_formats(self.conn, self.registry, topic)
        if formats:
            options.update(formats, schema_registry=self.registry)
        text = ", ".join(f"{name} = {quote(value)}" for name, value in options.items())
        # Named after what defines it: a table a failed page left behind is reused.
        name = 'temp."kafka_ui_' + hashlib.sha1(text.encode()).hexdigest()[:16] + '"'
        self.conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING kafka({text})")
        return name


def parse_time(text, name):
    """ms since the epoch of an ISO-8601 time (UTC unless it says otherwise)."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadFilter(f"{name}: {text!r} is not an ISO-8601 time (e.g. 2026-12-07T07:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


def parse_int(text, name):
    try:
        return int(str(text).strip())
    except ValueError:
        raise BadFilter(f"{name}: {text!r} is not an integer") from None


# (query argument, SQL condition, parser); each condition is one the
# extension pushes down (key = only narrows partitions with `partitioner`).
FILTERS = (
    ("partition", '"partition" = ?', parse_int),
    ("offset_from", '"offset" >= ?', parse_int),
    ("offset_to", '"offset" <= ?', parse_int),
    ("time_from", '"timestamp" >= ?', parse_time),
    ("time_to", '"timestamp" <= ?', parse_time),
    ("key", "key = ?", lambda text, name: text),
    ("before", "rowid < ?", parse_int),  # the paging cursors: the rowid of
    ("after", "rowid > ?", parse_int),   # the previous page's last message
)
# order: (ORDER BY, the cursor of the next page). Newest first reads the
# partitions' tails; oldest first their heads, or from `time from` on (a
# time range near a topic's start is read from its start, not back from
# its end: `timestamp <=` cannot bound the offsets, timestamps need not grow).
ORDERS = {"newest": ("rowid DESC", "before"), "oldest": ("rowid", "after")}


def message_query(table, args, size, end=None):
    """The SQL and parameters of one page of messages under the filters in
    args (query arguments), and below offset `end` when given. ORDER BY
    rowid [DESC] LIMIT n reads partition tails or heads, and every condition
    is pushed down, so a page never reads the topic."""
    conditions, params = [], []
    for arg, condition, parse in FILTERS:
        text = args.get(arg)
        if text not in (None, ""):
            conditions.append(condition)
            params.append(parse(text, arg))
    if end is not None:
        conditions.append('"offset" < ?')
        params.append(end)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order_by, _ = order_of(args)
    sql = f"SELECT {MESSAGE_COLUMNS} FROM {table}{where} ORDER BY {order_by} LIMIT ?"
    return sql, params + [size]


def order_of(args):
    order = args.get("order") or "newest"
    if order not in ORDERS:
        raise BadFilter(f"order: {order!r} is not one of {', '.join(ORDERS)}")
    return ORDERS[order]


def pushed_down(conn, sql, params):
    """What EXPLAIN QUERY PLAN says the extension took from the query (its
    idxStr, after `SCAN ... VIRTUAL TABLE INDEX n:`), and any step SQLite
    adds (a sort would mean the page reads more than its rows)."""
    steps = []
    for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params):
        line = row[-1]
        steps.append((line.partition(":")[2] or "nothing") if "VIRTUAL TABLE INDEX" in line else line)
    return "; ".join(steps)


def end_offsets(conn, table, args, parts):
    """{partition: the offset `time to` ends its read at} for the partitions
    the page reads: the first offset with a later timestamp (Kafka's
    offsets-for-times, where `kcat -o e@` ends; None where nothing is
    later), or None without `time to`. `timestamp <=` alone only filters
    (the extension cannot assume timestamps grow), so a range far from a
    partition's end would read to its end; and the partitions' ends differ
    (one may have reached that time at offset 1, another at 200,000), so
    each partition is read on its own."""
    if not args.get("time_to"):
        return None
    later = parse_time(args["time_to"], "time_to") + 1
    only = parse_int(args["partition"], "partition") if args.get("partition") else None
    ends = {}
    for part in parts:
        if only is None or part["partition"] == only:
            row = conn.execute(f'SELECT "offset" FROM {table} WHERE "partition" = ? AND "timestamp" >= ? '
                               'ORDER BY "offset" LIMIT 1', [part["partition"], later]).fetchone()
            ends[part["partition"]] = row[0] if row else None
    return ends


def messages(conn, table, args, size, parts):
    """One page: (rows for the template, the next page's cursor as a query
    argument ({} when this is the last page), the query plan). parts: the
    topic's partitions (kafka_partitions rows)."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    ends = end_offsets(conn, table, args, parts)
    if ends is None:
        sql, params = message_query(table, args, size)
        rows, plan = rows_as_dicts(conn.execute(sql, params)), pushed_down(conn, sql, params)
    else:
        rows, plan = [], f"nothing (none of the {len(ends)} partitions read)"
        for partition, end in ends.items():
            sql, params = message_query(table, dict(args, partition=str(partition)), size, end)
            rows += rows_as_dicts(conn.execute(sql, params))
            plan = pushed_down(conn, sql, params) + f" (each of {len(ends)} partitions on its own)"
        rows = sorted(rows, key=lambda r: r["rowid"], reverse=order_of(args)[1] == "before")[:size]
    for row in rows:
        row["time"] = iso_time(row["timestamp"])
        row["key"] = shown(row["key"])
        row["value"] = shown(row["value"])
        row["headers"] = json.loads(row["headers"]) if row["headers"] else {}
    cursor = {order_of(args)[1]: rows[-1]["rowid"]} if len(rows) == size else {}
    return rows, cursor, plan


def iso_time(ms):
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def pretty_json(text):
    """JSON text indented, other text as it is."""
    if isinstance(text, str) and text[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return text


def shown(value):
    """A key or value as a page shows it: JSON indented, bytes as hex, cut
    at SHOWN_CHARS characters (a page of 1 MB values would be 100 MB)."""
    if isinstance(value, bytes):
        return "0x" + value.hex() if len(value) <= 64 else "0x" + value[:64].hex() + f"... ({len(value):,} bytes)"
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return value[:SHOWN_CHARS] + f"... ({len(value):,} characters)"
    return pretty_json(value)


# ------------------------------------------------------- message rate --

def rate(conn, table, parts, buckets=RATE_BUCKETS, window=RATE_WINDOW):
    """Messages per time bucket over the recent past: each partition's
    newest `window` messages are read (a tail read, pushed down), and the
    chart spans the time all of them cover, so that every message of every
    partition in that span is counted (all of a small topic's history).
    Returns (bucket start times in ms, counts, sampled?) or None for an
    empty topic. Not sampled by positioned reads spread over the topic:
    each is a seek, and they cost more than these tails."""
    tails, starts = [], []
    for part in parts:
        if not part["messages"]:
            continue
        times = [row[0] for row in conn.execute(
            f'SELECT "timestamp" FROM {table} WHERE "partition" = ? ORDER BY "offset" DESC LIMIT ?',
            [part["partition"], window])]
        if times:
            tails.append(times)
            if part["messages"] > window:  # a tail: it covers its oldest on
                starts.append(min(times))
    if not tails:
        return None
    sampled = bool(starts)
    first = max(starts) if sampled else min(min(t) for t in tails)
    last = max(max(t) for t in tails)
    step = max(1, (last - first + 1) / buckets)
    counts = [0] * buckets
    for ts in (ts for times in tails for ts in times if ts >= first):
        counts[min(buckets - 1, int((ts - first) / step))] += 1
    return [int(first + step * i) for i in range(buckets)], counts, sampled


# -------------------------------------------------------------- groups --

def groups(conn, cluster):
    args, params = catalog_args(cluster)
    return rows_as_dicts(conn.execute(
        f'SELECT "group", state, protocol_type, members FROM kafka_groups({args}) ORDER BY "group"', params))


def group_members(conn, cluster, group):
    """Who holds which partitions (none for a group without members, or one
    known only by its committed offsets)."""
    args, params = catalog_args(cluster, group)
    try:
        rows = rows_as_dicts(conn.execute(
            f"SELECT member_id, client_id, host, group_instance_id, assignment FROM kafka_group_members({args})",
            params))
    except sqlite3.Error as e:
        if "does not exist" in str(e):
            return []
        raise
    for row in rows:
        row["assignment"] = ", ".join(f'{a["topic"]}/{a["partition"]}' for a in json.loads(row["assignment"] or "[]"))
    return rows


def group_offsets(conn, cluster, group, table_for):
    """Per-partition committed offset and lag in messages and in time.
    Lag in time is the catalog's lag_ms where the extension has it, else
    now minus the timestamp of the next message the group will read (one
    positioned read per lagging partition, at most LAG_TIME_PARTITIONS);
    table_for(topic) is the TEMP table to read it from."""
    args, params = catalog_args(cluster, group)
    rows = rows_as_dicts(conn.execute(f"SELECT * FROM kafka_group_offsets({args}) "
                                      'ORDER BY topic, "partition"', params))
    now = int(time.time() * 1000)
    lagging = [r for r in rows if "lag_ms" not in r and r["lag"] and r["committed"] is not None]
    for row in rows:
        row.setdefault("lag_ms", 0 if row["lag"] == 0 else None)
    for row in lagging[:LAG_TIME_PARTITIONS]:
        found = conn.execute(
            f'SELECT "timestamp" FROM {table_for(row["topic"])} WHERE "partition" = ? AND "offset" >= ? '
            'ORDER BY "offset" LIMIT 1', [row["partition"], row["committed"]]).fetchone()
        row["lag_ms"] = max(0, now - found[0]) if found else None
    for row in rows:
        row["lag_time"] = duration(row["lag_ms"])
    return rows


def duration(ms):
    """ms as a person reads it: 850 ms, 12.5 s, 4 min, 3.2 h, 2.0 d."""
    if ms is None:
        return ""
    for unit, size in (("d", 86400000), ("h", 3600000), ("min", 60000), ("s", 1000)):
        if ms >= size:
            return f"{ms / size:.1f} {unit}"
    return f"{ms} ms"
