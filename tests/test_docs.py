"""The documentation kept honest: docs/reference/ against what the built
extension registers (pragma_function_list, pragma_module_list), each page's
synopsis against the argument counts SQLite knows, and every relative link
of the README and docs/ against the files of the repository. No broker."""

import re
import sqlite3
from pathlib import Path

import kit

REFERENCE = kit.ROOT / "docs" / "reference"
README_MAX_LINES = 300

SECTIONS_ALL = ("## Synopsis", "## Errors", "## Example")
SECTIONS_TABLE = ("## Columns", "## Pushdown")


def registered():
    """{name: kind} of every kafka* function and module, and {function: set
    of argument counts}."""
    conn = kit.connect()
    try:
        nargs = {}
        for name, narg in conn.execute(
                "SELECT name, narg FROM pragma_function_list WHERE name LIKE 'kafka%'"):
            nargs.setdefault(name, set()).add(narg)
        modules = {r[0] for r in conn.execute(
            "SELECT name FROM pragma_module_list WHERE name LIKE 'kafka%'")}
    finally:
        conn.close()
    return nargs, modules


def pages():
    """{sql name: page text} of docs/reference/ (README.md is the index)."""
    return {p.stem: p.read_text() for p in sorted(REFERENCE.glob("*.md"))
            if p.name != "README.md"}


def section(text, title):
    """The text of the section '## title' of a page ('' when absent)."""
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    return m.group(1) if m else ""


def synopsis_call(text, name):
    """The argument list of the first call of name in the page's Synopsis."""
    synopsis = section(text, "Synopsis")
    start = synopsis.find(name + "(")
    if start < 0:
        return None
    i = start + len(name) + 1
    depth, j = 1, i
    while depth and j < len(synopsis):
        depth += {"(": 1, ")": -1}.get(synopsis[j], 0)
        j += 1
    return synopsis[i:j - 1]


def arg_counts(args):
    """(required, total) argument counts of a synopsis argument list such as
    'brokers, topic [, options]'."""
    words = [w for w in re.split(r"[\s,\[\]]+", args) if w]
    required = [w for w in re.split(r"[\s,]+", args.split("[")[0]) if w]
    return len(required), len(words)


def table_columns(conn, name):
    """(visible column names, hidden column names) of a table-valued function."""
    rows = conn.execute("SELECT name, hidden FROM pragma_table_xinfo(?)", (name,)).fetchall()
    return [r[0] for r in rows if not r[1]], [r[0] for r in rows if r[1]]


def test_every_registered_name_has_a_page_and_every_page_a_name():
    nargs, modules = registered()
    names = set(nargs) | modules
    have = pages()
    missing = sorted(names - set(have))
    extra = sorted(set(have) - names)
    assert not missing and not extra, (
        f"docs/reference/ and the extension disagree: registered without a page: "
        f"{missing}; pages naming nothing registered: {extra}")


def test_every_page_starts_with_its_name_and_has_its_sections():
    _, modules = registered()
    wrong = []
    for name, text in pages().items():
        if text.splitlines()[0] != f"# {name}":
            wrong.append(f"{name}.md: first line {text.splitlines()[0]!r}, not '# {name}'")
        needed = SECTIONS_ALL + (SECTIONS_TABLE if name in modules else ())
        needed += ("## Options",) if name == "kafka" else ("## Arguments",)
        wrong += [f"{name}.md: no {s}" for s in needed if s not in text]
    assert not wrong, "reference pages lacking what every page has:\n" + "\n".join(wrong)


def test_function_synopses_name_the_argument_counts_sqlite_knows():
    nargs, _ = registered()
    have = pages()
    wrong = []
    for name, counts in sorted(nargs.items()):
        if name not in have:
            continue  # reported by the test above
        args = synopsis_call(have[name], name)
        if args is None:
            wrong.append(f"{name}.md: its Synopsis has no call {name}(...)")
            continue
        required, total = arg_counts(args)
        documented = set(range(required, total + 1))
        if documented != counts:
            wrong.append(f"{name}.md: Synopsis {name}({args}) takes {sorted(documented)} "
                         f"arguments, the extension {sorted(counts)}")
    assert not wrong, "\n".join(wrong)


def test_table_pages_name_every_column_and_argument():
    _, modules = registered()
    have = pages()
    conn = kit.connect()
    wrong = []
    try:
        for name in sorted(modules - {"kafka"}):
            if name not in have:
                continue
            visible, hidden = table_columns(conn, name)
            columns = section(have[name], "Columns")
            wrong += [f"{name}.md: column {c} is not in its Columns"
                      for c in visible if f"`{c}`" not in columns]
            args = synopsis_call(have[name], name)
            if args is None:
                wrong.append(f"{name}.md: its Synopsis has no call {name}(...)")
                continue
            _, total = arg_counts(args)
            # Hidden columns the Columns section names are columns, not
            # arguments (kafka_messages' error, follow, schema_id, time).
            hidden = [h for h in hidden if f"`{h}`" not in columns]
            if total != len(hidden):
                wrong.append(f"{name}.md: Synopsis {name}({args}) takes {total} arguments, "
                             f"the table has {len(hidden)} ({', '.join(hidden)})")
    finally:
        conn.close()
    assert not wrong, "\n".join(wrong)


def test_kafka_page_names_every_option_and_column():
    text = pages().get("kafka", "")
    conn = kit.connect()
    try:
        err = kit.expect_error(lambda: conn.execute(
            "CREATE VIRTUAL TABLE temp.x USING kafka(brokers='mock', topic='t', nosuch=1)"),
            "unknown option")
        options = re.search(r"\(options: (.*)\)", str(err)).group(1).split(", ")
        conn.execute("CREATE VIRTUAL TABLE temp.d USING kafka(brokers='mock', topic='docs', partitions=1)")
        visible, hidden = table_columns(conn, "d")
    finally:
        conn.close()
    documented = section(text, "Options")
    missing = [o for o in options
               if f"`{o.replace('.*', '')}" not in documented]
    columns = section(text, "Columns")
    missing += [f"column {c}" for c in visible + hidden if f"`{c}`" not in columns]
    assert not missing, f"docs/reference/kafka.md lacks: {missing}"


def test_the_index_lists_every_page():
    index = (REFERENCE / "README.md").read_text()
    missing = [n for n in pages() if f"({n}.md)" not in index]
    assert not missing, f"docs/reference/README.md does not link: {missing}"


def documented_errors():
    """[(error text, SQL)] of the '### `error`' sections of
    docs/troubleshooting.md that give SQL causing the error."""
    text = (kit.ROOT / "docs" / "troubleshooting.md").read_text()
    return re.findall(r"^### `(.+?)`\n\n```sql\n(.*?)```", text, re.M | re.S)


def test_troubleshooting_errors_are_the_ones_shown():
    errors = documented_errors()
    assert len(errors) >= 5, f"docs/troubleshooting.md: only {len(errors)} errors with SQL found"
    wrong = []
    for shown, sql in errors:
        conn = kit.connect()
        try:
            conn.executescript(sql)
            wrong.append(f"{shown!r}: the SQL ran without an error:\n{sql}")
        except sqlite3.Error as e:
            if shown not in str(e):
                wrong.append(f"{shown!r}: the SQL fails with {str(e)!r}")
        finally:
            conn.close()
    assert not wrong, "docs/troubleshooting.md:\n" + "\n".join(wrong)


def markdown_files():
    files = [kit.ROOT / "README.md", kit.ROOT / "tests" / "README.md",
             kit.ROOT / "tests" / "bench" / "README.md"]
    return files + sorted((kit.ROOT / "docs").rglob("*.md"))


def slug(heading):
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.*)$", path.read_text(), re.M)}


def broken_links(path):
    """The relative links of a Markdown file whose file or #anchor is missing."""
    broken = []
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        rel = dest.relative_to(kit.ROOT).as_posix() if dest.is_relative_to(kit.ROOT) else str(dest)
        if not dest.exists():
            broken.append(f"{path.relative_to(kit.ROOT)}: {target} (no {rel})")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{path.relative_to(kit.ROOT)}: {target} (no heading #{anchor})")
    return broken


def test_every_relative_link_points_to_an_existing_file():
    broken = [b for f in markdown_files() if f.exists() for b in broken_links(f)]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_docs_index_links_every_page():
    index = (kit.ROOT / "docs" / "README.md").read_text()
    orphans = [p.name for p in sorted((kit.ROOT / "docs").glob("*.md"))
               if p.name != "README.md" and f"({p.name})" not in index]
    assert not orphans, f"docs/README.md does not link: {orphans}"


def test_readme_is_short_and_names_no_missing_spec():
    text = (kit.ROOT / "README.md").read_text()
    lines = text.count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines (at most {README_MAX_LINES})"
    for command in ("make demo", "make test"):
        assert command in text, f"README.md lost its quick start command {command!r}"
    stray = [str(f.relative_to(kit.ROOT)) for f in markdown_files()
             if f.exists() and "SPEC.md" in f.read_text()]
    assert not stray or (kit.ROOT / "SPEC.md").exists(), \
        f"these name a SPEC.md the repository does not have: {stray}"


def test_synopsis_parsing():
    """The helpers the checks above rely on."""
    assert arg_counts("brokers, topic [, options]") == (2, 3)
    assert arg_counts("brokers, topic, partitions [, replication [, config_json [, options]]]") == (3, 6)
    assert arg_counts("") == (0, 0)
    assert synopsis_call("## Synopsis\n\n```sql\nSELECT f(a, g(b)) ;\n```\n", "f") == "a, g(b)"
    assert slug("Kafka to Kafka (consume-transform-produce)") == "kafka-to-kafka-consume-transform-produce"
    assert sqlite3.sqlite_version_info >= (3, 38)
