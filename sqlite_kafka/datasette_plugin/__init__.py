"""The Datasette plugin of sqlite-kafka: a Kafka UI (clusters, topics,
messages, consumer groups and lag, the Schema Registry, charts) served by
Datasette, read through the extension.

Configuration, in Datasette's metadata (never a password: credentials go in
the `config` properties file, which the extension reads and no page shows):

    plugins:
      sqlite-kafka:
        clusters:
          local:
            brokers: 127.0.0.1:29092
            config: /etc/kafka/client.properties   # optional
            timeout_ms: 5000                       # optional
            partitioner: murmur2                   # optional: key filters read one partition
        schema_registry: http://127.0.0.1:8081     # optional

Pages, under /-/kafka: the clusters; per cluster its brokers and topics, a
topic's partitions and messages newest first, its consumer groups and their
lag; the registry's subjects and schemas. They run on a connection of their
own whose main database is read-only (SQLite's `file::memory:?mode=ro`), so
that the extension refuses every write there; they only read catalogs and
make positioned reads.
"""

import sqlite3
import time
import urllib.parse
from pathlib import Path

from datasette import hookimpl
from datasette.database import Database
from datasette.utils.asgi import Forbidden, NotFound, Response
from jinja2 import FileSystemLoader

import sqlite_kafka

from . import charts, reads, table_pages

PLUGIN = "sqlite-kafka"
CATALOG_DB = "_sqlite_kafka"  # the pages' own database (not listed by Datasette)
TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_PAGE_SIZE = 50


class CatalogDatabase(Database):
    """The pages' connections: an empty in-memory database opened read-only
    (its TEMP schema stays writable, for the topics' TEMP tables)."""

    def __init__(self, ds):
        super().__init__(ds, is_mutable=False, is_memory=True)
        self.name = CATALOG_DB

    def connect(self, write=False):
        return sqlite3.connect("file::memory:?mode=ro", uri=True, check_same_thread=False,
                               isolation_level=None)


def catalog_database(datasette):
    db = getattr(datasette, "_sqlite_kafka_db", None)
    if db is None:
        db = datasette._sqlite_kafka_db = CatalogDatabase(datasette)
    return db


def is_loaded(conn):
    return conn.execute(
        "SELECT 1 FROM pragma_function_list WHERE name = 'kafka_version'").fetchone() is not None


def reaches_kafka_safely(datasette, database):
    """Connections the extension may go into: those whose main database is
    read-only, where it refuses writes. Datasette's `_memory` database (and
    named in-memory ones) is writable, and its SQL page runs what a visitor
    types: it gets no extension, or a page could create or delete topics."""
    if database == CATALOG_DB:
        return True
    if database == "_internal":
        return False
    try:
        db = datasette.get_database(database)
    except KeyError:
        return False
    return not db.is_memory


@hookimpl
def prepare_connection(conn, database, datasette):
    if reaches_kafka_safely(datasette, database) and not is_loaded(conn):
        sqlite_kafka.load(conn)


@hookimpl
def startup(datasette):
    # Installed from the package, Datasette finds templates/ itself; loaded
    # through --plugins-dir it does not, so they are added here either way.
    datasette.jinja_env.loader.loaders.append(FileSystemLoader(str(TEMPLATES)))


@hookimpl
def asgi_wrapper(datasette):
    return lambda app: table_pages.wrap(datasette, app)


@hookimpl
def render_cell(value, column, table, database):
    return table_pages.timestamp_cell(value, column, table, database)


@hookimpl
def menu_links(datasette, actor):
    return [{"href": datasette.urls.path("/-/kafka"), "label": "Kafka"}]


@hookimpl
def register_routes():
    return [
        (r"^/-/kafka$", index_page),
        (r"^/-/kafka/registry$", registry_page),
        (r"^/-/kafka/registry/(?P<subject>[^/]+)$", subject_page),
        (r"^/-/kafka/clusters/(?P<cluster>[^/]+)$", cluster_page),
        (r"^/-/kafka/clusters/(?P<cluster>[^/]+)/topics/(?P<topic>[^/]+)$", topic_page),
        (r"^/-/kafka/clusters/(?P<cluster>[^/]+)/topics/(?P<topic>[^/]+)/rate\.svg$", rate_svg),
        (r"^/-/kafka/clusters/(?P<cluster>[^/]+)/groups$", groups_page),
        (r"^/-/kafka/clusters/(?P<cluster>[^/]+)/groups/(?P<group>[^/]+)$", group_page),
    ]


# ------------------------------------------------------------ config --

def plugin_config(datasette):
    return datasette.plugin_config(PLUGIN) or {}


def clusters(datasette):
    return plugin_config(datasette).get("clusters") or {}


def cluster_of(datasette, request):
    name = url_var(request, "cluster")
    cluster = clusters(datasette).get(name)
    if not cluster or not cluster.get("brokers"):
        raise NotFound(f"sqlite-kafka: no cluster {name!r} in the plugin configuration")
    return name, cluster


def registry_of(datasette):
    return plugin_config(datasette).get("schema_registry")


def without_userinfo(url):
    """A URL as a page may show it: user and password dropped."""
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def url_var(request, name):
    return urllib.parse.unquote(request.url_vars[name])


def link(datasette, *parts):
    return datasette.urls.path("/-/kafka/" + "/".join(urllib.parse.quote(p, safe="") for p in parts))


# ------------------------------------------------------------- pages --

async def ensure_view(datasette, request):
    if not await datasette.permission_allowed(request.actor, "view-instance", default=True):
        raise Forbidden("view-instance")


async def render(datasette, request, template, context, read):
    """The page: read(conn) on the pages' read-only connection fills the
    context; an SQL error (bad filter, broker down, unknown topic) shows on
    the page, with the extension's text."""
    await ensure_view(datasette, request)
    status, started = 200, time.monotonic()
    context.update(registry=without_userinfo(registry_of(datasette)), error=None,
                   kafka_link=lambda *parts: link(datasette, *parts))
    try:
        context.update(await catalog_database(datasette).execute_fn(read))
    except reads.BadFilter as e:
        status, context["error"] = 400, str(e)
    except sqlite3.Error as e:
        status, context["error"] = 502, str(e)
    context["elapsed_ms"] = round((time.monotonic() - started) * 1000)
    return Response.html(await datasette.render_template(template, context, request=request), status=status)


async def index_page(datasette, request):
    context = {"clusters": {name: c.get("brokers") for name, c in clusters(datasette).items()}}
    return await render(datasette, request, "kafka_index.html", context, lambda conn: {})


async def cluster_page(datasette, request):
    name, cluster = cluster_of(datasette, request)

    # No chart here: topic names are long and many, a table reads better.
    def read(conn):
        return {"brokers": reads.brokers(conn, cluster), "topics": reads.topics(conn, cluster)}

    return await render(datasette, request, "kafka_cluster.html", {"cluster": name}, read)


async def topic_page(datasette, request):
    name, cluster = cluster_of(datasette, request)
    topic = url_var(request, "topic")
    args = {key: request.args.get(key) for key in [f[0] for f in reads.FILTERS] + ["order"]}
    size = request.args.get("size") or str(DEFAULT_PAGE_SIZE)
    registry = registry_of(datasette)

    def read(conn):
        parts = reads.partitions(conn, cluster, topic)
        with reads.TopicTables(conn, cluster, registry) as tables:
            rows, cursor, plan = reads.messages(conn, tables(topic), args, reads.parse_int(size, "size"), parts)
        return {"partitions": parts, "messages": rows, "plan": plan,
                "estimate": sum(p["messages"] or 0 for p in parts),
                "next_url": cursor and page_url(request, **cursor),
                "partition_chart": charts.bar_chart("Messages per partition", [p["partition"] for p in parts],
                                                    [p["messages"] for p in parts])}

    context = {"cluster": name, "topic": topic, "args": args, "size": size,
               "rate_url": link(datasette, "clusters", name, "topics", topic, "rate.svg")}
    return await render(datasette, request, "kafka_topic.html", context, read)


async def rate_svg(datasette, request):
    """The rate chart, an image of its own: the topic page shows its
    messages without waiting for the reads the chart makes."""
    await ensure_view(datasette, request)
    _, cluster = cluster_of(datasette, request)
    topic = url_var(request, "topic")

    def read(conn):
        parts = reads.partitions(conn, cluster, topic)
        with reads.TopicTables(conn, cluster, registry_of(datasette)) as tables:
            return rate_chart(conn, tables(topic), parts)

    try:
        svg = await catalog_database(datasette).execute_fn(read)
    except sqlite3.Error as e:
        return Response.text(str(e), status=502)
    return Response(svg or charts.bar_chart("Messages over time: none", [], []), content_type="image/svg+xml")


def rate_chart(conn, table, parts):
    found = reads.rate(conn, table, parts)
    if not found:
        return None
    starts, counts, sampled = found
    first, last = reads.iso_time(starts[0]), reads.iso_time(starts[-1])
    # Labels as short as the span allows: the times, or the days too.
    cut = slice(11, 19) if first[:10] == last[:10] else slice(5, 16)
    labels = [reads.iso_time(ms)[cut].replace("T", " ") for ms in starts]
    how = (f"the newest {reads.RATE_WINDOW:,} messages of each partition" if sampled
           else "every message")
    return charts.bar_chart(f"Messages over time (UTC, from {first[:10]})", labels, counts, caption=how)


def page_url(request, **changes):
    args = {k: request.args.get(k) for k in request.args.keys() if request.args.get(k) not in (None, "")}
    args.update({k: str(v) for k, v in changes.items()})
    return request.path + "?" + urllib.parse.urlencode(args)


async def groups_page(datasette, request):
    name, cluster = cluster_of(datasette, request)

    def read(conn):
        return {"groups": reads.groups(conn, cluster)}

    return await render(datasette, request, "kafka_groups.html", {"cluster": name}, read)


async def group_page(datasette, request):
    name, cluster = cluster_of(datasette, request)
    group = url_var(request, "group")
    registry = registry_of(datasette)

    def read(conn):
        with reads.TopicTables(conn, cluster, registry) as tables:
            offsets = reads.group_offsets(conn, cluster, group, tables)
        return {"offsets": offsets, "total_lag": sum(r["lag"] or 0 for r in offsets),
                "members": reads.group_members(conn, cluster, group), "chart": lag_chart(offsets)}

    return await render(datasette, request, "kafka_group.html", {"cluster": name, "group": group}, read)


def lag_chart(offsets):
    if not offsets:
        return None
    if len({r["topic"] for r in offsets}) == 1:
        labels = [r["partition"] for r in offsets]
    else:  # topic names are long: their ends tell them apart
        labels = [f'..{r["topic"][-8:]}/{r["partition"]}' for r in offsets]
    return charts.bar_chart("Lag per partition (messages)", labels, [r["lag"] for r in offsets])


async def registry_page(datasette, request):
    registry = registry_of(datasette)
    if not registry:
        raise NotFound("sqlite-kafka: no schema_registry in the plugin configuration")
    if request.args.get("subject"):  # the page's "go to subject" form
        return Response.redirect(link(datasette, "registry", request.args.get("subject").strip()))
    return await render(datasette, request, "kafka_registry.html", {},
                        lambda conn: {"subjects": reads.subjects(conn, registry)})


async def subject_page(datasette, request):
    registry = registry_of(datasette)
    if not registry:
        raise NotFound("sqlite-kafka: no schema_registry in the plugin configuration")
    subject = url_var(request, "subject")
    return await render(datasette, request, "kafka_subject.html", {"subject": subject},
                        lambda conn: {"schemas": reads.schemas(conn, registry, subject)})
