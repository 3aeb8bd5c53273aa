"""Every Example of docs/reference/ runs: in the sqlite3 shell, against the
real broker and registry, on topics, groups and subjects this test makes for
them (the pages' names replaced with this run's), in an order where each
page finds what it needs (create_topic first, delete_topic last). Pages for
ACLs run on a broker without an authorizer, where they must fail with the
error their page documents."""

import re
import subprocess
import tempfile

import docskit
import kit
import test_docs

# Pages in the order their examples run; test_every_page_runs_in_order
# checks that this lists every page.
ORDER = ["kafka_version", "kafka_debug", "kafka_create_topic", "kafka", "kafka_register_schema",
         "kafka_subjects", "kafka_schemas", "kafka_topics", "kafka_partitions",
         "kafka_brokers", "kafka_broker_configs", "kafka_topic_configs",
         "kafka_alter_topic", "kafka_add_partitions", "kafka_delete_records",
         "kafka_messages", "kafka_offsets_for_times", "kafka_groups", "kafka_group_offsets", "kafka_group_members",
         "kafka_reset_group", "kafka_delete_group", "kafka_acls",
         "kafka_create_acl", "kafka_delete_acl", "kafka_delete_topic"]
ACL_PAGES = {"kafka_acls", "kafka_create_acl", "kafka_delete_acl"}
NO_AUTHORIZER = ("has no authorizer", "No Authorizer is configured")
TOPICS = ("orders", "customers", "kubertron.weather.inbound")
GROUPS = ("met-consumer-group-1", "old-group")
SUBJECTS = ("orders-value", "weather-value")


def names():
    run = kit.topic("ref")
    quoted = {n: f"{run}-{n}" for n in TOPICS + SUBJECTS}
    quoted.update({g: f"met-{run}-{g}" for g in GROUPS})  # the examples' LIKE 'met-%'
    quoted["localhost:29092"] = kit.BROKER
    quoted["http://localhost:8081/apis/ccompat/v7"] = kit.REGISTRY
    return quoted


def example(page):
    m = test_docs.section(test_docs.pages()[page], "Example")
    start = m.index("```sql\n") + len("```sql\n")
    return m[start:m.index("```", start)]


def shell(sql):
    """(exit status, stderr) of sql in the sqlite3 shell, stopping at the first error."""
    with tempfile.TemporaryDirectory() as cwd:
        p = subprocess.run(["sqlite3", "-bail", ":memory:"], input=f".bail on\n.load {kit.EXT}\n{sql}",
                           text=True, capture_output=True, cwd=cwd, timeout=120)
    return p.returncode, p.stderr.strip()


def make_fixture(quoted):
    """What the examples read: 'orders' is made by kafka_create_topic's own
    example; the weather topic holds 30 messages and the groups have
    committed offsets on it."""
    weather = kit.create_topic(quoted["kubertron.weather.inbound"], partitions=3)
    conn = kit.connect()
    try:
        conn.execute(f"CREATE VIRTUAL TABLE temp.w USING kafka(brokers='{kit.BROKER}', topic='{weather}')")
        conn.execute("""WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < 29)
                        INSERT INTO w(partition, key, value) SELECT n % 3, 'k' || n, 'v' || n FROM i""")
        for g in GROUPS:
            conn.execute("SELECT kafka_reset_group(?, ?, ?, 'earliest')", (kit.BROKER, quoted[g], weather))
    finally:
        conn.close()


def fill_orders(quoted):
    """Ten messages a partition of 'orders' once kafka_create_topic made it,
    for kafka_delete_records' example."""
    conn = kit.connect()
    try:
        conn.execute(f"CREATE VIRTUAL TABLE temp.o USING kafka(brokers='{kit.BROKER}', topic='{quoted['orders']}')")
        conn.execute("""WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < 29)
                        INSERT INTO o(partition, key, value) SELECT n % 3, 'o' || n, '{}' FROM i""")
    finally:
        conn.close()


def clean_up(quoted):
    for t in TOPICS:
        kit.delete_topic(quoted[t])
    docskit.delete_groups(*(quoted[g] for g in GROUPS))
    docskit.delete_subjects(*(quoted[s] for s in SUBJECTS))


def test_every_page_runs_in_order():
    pages = set(test_docs.pages())
    assert set(ORDER) == pages, (
        f"ORDER of tests/test_docs_examples.py and docs/reference/ differ: pages not in ORDER "
        f"{sorted(pages - set(ORDER))}, names in ORDER without a page {sorted(set(ORDER) - pages)}")


@kit.timeout(240)
def test_every_reference_example_runs():
    kit.need_broker()
    kit.need_registry()
    quoted = names()
    failed = []
    try:
        make_fixture(quoted)
        for page in ORDER:
            status, err = shell(docskit.substitute(example(page), quoted))
            if page in ACL_PAGES:
                if status == 0 or not any(e in err for e in NO_AUTHORIZER):
                    failed.append(f"{page}.md: expected a no-authorizer error, got status {status}: {err}")
            elif status != 0:
                failed.append(f"{page}.md: {err}")
            if page == "kafka_create_topic" and status == 0:
                fill_orders(quoted)
    finally:
        clean_up(quoted)
    assert not failed, "reference examples that fail:\n" + "\n".join(failed)


def readme_sql():
    """The README's SQL session (its only ```sql block)."""
    text = (kit.ROOT / "README.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", text, re.S)
    assert len(blocks) == 1, f"README.md: expected one ```sql block, found {len(blocks)}"
    return blocks[0]


@kit.timeout(120)
def test_the_readme_session_runs():
    kit.need_broker()
    quoted = names()
    try:
        status, err = shell(docskit.substitute(readme_sql(), quoted).replace(f".load {kit.EXT}\n", ""))
        assert status == 0, f"README.md's SQL fails: {err}"
    finally:
        kit.delete_topic(quoted["kubertron.weather.inbound"])
