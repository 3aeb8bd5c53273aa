"""ext/ is layered (SPEC section 10): base < client < codec < table <
catalog < the entry point ext/kafka.c, each layer a folder with one header
in include/ (plus protobuf.h, the C/C++ boundary of the codec layer). These
tests read every `#include "..."` and fail when a file includes a higher
layer's header or the includes form a circle."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["base", "client", "codec", "table", "catalog"]
RANK = {name: i for i, name in enumerate(LAYERS)}
ENTRY_RANK = len(LAYERS)
# Headers that belong to a layer without being its one header.
EXTRA_HEADERS = {"protobuf.h": "codec"}


def header_layer(header):
    stem = header[:-2]
    if stem in RANK:
        return stem
    return EXTRA_HEADERS.get(header)


def includes(path):
    return re.findall(r'^\s*#\s*include\s+"([^"]+)"', path.read_text(), re.M)


def file_rank(path):
    rel = path.relative_to(ROOT)
    if rel.parts[0] == "include":
        return RANK[header_layer(rel.name)]
    if rel == Path("ext/kafka.c"):
        return ENTRY_RANK
    return RANK[rel.parts[1]]


def sources():
    files = [p for p in (ROOT / "ext").rglob("*") if p.suffix in (".c", ".cc", ".h")]
    return sorted(files) + sorted((ROOT / "include").glob("*.h"))


def layer_violations(files):
    """(file, header, why) for every include of an unknown or higher header."""
    bad = []
    for f in files:
        for h in includes(f):
            layer = header_layer(h)
            if layer is None:
                bad.append((f, h, "not a layer's header"))
            elif RANK[layer] > file_rank(f):
                bad.append((f, h, f"layer {layer} is above {f.relative_to(ROOT)}"))
    return bad


def circle(graph):
    """A list of nodes of graph ({node: [nodes it reaches]}) forming a
    circle, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, stack + [nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def include_cycle(files):
    """A list of headers forming a circle of includes, or None."""
    return circle({f.name: includes(f) for f in files if f.parent.name == "include"})


def test_every_layer_is_a_folder_with_one_header():
    for name in LAYERS:
        assert (ROOT / "ext" / name).is_dir(), f"ext/{name}/ is missing"
        assert (ROOT / "include" / f"{name}.h").is_file(), f"include/{name}.h is missing"
    stray = [p.name for p in (ROOT / "ext").glob("*.c") if p.name != "kafka.c"]
    assert not stray, f"files outside a layer folder: {stray}"
    headers = {p.name for p in (ROOT / "include").glob("*.h")}
    expected = {f"{n}.h" for n in LAYERS} | set(EXTRA_HEADERS)
    assert headers == expected, f"include/ holds {sorted(headers)}, expected {sorted(expected)}"


def test_no_file_includes_a_higher_layer():
    bad = layer_violations(sources())
    assert not bad, "\n".join(f"{f.relative_to(ROOT)} includes {h}: {why}" for f, h, why in bad)


def test_the_headers_include_no_circle():
    cycle = include_cycle(sources())
    assert cycle is None, " -> ".join(cycle)


def test_the_checks_catch_an_upward_include_and_a_circle():
    """The checker itself: a base file that includes table.h and two
    headers that include each other are found."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        global ROOT
        saved = ROOT
        try:
            ROOT = d
            (d / "ext" / "base").mkdir(parents=True)
            (d / "include").mkdir()
            (d / "ext" / "base" / "x.c").write_text('#include "table.h"\n')
            (d / "include" / "base.h").write_text('#include "client.h"\n')
            (d / "include" / "client.h").write_text('#include "base.h"\n')
            files = [d / "ext" / "base" / "x.c", d / "include" / "base.h", d / "include" / "client.h"]
            bad = layer_violations(files)
            assert any(h == "table.h" for _, h, _ in bad), bad
            assert any(h == "client.h" for _, h, _ in bad), bad
            assert include_cycle(files), "the circle base.h <-> client.h was not found"
        finally:
            ROOT = saved


# ------------------------------------------------------------ symbol level --
# Which file calls which, from the symbols of the built objects: a call into
# a higher layer, or a circle of calls between files (group.c calling txn.c
# calling group.c), fails even when the includes look right.

OBJ = ROOT / "build" / "obj"


def object_rank(obj, root):
    rel = obj.relative_to(root)
    return ENTRY_RANK if len(rel.parts) == 1 else RANK[rel.parts[0]]


def symbols(obj):
    """(defined, undefined) global symbols of one object file, by nm."""
    import subprocess
    out = subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRV":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
    return defined, undefined


def call_graph(table):
    """{file: {file it calls}} from {file: (defined, undefined)}."""
    owner = {sym: f for f, (defined, _) in table.items() for sym in defined}
    return {f: {owner[s] for s in undefined if s in owner and owner[s] != f}
            for f, (_, undefined) in table.items()}


def upward_calls(graph, rank):
    return sorted((a, b) for a, callees in graph.items() for b in callees if rank(b) > rank(a))


def built_objects():
    objs = sorted(OBJ.rglob("*.o"))
    assert objs, f"no objects under {OBJ}: run make first"
    return objs


def test_no_file_calls_into_a_higher_layer_or_in_a_circle():
    objs = built_objects()
    graph = call_graph({o: symbols(o) for o in objs})
    name = lambda o: str(o.relative_to(OBJ))  # noqa: E731
    up = upward_calls(graph, lambda o: object_rank(o, OBJ))
    assert not up, "\n".join(f"{name(a)} calls up into {name(b)}" for a, b in up)
    found = circle(graph)
    assert found is None, "files calling each other: " + " -> ".join(map(name, found))


def test_the_symbol_check_catches_an_upward_call_and_a_circle():
    """The checker itself, on a made-up table of symbols: base calling table,
    and group calling txn calling group."""
    root = Path("/obj")
    base, group, txn = root / "base" / "a.o", root / "table" / "group.o", root / "table" / "txn.o"
    table = {base: ({"a"}, {"group_close"}),
             group: ({"group_close"}, {"txn_defer"}),
             txn: ({"txn_defer"}, {"group_close", "sqlite3_free"})}
    graph = call_graph(table)
    assert upward_calls(graph, lambda o: object_rank(o, root)) == [(base, group)]
    found = circle(graph)
    assert found and set(found) == {group, txn}, found
    table[txn] = ({"txn_defer"}, {"sqlite3_free"})
    assert circle(call_graph(table)) is None
