"""docs/cookbook.md, run: every recipe's SQL goes through the sqlite3 shell
against the real broker (and the registry), after the cookbook's own setup
block, on data this test produces first; each recipe's result is checked.
The cookbook's names (broker, registry, topics, groups, subject) are replaced
with this run's: see names()."""

import csv
import json
import re
import subprocess
import tempfile
from pathlib import Path

import docskit
import kit

COOKBOOK = kit.ROOT / "docs" / "cookbook.md"
MIN_RECIPES = 15
REGIONS = ("eu", "us", "apac")
N = 30              # messages of the orders fixture: ids 0 to 29
OLD = 20            # ids below this are written at 2026-01-01 00:00 + id minutes,
RECENT = 25         # ids below this (and from OLD) ten minutes ago, the rest now
JAN1_MS = 1767225600000  # 2026-01-01T00:00:00Z


def cookbook():
    """(setup SQL, [(recipe title, recipe SQL)]) of docs/cookbook.md: the first
    ```sql block of the page, then the first of each '## ' section."""
    text = COOKBOOK.read_text()
    head, *sections = re.split(r"^## ", text, flags=re.M)
    first_sql = lambda s: re.search(r"```sql\n(.*?)```", s, re.S)
    setup = first_sql(head).group(1)
    recipes = []
    for s in sections:
        title, _, body = s.partition("\n")
        m = first_sql(body)
        assert m, f"cookbook recipe {title!r} has no ```sql block"
        recipes.append((title.strip(), m.group(1)))
    return setup, recipes


def names():
    """The cookbook's quoted names, each mapped to a name of this run."""
    run = kit.topic("cook")
    quoted = {name: f"{run}-{name}" for name in
              ("orders", "orders.copy", "orders.eu", "orders.dlq", "billing",
               "orders-redrive", "orders-value", "orders.avro", "orders.msgpack")}
    quoted["localhost:29092"] = kit.BROKER
    quoted["http://localhost:8081/apis/ccompat/v7"] = kit.REGISTRY
    return quoted


def shell(sql, cwd, db=":memory:"):
    """Runs sql in the sqlite3 shell (stopping at the first error) in cwd;
    its output lines."""
    p = subprocess.run(["sqlite3", "-bail", db], input=".bail on\n" + sql, text=True,
                       capture_output=True, cwd=cwd, timeout=120)
    if p.returncode or p.stderr.strip():
        raise AssertionError(f"sqlite3 exited {p.returncode}: {p.stderr.strip()}\nSQL:\n{sql}")
    return p.stdout.splitlines()


def produce_orders(topic):
    """The cookbook's orders fixture, through a plain table of the extension
    (partition by murmur2, as the cookbook's partitioner option says)."""
    conn = kit.connect()
    try:
        conn.execute(f"CREATE VIRTUAL TABLE temp.fixture USING kafka(brokers='{kit.BROKER}', "
                     f"topic='{topic}', partitions=3)")
        conn.execute(f"""WITH RECURSIVE ids(value) AS (SELECT 0 UNION ALL SELECT value + 1 FROM ids WHERE value < {N - 1})
            INSERT INTO fixture(key, value, headers, timestamp)
            SELECT printf('order-%02d', value),
                   json_object('id', value, 'region', json_extract(?, '$[' || (value % 3) || ']'),
                               'amount', value * 1.5),
                   CASE WHEN value % 5 = 0 THEN '{{"source":"batch"}}' ELSE '{{"source":"web"}}' END,
                   CASE WHEN value < {OLD} THEN {JAN1_MS} + value * 60000
                        WHEN value < {RECENT} THEN unixepoch('now', '-10 minutes') * 1000 END
            FROM ids""", (json.dumps(REGIONS),))
    finally:
        conn.close()


def kcat_messages(topic):
    """[(partition, offset, key, value)] of a topic, read by kcat."""
    out = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%p\t%o\t%k\t%s\n").decode()
    rows = [line.split("\t", 3) for line in out.splitlines() if line]
    return [(int(p), int(o), k, v) for p, o, k, v in rows]


def kcat_timestamps_headers(topic):
    """{key: (timestamp, headers as kcat prints them)} of a topic."""
    out = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%k\t%T\t%h\n").decode()
    return {k: (int(t), h) for k, t, h in (line.split("\t") for line in out.splitlines() if line)}


def rows(lines):
    return [line.split("|") for line in lines]


def expect(what, got, wanted):
    assert got == wanted, f"{what}: got {got!r}, expected {wanted!r}"


# ------------------------------------------------------------- checks --
# Each takes (output lines, context) and raises on a wrong result; the
# context has the names, the working directory and the fixture's messages.

def check_by_key(out, ctx):
    (part, off, at, value), = rows(out)
    expect("the message keyed order-07", (int(part), int(off)),
           next((p, o) for p, o, k, _ in ctx["messages"] if k == "order-07"))
    expect("its time", at, "2026-01-01 00:07:00")
    expect("its value", json.loads(value), {"id": 7, "region": "us", "amount": 10.5})


def check_by_offset(out, ctx):
    wanted = [(k, v) for p, o, k, v in ctx["messages"] if (p, o) == (1, 4)]
    expect("the message at partition 1 offset 4", [tuple(r[:2]) for r in rows(out)], wanted)


def check_last_five_minutes(out, ctx):
    expect("messages of the last five minutes", out, [str(N - RECENT)])


def check_newest_3_without_create(out, ctx):
    got = [(int(p), int(o)) for p, o, _ in rows(out)]
    offsets = sorted((o for _, o, _, _ in ctx["messages"]), reverse=True)
    expect("the 3 highest offsets, newest first", [o for _, o in got], offsets[:3])


def first_at_or_after(ctx, minute):
    """{partition: offset} of the first message of each partition written at
    2026-01-01 00:<minute> or later (ids from OLD on are later still)."""
    first = {}
    for p, o, k, _ in ctx["messages"]:
        if int(k[-2:]) >= minute and o < first.get(p, 1 << 62):
            first[p] = o
    return first


def check_lag_ms(out, ctx):
    import time
    now = int(time.time() * 1000)
    keys = {(p, o): int(k[-2:]) for p, o, k, _ in ctx["messages"]}
    first = {p: min(o for q, o in keys if q == p) for p, _ in keys}
    for partition, lag, lag_ms in rows(out):
        oldest = JAN1_MS + keys[(int(partition), first[int(partition)])] * 60000
        assert now - oldest - 120_000 <= int(lag_ms) <= now - oldest, (partition, lag_ms, now - oldest)
        assert int(lag) > 0, out


def check_offsets_for_times(out, ctx):
    first = first_at_or_after(ctx, 10)
    keys = {(p, o): int(k[-2:]) for p, o, k, _ in ctx["messages"]}
    expect("offsets at 00:10:00", {int(p): int(o) for p, o, _ in rows(out)}, first)
    for p, o, at in rows(out):
        i = keys[(int(p), int(o))]
        if i < OLD:
            expect(f"time of partition {p}'s message", at, f"2026-01-01 00:{i:02d}:00")


def check_between(out, ctx):
    expect("messages from 00:10 to 00:15",
           out, [f"order-{i:02d}|2026-01-01 00:{i:02d}:00" for i in range(10, 15)])


def check_newest_10(out, ctx):
    got = [(int(p), int(o)) for p, o, _ in rows(out)]
    highest = sorted(((p, o) for p, o, _, _ in ctx["messages"]), key=lambda m: -m[1])
    expect("offsets in descending order", [o for _, o in got], sorted((o for _, o in got), reverse=True))
    expect("count", len(got), 10)
    assert min(o for _, o in got) >= highest[9][1], f"{got} are not the 10 highest offsets of {highest}"


def check_newest_per_partition(out, ctx):
    last = {}
    for p, o, k, _ in ctx["messages"]:
        if o >= last.get(p, (-1,))[0]:
            last[p] = (o, k)
    expect("the last message of each partition", rows(out),
           [[str(p), str(o), k] for p, (o, k) in sorted(last.items())])


def check_per_partition(out, ctx):
    counts = {}
    for p, *_ in ctx["messages"]:
        counts[p] = counts.get(p, 0) + 1
    expect("messages per partition", rows(out), [[str(p), str(n)] for p, n in sorted(counts.items())])


def check_per_minute(out, ctx):
    expect("messages per minute", out, [f"2026-01-01 00:0{i}|1" for i in range(3)])


def check_sum_by_region(out, ctx):
    wanted = []
    for r in sorted(REGIONS):
        ids = [i for i in range(N) if REGIONS[i % 3] == r]
        wanted.append([r, str(len(ids)), repr(sum(i * 1.5 for i in ids))])
    expect("count and sum per region", rows(out), wanted)


def check_headers(out, ctx):
    batch = sorted(f"order-{i:02d}" for i in range(0, N, 5))
    expect("keys with header source=batch", sorted(r[2] for r in rows(out)), batch)


def setup_group(ctx):
    conn = kit.connect()
    try:
        conn.execute("SELECT kafka_reset_group(?, ?, ?, 'earliest')",
                     (kit.BROKER, ctx["names"]["billing"], ctx["names"]["orders"]))
    finally:
        conn.close()


def check_lag(out, ctx):
    *per_partition, total = out
    expect("total lag of a group at the start", total, str(N))
    expect("partitions with a lag", len(per_partition), 3)


def check_reset_group(out, ctx):
    committed = {c["partition"]: c["offset"] for c in json.loads(out[0])}
    expect("offsets committed for 00:10:00", committed, first_at_or_after(ctx, 10))


def check_copy(out, ctx):
    expect("count of the copy", out, [str(N)])
    copy = kcat_messages(ctx["names"]["orders.copy"])
    expect("the copy, message by message", sorted(copy), sorted(ctx["messages"]))
    expect("the copy's timestamps and headers", kcat_timestamps_headers(ctx["names"]["orders.copy"]),
           kcat_timestamps_headers(ctx["names"]["orders"]))


def check_filter(out, ctx):
    expect("count of region eu", out, [str(N // 3)])
    keys = sorted(k for _, _, k, _ in kcat_messages(ctx["names"]["orders.eu"]))
    expect("keys of region eu", keys, sorted(f"order-{i:02d}" for i in range(0, N, 3)))


def setup_dead_letters(ctx):
    dlq = ctx["names"]["orders.dlq"]
    kit.create_topic(dlq)
    conn = kit.connect()
    try:
        conn.execute(f"CREATE VIRTUAL TABLE temp.dlq USING kafka(brokers='{kit.BROKER}', topic='{dlq}')")
        conn.execute("""INSERT INTO dlq(key, value, headers) VALUES
            ('order-90', '{"id":90}', '{"error":"timeout after 30 s","stage":"billing"}'),
            ('order-91', '{"id":91}', '{"error":"invalid amount"}'),
            ('order-92', '{"id":92}', '{"error":"timeout"}')""")
    finally:
        conn.close()


def check_redrive(out, ctx):
    expect("messages redriven", out, ["2"])
    redriven = [m for m in kcat_messages(ctx["names"]["orders"]) if m not in ctx["messages"]]
    expect("keys redriven", sorted(k for _, _, k, _ in redriven), ["order-90", "order-92"])
    headers = kcat_timestamps_headers(ctx["names"]["orders"])
    expect("their headers, without error", [headers[k][1] for k in ("order-90", "order-92")],
           ["stage=billing", ""])
    again = shell(ctx["sql"], ctx["cwd"])
    expect("a second run (nothing left to redrive)", again, ["0"])


def check_csv(out, ctx):
    with open(Path(ctx["cwd"]) / "orders.csv", newline="") as f:
        lines = list(csv.reader(f))
    expect("CSV header", lines[0], ["partition", "offset", "at", "key", "region", "amount"])
    expect("CSV lines", len(lines), N + 1)
    got = sorted((int(p), int(o), k) for p, o, _, k, _, _ in lines[1:])
    expect("CSV messages", got, sorted((p, o, k) for p, o, k, _ in ctx["messages"]))


def check_json_lines(out, ctx):
    objects = [json.loads(line) for line in (Path(ctx["cwd"]) / "orders.jsonl").read_text().splitlines()]
    expect("JSON lines", len(objects), N)
    got = sorted((o["partition"], o["offset"], o["key"], json.dumps(o["value"], separators=(",", ":")))
                 for o in objects)
    expect("JSON lines' messages", got, sorted(ctx["messages"]))
    assert all(o["headers"]["source"] in ("web", "batch") for o in objects), objects[:3]


def setup_csv_file(ctx):
    (Path(ctx["cwd"]) / "new-orders.csv").write_text("id,region,amount\n101,eu,9.5\n102,us,1\n103,apac,20.25\n")


def check_produce_csv(out, ctx):
    expect("rows produced", out, ["3"])
    new = {k: json.loads(v) for _, _, k, v in kcat_messages(ctx["names"]["orders"])
           if (k, v) not in {(m[2], m[3]) for m in ctx["messages"]}}
    expect("messages produced from the CSV", new, {
        "order-101": {"id": 101, "region": "eu", "amount": 9.5},
        "order-102": {"id": 102, "region": "us", "amount": 1.0},
        "order-103": {"id": 103, "region": "apac", "amount": 20.25}})


def check_replay(out, ctx):
    expect("messages from 00:10:00 on", out, [str(N - 10)])
    got = shell("SELECT group_concat(key, ',') FROM (SELECT key FROM orders_since ORDER BY key);\n",
                ctx["cwd"], ctx["db"])
    expect("the table's keys", got, [",".join(f"order-{i:02d}" for i in range(10, N))])


def setup_subject(ctx):
    kit.need_registry()
    subject = ctx["names"]["orders-value"]
    record = {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "int"}]}
    kit.register_schema(subject, record)
    record["fields"].append({"name": "region", "type": "string", "default": ""})
    ctx["latest_id"] = kit.register_schema(subject, record)


def check_subject(out, ctx):
    subject = ctx["names"]["orders-value"]
    expect("the subject", out[0], f"{subject}|2|2|{ctx['latest_id']}|AVRO")
    versions = rows(out[1:])
    expect("its versions", [v[0] for v in versions], ["1", "2"])
    expect("the latest version's id", versions[1][1], str(ctx["latest_id"]))
    expect("the latest schema's fields", [f["name"] for f in json.loads(versions[1][2])["fields"]],
           ["id", "region"])


ORDER_AVSC = {"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "int"}, {"name": "region", "type": "string"}, {"name": "amount", "type": "double"}]}


def raw_values(topic):
    """The values of a topic as bytes, in offset order (one partition)."""
    conn = kit.connect()
    try:
        conn.execute(f"CREATE VIRTUAL TABLE temp.raw USING kafka(brokers='{kit.BROKER}', topic='{topic}', value='blob')")
        return [v for (v,) in conn.execute('SELECT value FROM raw ORDER BY "offset"')]
    finally:
        conn.close()


def fixture_sums(ctx):
    """[region|count|sum] of the fixture, as the recipes print them."""
    sums = {}
    for _, _, _, v in ctx["messages"]:
        o = json.loads(v)
        sums.setdefault(o["region"], []).append(o["amount"])
    return {r: (len(a), sum(a)) for r, a in sums.items()}


def setup_avsc(ctx):
    (Path(ctx["cwd"]) / "order.avsc").write_text(json.dumps(ORDER_AVSC, indent=2))


def check_avro_file(out, ctx):
    import io
    import fastavro
    got = {r: (int(c), float(s)) for r, c, s in rows(out)}
    expect("count and sum per region", got, fixture_sums(ctx))
    schema = fastavro.parse_schema(ORDER_AVSC)
    records = [fastavro.schemaless_reader(io.BytesIO(v), schema) for v in raw_values(ctx["names"]["orders.avro"])]
    expect("the records fastavro reads", sorted(json.dumps(r, sort_keys=True) for r in records),
           sorted(json.dumps(json.loads(v), sort_keys=True) for _, _, _, v in ctx["messages"]))


def check_msgpack(out, ctx):
    import msgpack
    got = {r: float(s) for r, s in rows(out)}
    expect("sum per region", got, {r: s for r, (_, s) in fixture_sums(ctx).items()})
    values = [msgpack.unpackb(v) for v in raw_values(ctx["names"]["orders.msgpack"])]
    expect("the values msgpack reads", sorted(json.dumps(v, sort_keys=True) for v in values),
           sorted(json.dumps(json.loads(v), sort_keys=True) for _, _, _, v in ctx["messages"]))


# title: (check, setup or None)
CHECKS = {
    "Find a message by key": (check_by_key, None),
    "Find a message by partition and offset": (check_by_offset, None),
    "The last five minutes": (check_last_five_minutes, None),
    "The last five minutes, in ISO time": (check_last_five_minutes, None),
    "Read a topic without CREATE": (check_newest_3_without_create, None),
    "Messages between two times": (check_between, None),
    "The newest 10 messages": (check_newest_10, None),
    "The newest message of each partition": (check_newest_per_partition, None),
    "Count messages per partition": (check_per_partition, None),
    "Messages per minute": (check_per_minute, None),
    "Sum a JSON field by another": (check_sum_by_region, None),
    "Search the headers": (check_headers, None),
    "A consumer group's lag": (check_lag, setup_group),
    "A consumer group's lag in time": (check_lag_ms, setup_group),
    "Where each partition was at a point in time": (check_offsets_for_times, None),
    "Replay a consumer group from a point in time": (check_reset_group, None),
    "Copy a topic": (check_copy, None),
    "Filter a topic into another": (check_filter, None),
    "Redrive a dead-letter topic": (check_redrive, setup_dead_letters),
    "Export a topic to CSV": (check_csv, None),
    "Export a topic to JSON lines": (check_json_lines, None),
    "Produce from a CSV file": (check_produce_csv, setup_csv_file),
    "Replay from a point in time into a SQLite table": (check_replay, None),
    "Write a topic as Avro with a schema file, no registry": (check_avro_file, setup_avsc),
    "Copy a JSON topic into MessagePack": (check_msgpack, None),
    "Inspect a registry subject and its versions": (check_subject, setup_subject),
}


def test_every_recipe_is_checked():
    _, recipes = cookbook()
    titles = [t for t, _ in recipes]
    assert len(titles) >= MIN_RECIPES, f"the cookbook has {len(titles)} recipes, fewer than {MIN_RECIPES}"
    unchecked = [t for t in titles if t not in CHECKS]
    stale = [t for t in CHECKS if t not in titles]
    assert not unchecked and not stale, (
        f"recipes without a check: {unchecked}; checks without a recipe: {stale}")


def run_recipe(title):
    kit.need_broker()
    setup, recipes = cookbook()
    sql = dict(recipes)[title]
    check, prepare = CHECKS[title]
    quoted = names()
    topics = [quoted[n] for n in ("orders", "orders.copy", "orders.eu", "orders.dlq", "orders.avro", "orders.msgpack")]
    try:
        with tempfile.TemporaryDirectory() as cwd:
            produce_orders(quoted["orders"])
            ctx = {"names": quoted, "cwd": cwd, "db": str(Path(cwd) / "cook.db"),
                   "messages": kcat_messages(quoted["orders"])}
            expect("the fixture's messages", len(ctx["messages"]), N)
            if prepare:
                prepare(ctx)
            ctx["sql"] = docskit.substitute(setup, quoted) + docskit.substitute(sql, quoted)
            out = shell(ctx["sql"], cwd, ctx["db"])
            check(out, ctx)
    finally:
        for t in topics:
            kit.delete_topic(t)
        docskit.delete_groups(quoted["billing"], quoted["orders-redrive"])
        docskit.delete_subjects(quoted["orders-value"])


def recipe_test(title):
    def test():
        run_recipe(title)
    test.__name__ = test.__qualname__ = "test_recipe_" + re.sub(r"\W+", "_", title.lower()).strip("_")
    return test


for _title in CHECKS:
    _test = recipe_test(_title)
    globals()[_test.__name__] = _test
