"""ext/codec/protobuf.cc through its C header, driven by tests/protobuf_unit.c (no
broker, no registry): .proto text compiled at run time with its imports,
payloads (message-index array + message) decoded to JSON and encoded from
it, checked against Debian's protoc (--encode / --decode) as the reference
codec, and every kind of bad input by its error text."""

import base64
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import kit
import readkit as rk

DRIVER = kit.ROOT / "build" / "protobuf_unit"

WEATHER = "pbtest/weather.proto"  # with its imports, from tests/protobuf/ (kit.PROTO_DIR)

_dir = None


def schema_dir():
    """A directory with the test schemas, and the driver built (once)."""
    global _dir
    if _dir is None:
        # Named as the Makefile names it (relative): make has no rule for the absolute path.
        done = subprocess.run(["make", "-s", str(DRIVER.relative_to(kit.ROOT))], cwd=kit.ROOT,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        _dir = Path(tempfile.mkdtemp(prefix="pbunit-"))
        shutil.copytree(kit.PROTO_DIR, _dir, dirs_exist_ok=True)
    return _dir


def write(**files):
    for name, text in files.items():
        (_dir / f"{name}.proto").write_text(text)


def run(*args):
    """The driver's output lines; an error comes back as 'error: ...'."""
    done = subprocess.run([str(DRIVER), args[0], str(schema_dir()), *args[1:]],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert not done.stderr, done.stderr  # libprotobuf logs nothing
    return done.stdout.strip()


def decode(hex_payload, proto=WEATHER):
    out = run("decode", proto, hex_payload)
    return out if out.startswith("error: ") else json.loads(out)


def encode(value, message="-", proto=WEATHER):
    return run("encode", proto, message, value if isinstance(value, str) else json.dumps(value))


def protoc(mode, message, data, proto=WEATHER):
    done = subprocess.run(["protoc", "-I", str(schema_dir()), f"--{mode}={message}", proto],
                          input=data, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_columns_take_sql_types_from_the_schema():
    lines = run("columns", WEATHER).splitlines()
    assert lines[0] == "pbtest.Weather"
    assert lines[1:] == [
        "location TEXT", "temp_celsius INTEGER", "total INTEGER", "pressure_mb REAL", "humidity REAL",
        "raining INTEGER", "raw BLOB", "sky TEXT", "at INTEGER", "wind INTEGER", "extra TEXT", "tags TEXT",
        "counts TEXT", "station TEXT", "celsius REAL", "note TEXT", "big INTEGER", "opt INTEGER", "inner TEXT",
        "took TEXT", "checked INTEGER"]
    assert run("columns", WEATHER, "Alert").splitlines() == ["pbtest.Alert", "text TEXT", "level TEXT"]
    assert run("columns", WEATHER, "pbtest.Alert.Level").splitlines() == ["pbtest.Alert.Level", "n INTEGER"]
    assert run("columns", WEATHER, "Nope") == \
        'error: message "Nope" is not in the schema (its messages: pbtest.Weather, pbtest.Alert)'


def test_decode_what_protoc_encodes():
    text = b"""location: "Oslo \\"N\\"\\n" temp_celsius: -5 total: 9007199254740993 pressure_mb: 1013.25
        humidity: 0.1 raining: true raw: "\\000\\001\\377" sky: CLOUDY
        at { seconds: 1700000000 nanos: 123456789 } wind { value: -2147483648 }
        extra { fields { key: "a" value { list_value { values { number_value: 1 } values { string_value: "x" } } } } }
        tags: "a" tags: "b" counts { key: "k" value: -9223372036854775808 } station { id: "S1" height_m: 12 unit: FAHRENHEIT }
        note: "hi" opt: 0 big: 18446744073709551615 inner { x: -7 } took { seconds: 90 nanos: 500000000 }
        checked { value: true }"""
    body = protoc("encode", "pbtest.Weather", text)
    out = run("decode", WEATHER, "00" + body.hex())
    # int64 and uint64 are exact JSON numbers, the text keeps them exact.
    assert '"total":9007199254740993' in out and '"k":-9223372036854775808' in out, out
    assert '"big":18446744073709551615' in out, out
    assert json.loads(out) == {
        "location": 'Oslo "N"\n', "temp_celsius": -5, "total": 9007199254740993, "pressure_mb": 1013.25,
        "humidity": 0.1, "raining": True, "raw": "0001ff", "sky": "CLOUDY",
        "at": 1700000000123, "wind": -2147483648, "extra": {"a": [1, "x"]},
        "tags": ["a", "b"], "counts": {"k": -9223372036854775808},
        "station": {"id": "S1", "height_m": 12, "unit": "FAHRENHEIT"}, "note": "hi", "big": 18446744073709551615,
        "opt": 0, "inner": {"x": -7}, "took": "90.500s", "checked": True}


def test_absent_proto3_scalars_read_as_their_defaults_fields_with_presence_are_left_out():
    # An empty message: scalars without presence are their defaults (proto3
    # cannot tell absent from default); message, optional and oneof fields
    # are absent, so their typed columns are NULL.
    assert decode("00") == {
        "location": "", "temp_celsius": 0, "total": 0, "pressure_mb": 0, "humidity": 0, "raining": False,
        "raw": "", "sky": "CLEAR", "tags": [], "counts": {}, "big": 0}
    # optional and oneof members set to their defaults are there.
    body = protoc("encode", "pbtest.Weather", b"opt: 0 celsius: 0")
    assert decode("00" + body.hex())["opt"] == 0 and decode("00" + body.hex())["celsius"] == 0


def test_encode_is_what_protoc_decodes():
    value = {"location": "Oslo", "temp_celsius": -5, "total": 9223372036854775807, "raining": 1,
             "raw": "0001ff", "sky": "CLOUDY", "at": -1, "wind": 42,
             "extra": {"k": {"n": None}}, "tags": ["x"], "counts": {"a": 1},
             "station": {"id": "S1", "unit": "FAHRENHEIT"}, "celsius": 21.5, "big": 18446744073709551615,
             "inner": {"x": -3}, "took": "1.5s", "checked": 0}
    payload = bytes.fromhex(encode(value))
    assert payload[0] == 0  # the first message: Confluent's single-0 index array
    text = protoc("decode", "pbtest.Weather", payload[1:]).decode()
    for line in ['location: "Oslo"', "temp_celsius: -5", "total: 9223372036854775807", "raining: true",
                 'raw: "\\000\\001\\377"', "sky: CLOUDY", "seconds: -1", "nanos: 999000000",
                 "value: 42", 'id: "S1"', "unit: FAHRENHEIT", "celsius: 21.5", "big: 18446744073709551615",
                 "x: -3", "seconds: 1", "nanos: 500000000", "null_value: NULL_VALUE"]:
        assert line in text, (line, text)
    assert "checked" not in text or "value: true" not in text.split("checked")[1], text
    back = decode(payload.hex())
    assert back["at"] == -1 and back["total"] == 9223372036854775807 and back["checked"] is False, back
    # The library's own JSON mapping is accepted too: RFC 3339, int64 as
    # strings, camelCase names.
    same = encode({"tempCelsius": -5, "total": "9223372036854775807", "at": "1969-12-31T23:59:59.999Z"})
    assert decode(same)["at"] == -1 and decode(same)["total"] == 9223372036854775807


def test_nested_fields_given_as_json_text_as_a_text_column_gives_them():
    payload = encode({"station": '{"id": "S2", "height_m": 7}', "tags": '["a", "b"]',
                      "counts": '{"x": 1}', "extra": '{"q": [true]}', "inner": '{"x": 1}'})
    back = decode(payload)
    assert back["station"] == {"id": "S2", "height_m": 7, "unit": "CELSIUS"} and back["tags"] == ["a", "b"], back
    assert back["counts"] == {"x": 1} and back["extra"] == {"q": [True]} and back["inner"] == {"x": 1}
    assert encode({"station": "S2"}) == ("error: value does not fit message pbtest.Weather: field station: "
                                         "a string given for a message, list or map must be JSON text of one")


def test_message_index_arrays_are_read_and_written_as_confluent_does():
    # [1]: length 1, index 1 (zigzag varints: 2, 2); [0, 0]: nested message.
    assert encode({"text": "x"}, "Alert") == "0202" + "0a0178"
    assert encode({"n": 1}, "pbtest.Alert.Level") == "040200" + "0801"
    assert decode("02020a0178") == {"text": "x"}
    assert decode("0402000801") == {"n": 1}
    # The long form of [0] reads like the single-0 shorthand.
    assert decode("0200" + "0801") == decode("00" + "0801")
    # An index past 63 takes two varint bytes: past the schema's messages.
    assert decode("028001") == "error: message index [64] points past the 2 messages of the schema"
    assert decode("0404") == "error: message index [2] points past the 2 messages of the schema"
    assert decode("040202") == \
        "error: message index [1, 1] points past the 1 nested messages of pbtest.Alert"
    assert decode("03") == "error: the message-index array has a negative length (-2)"
    assert decode("") == "error: the message-index array is cut short"
    assert decode("04") == "error: the message-index array is cut short"
    assert decode("80") == "error: the message-index array is cut short"


def test_bad_bodies_are_errors_naming_the_message():
    assert decode("00ff") == "error: bytes after message index [0] do not parse as message pbtest.Weather"
    assert decode("000a05616263") == \
        "error: bytes after message index [0] do not parse as message pbtest.Weather"  # cut short
    # proto3 strings must be UTF-8 (the library checks them).
    assert decode("000a02c328").startswith("error: bytes after message index [0] do not parse"), decode("000a02c328")
    write(p2='syntax = "proto2";\nmessage R { required int32 a = 1; optional string s = 2; }\n')
    assert decode("00", "p2.proto") == "error: message R lacks required field(s) a"
    # proto2 strings are not checked by the library: the JSON would not be JSON.
    assert decode("0008011202c328", "p2.proto") == "error: field R.s holds a string that is not UTF-8"


def test_encode_errors_name_the_field():
    cases = {
        '{"temp_celsius": "abc"}': 'field temp_celsius: invalid value "abc" for type TYPE_INT32',
        '{"temp_celsius": 1e10}': "field temp_celsius: invalid value 10000000000 for type TYPE_INT32",
        '{"total": 9223372036854775808}': "field total: invalid value 9223372036854775808 for type TYPE_INT64",
        '{"nope": 1}': "field nope: not in the message",
        '{"station": {"nope": 1}}': "field station.nope: not in the message",
        '{"station": {"height_m": "q"}}': 'field station.height_m: invalid value "q" for type TYPE_INT32',
        '{"station": {"unit": "KELVIN"}}': 'field station.unit: invalid value "KELVIN" for type '
                                           "type.googleapis.com/pbtest.Unit",
        '{"tags": [1]}': "field tags[0]: invalid value 1 for type TYPE_STRING",
        '{"raining": 2}': "field raining: invalid value 2 for type TYPE_BOOL",
        '{"wind": "x"}': 'field wind.value: invalid value "x" for type TYPE_INT32',
    }
    for value, why in cases.items():
        assert encode(value) == "error: value does not fit message pbtest.Weather: " + why, (value, encode(value))
    assert encode('{"at": 1.5}') == ("error: value does not fit message pbtest.Weather: field at: a Timestamp "
                                     "is an integer of milliseconds since the epoch (years 1 to 9999) or RFC "
                                     "3339 text, not 1.5")
    assert encode('{"at": 253402300800000}').endswith("RFC 3339 text, not 253402300800000")
    hex_digits = "error: value does not fit message pbtest.Weather: field raw: expected a string of hex digits"
    assert encode('{"raw": "0g"}') == hex_digits + " (two per byte)"
    assert encode('{"raw": "abc"}') == hex_digits + " (two per byte)"
    assert encode("[1]") == "error: value must be a JSON object (a pbtest.Weather message)"
    assert encode('{"a":') == "error: value is not valid JSON"
    assert encode('{"a": 1} x') == "error: value is not valid JSON"
    write(req='syntax = "proto2";\nmessage O { optional I i = 1; }\nmessage I { required int32 r = 1; }\n')
    assert encode({"i": {}}, proto="req.proto") == \
        "error: value does not fit message O: field i.r: missing (it is required)"


CHAIN = {"a": 'syntax = "proto3";\nimport "b.proto";\nmessage A { B b = 1; }\n',
         "b": 'syntax = "proto3";\nimport "c.proto";\nmessage B { C c = 1; }\n',
         "c": 'syntax = "proto3";\nmessage C { int64 n = 1; }\n'}


def test_imports_resolve_through_the_callback_transitively():
    write(**CHAIN)
    payload = encode({"b": {"c": {"n": "5"}}}, proto="a.proto")
    assert decode(payload, "a.proto") == {"b": {"c": {"n": 5}}}


def serialized_base64(proto):
    """A .proto file as a serialized FileDescriptorProto in base64, as
    confluent-kafka's Python serializer registers schemas: protoc's
    descriptor set holds it as its field 1 (tag 0x0a, varint length)."""
    done = subprocess.run(["protoc", "-I", str(schema_dir()), "--descriptor_set_out=/dev/stdout", proto],
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    data, length, shift, at = done.stdout, 0, 0, 1
    assert data[0] == 0x0a
    while True:
        length |= (data[at] & 0x7f) << shift
        shift += 7
        at += 1
        if data[at - 1] < 0x80:
            break
    assert at + length == len(data)
    return base64.b64encode(data[at:]).decode()


def test_schemas_given_as_serialized_descriptors_in_base64():
    schema_dir()
    write(**CHAIN)
    write(b64a=serialized_base64("a.proto"), b64b=serialized_base64("b.proto"),
          b64c=serialized_base64("c.proto"))
    # The imports keep their names (b.proto, c.proto), now base64 too.
    write(b=(_dir / "b64b.proto").read_text(), c=(_dir / "b64c.proto").read_text())
    assert run("columns", "b64a.proto").splitlines() == ["A", "b TEXT"]
    payload = encode({"b": {"c": {"n": 7}}}, proto="b64a.proto")
    assert decode(payload, "b64a.proto") == {"b": {"c": {"n": 7}}}
    write(notb64="QUJD")  # base64 of "ABC": not a FileDescriptorProto, nor .proto text
    assert run("columns", "notb64.proto").startswith("error: notb64.proto:1:1: "), run("columns", "notb64.proto")


def test_schemas_that_do_not_compile_say_where():
    write(bad='syntax = "proto3";\nmessage A { int32 x = 1 }\n',
          imp='syntax = "proto3";\nimport "missing.proto";\nmessage A { int32 x = 1; }\n',
          cyc1='syntax = "proto3";\nimport "cyc2.proto";\nmessage A { int32 x = 1; }\n',
          cyc2='syntax = "proto3";\nimport "cyc1.proto";\n',
          undef='syntax = "proto3";\nmessage A { B b = 1; }\n',
          empty='syntax = "proto3";\n')
    assert run("columns", "bad.proto") == 'error: bad.proto:2:25: Expected ";".'
    assert run("columns", "imp.proto") == \
        'error: imp.proto:2:1: import "missing.proto" cannot be resolved: no such subject reference'
    assert run("columns", "cyc1.proto") == 'error: import cycle through "cyc1.proto"'
    assert run("columns", "undef.proto") == 'error: undef.proto:2:13: A.b: "B" is not defined.'
    assert run("columns", "empty.proto") == "error: empty.proto defines no message"


def test_well_known_types_any_and_struct():
    write(wk='syntax = "proto3";\nimport "google/protobuf/any.proto";\nimport "google/protobuf/struct.proto";\n'
             'message W { google.protobuf.Any any = 1; google.protobuf.Value v = 2; }\n'
             'message Q { int32 z = 1; }\n')
    payload = encode({"any": {"@type": "type.googleapis.com/Q", "z": 5}, "v": [1, "a"]}, proto="wk.proto")
    assert decode(payload, "wk.proto") == {"any": {"@type": "type.googleapis.com/Q", "z": 5}, "v": [1, "a"]}
    # An Any of a type the schema does not know: its type URL and bytes.
    body = protoc("encode", "W", b'any { type_url: "type.googleapis.com/Unknown" value: "\\010\\005" }', "wk.proto")
    assert decode("00" + body.hex(), "wk.proto") == \
        {"any": {"@type": "type.googleapis.com/Unknown", "value": "0805"}}


def test_special_floats_and_packed_and_unknown_enum_numbers():
    body = protoc("encode", "pbtest.Weather", b"pressure_mb: inf humidity: nan sky: 9")
    back = decode("00" + body.hex())
    assert back["pressure_mb"] == "Infinity" and back["humidity"] == "NaN", back
    assert back["sky"] == 9, back  # a number no name has (proto3 enums are open)


def test_a_schema_decodes_on_many_threads_at_once():
    body = protoc("encode", "pbtest.Weather", b'location: "x" at { seconds: 1 } extra { } tags: "t"')
    assert run("threads", WEATHER, "00" + body.hex(), "2000") == "8000 decodes, 0 mismatches"


def test_a_nested_json_column_keeps_integers_past_2_53_exact():
    """A TEXT column holding an object or array (Protobuf's maps, lists and
    messages; any JSON value's) prints it again from cJSON, whose doubles
    rounded 9007199254740993 to 9.00719925474099e+15; SQLite's JSON keeps it."""
    conn = kit.connect()
    rk.table(conn, "t", kit.topic("big"), brokers="mock", partitions=1, value="json",
             columns="counts TEXT, tags TEXT, small TEXT $.s")
    conn.execute("""INSERT INTO t(value) VALUES ('{"counts": {"n": 9007199254740993, "m": [-9223372036854775808]},
                    "tags": [18446744073709551615, "x"], "s": {"a": [1, 2.5]}}')""")
    assert conn.execute("SELECT counts, tags, small FROM t").fetchone() == (
        '{"n":9007199254740993,"m":[-9223372036854775808]}', '[18446744073709551615,"x"]', '{"a":[1,2.5]}')
