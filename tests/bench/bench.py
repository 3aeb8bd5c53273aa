"""The driver of `make bench`: the extension against kcat and plain
librdkafka programs (tests/bench/produce.c, consume.c), on the same real
broker in the same run. Every figure is the median of --runs runs, the tools
taking turns so that noise from other work on the machine falls on all of
them alike. Prints one Markdown report and writes it to --out.

Run by /usr/bin/python3 (stdlib only; it loads the extension for topic
administration). The Makefile's `bench` rule builds everything first.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

VALUE_BYTES = 100
KEY_BYTES = 12  # 'key-%08d'
PARTITIONS = 4
# The extension's consumer queue limit, queued.max.messages.kbytes in
# ext/client.c: the memory test scans a topic ten times larger.
QUEUE_KBYTES = 16384
INSERT_ROWS_BIG = 1_000_000

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rows_sql(n, timestamps=None):
    """The benchmark's rows in SQL: the same bytes as produce.c and the kcat file."""
    ts = ", timestamp" if timestamps is not None else ""
    ts_value = f", {timestamps} + value" if timestamps is not None else ""
    return (f"INSERT INTO t(key, value{ts}) SELECT printf('key-%08d', value), "
            f"printf('%0{VALUE_BYTES}d', value){ts_value} FROM generate_series(1, {n})")


class Bench:
    def __init__(self, args):
        self.a = args
        self.brokers = args.brokers
        self.ext = os.path.join(ROOT, "build", "kafka")
        self.tools = os.path.join(ROOT, "build", "bench")
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.enable_load_extension(True)
        self.db.load_extension(self.ext)
        self.serial = 0
        self.stamp = time.strftime("%H%M%S")

    # -- topics ------------------------------------------------------------
    def new_topic(self, what):
        self.serial += 1
        name = f"bench-{self.stamp}-{os.getpid()}-{what}-{self.serial}"
        self.db.execute("SELECT kafka_create_topic(?, ?, ?)", (self.brokers, name, PARTITIONS))
        return name

    def drop_topic(self, name):
        self.db.execute("SELECT kafka_delete_topic(?, ?)", (self.brokers, name))

    def count(self, topic):
        return self.db.execute("SELECT sum(messages) FROM kafka_partitions(?, ?)",
                               (self.brokers, topic)).fetchone()[0] or 0

    # -- running tools -----------------------------------------------------
    def run(self, argv, stdin=None, stdout=subprocess.DEVNULL):
        """Runs argv; (wall seconds, peak RSS in MB, stdout text or None)."""
        fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
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
            sys.exit(f"bench: {' '.join(argv[:3])}... failed ({p.returncode}): {err[-2000:]}")
        self.last_cpu = usage.ru_utime + usage.ru_stime  # on a shared machine, steadier than wall
        return wall, usage.ru_maxrss / 1024.0, out

    def shell(self, topic, *sql, stdout=subprocess.DEVNULL):
        """The sqlite3 shell on a table t over topic, running sql."""
        create = f"CREATE VIRTUAL TABLE t USING kafka(brokers='{self.brokers}', topic='{topic}')"
        return self.run(["sqlite3", "-bail", ":memory:", f".load {self.ext}", create, *sql],
                        stdout=stdout)

    def shell_script(self, topic, script):
        """The sqlite3 shell reading script on stdin (for .timer); its stdout."""
        path = os.path.join(self.a.workdir, "script.sql")
        with open(path, "w") as f:
            f.write(f".load {self.ext}\n")
            f.write(f"CREATE VIRTUAL TABLE t USING kafka(brokers='{self.brokers}', topic='{topic}');\n")
            f.write(script)
        return self.run(["sqlite3", "-bail", ":memory:"], stdin=path, stdout=subprocess.PIPE)[2]

    def kcat(self, *args):
        return ["kcat", "-b", self.brokers, "-q", *args]

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

    def produce(self):
        n = self.a.n
        data = os.path.join(self.a.workdir, f"messages-{n}.txt")
        if not os.path.exists(data):
            with open(data + ".tmp", "w") as f:
                for i in range(1, n + 1):
                    f.write(f"key-{i:08d}\t{i:0{VALUE_BYTES}d}\n")
            os.replace(data + ".tmp", data)

        def timed(argv_for, stdin=None):
            def go():
                topic = self.new_topic("produce")
                wall, rss, _ = argv_for(topic) if stdin is None else self.run(argv_for(topic), stdin=stdin)
                got = self.count(topic)
                self.drop_topic(topic)
                if got != n:
                    sys.exit(f"bench: produced {got} messages, not {n}")
                return wall, rss
            return go

        say(f"produce {n} messages")
        return self.rounds({
            "sqlite3 INSERT ... SELECT": timed(lambda t: self.shell(t, rows_sql(n))),
            "kcat -P": timed(lambda t: self.kcat("-P", "-t", t, "-K", "\t",
                                                 "-X", "enable.idempotence=true", "-X", "acks=all"),
                             stdin=data),
            "plain librdkafka producer": timed(lambda t: self.run([os.path.join(self.tools, "produce"),
                                                                   self.brokers, t, str(n)])),
        })

    def fill(self, topic, n, timestamps=None):
        self.shell(topic, rows_sql(n, timestamps))
        if self.count(topic) != n:
            sys.exit(f"bench: topic {topic} does not hold {n} messages")

    def scan(self, topic):
        say(f"full scan of {self.a.n} messages")
        consume = [os.path.join(self.tools, "consume"), self.brokers, topic]
        return self.rounds({
            "sqlite3 SELECT count(*)": lambda: self.shell(topic, "SELECT count(*) FROM t")[:2],
            "sqlite3 SELECT key, value": lambda: self.shell(topic, "SELECT key, value FROM t")[:2],
            "kcat -C -e": lambda: self.run(self.kcat("-C", "-e", "-K", "\t", "-t", topic))[:2],
            "plain librdkafka consumer": lambda: self.run(consume)[:2],
        })

    def selective(self, topic, base_ts):
        """Statement times inside one shell session (.timer), rows to /dev/null.
        Each statement starts 0.2 s after the one before: a statement that
        read to a partition's end leaves a fetch waiting on the broker for
        up to fetch.wait.max.ms (100 ms), and the next statement's first
        fetch queues behind it."""
        n = self.a.n
        middle = n // PARTITIONS // 2
        queries = {
            "full scan: SELECT count(*)": ("SELECT count(*) FROM t", None),
            "10-row offset range in one partition":
                (f"SELECT key, value FROM t WHERE partition = 0 AND offset BETWEEN {middle} AND {middle + 9}", 10),
            "ORDER BY offset DESC LIMIT 10": ("SELECT key, value FROM t ORDER BY offset DESC LIMIT 10", 10),
            "timestamp >= bound (last 1%)":
                (f"SELECT key, value FROM t WHERE timestamp >= {base_ts + n - n // 100 + 1}", n // 100),
        }
        say("selective reads")
        script = ["SELECT count(*) FROM t;", ".timer on"]  # the first scan opens the consumer
        for _ in range(self.a.runs):
            for q, rows in queries.values():
                script += [f"SELECT count(*) FROM ({q});" if rows else "", ".output /dev/null",
                           ".shell sleep 0.2", q + ";", ".output stdout"]
        out = self.shell_script(topic, "\n".join(script) + "\n")
        times = [float(x) for x in re.findall(r"^Run Time: real ([0-9.]+)", out, re.M)]
        counts = [int(x) for x in re.findall(r"^(\d+)$", out, re.M)][1:]
        result, t, c = {}, iter(times), iter(counts)
        for _ in range(self.a.runs):
            for name, (q, rows) in queries.items():
                if rows:
                    got = next(c)
                    next(t)  # the count's own time
                    if got != rows:
                        sys.exit(f"bench: {name}: {got} rows, expected {rows}")
                result.setdefault(name, []).append(next(t))
        return {name: statistics.median(v) for name, v in result.items()}

    def memory(self, scan_topic):
        """Peak RSS of a large INSERT and of scans of a topic 10x the queue limit."""
        big_rows = max(INSERT_ROWS_BIG, 10 * QUEUE_KBYTES * 1024 // (KEY_BYTES + VALUE_BYTES) + 1)
        topic = self.new_topic("memory")
        say(f"memory: INSERT of {INSERT_ROWS_BIG} rows, scans of {big_rows}")
        wall, insert_rss, _ = self.shell(topic, rows_sql(INSERT_ROWS_BIG))
        if big_rows > INSERT_ROWS_BIG:
            self.run([os.path.join(self.tools, "produce"), self.brokers, topic,
                      str(big_rows - INSERT_ROWS_BIG)])
        if self.count(topic) != big_rows:
            sys.exit("bench: the memory topic is short")
        half = big_rows // PARTITIONS // 2
        rss = {
            f"sqlite3 INSERT of {INSERT_ROWS_BIG} rows": (INSERT_ROWS_BIG, insert_rss),
            f"sqlite3 INSERT of {self.a.n} rows": (self.a.n, None),
            f"sqlite3 SELECT key, value, {self.a.n} rows": (self.a.n, None),
            f"sqlite3 SELECT key, value, {big_rows // 2} rows (offset < {half})":
                (big_rows // 2, self.shell(topic, f"SELECT key, value FROM t WHERE offset < {half}")[1]),
            f"sqlite3 SELECT key, value, {big_rows} rows":
                (big_rows, self.shell(topic, "SELECT key, value FROM t")[1]),
            f"plain librdkafka consumer, {big_rows} rows":
                (big_rows, self.run([os.path.join(self.tools, "consume"), self.brokers, topic])[1]),
            f"kcat -C -e, {big_rows} rows":
                (big_rows, self.run(self.kcat("-C", "-e", "-K", "\t", "-t", topic))[1]),
        }
        self.drop_topic(topic)
        return rss, INSERT_ROWS_BIG / wall


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


def avro_rows(b):
    """{workload: {tool: (median s, median peak RSS MB)}} for the Avro rows."""
    n, topics = b.a.n, {}

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

    say(f"avro: INSERT of {n} weather records")
    inserted = b.rounds({f"sqlite3 INSERT of {n} Avro rows": insert("avro", "avro"),
                         "confluent-kafka AvroSerializer producer loop": insert("py", "avro")})
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

    say("avro: GROUP BY location")
    grouped = b.rounds({"sqlite3 GROUP BY, Avro topic": group_by("avro"),
                        "sqlite3 GROUP BY, JSON topic": group_by("json"),
                        "confluent-kafka AvroDeserializer loop": group_by("py")})
    if not answers["avro"] == answers["json"] == answers["py"]:
        sys.exit(f"bench: the GROUP BY answers differ: {answers}")
    for topic in topics.values():
        b.drop_topic(topic)
    return {"INSERT": inserted, "GROUP BY location, avg(temp_celsius)": grouped}


def avro_report(b, results):
    """The Avro rows as a Markdown table, with the ratios issue 12 asks for."""
    n = b.a.n
    lines = ["", f"Avro through the Schema Registry ({REGISTRY}): {n} weather records, "
             f"{PARTITIONS} partitions, median of {b.a.runs} runs.", "",
             "| workload | tool | time s | records/s | peak RSS MB |", "|---|---|---:|---:|---:|"]
    for workload, tools in results.items():
        for tool, (wall, rss) in tools.items():
            lines.append(f"| {workload} | {tool} | {wall:.3f} | {n / wall:,.0f} | {rss:.0f} |")
    ins, grp = results["INSERT"], results["GROUP BY location, avg(temp_celsius)"]
    t = lambda d, k: next(v[0] for name, v in d.items() if name.startswith(k))
    lines += ["", f"INSERT: the extension is {t(ins, 'confluent') / t(ins, 'sqlite3'):.2f}x the "
              f"AvroSerializer loop's speed. GROUP BY: {t(grp, 'confluent') / t(grp, 'sqlite3 GROUP BY, Avro'):.2f}x "
              f"the AvroDeserializer loop's speed; the Avro topic takes "
              f"{t(grp, 'sqlite3 GROUP BY, Avro') / t(grp, 'sqlite3 GROUP BY, JSON'):.2f}x the JSON topic's time."]
    return "\n".join(lines) + "\n"


# -- Protobuf through the Schema Registry (issue 16) -----------------------
# The same GROUP BY over a Protobuf topic (filled by INSERT) against
# confluent-kafka's ProtobufDeserializer loop (tests/bench/protobuf_client.py).
PROTOBUF_TOOLS = {"sql": "sqlite3 GROUP BY, typed columns", "py": "confluent-kafka ProtobufDeserializer loop"}


def protobuf_rows(b):
    """{tool: (median wall s, median peak RSS MB, median CPU s)} of the GROUP BY."""
    topic = b.new_topic("protobuf")
    say(f"protobuf: INSERT of {b.a.n} weather records, then GROUP BY location")
    weather_shell(b, topic, "protobuf", weather_sql(b.a.n))
    answers, cpu = {}, {name: [] for name in PROTOBUF_TOOLS.values()}

    def group_by(tool):
        def run():
            argv = [VENV_PYTHON, protobuf_client.__file__, "group-by", b.brokers, topic]
            wall, rss, out = (b.run(argv, stdout=subprocess.PIPE) if tool == "py" else
                              weather_shell(b, topic, "protobuf", GROUP_BY, stdout=subprocess.PIPE))
            answers[tool] = averages(out)
            cpu[PROTOBUF_TOOLS[tool]].append(b.last_cpu)
            return wall, rss
        return run

    grouped = b.rounds({name: group_by(tool) for tool, name in PROTOBUF_TOOLS.items()})
    if answers["sql"] != answers["py"]:
        sys.exit(f"bench: the Protobuf GROUP BY answers differ: {answers}")
    b.drop_topic(topic)
    return {name: (*grouped[name], statistics.median(cpu[name])) for name in grouped}


def protobuf_report(b, grouped):
    lines = ["", f"Protobuf through the Schema Registry: GROUP BY location, avg(temp_celsius) over "
             f"{b.a.n} weather records, {PARTITIONS} partitions, median of {b.a.runs} runs; CPU is "
             "user + system time of the whole process.", "",
             "| tool | time s | records/s | CPU s | peak RSS MB |", "|---|---:|---:|---:|---:|"]
    for tool, (wall, rss, cpu) in grouped.items():
        lines.append(f"| {tool} | {wall:.3f} | {b.a.n / wall:,.0f} | {cpu:.3f} | {rss:.0f} |")
    sql, py = (grouped[PROTOBUF_TOOLS[k]] for k in ("sql", "py"))
    lines += ["", f"The extension is {py[0] / sql[0]:.2f}x the ProtobufDeserializer loop's speed "
              f"({py[2] / sql[2]:.2f}x in CPU time)."]
    return "\n".join(lines) + "\n"


def say(text):
    print(text, file=sys.stderr, flush=True)


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


def report(b, produced, scanned, selective, memory, insert_big_rate):
    n, mb = b.a.n, b.a.n * (KEY_BYTES + VALUE_BYTES) / 1e6
    lines = [
        f"### Benchmark: {n} messages ({KEY_BYTES}-byte keys, {VALUE_BYTES}-byte values), "
        f"{PARTITIONS} partitions, median of {b.a.runs} runs",
        "",
        f"{datetime.date.today()}, {machine()}; {versions(b.db)}; "
        f"broker: Apache Kafka {os.environ.get('KAFKA_VERSION', '3.9.2')} (KRaft, one node) "
        f"at {b.brokers}. Idempotent producer with acks=all everywhere. "
        "Times are of whole processes (start, connect, work, exit).",
        "",
        "| workload | tool | time s | msgs/s | MB/s | vs kcat | vs plain librdkafka |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]

    def rows(workload, results, ext_names, kcat, plain):
        for name, (wall, _) in results.items():
            ratio = lambda other: f"{results[other][0] / wall:.2f}x" if name in ext_names else ""
            lines.append(f"| {workload} | {name} | {wall:.3f} | {n / wall:,.0f} | {mb / wall:.1f} "
                         f"| {ratio(kcat)} | {ratio(plain)} |")

    rows("produce", produced, ["sqlite3 INSERT ... SELECT"], "kcat -P", "plain librdkafka producer")
    rows("full scan", scanned, ["sqlite3 SELECT count(*)", "sqlite3 SELECT key, value"],
         "kcat -C -e", "plain librdkafka consumer")
    full = selective["full scan: SELECT count(*)"]
    lines += ["", "Selective reads: statement times in one sqlite3 session (`.timer`), "
              "against the full scan in the same session, each 0.2 s after the statement before "
              "(back to back, a statement after one that read to the partitions' ends waits up "
              "to fetch.wait.max.ms = 100 ms for that scan's last fetch).", "",
              "| query | time ms | of the full scan |", "|---|---:|---:|"]
    for name, t in selective.items():
        lines.append(f"| {name} | {t * 1000:.1f} | {100 * t / full:.2f}% |")
    lines += ["", f"Peak resident memory (ru_maxrss). Consumer queue limit "
              f"{QUEUE_KBYTES // 1024} MB; INSERT of {INSERT_ROWS_BIG} rows ran at "
              f"{insert_big_rate:,.0f} msgs/s.", "",
              "| workload | rows | peak RSS MB |", "|---|---:|---:|"]
    for name, (rows_, rss) in memory.items():
        lines.append(f"| {name} | {rows_} | {rss:.0f} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", default=f"127.0.0.1:{os.environ.get('KAFKA_PORT', '29092')}")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "results.md"))
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--avro-only", action="store_true", help="only the Avro rows (needs the registry)")
    ap.add_argument("--protobuf-only", action="store_true", help="only the Protobuf row (needs the registry)")
    a = ap.parse_args()
    if not shutil.which("kcat"):
        sys.exit("bench: kcat is not installed (apt-get install kcat)")
    os.makedirs(a.workdir, exist_ok=True)
    b = Bench(a)
    if a.avro_only:
        text = avro_report(b, avro_rows(b))
        print(text)
        return
    if a.protobuf_only:
        print(protobuf_report(b, protobuf_rows(b)))
        return
    produced = b.produce()
    topic = b.new_topic("scan")
    base_ts = int(time.time() * 1000) - a.n - 60_000
    b.fill(topic, a.n, base_ts)
    scanned = b.scan(topic)
    selective = b.selective(topic, base_ts)
    b.drop_topic(topic)
    memory, big_rate = b.memory(topic)
    memory[f"sqlite3 INSERT of {a.n} rows"] = (a.n, produced["sqlite3 INSERT ... SELECT"][1])
    memory[f"sqlite3 SELECT key, value, {a.n} rows"] = (a.n, scanned["sqlite3 SELECT key, value"][1])
    text = report(b, produced, scanned, selective, memory, big_rate)
    text += avro_report(b, avro_rows(b))
    text += protobuf_report(b, protobuf_rows(b))
    with open(a.out, "w") as f:
        f.write(text)
    print(text)
    say(f"written to {a.out}")


if __name__ == "__main__":
    main()
