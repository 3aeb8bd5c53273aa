"""The driver of `make bench`: the extension against kcat and plain
librdkafka programs (tests/bench/produce.c, consume.c; consume_json.py for
confluent-kafka), on the same real broker in the same run. Every figure is
the median of --runs runs, the tools taking turns so that noise from other
work on the machine falls on all of them alike. Prints one Markdown report
and writes it to --out.

A row of the report is one small function decorated with @bench_row: it
makes its topic, calls Bench.compare (whole processes) or Bench.session
(statement times inside one sqlite3 shell) and returns nothing; the rows
run in the order they are defined. Run by /usr/bin/python3 (stdlib only;
it loads the extension for topic administration). The Makefile's `bench`
rule builds everything first.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request

KEY_BYTES = 12  # 'key-%08d'
# The extension's consumer queue limit, queued.max.messages.kbytes in
# ext/client/client.c: the memory row scans a topic at least ten times larger.
QUEUE_KBYTES = 1024

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAIN = "plain librdkafka consumer"
KCAT = "kcat -C -e"
ALONE = "sqlite3 without Kafka, an SQLite table of the same rows:"

ROWS = []


def bench_row(fn):
    """Registers fn(bench) as a row of the report, in definition order."""
    ROWS.append(fn)
    return fn


def rows_sql(n, value_bytes=100, timestamps=None):
    """The benchmark's rows in SQL: the same bytes as produce.c and the kcat file."""
    ts = ", timestamp" if timestamps is not None else ""
    ts_value = f", {timestamps} + value" if timestamps is not None else ""
    return (f"INSERT INTO t(key, value{ts}) SELECT printf('key-%08d', value), "
            f"printf('%0{value_bytes}d', value){ts_value} FROM generate_series(1, {n})")


class Bench:
    def __init__(self, args):
        self.a = args
        self.brokers = args.brokers
        self.ext = args.ext
        self.tools = os.path.join(ROOT, "build", "bench")
        self.python = os.path.join(ROOT, "build", "venv", "bin", "python")
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.enable_load_extension(True)
        self.db.load_extension(self.ext)
        self.serial = 0
        self.stamp = time.strftime("%H%M%S")
        self.lines = []  # the report's result rows

    # -- topics ------------------------------------------------------------
    def new_topic(self, what, partitions=4):
        self.serial += 1
        name = f"bench-{self.stamp}-{os.getpid()}-{what}-{self.serial}"
        self.db.execute("SELECT kafka_create_topic(?, ?, ?)", (self.brokers, name, partitions))
        return name

    def drop_topic(self, name):
        self.db.execute("SELECT kafka_delete_topic(?, ?)", (self.brokers, name))

    def count(self, topic):
        return self.db.execute("SELECT sum(messages) FROM kafka_partitions(?, ?)",
                               (self.brokers, topic)).fetchone()[0] or 0

    def fill(self, topic, n, value_bytes=100):
        """n messages from the plain producer (key-%08d, zero-padded values)."""
        self.run([os.path.join(self.tools, "produce"), self.brokers, topic, str(n), str(value_bytes)])
        if self.count(topic) != n:
            sys.exit(f"bench: topic {topic} does not hold {n} messages")

    # -- running tools -----------------------------------------------------
    def run(self, argv, stdin=None, stdout=subprocess.DEVNULL):
        """Runs argv; (wall seconds, peak RSS in MB, stdout text or None).
        The peak RSS is GNU time's: the kernel starts a process's peak at
        the RSS of the one that forked it (this script, with the extension
        loaded: 28 MB), which hid every smaller peak behind that floor."""
        fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
        peak = os.path.join(self.a.workdir, "peak-rss")
        argv = ["/usr/bin/time", "-o", peak, "-f", "%M", *argv]
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=fin, stdout=stdout, stderr=subprocess.PIPE)
        out = p.stdout.read().decode() if stdout == subprocess.PIPE else None
        err = p.stderr.read().decode()
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if fin is not subprocess.DEVNULL:
            fin.close()
        if p.returncode != 0:
            sys.exit(f"bench: {' '.join(argv[5:8])}... failed ({p.returncode}): {err[-2000:]}")
        self.last_cpu = usage.ru_utime + usage.ru_stime  # on a shared machine, steadier than wall
        with open(peak) as f:
            return wall, int(f.read().split()[-1]) / 1024.0, out

    def create_sql(self, topic, options="", schema="main"):
        return (f"CREATE VIRTUAL TABLE {schema}.t USING kafka(brokers='{self.brokers}', topic='{topic}'"
                f"{', ' + options if options else ''})")

    def shell(self, topic, *sql, options="", stdout=subprocess.DEVNULL, db=None):
        """The sqlite3 shell on a table t over topic, running sql; with db
        (a database file), t is a temp table beside that file's tables."""
        return self.run(["sqlite3", "-bail", db or ":memory:", f".load {self.ext}",
                         self.create_sql(topic, options, "temp" if db else "main"), *sql], stdout=stdout)

    def shell_script(self, topic, script, options=""):
        """The sqlite3 shell reading script on stdin (for .timer); its stdout."""
        path = os.path.join(self.a.workdir, "script.sql")
        with open(path, "w") as f:
            f.write(f".load {self.ext}\n{self.create_sql(topic, options)};\n{script}")
        return self.run(["sqlite3", "-bail", ":memory:"], stdin=path, stdout=subprocess.PIPE)[2]

    def kcat(self, *args):
        return ["kcat", "-b", self.brokers, "-q", *args]

    def scan_tools(self, topic, options=""):
        """The four readers of a whole topic: the extension twice, the plain
        consumer and kcat, each printing key TAB value or counting."""
        return {
            "sqlite3 SELECT count(*)": lambda: self.shell(topic, "SELECT count(*) FROM t", options=options)[:2],
            "sqlite3 SELECT key, value": lambda: self.shell(topic, "SELECT key, value FROM t", options=options)[:2],
            PLAIN: lambda: self.run([os.path.join(self.tools, "consume"), self.brokers, topic])[:2],
            KCAT: lambda: self.run(self.kcat("-C", "-e", "-K", "\t", "-t", topic))[:2],
        }

    # -- measurements ------------------------------------------------------
    def rounds(self, tools):
        """{tool: (median seconds, median RSS MB)} over the runs, tools taking turns."""
        seen = {name: [] for name in tools}
        for r in range(self.a.runs):
            for name, fn in tools.items():
                seen[name].append(fn())
                say(f"  run {r + 1}: {name}: {seen[name][-1][0]:.3f} s")
        return {name: (statistics.median(w for w, _ in v), statistics.median(m for _, m in v))
                for name, v in seen.items()}

    def add(self, group, workload, tool, seconds, rss=None, against=""):
        rss_text = f"{rss:.0f}" if rss is not None else ""
        self.lines.append(f"| {group} | {workload} | {tool} | {seconds:.3f} | {rss_text} | {against} |")

    def compare(self, group, workload, tools, ext, peers):
        """Runs tools (name: fn -> (wall, rss)) in turns; each name in ext
        gets its time as a ratio of every peer's (below 1: faster)."""
        say(f"{group}: {workload}")
        res = self.rounds(tools)
        for name, (wall, rss) in res.items():
            against = ", ".join(f"{wall / res[p][0]:.2f}x {p}" for p in peers) if name in ext else ""
            self.add(group, workload, name, wall, rss, against)
        return res

    def session(self, topic, pairs, options=""):
        """Statement times in one sqlite3 session (.timer, rows to
        /dev/null): for each (before, query, rows) of pairs, 0.2 s of quiet,
        then `before`, then `query` right after it, --runs times. Returns
        {query: (median seconds of query, median seconds of before)};
        checks query's row count (None: not checked)."""
        script = ["SELECT count(*) FROM t;"]  # the first statement opens a consumer
        for _ in range(self.a.runs):
            for before, q, rows in pairs:
                if rows is not None:
                    script.append(f"SELECT count(*) FROM ({q});")
                script += [".shell sleep 0.2", ".timer on", ".output /dev/null", before + ";", q + ";",
                           ".output stdout", ".timer off"]
        out = self.shell_script(topic, "\n".join(script) + "\n", options)
        times = iter(float(x) for x in re.findall(r"^Run Time: real ([0-9.]+)", out, re.M))
        counts = iter(int(x) for x in re.findall(r"^(\d+)$", out, re.M)[1:])
        seen = {}
        for _ in range(self.a.runs):
            for before, q, rows in pairs:
                if rows is not None and (got := next(counts)) != rows:
                    sys.exit(f"bench: {q}: {got} rows, expected {rows}")
                seen.setdefault(q, []).append((next(times), next(times))[::-1])
        return {q: (statistics.median(t for t, _ in v), statistics.median(b for _, b in v))
                for q, v in seen.items()}


def say(text):
    print(text, file=sys.stderr, flush=True)


# -- the rows ----------------------------------------------------------------

def prepared_messages(b, n):
    """The produce row's n messages, made before the runs as kcat's input
    file (key TAB value lines) and as a table m(key, value) of an SQLite
    database file: every tool reads the same bytes it did not generate."""
    data = os.path.join(b.a.workdir, f"messages-{n}.txt")
    db = os.path.join(b.a.workdir, f"messages-{n}.db")
    def rows():
        return ((f"key-{i:08d}", f"{i:0100d}") for i in range(1, n + 1))

    if not os.path.exists(data):
        with open(data + ".tmp", "w") as f:
            f.writelines(f"{k}\t{v}\n" for k, v in rows())
        os.replace(data + ".tmp", data)
    if not os.path.exists(db):
        with sqlite3.connect(db + ".tmp") as conn:
            conn.execute("CREATE TABLE m(key TEXT, value TEXT)")
            conn.executemany("INSERT INTO m VALUES (?, ?)", rows())
        conn.close()
        os.replace(db + ".tmp", db)
    return data, db


@bench_row
def produce(b):
    """INSERT ... SELECT against kcat -P and the plain producer: from a
    table of a database file (as kcat reads a file), and generating the
    rows with SQLite's printf() (which costs SQLite more than the INSERT)."""
    n = b.a.n_produce
    data, db = prepared_messages(b, n)

    def timed(argv_for, stdin=None):
        def go():
            topic = b.new_topic("produce")
            wall, rss, _ = argv_for(topic) if stdin is None else b.run(argv_for(topic), stdin=stdin)
            got = b.count(topic)
            b.drop_topic(topic)
            if got != n:
                sys.exit(f"bench: produced {got} messages, not {n}")
            return wall, rss
        return go

    from_table = "sqlite3 INSERT ... SELECT key, value FROM m"
    generated = "sqlite3 INSERT ... SELECT printf(...) FROM generate_series"
    b.compare("produce", f"{n:,} x 100 B, 4 partitions", {
        from_table: timed(lambda t: b.shell(t, "INSERT INTO t(key, value) SELECT key, value FROM m", db=db)),
        generated: timed(lambda t: b.shell(t, rows_sql(n))),
        "kcat -P": timed(lambda t: b.kcat("-P", "-t", t, "-K", "\t",
                                          "-X", "enable.idempotence=true", "-X", "acks=all"), stdin=data),
        "plain librdkafka producer": timed(lambda t: b.run([os.path.join(b.tools, "produce"),
                                                            b.brokers, t, str(n)])),
    }, ext=[from_table, generated], peers=["plain librdkafka producer", "kcat -P"])


def sqlite_alone(b, topic, n):
    """SQLite's own share of a scan: the same statements in the sqlite3
    shell over an ordinary table holding the topic's keys and values (no
    Kafka, the file in the page cache), the floor under the extension's
    rows beside the plain consumer's."""
    b.table_copy = os.path.join(b.a.workdir, "table-copy.db")
    if os.path.exists(b.table_copy):
        os.remove(b.table_copy)
    b.shell(topic, "CREATE TABLE m AS SELECT key, value FROM t", db=b.table_copy)
    copied = subprocess.run(["sqlite3", b.table_copy, "SELECT count(*) FROM m"], capture_output=True, text=True)
    if copied.stdout.strip() != str(n):
        sys.exit(f"bench: the table copy of {topic} holds {copied.stdout.strip()} rows, not {n}")
    return {f"{ALONE} SELECT {what}": (lambda what=what: b.run(["sqlite3", b.table_copy, f"SELECT {what} FROM m"])[:2])
            for what in ("sum(length(value))", "key, value")}


@bench_row
def value_sizes(b):
    """Full scans of 100 B, 1 KB and 10 KB values at equal bytes; the 100 B
    topic stays for the session rows."""
    for size in (100, 1000, 10000):
        n = b.a.n * (100 + KEY_BYTES) // (size + KEY_BYTES)
        topic = b.new_topic(f"size{size}")
        b.fill(topic, n, size)
        tools = b.scan_tools(topic)
        tools = {"sqlite3 SELECT sum(length(value))": lambda: b.shell(topic, "SELECT sum(length(value)) FROM t")[:2],
                 **tools, **sqlite_alone(b, topic, n)}
        b.compare("full scan, value size", f"{n:,} x {size} B values, 4 partitions", tools,
                  ext=[t for t in tools if t.startswith("sqlite3")], peers=[PLAIN, KCAT])
        os.remove(b.table_copy)
        if size == 100:
            b.scan_topic, b.scan_n = topic, n
        else:
            b.drop_topic(topic)


def scan_partitions(b, n, partitions):
    """The full scan row of a topic of n messages in `partitions` partitions."""
    topic = b.new_topic(f"parts{partitions}", partitions)
    b.fill(topic, n)
    tools = b.scan_tools(topic)
    b.compare("full scan, partitions", f"{n:,} x 100 B, {partitions:,} partitions", tools,
              ext=[t for t in tools if t.startswith("sqlite3")], peers=[PLAIN, KCAT])
    b.drop_topic(topic)


@bench_row
def partition_counts(b):
    for partitions in (1, 4, 32, 128):
        scan_partitions(b, b.a.n_partitions, partitions)


@bench_row
def many_partitions(b):
    """A topic of thousands of partitions (issue 28): the scan's prefetch
    grows with them (client_prefetch_kbytes), so count(*) keeps up with the
    plain consumer at a bounded peak RSS."""
    scan_partitions(b, b.a.n_many, b.a.many_partitions)


@bench_row
def group_members(b):
    """join = 1 (issue 28): the combined throughput of 1, 2 and 3 members of
    one group, each a sqlite3 process counting its share of a 12-partition
    topic. Each first joins (an aggregate that reads nothing and holds its
    position) and waits for the others; the figure is the slowest member's
    count(*) time, checked to add up to the whole topic."""
    n, partitions = b.a.n_members, 12
    topic = b.new_topic("members", partitions)
    b.fill(topic, n)
    for k in (1, 2, 3):
        times = []
        for r in range(b.a.runs):
            group = f"bench-{b.stamp}-{os.getpid()}-members{k}-{r}"
            script = os.path.join(b.a.workdir, "members.sql")
            create = b.create_sql(topic, f"group='{group}', join=1, rdkafka.heartbeat.interval.ms=200")
            with open(script, "w") as f:
                f.write(f".load {b.ext}\n{create};\n"
                        "SELECT max(key) FROM t WHERE timestamp < 0;\n.shell sleep 4\n"
                        "SELECT max(key) FROM t WHERE timestamp < 0;\n.shell sleep 1\n"
                        ".timer on\nSELECT count(*) FROM t;\n")
            procs = [subprocess.Popen(["sqlite3", "-bail", ":memory:"], stdin=open(script), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for _ in range(k)]
            outs = [p.communicate(timeout=600)[0] for p in procs]
            counts = [int(x) for out in outs for x in re.findall(r"^(\d+)$", out, re.M)]
            if sum(counts) != n:
                sys.exit(f"bench: {k} members counted {counts}, expected {n} in all")
            times.append(max(float(x) for out in outs for x in re.findall(r"^Run Time: real ([0-9.]+)", out, re.M)))
            say(f"  run {r + 1}: {k} member(s): {times[-1]:.3f} s")
        wall = statistics.median(times)
        b.add("group members", f"{n:,} x 100 B, {partitions} partitions: {k} member(s) of one group (join = 1)",
              "sqlite3 SELECT count(*), the slowest member", wall, None, f"{n / wall / 1e6:.2f} M messages/s combined")
    b.drop_topic(topic)


@bench_row
def back_to_back(b):
    """Statements right after a full scan in the same session."""
    topic, n = getattr(b, "scan_topic", None), getattr(b, "scan_n", b.a.n)
    if not topic:  # value_sizes did not run
        topic = b.new_topic("session")
        b.fill(topic, n)
    middle = n // 4 // 2
    full = "SELECT count(*) FROM t"
    pairs = [
        (full, f"SELECT key, value FROM t WHERE partition = 0 AND offset BETWEEN {middle} AND {middle + 9}", 10),
        (full, "SELECT key, value FROM t ORDER BY offset DESC LIMIT 10", 10),
        (full, full, None),
    ]
    say("session: statements right after a full scan")
    res = b.session(topic, pairs)
    names = ["10-row offset range in one partition", "ORDER BY offset DESC LIMIT 10", "full scan again"]
    scan = statistics.median(before for _, before in res.values())
    b.add("one session", f"{n:,} x 100 B: full scan SELECT count(*)", "sqlite3", scan)
    for name, (_, q, _) in zip(names, pairs):
        t = res[q][0]
        b.add("one session", f"{name}, right after the full scan", "sqlite3", t, None,
              f"{100 * t / scan:.2f}% of the full scan")
    b.drop_topic(topic)


@bench_row
def typed_json(b):
    """A typed column, ->> and confluent-kafka + json.loads over weather samples."""
    n = b.a.n_json
    topic = b.new_topic("json")
    b.shell(topic, f"INSERT INTO t(key, value) SELECT 'station-' || (value % 50), json_object("
                   f"'station', 'station-' || (value % 50), 'temp_celsius', (value % 400) / 10.0 - 5, "
                   f"'humidity', value % 100, 'wind_mph', value % 60, 'note', printf('%040d', value)) "
                   f"FROM generate_series(1, {n})")
    typed = "value='json', columns='temp_celsius REAL'"
    tools = {
        "sqlite3 typed column avg(temp_celsius)":
            lambda: b.shell(topic, "SELECT avg(temp_celsius) FROM t", options=typed)[:2],
        "sqlite3 avg(value ->> '$.temp_celsius')":
            lambda: b.shell(topic, "SELECT avg(value ->> '$.temp_celsius') FROM t")[:2],
        "sqlite3 SELECT count(*)": lambda: b.shell(topic, "SELECT count(*) FROM t")[:2],
        "confluent-kafka + json.loads": lambda: b.run([b.python, os.path.join(ROOT, "tests", "bench",
                                                      "consume_json.py"), b.brokers, topic, "temp_celsius"])[:2],
    }
    b.compare("typed JSON", f"{n:,} weather samples, 4 partitions", tools,
              ext=[t for t in tools if t.startswith("sqlite3")],
              peers=["confluent-kafka + json.loads", "sqlite3 SELECT count(*)"])
    b.drop_topic(topic)


@bench_row
def key_lookups(b):
    """key = on a 16-partition topic: with partitioner one partition is read."""
    n, partitions = b.a.n_keys, 16
    topic = b.new_topic("keys", partitions)
    b.fill(topic, n)  # the plain producer: murmur2 for keys, like Java
    full = "SELECT count(*) FROM t"
    key = f"key-{n // 2:08d}"
    lookup = f"SELECT partition, offset, value FROM t WHERE key = '{key}'"
    say("session: key lookups")
    for label, options in (("partitioner = 'murmur2'", "partitioner='murmur2'"), ("no partitioner", "")):
        res = b.session(topic, [(full, lookup, 1)], options)
        t, scan = res[lookup]
        b.add("key lookup", f"{n:,} x 100 B, {partitions} partitions: full scan SELECT count(*)",
              f"sqlite3, {label}", scan)
        b.add("key lookup", f"WHERE key = '{key}', right after the full scan", f"sqlite3, {label}", t,
              None, f"{100 * t / scan:.2f}% of the full scan")
    b.drop_topic(topic)


@bench_row
def messages_function(b):
    """kafka_messages() against a declared table over the same topic: the
    same planner and cursor behind a table-valued function (issue 26:
    within 5%)."""
    n = b.a.n
    topic = b.new_topic("messages")
    b.fill(topic, n)
    m = f"kafka_messages('{b.brokers}', '{topic}')"
    tools = {}
    for what in ("count(*)", "key, value"):
        tools[f"sqlite3 SELECT {what} FROM t"] = lambda what=what: b.shell(topic, f"SELECT {what} FROM t")[:2]
        # The one-liner as a person runs it: no CREATE in that shell.
        tools[f"sqlite3 SELECT {what} FROM kafka_messages()"] = \
            lambda what=what: b.run(["sqlite3", "-bail", ":memory:", f".load {b.ext}", f"SELECT {what} FROM {m}"])[:2]
    say(f"kafka_messages: {n:,} x 100 B")
    res = b.rounds(tools)
    for name, (wall, rss) in res.items():
        table = name.replace(f"FROM kafka_messages()", "FROM t")
        b.add("kafka_messages", f"{n:,} x 100 B, 4 partitions", name, wall, rss,
              f"{wall / res[table][0]:.2f}x the table" if table != name else "")
    b.drop_topic(topic)


@bench_row
def time_bound(b):
    """The last 1% of a topic by time: `time >= 'ISO text'` against the same
    bound as `timestamp >= ms` (issue 26: within 2x). Both start each
    partition with offsets-for-times."""
    import datetime
    n = b.a.n
    topic = b.new_topic("time")
    b.fill(topic, n)
    b.db.execute(f"CREATE VIRTUAL TABLE temp.cut USING kafka(brokers='{b.brokers}', topic='{topic}')")
    cut = b.db.execute(f"SELECT min(timestamp) FROM (SELECT timestamp FROM cut ORDER BY offset DESC "
                       f"LIMIT {n // 100})").fetchone()[0]
    b.db.execute("DROP TABLE temp.cut")
    text = (datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=cut)).isoformat(timespec="milliseconds") + "Z"
    full = "SELECT count(*) FROM t"
    by_ms = f"SELECT count(*) FROM t WHERE timestamp >= {cut}"
    by_text = f"SELECT count(*) FROM t WHERE time >= '{text}'"
    say("session: time bounds")
    res = b.session(topic, [(full, by_ms, None), (full, by_text, None)])
    workload = f"{n:,} x 100 B, 4 partitions: the last 1% by time"
    b.add("time bound", workload, f"sqlite3 WHERE timestamp >= {cut}", res[by_ms][0])
    b.add("time bound", workload, f"sqlite3 WHERE time >= '{text}'", res[by_text][0], None,
          f"{res[by_text][0] / res[by_ms][0]:.2f}x timestamp >=")
    b.drop_topic(topic)


@bench_row
def memory(b):
    """Peak RSS of a large INSERT and of scans of a topic at least 10x the
    queue limit."""
    insert_rows = b.a.n_produce * 2
    big_rows = max(insert_rows, 10 * QUEUE_KBYTES * 1024 // (KEY_BYTES + 100) + 1)
    topic = b.new_topic("memory")
    say(f"memory: INSERT of {insert_rows} rows, scans of {big_rows}")
    wall, insert_rss, _ = b.shell(topic, rows_sql(insert_rows))
    if big_rows > insert_rows:
        b.run([os.path.join(b.tools, "produce"), b.brokers, topic, str(big_rows - insert_rows)])
    if b.count(topic) != big_rows:
        sys.exit("bench: the memory topic is short")
    half = big_rows // 4 // 2
    b.add("peak RSS", f"INSERT of {insert_rows:,} rows", "sqlite3", wall, insert_rss)
    for tool, argv in (
            (f"sqlite3 SELECT key, value WHERE offset < {half} ({big_rows // 2:,} rows)",
             None),
            ("sqlite3 SELECT key, value", None),
            (PLAIN, [os.path.join(b.tools, "consume"), b.brokers, topic]),
            (KCAT, b.kcat("-C", "-e", "-K", "\t", "-t", topic))):
        if argv is None:
            where = f" WHERE offset < {half}" if "offset" in tool else ""
            wall, rss, _ = b.shell(topic, f"SELECT key, value FROM t{where}")
        else:
            wall, rss, _ = b.run(argv)
        times = big_rows * (KEY_BYTES + 100) // (QUEUE_KBYTES * 1024)
        b.add("peak RSS", f"scan of {big_rows:,} x 100 B ({times}x the queue limit)", tool, wall, rss)
    b.drop_topic(topic)



@bench_row
def pipeline(b):
    """Copying a topic in SQL: a plain INSERT ... SELECT against
    consume-transform-produce (a group read, a transactional_id written: the
    group's offsets commit in the output's Kafka transaction)."""
    n = b.a.n_produce
    topic = b.new_topic("pipesrc")
    b.fill(topic, n)

    def copy(exactly_once):
        def go():
            out = b.new_topic("copy")
            group = f", group='{out}'" if exactly_once else ""
            txn = f", transactional_id='{out}'" if exactly_once else ""
            wall, rss, _ = b.run([
                "sqlite3", "-bail", ":memory:", f".load {b.ext}",
                f"CREATE VIRTUAL TABLE s USING kafka(brokers='{b.brokers}', topic='{topic}'{group})",
                f"CREATE VIRTUAL TABLE o USING kafka(brokers='{b.brokers}', topic='{out}'{txn})",
                "INSERT INTO o(key, value) SELECT key, value FROM s"])
            got = b.count(out)  # the commit markers count too
            b.drop_topic(out)
            if got < n:
                sys.exit(f"bench: copied {got} messages, not {n}")
            return wall, rss
        return go

    b.compare("copy a topic", f"{n:,} x 100 B, INSERT INTO o SELECT key, value FROM s",
              {"sqlite3 consume-transform-produce": copy(True), "sqlite3 plain INSERT ... SELECT": copy(False)},
              ext=["sqlite3 consume-transform-produce"], peers=["sqlite3 plain INSERT ... SELECT"])
    b.drop_topic(topic)

# -- Avro through the Schema Registry (issue 12) ---------------------------
# The extension against confluent-kafka's AvroSerializer/AvroDeserializer
# loops (tests/bench/avro_client.py, run by the venv's python), and the same
# GROUP BY on a JSON topic of the same records.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import avro_client  # noqa: E402  (its confluent-kafka imports are in its functions)
import protobuf_client  # noqa: E402  (likewise)

REGISTRY = os.environ.get("REGISTRY_URL", f"http://127.0.0.1:{os.environ.get('REGISTRY_PORT', '8081')}"
                          "/apis/ccompat/v7")
VENV_PYTHON = os.path.join(ROOT, "build", "venv", "bin", "python")
WEATHER_COLUMNS = ("location TEXT, temp_celsius INTEGER, wind_speed_mph INTEGER, wind_direction TEXT, "
                   "humidity_percent INTEGER, pressure_mb INTEGER")
GROUP_BY = "SELECT location, avg(temp_celsius) FROM w GROUP BY 1 ORDER BY 1"


def weather_sql(n):
    """n weather samples, the same values as avro_client.sample(i)."""
    locations = json_text(avro_client.LOCATIONS)
    directions = json_text(avro_client.DIRECTIONS)
    return (f"INSERT INTO w(location, temp_celsius, wind_speed_mph, wind_direction, humidity_percent, "
            f"pressure_mb) SELECT json_extract('{locations}', '$[' || (value % 10) || ']'), value % 46 - 10, "
            f"value % 41, json_extract('{directions}', '$[' || (value % 8) || ']'), value % 71 + 30, "
            f"value % 81 + 970 FROM generate_series(1, {n})")


def averages(out):
    """{location: avg} of the `location|avg` lines a GROUP BY printed."""
    return {line.split("|")[0]: round(float(line.split("|")[1]), 6) for line in out.split()}


def json_text(items):
    return "[" + ",".join(f'"{i}"' for i in items) + "]"


def weather_table(b, topic, fmt):
    """CREATE VIRTUAL TABLE w over topic: avro or protobuf (registering the
    schema) or json."""
    if fmt == "json":
        return (f"CREATE VIRTUAL TABLE w USING kafka(brokers='{b.brokers}', topic='{topic}', "
                f"value='json', columns='{WEATHER_COLUMNS}')")
    if fmt == "protobuf":
        return (f"CREATE VIRTUAL TABLE w USING kafka(brokers='{b.brokers}', topic='{topic}', "
                f"value='protobuf', schema_registry='{REGISTRY}', value_schema='{protobuf_client.SCHEMA}')")
    return (f"CREATE VIRTUAL TABLE w USING kafka(brokers='{b.brokers}', topic='{topic}', value='avro', "
            f"schema_registry='{REGISTRY}', value_schema='{avro_client.SCHEMA}')")


def weather_shell(b, topic, fmt, sql, stdout=subprocess.DEVNULL):
    return b.run(["sqlite3", "-bail", ":memory:", f".load {b.ext}", weather_table(b, topic, fmt), sql],
                 stdout=stdout)


@bench_row
def avro(b):
    """Avro weather records: INSERT against an AvroSerializer producer loop,
    a GROUP BY against an AvroDeserializer loop and the same GROUP BY on a
    JSON topic of the same records."""
    n, topics = b.a.n_registry, {}

    def insert(tool, fmt):
        def run():
            topic = b.new_topic(f"avro-{tool}")
            if tool in topics:
                b.drop_topic(topics[tool])
            topics[tool] = topic
            if tool == "py":
                return b.run([VENV_PYTHON, avro_client.__file__, "produce", b.brokers, REGISTRY, topic,
                              str(n)])[:2]
            return weather_shell(b, topic, fmt, weather_sql(n))[:2]
        return run

    b.compare("Avro", f"INSERT of {n:,} weather records", {
        "sqlite3 INSERT, Avro": insert("avro", "avro"),
        "confluent-kafka AvroSerializer loop": insert("py", "avro")},
        ext=["sqlite3 INSERT, Avro"], peers=["confluent-kafka AvroSerializer loop"])
    insert("json", "json")()
    answers = {}

    def group_by(tool):
        def run():
            if tool == "py":
                wall, rss, out = b.run([VENV_PYTHON, avro_client.__file__, "group-by", b.brokers, REGISTRY,
                                        topics["avro"]], stdout=subprocess.PIPE)
            else:
                wall, rss, out = weather_shell(b, topics[tool], tool, GROUP_BY, stdout=subprocess.PIPE)
            answers[tool] = averages(out)
            return wall, rss
        return run

    b.compare("Avro", f"GROUP BY location, avg(temp_celsius) over {n:,} records", {
        "sqlite3 GROUP BY, Avro topic": group_by("avro"),
        "sqlite3 GROUP BY, JSON topic": group_by("json"),
        "confluent-kafka AvroDeserializer loop": group_by("py")},
        ext=["sqlite3 GROUP BY, Avro topic"],
        peers=["confluent-kafka AvroDeserializer loop", "sqlite3 GROUP BY, JSON topic"])
    if not answers["avro"] == answers["json"] == answers["py"]:
        sys.exit(f"bench: the GROUP BY answers differ: {answers}")
    for topic in topics.values():
        b.drop_topic(topic)


@bench_row
def protobuf(b):
    """Protobuf weather records (filled by INSERT): a GROUP BY over typed
    columns against confluent-kafka's ProtobufDeserializer loop; CPU time
    (user + system of the whole process) beside the wall time."""
    n = b.a.n_registry
    topic = b.new_topic("protobuf")
    weather_shell(b, topic, "protobuf", weather_sql(n))
    answers, cpu = {}, {}
    ext, peer = "sqlite3 GROUP BY, typed columns", "confluent-kafka ProtobufDeserializer loop"

    def group_by(tool):
        def run():
            argv = [VENV_PYTHON, protobuf_client.__file__, "group-by", b.brokers, topic]
            wall, rss, out = (b.run(argv, stdout=subprocess.PIPE) if tool == peer else
                              weather_shell(b, topic, "protobuf", GROUP_BY, stdout=subprocess.PIPE))
            answers[tool] = averages(out)
            cpu.setdefault(tool, []).append(b.last_cpu)
            return wall, rss
        return run

    workload = f"GROUP BY location, avg(temp_celsius) over {n:,} records"
    b.compare("Protobuf", workload, {ext: group_by(ext), peer: group_by(peer)}, ext=[ext], peers=[peer])
    if answers[ext] != answers[peer]:
        sys.exit(f"bench: the Protobuf GROUP BY answers differ: {answers}")
    ext_cpu, peer_cpu = statistics.median(cpu[ext]), statistics.median(cpu[peer])
    b.add("Protobuf", workload + ", CPU time", ext, ext_cpu, against=f"{ext_cpu / peer_cpu:.2f}x {peer}")
    b.add("Protobuf", workload + ", CPU time", peer, peer_cpu)
    b.drop_topic(topic)


# -- formats without a registry (issue 27) ---------------------------------------
import plain_client  # noqa: E402  (its fastavro, protobuf and msgpack imports are in its functions)


def plain_table(b, topic, fmt):
    """CREATE VIRTUAL TABLE w over topic in a format without a registry:
    Avro from its schema text, Protobuf from its .proto file, MessagePack
    with typed columns."""
    base = f"CREATE VIRTUAL TABLE w USING kafka(brokers='{b.brokers}', topic='{topic}', value='{fmt}'"
    if fmt == "avro":
        return base + f", value_schema='{avro_client.SCHEMA}')"
    if fmt == "protobuf":
        return (base + f", value_proto_file='{os.path.join(protobuf_client.PROTO_DIR, protobuf_client.PROTO)}', "
                f"value_proto_path='{protobuf_client.PROTO_DIR}')")
    return base + f", columns='{WEATHER_COLUMNS}')"


@bench_row
def plain_formats(b):
    """Plain Avro, Protobuf and MessagePack weather records (filled by
    INSERT): a GROUP BY over typed columns against a Python loop with
    fastavro, the protoc class and msgpack; and plain Avro against the
    registry's Avro (the same records, framed)."""
    n = b.a.n_registry
    for fmt, lib in (("avro", "fastavro"), ("protobuf", "protobuf"), ("msgpack", "msgpack")):
        topic = b.new_topic(f"plain-{fmt}")
        b.run(["sqlite3", "-bail", ":memory:", f".load {b.ext}", plain_table(b, topic, fmt), weather_sql(n)])
        answers = {}
        ext, peer = f"sqlite3 GROUP BY, plain {fmt}", f"Python {lib} loop"

        def group_by(tool, fmt=fmt, topic=topic, ext=ext):
            def run():
                argv = ([VENV_PYTHON, plain_client.__file__, "group-by", fmt, b.brokers, topic] if tool != ext else
                        ["sqlite3", "-bail", ":memory:", f".load {b.ext}", plain_table(b, topic, fmt), GROUP_BY])
                wall, rss, out = b.run(argv, stdout=subprocess.PIPE)
                answers[tool] = averages(out)
                return wall, rss
            return run

        tools = {ext: group_by(ext), peer: group_by(peer)}
        if fmt == "avro":
            registry = b.new_topic("plain-avro-registry")
            weather_shell(b, registry, "avro", weather_sql(n))

            def registry_group_by():
                wall, rss, out = weather_shell(b, registry, "avro", GROUP_BY, stdout=subprocess.PIPE)
                answers["registry"] = averages(out)
                return wall, rss
            tools["sqlite3 GROUP BY, registry avro"] = registry_group_by
        b.compare("Formats without a registry", f"GROUP BY location, avg(temp_celsius) over {n:,} {fmt} records",
                  tools, ext=[ext], peers=[t for t in tools if t != ext])
        if len({tuple(sorted(a.items())) for a in answers.values()}) != 1:
            sys.exit(f"bench: the plain {fmt} GROUP BY answers differ: {answers}")
        b.drop_topic(topic)
        if fmt == "avro":
            b.drop_topic(registry)


# -- the report ----------------------------------------------------------------

def time_to_error(argv):
    """Wall seconds until argv fails (it must: its brokers are a closed port)."""
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
    wall = time.perf_counter() - t0
    if p.returncode == 0:
        sys.exit(f"bench: {argv[0]} did not fail against a closed port")
    return wall


@bench_row
def closed_port(b):
    """Time to the error when the brokers are a port nothing listens on:
    the extension fails as soon as every bootstrap broker refused, kcat -L
    gives up on its own bound, confluent-kafka's AdminClient waits for its
    timeout (10 s, the extension's default timeout_ms)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    admin = ("import sys; from confluent_kafka.admin import AdminClient; "
             f"AdminClient({{'bootstrap.servers': '{dead}'}}).list_topics(timeout=10)")
    tools = {
        "sqlite3 kafka_topics()": ["sqlite3", ":memory:", f".load {b.ext}", f"SELECT * FROM kafka_topics('{dead}')"],
        "sqlite3 CREATE VIRTUAL TABLE": ["sqlite3", ":memory:", f".load {b.ext}",
                                         f"CREATE VIRTUAL TABLE t USING kafka(brokers='{dead}', topic='x')"],
        "kcat -L": ["kcat", "-b", dead, "-L"],
        "confluent-kafka AdminClient.list_topics": [b.python, "-c", admin],
    }
    say(f"errors: brokers at a closed port ({dead})")
    seen = {name: [] for name in tools}
    for r in range(b.a.runs):
        for name, argv in tools.items():
            seen[name].append(time_to_error(argv))
            say(f"  run {r + 1}: {name}: {seen[name][-1]:.3f} s")
    res = {name: statistics.median(v) for name, v in seen.items()}
    peers = ["kcat -L", "confluent-kafka AdminClient.list_topics"]
    for name, wall in res.items():
        against = ", ".join(f"{wall / res[p]:.2f}x {p}" for p in peers) if name.startswith("sqlite3") else ""
        b.add("errors", "time to the error, brokers at a closed port", name, wall, None, against)


DATASETTE_PAGES = 1000  # rows of the plain SQLite table the pages are measured against


def page_seconds(url, runs):
    """Median seconds of a GET of url (after one unmeasured GET: the first
    of a connection creates its TEMP table and consumer)."""
    body = urllib.request.urlopen(url, timeout=120).read()
    if b'id="kafka-error"' in body:
        sys.exit(f"bench: {url} shows an error: {body[-2000:].decode(errors='replace')}")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        urllib.request.urlopen(url, timeout=120).read()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@bench_row
def datasette(b):
    """The Datasette plugin's pages over a large topic against Datasette's
    table page of a 1,000-row plain SQLite table: the topic page's first
    screen and its rate chart, the kafka table's own page and its next page
    (newest first), the cluster page (whose time grows with the cluster's
    topics and partitions, not with the topic's messages)."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import datasettekit
    n = b.a.n_datasette
    topic = b.new_topic("datasette")
    b.fill(topic, n)
    db = os.path.join(b.a.workdir, "datasette.db")
    if os.path.exists(db):
        os.remove(db)
    b.run(["sqlite3", db, f".load {b.ext}",
           f"CREATE VIRTUAL TABLE t USING kafka(brokers='{b.brokers}', topic='{topic}')",
           f"CREATE TABLE plain AS SELECT partition, offset, timestamp, key, value, headers FROM t "
           f"ORDER BY rowid DESC LIMIT {DATASETTE_PAGES}"])
    workload = f"{n:,} x 100 B, 4 partitions; page of 100 rows"
    say(f"datasette: {workload}")
    with datasettekit.serve({"clusters": {"bench": {"brokers": b.brokers}}}, db) as base:
        plain = page_seconds(f"{base}/datasette/plain?_sort_desc=rowid", b.a.runs)
        b.add("datasette", workload, f"table page of a {DATASETTE_PAGES:,}-row SQLite table", plain)
        with urllib.request.urlopen(f"{base}/datasette/t.json?_size=100", timeout=120) as r:
            page2 = json.loads(r.read())["next_url"]
        pages = {
            "plugin: topic page, first screen": f"{base}/-/kafka/clusters/bench/topics/{topic}?size=100",
            "plugin: its rate chart (an image of its own)": f"{base}/-/kafka/clusters/bench/topics/{topic}/rate.svg",
            "kafka table page (Datasette's, newest first)": f"{base}/datasette/t?_size=100",
            "kafka table page 2": page2.replace("/t.json?", "/t?"),
            "plugin: cluster page": f"{base}/-/kafka/clusters/bench",
        }
        for name, url in pages.items():
            seconds = page_seconds(url, b.a.runs)
            b.add("datasette", workload, name, seconds, None, f"{seconds / plain:.2f}x the SQLite table page")
    os.remove(db)
    b.drop_topic(topic)


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores {cpu}, {mem:.0f} GiB"


def versions(db):
    ext = db.execute("SELECT kafka_version()").fetchone()[0]
    kcat = subprocess.run(["kcat", "-V"], capture_output=True, text=True).stdout.splitlines()
    return f"{ext}; SQLite {sqlite3.sqlite_version}; {kcat[0] if kcat else 'kcat'}"


def report(b, seconds):
    return "\n".join([
        f"### Benchmark: median of {b.a.runs} runs ({seconds / 60:.1f} min in all)",
        "",
        f"{datetime.date.today()}, {machine()}; {versions(b.db)}; "
        f"broker: Apache Kafka {os.environ.get('KAFKA_VERSION', '3.9.2')} (KRaft, one node) "
        f"at {b.brokers}. Keys are {KEY_BYTES} bytes. Idempotent producer with acks=all everywhere. "
        "Times are of whole processes (start, connect, work, exit), except the rows measured "
        "inside one sqlite3 session (`.timer`); peak RSS is GNU time's. Ratios below 1 are faster; "
        "the plain consumer and confluent-kafka stop at the end offsets as of their start, like the "
        "extension, and prefetch up to 16 MB (the extension 1 MB, waking the fetcher as it drains); "
        "kcat -e waits for the end-of-partition fetch.",
        "",
        "| group | workload | tool | time s | peak RSS MB | ratio |",
        "|---|---|---|---:|---:|---|",
        *b.lines,
    ]) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", default=f"127.0.0.1:{os.environ.get('KAFKA_PORT', '29092')}")
    ap.add_argument("--n", type=int, default=1_000_000,
                    help="messages of the 100 B value-size topic (the others hold equal bytes)")
    ap.add_argument("--n-produce", type=int, default=500_000)
    ap.add_argument("--n-partitions", type=int, default=500_000)
    ap.add_argument("--n-many", type=int, default=1_000_000, help="messages of the many-partitions row")
    ap.add_argument("--many-partitions", type=int, default=1_000)
    ap.add_argument("--n-members", type=int, default=1_000_000, help="messages of the group members row")
    ap.add_argument("--n-json", type=int, default=200_000)
    ap.add_argument("--n-keys", type=int, default=800_000)
    ap.add_argument("--n-registry", type=int, default=1_000_000, help="records of the Avro and Protobuf rows")
    ap.add_argument("--n-datasette", type=int, default=10_000_000, help="messages of the Datasette pages' topic")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ext", default=os.path.join(ROOT, "build", "kafka"),
                    help="the extension to load, without suffix (e.g. an older build to compare)")
    ap.add_argument("--only", help="comma-separated row functions to run (default: all)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "results.md"))
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    a = ap.parse_args()
    if not shutil.which("kcat"):
        sys.exit("bench: kcat is not installed (apt-get install kcat)")
    if not os.path.exists("/usr/bin/time"):
        sys.exit("bench: GNU time is not installed (apt-get install time): it measures the peak RSS")
    if not os.path.exists(os.path.join(ROOT, "build", "venv", "bin", "python")):
        sys.exit("bench: build/venv is missing (bash tests/deps.sh): the typed JSON row runs confluent-kafka")
    os.makedirs(a.workdir, exist_ok=True)
    b = Bench(a)
    t0 = time.monotonic()
    only = set(a.only.split(",")) if a.only else None
    for row in ROWS:
        if only is None or row.__name__ in only:
            row(b)
    text = report(b, time.monotonic() - t0)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)
    say(f"written to {a.out}")


if __name__ == "__main__":
    main()
