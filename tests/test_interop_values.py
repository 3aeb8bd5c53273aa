"""Property-based interop of the registry formats' values (issue 22):
seeded random schemas and random values with their edges, through the real
broker and registry, both ways against confluent-kafka's serializers:

- confluent-kafka's serializer writes, the extension reads: the row's JSON
  is the value, field by field, in the extension's mapping (SPEC section 7);
- the extension writes (INSERT of that JSON), confluent-kafka's
  deserializer reads: the same value;
- (an Avro float or double that is NaN or infinite reads as null, JSON
  having no NaN, and is not written back);
- a value made one its field cannot hold is refused by the extension,
  naming the field, and by Python too, or Python cannot keep it (its
  round trip changes it: fastavro writes an int past 2^31, or a float past
  3.4e38 as infinity).

The bytes cross through a second table over the topic with value = 'blob'
(what the extension writes is read byte for byte; what confluent writes is
produced byte for byte). Each run prints its seed; VALUES_SEED=<n> replays
it, VALUES_SCHEMAS=<n> sets how many schemas per format."""

import datetime
import decimal
import io
import json
import math
import os
import random
import struct
import sys
import uuid

import kit
import registrykit

SEED = int(os.environ.get("VALUES_SEED", random.randrange(1 << 30)))
SCHEMAS = int(os.environ.get("VALUES_SCHEMAS", "20"))
VALUES = 16  # per schema and direction

INT = (-2**31, 2**31 - 1)
LONG = (-2**63, 2**63 - 1)
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
DEC = decimal.Context(prec=100)  # Python's default 28 digits would round a decimal(38, s)
STRINGS = ["", "a", "Zürich", "東京", "emoji \U0001F600", "quote \" backslash \\", "tab\tnewline\n", "x" * 300]


def _say(what):
    print(f"{what} (VALUES_SEED={SEED} to replay)", file=sys.stderr)


# ----------------------------------------------------------------- Avro --

PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "string", "bytes"]
LOGICALS = ["decimal-bytes", "decimal-fixed", "uuid", "date", "time-millis", "time-micros",
            "timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros"]


class AvroGen:
    """Random Avro types and values; the values in confluent's form (what
    AvroSerializer takes) and in the extension's JSON form."""

    def __init__(self, r):
        self.r = r
        self.names = 0
        self.one_way = False  # the last value has a NaN or an infinity

    def name(self, prefix):
        self.names += 1
        return f"{prefix}{self.names}"

    def type(self, depth=0):
        r = self.r
        choice = r.choice(PRIMITIVES * 3 + LOGICALS + (["enum", "fixed", "union", "array", "map", "record"]
                                                         if depth < 2 else ["enum", "fixed"]))
        if choice in PRIMITIVES:
            return choice
        if choice.startswith("decimal"):
            precision = r.choice([1, 5, 10, 18, 38])
            scale = r.randint(0, precision)
            if choice == "decimal-bytes":
                return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}
            size = max(1, math.ceil((precision * math.log2(10) + 1) / 8))
            return {"type": "fixed", "name": self.name("D"), "size": size, "logicalType": "decimal",
                    "precision": precision, "scale": scale}
        if choice == "uuid":
            return {"type": "string", "logicalType": "uuid"}
        if choice in ("date", "time-millis"):
            return {"type": "int", "logicalType": choice}
        if choice in ("time-micros", "timestamp-millis", "timestamp-micros", "local-timestamp-millis",
                      "local-timestamp-micros"):
            return {"type": "long", "logicalType": choice}
        if choice == "enum":
            return {"type": "enum", "name": self.name("E"), "symbols": [f"S{i}" for i in range(r.randint(1, 4))]}
        if choice == "fixed":
            return {"type": "fixed", "name": self.name("F"), "size": r.randint(1, 8)}
        if choice == "union":
            other = self.type(depth + 1)
            while other == "null" or isinstance(other, (list, dict)) and not (
                    isinstance(other, dict) and other.get("type") in ("int", "long", "string", "bytes")):
                other = r.choice(["long", "string", "double", "boolean"])
            return ["null", other] if r.random() < 0.8 else ["null", "long", "string"]
        if choice == "array":
            return {"type": "array", "items": self.type(depth + 1)}
        if choice == "map":
            return {"type": "map", "values": self.type(depth + 1)}
        return self.record(depth + 1)

    def record(self, depth=0):
        fields = [{"name": f"f{i}", "type": self.type(depth)} for i in range(self.r.randint(1, 6))]
        if all(f["type"] == "null" for f in fields):  # zero bytes: confluent's reader wants one at least
            fields[0]["type"] = "boolean"
        return {"type": "record", "name": self.name("R"), "fields": fields}

    def value(self, t):
        """A random value of type t, with the edges, in confluent's form."""
        r = self.r
        if isinstance(t, list):
            branch = r.choice(t)
            return None if branch == "null" else self.value(branch)
        kind = t if isinstance(t, str) else t.get("logicalType") or t["type"]
        if kind == "null":
            return None
        if kind == "boolean":
            return r.random() < 0.5
        if kind in ("int", "long"):
            lo, hi = INT if kind == "int" else LONG
            return r.choice([lo, hi, 0, -1, 1, r.randint(lo, hi), 2**53 + 1 if kind == "long" else 7])
        if kind in ("float", "double"):
            edges = [0.0, -0.0, 1.5, -2.25, 1e-300 if kind == "double" else 1e-30,
                     3.4028234e38 if kind == "float" else 1.7976931348623157e308, r.uniform(-1e6, 1e6)]
            if r.random() < 0.05:  # the extension reads these as null, and cannot write them
                self.one_way = True
                return r.choice([math.nan, math.inf, -math.inf])
            return r.choice(edges)
        if kind == "string":
            return r.choice(STRINGS)
        if kind in ("bytes", "fixed"):
            n = t["size"] if kind == "fixed" else r.choice([0, 1, 5, 64])
            return bytes(r.randrange(256) for _ in range(n))
        if kind == "decimal":
            p, s = t["precision"], t["scale"]
            digits = r.choice([p, r.randint(1, p)])  # the largest, or any
            unscaled = r.choice([10**digits - 1, r.randint(0, 10**digits - 1), 0])
            return decimal.Decimal(unscaled * r.choice([1, -1])).scaleb(-s, context=DEC)
        if kind == "uuid":
            return uuid.UUID(int=r.choice([0, 2**128 - 1, r.getrandbits(128)]))
        if kind == "date":
            return r.choice([0, -719162, 2932896, r.randint(-719162, 2932896)])  # years 1 to 9999
        if kind == "time-millis":
            return r.choice([0, 86399999, r.randint(0, 86399999)])
        if kind == "time-micros":
            return r.choice([0, 86399999999, r.randint(0, 86399999999)])
        if kind.endswith(("timestamp-millis", "timestamp-micros")):
            unit = 1000 if kind.endswith("millis") else 1000000
            return r.choice([0, -62135596800 * unit, 253402300799 * unit, r.randint(-10**9, 10**9) * unit // 1000])
        if kind == "enum":
            return r.choice(t["symbols"])
        if kind == "array":
            return [self.value(t["items"]) for _ in range(r.choice([0, 1, 3]))]
        if kind == "map":
            return {r.choice(STRINGS[:5]) + str(i): self.value(t["values"]) for i in range(r.choice([0, 1, 3]))}
        return {f["name"]: self.value(f["type"]) for f in t["fields"]}

    def invalid(self, t, value):
        """A value of t's record with one field made one the type cannot
        hold, or None when the generator has none for it."""
        for f in self.r.sample(t["fields"], len(t["fields"])):
            bad = self.bad_leaf(f["type"])
            if bad is not None:
                return {**value, f["name"]: bad}, f["name"]
        return None, None

    def bad_leaf(self, t):
        r = self.r
        if isinstance(t, list):
            return None
        kind = t if isinstance(t, str) else t.get("logicalType") or t["type"]
        if kind == "int":
            return r.choice([2**31, -2**31 - 1, 1e10])
        if kind == "long":
            return r.choice([2**63, -2**63 - 1, 1e19, -9.3e18 * 2])
        if kind == "float":
            return r.choice([1e39, -3.5e38])
        if kind == "decimal":
            return decimal.Decimal(10**t["precision"]).scaleb(-t["scale"], context=DEC)
        if kind == "uuid":
            return r.choice(["not-a-uuid", "00000000-0000-0000-0000-00000000000g", ""])
        if kind == "enum":
            return "NOT_A_SYMBOL"
        if kind == "string":
            return 5
        return None


def _logical(t):
    return None if isinstance(t, (str, list)) else t.get("logicalType")


def avro_to_ext(t, v):
    """A value (confluent's form, as written or as read back) in the
    extension's JSON mapping (SPEC section 7)."""
    if v is None:
        return None
    if isinstance(t, list):
        branches = [b for b in t if b != "null"]
        if len(branches) == 1:
            return avro_to_ext(branches[0], v)
        return v
    kind = t if isinstance(t, str) else _logical(t) or t["type"]
    if kind in ("bytes", "fixed"):
        return v.hex()
    if kind == "decimal":
        return format(decimal.Decimal(v).quantize(decimal.Decimal(1).scaleb(-t["scale"]), context=DEC), "f")
    if kind == "uuid":
        return str(v)
    if kind == "date" and isinstance(v, datetime.date):
        return (v - datetime.date(1970, 1, 1)).days
    if kind in ("time-millis", "time-micros") and isinstance(v, datetime.time):
        us = ((v.hour * 60 + v.minute) * 60 + v.second) * 1000000 + v.microsecond
        return us // 1000 if kind == "time-millis" else us
    if kind.endswith(("timestamp-millis", "timestamp-micros")) and isinstance(v, datetime.datetime):
        us = (v - (EPOCH if v.tzinfo else EPOCH.replace(tzinfo=None))) // datetime.timedelta(microseconds=1)
        return us // 1000 if kind.endswith("millis") else us
    if kind in ("float", "double"):
        return None if math.isnan(v) or math.isinf(v) else v
    if kind == "array":
        return [avro_to_ext(t["items"], x) for x in v]
    if kind == "map":
        return {k: avro_to_ext(t["values"], x) for k, x in v.items()}
    if kind == "record":
        return {f["name"]: avro_to_ext(f["type"], v.get(f["name"])) for f in t["fields"]}
    return v


def same(t, a, b, where="$"):
    """Field by field equality in the extension's mapping; a float as a
    float32, -0.0 and 0.0 apart. The first difference, or None."""
    if isinstance(t, list):
        branches = [x for x in t if x != "null"]
        if a is None or b is None or len(branches) > 1:
            return None if a == b and type(a) is type(b) else f"{where}: {a!r} != {b!r}"
        t = branches[0]
    kind = t if isinstance(t, str) else _logical(t) or t["type"]
    if kind in ("float", "double") and isinstance(a, float) and isinstance(b, (int, float)):
        pack = "<f" if kind == "float" else "<d"
        return None if struct.pack(pack, a) == struct.pack(pack, float(b)) else f"{where}: {a!r} != {b!r}"
    if kind == "array" and isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            d = same(t["items"], x, y, f"{where}[{i}]")
            if d:
                return d
        return None
    if kind in ("map", "record") and isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        for k in a:
            sub = t["values"] if kind == "map" else next(f["type"] for f in t["fields"] if f["name"] == k)
            d = same(sub, a[k], b[k], f"{where}.{k}")
            if d:
                return d
        return None
    return None if a == b else f"{where}: {a!r} != {b!r}"


def python_refuses(schema, value):
    """Whether Python refuses to write value (fastavro's validator or
    confluent's serializer path), or cannot keep it (the round trip
    changes it): why, or None."""
    import fastavro
    import fastavro.validation
    parsed = fastavro.parse_schema(schema)
    try:
        fastavro.validation.validate(value, parsed, raise_errors=True)
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, value)
        out.seek(0)
        back = fastavro.schemaless_reader(out, parsed)
    except Exception as e:  # noqa: BLE001 - any refusal counts
        return f"refused: {type(e).__name__}"
    diff = same(schema, avro_to_ext(schema, back), avro_to_ext(schema, value))
    return f"changed: {diff}" if diff else None


def _pair(conn, topic, fmt):
    conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers = '{kit.BROKER}', topic = '{topic}', "
                 f"value = '{fmt}', schema_registry = '{kit.REGISTRY}')")
    conn.execute(f"CREATE VIRTUAL TABLE raw USING kafka(brokers = '{kit.BROKER}', topic = '{topic}', value = 'blob')")


def _read(conn, table, offset):
    return conn.execute(f"SELECT value FROM {table} WHERE offset = ?", (offset,)).fetchone()[0]


class AvroCase:
    """One random Avro schema on a topic: how each side writes and reads it."""
    fmt = "avro"

    def __init__(self, r, topic):
        from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
        self.gen = AvroGen(r)
        self.schema = self.gen.record()
        self.text = json.dumps(self.schema)
        kit.register_schema(f"{topic}-value", self.schema)
        self.ser = AvroSerializer(registrykit.sr_client(), self.text,
                                  conf={"auto.register.schemas": False, "use.latest.version": True})
        self.de = AvroDeserializer(registrykit.sr_client())

    def value(self):
        """A random value: (what confluent writes, the extension's JSON of it)."""
        self.gen.one_way = False
        value = self.gen.value(self.schema)
        self.one_way = self.gen.one_way
        return value, avro_to_ext(self.schema, value)

    def read(self, data, ctx):
        return avro_to_ext(self.schema, self.de(data, ctx))

    def diff(self, got, want):
        return same(self.schema, got, want)

    def invalid(self, written, want):
        """(the extension's JSON of a value one field cannot hold, the field,
        Python's refusal or None), or None when there is none."""
        bad, field = self.gen.invalid(self.schema, written)
        if bad is None:
            return None
        return json.dumps(avro_to_ext(self.schema, bad)), field, python_refuses(self.schema, bad)


def test_avro_values_both_ways_against_confluent():
    _both_ways("Avro", 0, AvroCase)


# ------------------------------------------------------------- Protobuf --

PB_INTS = {"int32": INT, "sint32": INT, "sfixed32": INT, "uint32": (0, 2**32 - 1), "fixed32": (0, 2**32 - 1),
           "int64": LONG, "sint64": LONG, "sfixed64": LONG, "uint64": (0, 2**64 - 1), "fixed64": (0, 2**64 - 1)}
PB_SCALARS = list(PB_INTS) + ["float", "double", "bool", "string", "bytes"]
PB_WKT = {"google.protobuf.Timestamp": "timestamp", "google.protobuf.Duration": "duration",
          "google.protobuf.Int64Value": "int64", "google.protobuf.UInt32Value": "uint32",
          "google.protobuf.StringValue": "string", "google.protobuf.BoolValue": "bool",
          "google.protobuf.DoubleValue": "double", "google.protobuf.BytesValue": "bytes"}


class ProtoGen:
    """A random .proto (scalars, enums, nested and repeated messages, maps,
    oneof, well-known types) and values of it in the extension's JSON form."""

    def __init__(self, r):
        self.r = r
        self.messages = {}  # name -> [(field name, kind, type, label)]
        self.enums = {}     # name -> symbols

    def message(self, depth=0):
        r = self.r
        name = f"M{len(self.messages)}"
        self.messages[name] = fields = []
        n = 0
        for i in range(r.randint(1, 6)):
            n += 1
            pick = r.random()
            if pick < 0.5:
                fields.append((f"f{n}", "scalar", r.choice(PB_SCALARS), r.choice(["", "", "repeated"])))
            elif pick < 0.6:
                enum = f"E{len(self.enums)}"
                self.enums[enum] = [f"{enum}_S{k}" for k in range(r.randint(1, 3))]
                fields.append((f"f{n}", "enum", enum, r.choice(["", "repeated"])))
            elif pick < 0.75:
                fields.append((f"f{n}", "wkt", r.choice(list(PB_WKT)), ""))
            elif pick < 0.85 and depth < 2:
                fields.append((f"f{n}", "message", self.message(depth + 1), r.choice(["", "repeated"])))
            elif pick < 0.93:
                key = r.choice(["string", "int32", "int64", "uint64", "bool"])
                fields.append((f"f{n}", "map", (key, r.choice(PB_SCALARS)), ""))
            else:
                members = []
                for _ in range(r.randint(1, 3)):
                    n += 1
                    members.append((f"f{n}", r.choice(PB_SCALARS)))
                fields.append((f"o{i}", "oneof", members, ""))
        return name

    def proto(self, package):
        lines = ['syntax = "proto3";', f"package {package};", 'import "google/protobuf/timestamp.proto";',
                 'import "google/protobuf/duration.proto";', 'import "google/protobuf/wrappers.proto";']
        for enum, symbols in self.enums.items():
            lines.append(f"enum {enum} {{ " + " ".join(f"{s} = {k};" for k, s in enumerate(symbols)) + " }")
        for name, fields in self.messages.items():
            body, number = [], 0
            for fname, kind, t, label in fields:
                if kind == "oneof":
                    parts = []
                    for member, mt in t:
                        number += 1
                        parts.append(f"{mt} {member} = {number};")
                    body.append(f"oneof {fname} {{ {' '.join(parts)} }}")
                    continue
                number += 1
                ftype = f"map<{t[0]}, {t[1]}>" if kind == "map" else t
                body.append(f"{label} {ftype} {fname} = {number};".strip())
            lines.append(f"message {name} {{ {' '.join(body)} }}")
        return "\n".join(lines) + "\n"

    def scalar(self, t):
        r = self.r
        if t in PB_INTS:
            lo, hi = PB_INTS[t]
            return r.choice([lo, hi, 0, 1, r.randint(lo, hi)])
        if t in ("float", "double"):
            big = 3.4028234e38 if t == "float" else 1.7976931348623157e308
            return r.choice([0.0, -0.0, 1.5, -2.25, big, -big, r.uniform(-1e6, 1e6), "NaN", "Infinity", "-Infinity"])
        if t == "bool":
            return r.random() < 0.5
        if t == "string":
            return r.choice(STRINGS)
        return bytes(r.randrange(256) for _ in range(r.choice([0, 1, 7]))).hex()

    def wkt(self, t):
        r = self.r
        kind = PB_WKT[t]
        if kind == "timestamp":  # milliseconds, years 1 to 9999
            return r.choice([0, -62135596800000, 253402300799999, r.randint(-10**12, 10**13)])
        if kind == "duration":
            from google.protobuf import duration_pb2
            d = duration_pb2.Duration(seconds=r.choice([0, 1, -5, 315576000000]), nanos=r.choice([0, 500000000]))
            if d.seconds < 0:
                d.nanos = -d.nanos
            return d.ToJsonString()
        return self.scalar(kind)

    def value(self, name):
        """A message's value as the extension shows it: every field of no
        presence with its value or default, the others only when set."""
        r, out = self.r, {}
        for fname, kind, t, label in self.messages[name]:
            if kind == "oneof":
                if r.random() < 0.7:
                    member, mt = r.choice(t)
                    out[member] = self.scalar(mt)
                continue
            if kind in ("wkt", "message") and not label and r.random() < 0.3:
                continue  # not set: not shown
            one = {"scalar": lambda: self.scalar(t), "enum": lambda: r.choice(self.enums[t]),
                   "wkt": lambda: self.wkt(t), "message": lambda: self.value(t), "map": None}[kind]
            if kind == "map":
                keys = {str(self.scalar(t[0])).lower() if t[0] == "bool" else str(self.scalar(t[0]))
                        for _ in range(r.choice([0, 1, 3]))}
                out[fname] = {k: self.scalar(t[1]) for k in keys}
            elif label == "repeated":
                out[fname] = [one() for _ in range(r.choice([0, 1, 3]))]
            else:
                out[fname] = one()
        return out

    def bad(self, name, value):
        """The value with one field made one its type cannot hold, or None."""
        for fname, kind, t, label in self.r.sample(self.messages[name], len(self.messages[name])):
            if kind == "scalar" and not label and t in PB_INTS:
                lo, hi = PB_INTS[t]
                return {**value, fname: self.r.choice([lo - 1, hi + 1, 1.5])}, fname
            if kind == "scalar" and not label and t == "float":
                return {**value, fname: 1e39}, fname
            if kind == "enum" and not label:
                return {**value, fname: "NOT_A_SYMBOL"}, fname
            if kind == "wkt" and PB_WKT[t] == "timestamp":
                return {**value, fname: 253402300800000}, fname
        return None, None


def pb_to_ext(descriptor, d):
    """MessageToDict's output (proto field names, fields of no presence
    included) in the extension's JSON form."""
    import base64
    from google.protobuf import timestamp_pb2
    from google.protobuf.descriptor import FieldDescriptor as F
    out = {}
    for f in descriptor.fields:
        if f.name not in d:
            continue
        v = d[f.name]

        def one(x, fd=f):
            t = fd.message_type.full_name if fd.type == F.TYPE_MESSAGE else None
            if t == "google.protobuf.Timestamp":
                ts = timestamp_pb2.Timestamp()
                ts.FromJsonString(x)
                return ts.ToMilliseconds()
            if t in PB_WKT:
                kind = PB_WKT[t]
                if kind in ("int64", "uint32"):
                    return int(x)
                if kind == "bytes":
                    return base64.b64decode(x).hex()
                return x
            if fd.type == F.TYPE_MESSAGE:
                return pb_to_ext(fd.message_type, x)
            if fd.type == F.TYPE_BYTES:
                return base64.b64decode(x).hex()
            if fd.type in (F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_SINT64, F.TYPE_FIXED64, F.TYPE_SFIXED64):
                return int(x)
            return x
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            vf = f.message_type.fields_by_name["value"]
            out[f.name] = {k: one(x, vf) for k, x in v.items()}
        elif f.is_repeated:
            out[f.name] = [one(x) for x in v]
        else:
            out[f.name] = one(v)
    return out


def pb_same(a, b, where="$"):
    """Equal as the extension shows values: numbers by value and sign (the
    JSON mapping prints a whole double as an integer), floats as float32
    when one side is the other's float32 rounding."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{where}: fields {sorted(a)} != {sorted(b)}"
        for k in a:
            d = pb_same(a[k], b[k], f"{where}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            d = pb_same(x, y, f"{where}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        same_sign = math.copysign(1, a) == math.copysign(1, b)
        if same_sign and (a == b or (isinstance(a, float) or isinstance(b, float)) and
                          struct.pack("<f", float(a)) == struct.pack("<f", float(b)) and abs(float(a)) < 3.5e38):
            return None
    return None if a == b else f"{where}: {a!r} != {b!r}"


def _proto_module(text, package):
    import importlib
    import subprocess
    import tempfile
    root = tempfile.mkdtemp(prefix="ivpb-")
    with open(os.path.join(root, f"{package}.proto"), "w") as f:
        f.write(text)
    done = subprocess.run(["protoc", "-I", root, "--python_out", root, f"{package}.proto"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + text
    sys.path.insert(0, root)
    try:
        return importlib.import_module(f"{package}_pb2")
    finally:
        sys.path.remove(root)


class ProtobufCase:
    """One random .proto on a topic (its Python classes made by protoc)."""
    fmt = "protobuf"

    def __init__(self, r, topic):
        from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
        self.gen = ProtoGen(r)
        self.top = self.gen.message()
        package = f"ivpb{SEED}x{r.randrange(1 << 30)}"
        self.text = self.gen.proto(package)
        self.cls = getattr(_proto_module(self.text, package), self.top)
        # The serializer registers the schema (and its imports) as confluent does.
        self.ser = ProtobufSerializer(self.cls, registrykit.sr_client(), {
            "reference.subject.name.strategy": lambda c, name: f"{topic}-{name}"})
        self.de = ProtobufDeserializer(self.cls, {})
        self.ser(self.cls(), registrykit.ctx(topic))

    def python_form(self, message):
        from google.protobuf import json_format
        return pb_to_ext(self.cls.DESCRIPTOR, json_format.MessageToDict(
            message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True))

    def value(self):
        """(the message confluent writes, the extension's JSON of it)."""
        message = _parse_ext(self.cls, self.gen.value(self.top))
        return message, self.python_form(message)

    def read(self, data, ctx):
        return self.python_form(self.de(data, ctx))

    def diff(self, got, want):
        return pb_same(got, want)

    def invalid(self, written, want):
        bad, field = self.gen.bad(self.top, want)
        if bad is None:
            return None
        return json.dumps(bad), field, _refusal(_parse_ext, self.cls, bad)


def test_protobuf_values_both_ways_against_confluent():
    _both_ways("Protobuf", 500, ProtobufCase)


def _parse_ext(cls, value):
    """A message from a value in the extension's form (bytes as hex,
    Timestamps as milliseconds): turned into the proto3 JSON mapping's
    form (base64, RFC 3339) and parsed by Python's protobuf."""
    from google.protobuf import json_format
    return json_format.ParseDict(_ext_to_proto_json(cls.DESCRIPTOR, value), cls())


def _ext_to_proto_json(descriptor, value):
    import base64
    from google.protobuf import timestamp_pb2
    from google.protobuf.descriptor import FieldDescriptor as F
    out = {}
    for k, v in value.items():
        f = descriptor.fields_by_name[k]

        def one(x, fd=f):
            t = fd.message_type.full_name if fd.type == F.TYPE_MESSAGE else None
            if t == "google.protobuf.Timestamp":
                if not isinstance(x, int) or not -62135596800000 <= x <= 253402300799999:
                    raise ValueError(f"Timestamp out of range: {x}")
                ts = timestamp_pb2.Timestamp()
                ts.FromMilliseconds(x)
                return ts.ToJsonString()
            if t == "google.protobuf.BytesValue" or fd.type == F.TYPE_BYTES:
                return base64.b64encode(bytes.fromhex(x)).decode()
            if fd.type == F.TYPE_MESSAGE and t not in PB_WKT:
                return _ext_to_proto_json(fd.message_type, x)
            return x
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            vf = f.message_type.fields_by_name["value"]
            out[k] = {kk: one(x, vf) for kk, x in v.items()}
        elif f.is_repeated:
            out[k] = [one(x) for x in v]
        else:
            out[k] = one(v)
    return out


# ---------------------------------------------------------- JSON Schema --

class JsonSchemaGen:
    """Random JSON Schemas (types, bounds, lengths, enums, nested objects,
    arrays, nullable anyOf, required, additionalProperties) and values,
    valid ones and ones with one property made invalid."""

    def __init__(self, r):
        self.r = r

    def schema(self, depth=0):
        r = self.r
        kind = r.choice(["integer", "number", "string", "boolean", "enum", "nullable"] +
                        (["array", "object"] if depth < 2 else []))
        if kind == "integer":
            lo = r.choice([None, 0, -100, -2**53, -2**63])
            return {"type": "integer", **({"minimum": lo} if lo is not None else {}),
                    **({"maximum": lo + 1000} if lo is not None and r.random() < 0.5 else {})}
        if kind == "number":
            return {"type": "number", **({"exclusiveMaximum": 1.5} if r.random() < 0.5 else {})}
        if kind == "string":
            return {"type": "string", **({"maxLength": 4} if r.random() < 0.5 else {}),
                    **({"pattern": "^[a-z]*$"} if r.random() < 0.3 else {})}
        if kind == "boolean":
            return {"type": "boolean"}
        if kind == "enum":
            return {"enum": r.sample(["a", "b", "Zürich", 1, None], r.randint(1, 3))}
        if kind == "nullable":
            return {"anyOf": [{"type": "null"}, self.schema(depth + 1)]}
        if kind == "array":
            return {"type": "array", "items": self.schema(depth + 1), **({"maxItems": 3} if r.random() < 0.5 else {})}
        return self.object(depth + 1)

    def object(self, depth=0):
        props = {f"p{i}": self.schema(depth) for i in range(self.r.randint(1, 5))}
        return {"type": "object", "properties": props,
                "required": self.r.sample(list(props), self.r.randint(0, len(props))),
                "additionalProperties": self.r.random() < 0.5}

    def value(self, s):
        r = self.r
        if "anyOf" in s:
            return None if r.random() < 0.3 else self.value(s["anyOf"][1])
        if "enum" in s:
            return r.choice(s["enum"])
        t = s["type"]
        if t == "integer":
            lo, hi = s.get("minimum", -2**63), s.get("maximum", 2**63 - 1)
            return r.choice([lo, hi, r.randint(lo, hi)])
        if t == "number":
            return r.choice([0.0, -0.5, 1.25, 1e300, -1e-300] if "exclusiveMaximum" not in s else [-1e300, 1.25, 0.0])
        if t == "string":
            ok = [x for x in STRINGS if len(x) <= s.get("maxLength", 1000) and
                  ("pattern" not in s or x.isascii() and x.isalpha() and x.islower() or x == "")]
            return r.choice(ok)
        if t == "boolean":
            return r.random() < 0.5
        if t == "array":
            return [self.value(s["items"]) for _ in range(r.randint(0, s.get("maxItems", 3)))]
        return {k: self.value(p) for k, p in s["properties"].items() if k in s["required"] or r.random() < 0.7}

    def bad(self, s, value):
        """value with one property made one the schema refuses, or None."""
        r = self.r
        for k, p in r.sample(list(s["properties"].items()), len(s["properties"])):
            t = p.get("type")
            if t == "integer":
                return {**value, k: r.choice([1.5, "1"] + ([p["minimum"] - 1] if "minimum" in p else []))}, k
            if t == "number" and "exclusiveMaximum" in p:
                return {**value, k: 1.5}, k
            if t == "string" and "maxLength" in p:
                return {**value, k: "abcde"}, k
            if t == "boolean":  # 0 and 1 at the top level are booleans (an INTEGER column's)
                return {**value, k: "true"}, k
            if "enum" in p:
                return {**value, k: "not in the enum"}, k
        if s["required"]:
            k = r.choice(s["required"])
            return {x: y for x, y in value.items() if x != k}, k
        if not s["additionalProperties"]:
            return {**value, "extra": 1}, "extra"
        return None, None


class JsonSchemaCase:
    """One random JSON Schema on a topic."""
    fmt = "jsonschema"

    def __init__(self, r, topic):
        from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
        self.gen = JsonSchemaGen(r)
        self.schema = {"$schema": "http://json-schema.org/draft-07/schema#", "title": "T", **self.gen.object()}
        self.text = json.dumps(self.schema)
        kit.register_schema(f"{topic}-value", self.schema, "JSON")
        self.ser = JSONSerializer(self.text, registrykit.sr_client(),
                                  conf={"auto.register.schemas": False, "use.latest.version": True})
        self.de = JSONDeserializer(self.text)
        self.ctx = registrykit.ctx(topic)

    def value(self):
        value = self.gen.value(self.schema)
        return value, value

    def read(self, data, ctx):
        return self.de(data, ctx)

    def diff(self, got, want):
        return None if got == want else f"{got!r} != {want!r}"

    def invalid(self, written, want):
        bad, field = self.gen.bad(self.schema, want)
        if bad is None:
            return None
        return json.dumps(bad), field, _refusal(self.ser, bad, self.ctx)


def test_json_schema_values_both_ways_against_confluent():
    _both_ways("JSON Schema", 700, JsonSchemaCase)


def _both_ways(name, salt, make_case):
    """SCHEMAS random schemas of a format (make_case(random, topic)), each
    with VALUES random values: written by confluent and read by the
    extension, written by the extension and read by confluent, and a value
    it cannot hold refused by both."""
    kit.need_broker()
    kit.need_registry()
    _say(f"{name}: {SCHEMAS} random schemas")
    for n in range(SCHEMAS):
        topic = kit.create_topic(kit.topic("iv"))
        try:
            case = make_case(random.Random(SEED * 1000 + salt + n), topic)
            conn = kit.connect()
            _pair(conn, topic, case.fmt)
            ctx = registrykit.ctx(topic)
            offset = conn.execute("SELECT count(*) FROM raw").fetchone()[0]
            for i in range(VALUES):
                written, want = case.value()
                where = f"seed {SEED} schema {n} value {i}:\n{case.text}\n  value {want!r}"
                conn.execute("INSERT INTO raw(value) VALUES (?)", (case.ser(written, ctx),))
                diff = case.diff(json.loads(_read(conn, "t", offset)), want)
                assert not diff, f"extension read {diff}\n{where}"
                offset += 1
                if getattr(case, "one_way", False):  # a NaN or an infinity: read as null, not written
                    continue
                conn.execute("INSERT INTO t(value) VALUES (?)", (json.dumps(want),))
                diff = case.diff(case.read(_read(conn, "raw", offset), ctx), want)
                assert not diff, f"confluent read {diff}\n{where}"
                offset += 1
                invalid = case.invalid(written, want)
                if invalid:
                    _refused_by_both(conn, *invalid, where)
        except AssertionError:
            _say(f"{name} schema {n} failed")
            raise
        finally:
            kit.delete_topic(topic)
            registrykit.delete_subjects(f"{topic}-value", *(f"{topic}-google/protobuf/{wkt}.proto"
                                                             for wkt in ("timestamp", "duration", "wrappers")))


def _refusal(fn, *args):
    """Why fn(*args) failed, or None when it did not."""
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - any refusal counts
        return str(e)
    return None


def _refused_by_both(conn, bad_json, field, python, where):
    refused = _refusal(conn.execute, "INSERT INTO t(value) VALUES (?)", (bad_json,))
    assert refused, f"the extension took {bad_json} (Python: {python})\n{where}"
    assert f"field '{field}'" in refused, f"the error names no field {field}: {refused}\n{where}"
    assert python, f"Python takes {bad_json} and keeps it; the extension refused it: {refused}\n{where}"
