"""The Datasette plugin (sqlite_kafka/datasette_plugin) in a real browser:
Datasette serves the plugin's pages over the real broker and registry, and
Debian's chromium, driven by chromedriver through Selenium, opens every page,
clicks a filter, pages forward and checks what is shown. The topics, the
group and the subject are made by independent clients (kafka-python,
confluent-kafka, the registry's REST API). Screenshots go to
build/screenshots/.

Datasette runs as a subprocess (tests/datasettekit.py), with the plugin
found through --plugins-dir until the package is installed.
"""

import contextlib
import json
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import kit
from datasettekit import serve as datasette_with_plugin

sys.path.insert(0, str(kit.ROOT))  # sqlite_kafka from the checkout, as the shim imports it

SCREENSHOTS = kit.ROOT / "build" / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--window-size=1280,1000"]
N_MESSAGES = 90  # message i: partition i % 3, offset i // 3, timestamp BASE + i s


def need_browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        msg = f"no {', '.join(missing)} (tests/deps.sh installs chromium and chromium-driver)"
        if os.environ.get("CI") or os.environ.get("KAFKA_REQUIRED") == "1":
            raise AssertionError(msg)
        raise kit.Skip(msg)


@contextlib.contextmanager
def browser():
    """Headless Debian chromium in a fresh profile, through chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    # Chromium never loads the extension: sanitizer runtimes preloaded by
    # `make test SANITIZE=1` only stall it.
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    with tempfile.TemporaryDirectory() as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER, env=env), options=options)
        try:
            driver.set_page_load_timeout(60)
            yield driver
        finally:
            driver.quit()


def screenshot(driver, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    return path


def texts(driver, css):
    from selenium.webdriver.common.by import By
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def table_rows(driver, table):
    """The cells' texts of each body row of the table (a CSS selector), in
    one script call (a WebDriver call per cell takes seconds on a page
    listing hundreds of topics or subjects)."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0] + ' tbody tr')]"
        ".map(r => [...r.cells].map(c => c.innerText.trim()))", table)


def click(driver, css, poll_s=0.1):
    """Clicks the element and waits until the page it leads to has loaded,
    looking every poll_s seconds.

    The old page is told apart by a mark set on its window, not by an
    element of it: asked about an element of a page that is being replaced,
    chromedriver may answer with an inspector error ("Node with given id
    does not belong to the document") instead of a stale element, and such
    a transient answer is ignored until the timeout."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    driver.execute_script("window.__before_click = true")
    driver.find_element(By.CSS_SELECTOR, css).click()
    WebDriverWait(driver, 60, poll_frequency=poll_s, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return window.__before_click === undefined && document.readyState === 'complete'"),
        f"no new page loaded within 60 s of clicking {css} on {driver.current_url}")


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def produce_with_kafka_python(topic, messages):
    """messages (KafkaProducer.send keyword arguments) with kafka-python,
    which partitions keyed messages with murmur2 like Java's client."""
    from kafka import KafkaProducer
    producer = KafkaProducer(bootstrap_servers=kit.BROKER, acks="all")
    try:
        for message in messages:
            producer.send(topic, **message)
        producer.flush(30)
    finally:
        producer.close()


def produce_weather(topic, base_ms):
    """N_MESSAGES JSON messages at known partitions, offsets and timestamps,
    with a header."""
    produce_with_kafka_python(topic, (
        {"key": f"k-{i}".encode(), "partition": i % 3, "timestamp_ms": base_ms + i * 1000,
         "value": json.dumps({"n": i, "location": ["Oslo", "Lisbon", "Vienna"][i % 3],
                              "temp_celsius": i % 30}).encode(),
         "headers": [("source", b"kafka-python")]} for i in range(N_MESSAGES)))


def produce_keyed(topic):
    produce_with_kafka_python(topic, ({"key": f"key-{i}".encode(), "value": b"<b>v</b>"} for i in range(20)))


def commit_group(group, topic, positions):
    """Commits positions {partition: offset} for group with kafka-python."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata
    consumer = KafkaConsumer(bootstrap_servers=kit.BROKER, group_id=group, enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, p) for p in positions])
        consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in positions.items()})
    finally:
        consumer.close()


AVRO_SCHEMA = {"type": "record", "name": "Reading", "fields": [
    {"name": "location", "type": "string"}, {"name": "temp_celsius", "type": "int"}]}


def produce_avro(topic, readings):
    """Avro values in the Confluent wire format, by confluent-kafka's own
    serializer with the registry (auto-registering the subject)."""
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    serialize = AvroSerializer(SchemaRegistryClient({"url": kit.REGISTRY}), json.dumps(AVRO_SCHEMA))
    producer = Producer({"bootstrap.servers": kit.BROKER})
    for reading in readings:
        producer.produce(topic, value=serialize(reading, SerializationContext(topic, MessageField.VALUE)))
    assert producer.flush(30) == 0


def delete_group(group):
    from kafka.errors import KafkaError
    try:
        kit._with_admin(lambda admin: admin.delete_consumer_groups([group]))
    except KafkaError:
        pass


def expected_newest(n, partition=None, below=None):
    """(partition, offset) of the newest n messages under the filters, in
    the order the topic page lists them (rowid DESC: offset, then partition,
    descending)."""
    found = [(i % 3, i // 3) for i in range(N_MESSAGES)
             if (partition is None or i % 3 == partition)
             and (below is None or (i // 3, i % 3) < below)]
    return sorted(found, key=lambda po: (po[1], po[0]), reverse=True)[:n]


def shown_positions(driver):
    return [(int(r[0]), int(r[1])) for r in table_rows(driver, "#messages")]


@kit.timeout(300)
def test_plugin_pages_in_chromium():
    kit.need_broker()
    kit.need_registry()
    need_browser()
    topic = kit.create_topic(kit.topic("ui-weather"), partitions=3)
    avro_topic = kit.create_topic(kit.topic("ui-avro"))
    keyed_topic = kit.create_topic(kit.topic("ui-keyed"), partitions=4)
    group = kit.topic("ui-group")
    base_ms = (int(time.time()) - 3600) * 1000
    try:
        produce_weather(topic, base_ms)
        commit_group(group, topic, {0: 10, 1: 30, 2: 5})
        produce_avro(avro_topic, [{"location": "Oslo", "temp_celsius": 7},
                                  {"location": "Lisbon", "temp_celsius": 19}])
        produce_keyed(keyed_topic)
        config = {"clusters": {"local": {"brokers": kit.BROKER, "timeout_ms": 10000},
                               "java": {"brokers": kit.BROKER, "partitioner": "murmur2"}},
                  "schema_registry": kit.REGISTRY}
        with datasette_with_plugin(config) as base, browser() as driver:
            check_index_and_cluster(driver, base, topic)
            check_topic_page(driver, base, topic, base_ms)
            check_groups(driver, base, group, topic)
            check_registry(driver, base, avro_topic)
            # The Avro topic, decoded with its writer schema from the registry.
            driver.get(f"{base}/-/kafka/clusters/local/topics/{avro_topic}")
            values = texts(driver, "#messages td.value")
            assert len(values) == 2 and '"location": "Lisbon"' in values[0] and '"temp_celsius": 7' in values[1], values
            # A cluster whose producers hash keys like Java's: a key reads one partition.
            driver.get(f"{base}/-/kafka/clusters/java/topics/{keyed_topic}?key=key-7")
            # A value is text, never markup.
            assert [r[3:5] for r in table_rows(driver, "#messages")] == [["key-7", "<b>v</b>"]], \
                table_rows(driver, "#messages")
            assert "key =" in texts(driver, "#plan")[0], texts(driver, "#plan")
    finally:
        kit.delete_topic(topic)
        kit.delete_topic(avro_topic)
        kit.delete_topic(keyed_topic)
        delete_group(group)


def check_index_and_cluster(driver, base, topic):
    driver.get(f"{base}/-/kafka")
    assert texts(driver, "#clusters li")[0].startswith("local"), texts(driver, "#clusters li")
    click(driver, "#clusters a")  # the cluster's page
    assert driver.current_url.endswith("/-/kafka/clusters/local"), driver.current_url
    brokers = table_rows(driver, "#brokers")
    assert [b[2] for b in brokers] == [str(kit.PORT)], brokers
    rows = {r[0]: r for r in table_rows(driver, "#topics")}
    assert rows[topic][1:4] == ["3", "1", str(N_MESSAGES)], rows[topic]
    screenshot(driver, "cluster")


def check_topic_page(driver, base, topic, base_ms):
    url = f"{base}/-/kafka/clusters/local/topics/{topic}"
    driver.get(url + "?size=20")
    assert "About 90 messages" in texts(driver, "#estimate")[0], texts(driver, "#estimate")
    assert shown_positions(driver) == expected_newest(20), shown_positions(driver)
    newest = N_MESSAGES - 1
    first = table_rows(driver, "#messages")[0]
    assert first[2] == iso(base_ms + newest * 1000), first
    assert first[3] == f"k-{newest}" and f'"n": {newest}' in first[4] and "source: kafka-python" in first[5], first
    assert "\n" in first[4], "the value is not indented JSON: " + first[4]
    assert "ORDER BY rowid DESC" in texts(driver, "#plan")[0], texts(driver, "#plan")
    bars = driver.find_elements("css selector", "svg.kafka-chart rect.bar title")
    assert [b.get_attribute("textContent") for b in bars] == ["0: 30", "1: 30", "2: 30"], "messages per partition"
    assert driver.execute_script("return document.getElementById('rate-chart').naturalWidth") == 480, \
        "the rate chart did not load"
    rate = get_page(driver.find_element("id", "rate-chart").get_attribute("src"))[1]
    assert sum(int(n.replace(",", "")) for n in re.findall(r"<title>[^<]*: ([0-9,]+)</title>", rate)) == N_MESSAGES, rate
    screenshot(driver, "topic")

    # A filter, typed and clicked; then the next page, clicked.
    driver.find_element("css selector", "input[name=partition]").send_keys("1")
    click(driver, "#apply-filters")
    assert shown_positions(driver) == expected_newest(20, partition=1), shown_positions(driver)
    assert "partition =" in texts(driver, "#plan")[0], texts(driver, "#plan")
    click(driver, "#next-page")
    assert shown_positions(driver) == expected_newest(20, partition=1, below=(10, 1)), shown_positions(driver)
    assert "rowid <" in texts(driver, "#plan")[0] and "partition =" in texts(driver, "#plan")[0]
    assert not driver.find_elements("css selector", "#next-page"), "a page after the last one"

    # Time range, offset range and key, each pushed down.
    q = urllib.parse.urlencode({"time_from": iso(base_ms + 60000), "time_to": iso(base_ms + 65000)})
    driver.get(f"{url}?{q}")
    assert sorted(shown_positions(driver)) == sorted((i % 3, i // 3) for i in range(60, 66)), shown_positions(driver)
    # time from: a seek; time to: each partition ends where offsets-for-times says.
    assert "timestamp >=" in texts(driver, "#plan")[0] and "offset <" in texts(driver, "#plan")[0], \
        texts(driver, "#plan")
    driver.get(f"{url}?{q}&order=oldest&size=4")
    assert shown_positions(driver) == sorted(((i % 3, i // 3) for i in range(60, 66)),
                                             key=lambda po: (po[1], po[0]))[:4], shown_positions(driver)
    click(driver, "#next-page")
    assert shown_positions(driver) == [(1, 21), (2, 21)], shown_positions(driver)
    driver.get(f"{url}?offset_from=5&offset_to=6&partition=2")
    assert shown_positions(driver) == [(2, 6), (2, 5)], shown_positions(driver)
    assert "offset >=" in texts(driver, "#plan")[0] and "offset <=" in texts(driver, "#plan")[0]
    driver.get(f"{url}?key=k-42")
    assert shown_positions(driver) == [(0, 14)], shown_positions(driver)

    # A filter that is not one: the page says which and why.
    for bad, why in (("offset_from=abc", "offset_from: 'abc' is not an integer"),
                     ("size=ten", "size: 'ten' is not an integer"),
                     ("time_from=yesterday", "time_from: 'yesterday' is not an ISO-8601 time")):
        driver.get(f"{url}?{bad}")
        assert why in texts(driver, "#kafka-error")[0], (bad, texts(driver, "#kafka-error"))


def check_groups(driver, base, group, topic):
    driver.get(f"{base}/-/kafka/clusters/local/groups")
    assert group in [r[0] for r in table_rows(driver, "#groups")]
    driver.get(f"{base}/-/kafka/clusters/local/groups/{group}")
    rows = table_rows(driver, "#offsets")
    assert [r[:5] for r in rows] == [[topic, "0", "10", "30", "20"], [topic, "1", "30", "30", "0"],
                                    [topic, "2", "5", "30", "25"]], rows
    # Lag in time: the next message to read was produced an hour ago, or so.
    assert re.fullmatch(r"(5\d\.\d min|1\.0 h)", rows[0][5]) and rows[1][5] == "0 ms", rows
    assert "Lag: 45 messages" in texts(driver, "#total-lag")[0]
    bars = driver.find_elements("css selector", "svg.kafka-chart rect.bar title")
    assert [b.get_attribute("textContent") for b in bars] == ["0: 20", "1: 0", "2: 25"], bars
    assert texts(driver, "#no-members"), "members of a group nobody runs"
    # A running consumer of the group (kafka-python), and what it holds.
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(topic, bootstrap_servers=kit.BROKER, group_id=group, client_id="ui-member",
                             enable_auto_commit=False)
    try:
        deadline = time.monotonic() + 60
        while len(consumer.assignment()) < 3 and time.monotonic() < deadline:
            consumer.poll(200)
        driver.get(f"{base}/-/kafka/clusters/local/groups/{group}")
        members = table_rows(driver, "#members")
        assert [(m[0], m[4]) for m in members] == [("ui-member", ", ".join(f"{topic}/{p}" for p in range(3)))], \
            members
        screenshot(driver, "group")
    finally:
        consumer.close(autocommit=False)


def check_registry(driver, base, avro_topic):
    driver.get(f"{base}/-/kafka/registry")
    subjects = table_rows(driver, "#subjects")
    assert subjects and all(r[4] in ("AVRO", "PROTOBUF", "JSON") for r in subjects), \
        (len(subjects), texts(driver, "#kafka-error"))
    # The shared registry holds more subjects than it lists: the subject is
    # reached through the page's form.
    driver.find_element("css selector", "#go-to-subject input[name=subject]").send_keys(f"{avro_topic}-value")
    click(driver, "#show-subject")
    assert driver.current_url.endswith(f"/-/kafka/registry/{avro_topic}-value"), driver.current_url
    version = table_rows(driver, "#schemas")[0]
    assert version[0] == "1" and version[2] == "AVRO", version
    assert json.loads(version[3])["fields"] == AVRO_SCHEMA["fields"], version
    assert "\n" in version[3], "the schema is not indented: " + version[3]


@kit.timeout(300)
def test_click_waits_for_the_next_page_while_chromium_swaps_documents():
    """click(), which every page test uses, survives the moment chromium
    replaces the page: a form is submitted 100 times, and click() looks as
    often as chromedriver answers. Waiting for the old <html> element to go
    stale instead failed about one submit in twenty here, with "Node with
    given id does not belong to the document" (seen once in a CI run of
    test_plugin_pages_in_chromium)."""
    need_browser()
    import http.server
    import random
    from selenium.webdriver.common.by import By

    class FormPages(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            n = random.randrange(10**9)
            body = (f"<html><body><p id=page>{n}</p>" + "<div>row</div>" * 2000 +
                    f"<form action=/{n}><input name=q value={n}><button id=go>Go</button></form>"
                    "</body></html>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(ConnectionError):  # chromium may drop a page it no longer needs
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    with kit.http_server(FormPages) as url, browser() as driver:
        driver.get(f"{url}/")
        for i in range(100):
            before = driver.find_element(By.ID, "page").text
            click(driver, "#go", poll_s=0.001)
            after = driver.find_element(By.ID, "page").text
            assert after != before and driver.current_url.endswith(f"/{before}?q={before}"), \
                (i, before, after, driver.current_url)


def test_memory_database_gets_no_extension():
    """Datasette's _memory database is writable, and its SQL page runs what
    a visitor types: the plugin loads no extension there, so no page can
    create a topic (on the pages' own read-only connection the extension
    refuses writes itself)."""
    kit.need_broker()
    name = kit.topic("ui-nowrite")
    sql = f"select kafka_create_topic('{kit.BROKER}', '{name}', 1)"
    try:
        with datasette_with_plugin({"clusters": {"local": {"brokers": kit.BROKER}}}) as base:
            url = f"{base}/_memory.json?" + urllib.parse.urlencode({"sql": sql})
            try:
                body = urllib.request.urlopen(url, timeout=30).read().decode()
            except urllib.error.HTTPError as e:
                body = e.read().decode()
            assert "no such function: kafka_create_topic" in body, body
        conn = kit.connect()
        made = conn.execute("SELECT count(*) FROM kafka_topics(?) WHERE topic = ?", (kit.BROKER, name)).fetchone()[0]
        assert made == 0, f"a page created topic {name}"
    finally:
        kit.delete_topic(name)


def test_rate_counts_every_message():
    """The rate chart's buckets add up to the topic's messages when it reads
    every partition whole, and to those of the span every tail covers when
    it reads tails."""
    kit.need_broker()
    from sqlite_kafka.datasette_plugin import reads
    topic = kit.create_topic(kit.topic("ui-rate"), partitions=3)
    try:
        base_ms = (int(time.time()) - 600) * 1000
        produce_weather(topic, base_ms)
        conn = kit.connect()
        cluster = {"brokers": kit.BROKER}
        parts = reads.partitions(conn, cluster, topic)
        with reads.TopicTables(conn, cluster) as tables:
            starts, counts, sampled = reads.rate(conn, tables(topic), parts, buckets=9)
            assert sum(counts) == N_MESSAGES and not sampled and starts[0] == base_ms, (starts[0], counts)
            assert all(9 <= n <= 11 for n in counts), counts  # one message a second, about 10 s a bucket
            # Tails of 10 messages a partition: from message 60, 61 and 62
            # on; all three cover messages 62..89.
            starts, counts, sampled = reads.rate(conn, tables(topic), parts, buckets=3, window=10)
            assert sampled and starts[0] == base_ms + 62000 and sum(counts) == 28, (starts, counts)
        # The page's TEMP table is gone with the page (and its consumer).
        left = conn.execute("SELECT name FROM temp.sqlite_master WHERE type = 'table'").fetchall()
        assert left == [], left
    finally:
        kit.delete_topic(topic)


def test_datasette_table_page_order_pushed_down():
    """Datasette's table page sorted newest first runs `ORDER BY rowid DESC,
    rowid LIMIT n` (the rowid again as the tie-breaker): rowids are unique,
    so the second term changes nothing and the extension answers from the
    partition tails instead of reading and sorting the topic."""
    conn = kit.connect()
    topic = kit.topic("mock-ds")
    conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers='mock', topic='{topic}', partitions=3)")
    conn.executemany("INSERT INTO t(partition, value) VALUES (?, ?)", [(i % 3, f"v{i}") for i in range(30)])
    every = conn.execute("SELECT rowid, partition, offset FROM t").fetchall()
    for order, newest_first in (("rowid DESC, rowid", True), ("rowid, rowid DESC", False)):
        sql = f"SELECT rowid, partition, offset FROM t ORDER BY {order} LIMIT 7"
        plan = kit.eqp(conn, sql)
        assert "LIMIT" in plan and "ORDER BY rowid" in plan and "TEMP B-TREE" not in plan, (order, plan)
        want = sorted(every, reverse=newest_first)[:7]
        got = conn.execute(sql).fetchall()
        assert got == want, (order, got, want)


def headers_order(driver):
    """The column names of Datasette's table, in order."""
    return [h.split()[0] for h in texts(driver, "table.rows-and-columns th")]


def datasette_json(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


@kit.timeout(300)
def test_kafka_table_page_in_chromium():
    """Datasette's own page of a declared kafka table: newest first, the
    hidden columns hidden, no count(*), and the next page pushed down too
    (its query has `rowid <` and LIMIT, where Datasette's own OR would read
    the topic)."""
    kit.need_broker()
    need_browser()
    topic = kit.create_topic(kit.topic("ui-table"), partitions=3)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "topics.db")
            conn = kit.connect(db)
            conn.execute(f"CREATE VIRTUAL TABLE weather USING kafka(brokers = '{kit.BROKER}', topic = '{topic}', "
                         "value = 'json')")
            conn.executemany("INSERT INTO weather(partition, key, value) VALUES (?, ?, ?)",
                             [(i % 3, f"k-{i}", json.dumps({"n": i})) for i in range(30)])
            every = sorted((r[0] for r in conn.execute("SELECT rowid FROM weather")), reverse=True)
            with datasette_with_plugin({"clusters": {"local": {"brokers": kit.BROKER}}}, db) as base, \
                    browser() as driver:
                driver.get(f"{base}/topics/weather?_size=12")
                headers = {h.strip() for h in texts(driver, "table.rows-and-columns th")}
                assert not {"error", "follow", "schema_id"} & headers, headers
                rows = table_rows(driver, "table.rows-and-columns")
                assert [int(r[0]) for r in rows] == every[:12]
                times = dict(conn.execute("SELECT rowid, timestamp FROM weather").fetchall())
                assert rows[0][headers_order(driver).index("timestamp")] == iso(times[every[0]]), rows[0]
                screenshot(driver, "kafka-table")
                click(driver, 'a[href*="_next="]')
                assert [int(r[0]) for r in table_rows(driver, "table.rows-and-columns")] == every[12:24]
                pages = [f"{base}/topics/weather.json?_size=12",
                         driver.current_url.replace("/weather?", "/weather.json?")]
                for url in pages:
                    page = datasette_json(url)
                    assert page["filtered_table_rows_count"] is None, "a count(*) ran"
                    plan = kit.eqp(conn, page["query"]["sql"], page["query"]["params"])
                    assert "LIMIT" in plan and "ORDER BY rowid DESC" in plan and "TEMP B-TREE" not in plan, plan
                assert "rowid <" in plan, (page["query"], plan)
                # Oldest first, as a click on the rowid column's header asks.
                page = datasette_json(f"{base}/topics/weather.json?_size=12&_sort=rowid")
                page = datasette_json(page["next_url"])
                assert [r[0] for r in page["rows"]] == every[::-1][12:24], page["rows"]
                plan = kit.eqp(conn, page["query"]["sql"], page["query"]["params"])
                assert "rowid >" in plan and "LIMIT" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        kit.delete_topic(topic)


def get_page(url):
    """(status, text) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def needs_option_config(brokers, path):
    """Skips until the extension reads `config` files (SPEC section 11)."""
    try:
        kit.connect().execute("SELECT count(*) FROM kafka_brokers(?, ?)", (brokers, f"config={path}")).fetchone()
    except Exception as e:  # noqa: BLE001 (sqlite3.Error, any text)
        if "option 'config' is not accepted" in str(e):
            raise kit.Skip("the extension has no option config yet") from e


@kit.timeout(120)
def test_cluster_credentials_from_a_config_file():
    """A cluster whose credentials are in a client properties file: the
    pages read it through the SASL listener, and no page shows the
    password, a wrong one included."""
    from test_security import SASL_BROKER, need_sasl
    need_sasl()
    topic = kit.create_topic(kit.topic("ui-sasl"))
    try:
        kit.kcat("-P", "-t", topic, "-K", ":", input="k1:first\nk2:second\n")
        with tempfile.TemporaryDirectory() as tmp:
            good, bad = os.path.join(tmp, "good.properties"), os.path.join(tmp, "bad.properties")
            for path, password in ((good, "alice-secret"), (bad, "not-alice-secret")):
                with open(path, "w") as f:
                    f.write("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
                            f"sasl.username=alice\nsasl.password={password}\n")
            needs_option_config(SASL_BROKER, good)
            clusters = {"sasl": {"brokers": SASL_BROKER, "config": good, "timeout_ms": 5000},
                        "wrong": {"brokers": SASL_BROKER, "config": bad, "timeout_ms": 5000}}
            with datasette_with_plugin({"clusters": clusters}) as base:
                pages = {path: get_page(base + path) for path in (
                    "/-/kafka", "/-/kafka/clusters/sasl", f"/-/kafka/clusters/sasl/topics/{topic}",
                    "/-/kafka/clusters/sasl/groups", "/-/kafka/clusters/wrong",
                    f"/-/kafka/clusters/wrong/topics/{topic}")}
        for path, (status, text) in pages.items():
            assert "alice-secret" not in text, f"{path} shows the password"
        status, text = pages["/-/kafka/clusters/sasl"]
        assert status == 200 and topic in text, (status, text[-2000:])
        status, text = pages[f"/-/kafka/clusters/sasl/topics/{topic}"]
        assert status == 200 and "second" in text and "k1" in text, text[-2000:]
        status, text = pages["/-/kafka/clusters/wrong"]
        assert status == 502 and 'id="kafka-error"' in text, (status, text[-2000:])
    finally:
        kit.delete_topic(topic)


def test_values_as_the_topic_page_shows_them():
    """JSON indented, bytes as hex, a long value cut with its length."""
    from sqlite_kafka.datasette_plugin import reads
    assert reads.shown('{"a": [1, 2]}') == '{\n  "a": [\n    1,\n    2\n  ]\n}'
    assert reads.shown("not { json") == "not { json" and reads.shown("{oops") == "{oops"
    assert reads.shown(b"\x00\xff") == "0x00ff"
    assert reads.shown(bytes(100)) == "0x" + "00" * 64 + "... (100 bytes)"
    long = reads.shown('{"a": "' + "x" * 20000 + '"}')
    assert long.endswith("... (20,009 characters)") and len(long) < reads.SHOWN_CHARS + 30, long[-60:]
    assert reads.shown(None) is None
