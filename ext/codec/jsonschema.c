/*
** The JSON Schema codec: the payload after the wire format's header is
** JSON text, read and written as it is. The schema gives the typed
** columns (the top-level properties) and the id messages are framed with.
** What is written is validated against the schema, as confluent-kafka's
** and Java's JSON Schema serializers do (no Debian C library validates
** JSON Schema, so the keywords that bound a value are checked here: type,
** enum, const, the numeric bounds, lengths, pattern, properties, required,
** additionalProperties, items, allOf/anyOf/oneOf/not and local $ref;
** others, such as format, are not asserted, as those serializers do not
** by default). What is read is only checked to be JSON.
*/
#include "base.h"
#include "codec.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

struct codec_schema {
  cJSON *json;
};

static int jsonschema_parse(const char *text, const char *message, const codec_imports *imports,
                            codec_schema **out, char **err) {
  (void)message, (void)imports;
  cJSON *json = cJSON_Parse(text);
  if (!cJSON_IsObject(json) && !cJSON_IsBool(json)) {
    cJSON_Delete(json);
    *err = sqlite3_mprintf("not a JSON Schema (a JSON object or boolean)");
    return SQLITE_ERROR;
  }
  codec_schema *s = sqlite3_malloc64(sizeof *s);
  if (!s) {
    cJSON_Delete(json);
    return SQLITE_NOMEM;
  }
  s->json = json;
  *out = s;
  return SQLITE_OK;
}

static void jsonschema_release(codec_schema *s) {
  if (!s) return;
  cJSON_Delete(s->json);
  sqlite3_free(s);
}

/* The SQL type of a JSON Schema type name. */
static const char *type_name_sql(const char *type) {
  if (!strcmp(type, "integer") || !strcmp(type, "boolean")) return "INTEGER";
  if (!strcmp(type, "number")) return "REAL";
  if (!strcmp(type, "string") || !strcmp(type, "object") || !strcmp(type, "array")) return "TEXT";
  return "";
}

/* A property's SQL type: from "type", a name or a list with "null". */
static const char *property_sql(const cJSON *property) {
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(property, "type");
  if (cJSON_IsString(type)) return type_name_sql(type->valuestring);
  const char *found = "";
  for (const cJSON *t = cJSON_IsArray(type) ? type->child : NULL; t; t = t->next) {
    if (!cJSON_IsString(t) || !strcmp(t->valuestring, "null")) continue;
    if (*found) return "";
    found = type_name_sql(t->valuestring);
  }
  return found;
}

static int jsonschema_columns(const codec_schema *s, codec_column_fn add, void *arg, char **err) {
  const cJSON *properties = cJSON_GetObjectItemCaseSensitive(s->json, "properties");
  if (!cJSON_IsObject(properties)) {
    *err = sqlite3_mprintf("kafka: the JSON Schema has no top-level properties to make columns of "
                           "(read value, or declare columns)");
    return SQLITE_ERROR;
  }
  int rc = SQLITE_OK;
  for (const cJSON *p = properties->child; p && !rc; p = p->next) rc = add(arg, p->string, property_sql(p));
  return rc;
}

/* A copy of the payload when it is JSON text. */
static int json_copy(const void *data, size_t len, char **out) {
  cJSON *parsed = cJSON_ParseWithLength(data, len);
  if (!parsed) return SQLITE_ERROR;
  cJSON_Delete(parsed);
  *out = sqlite3_malloc64(len + 1);
  if (!*out) return SQLITE_NOMEM;
  memcpy(*out, data, len);
  (*out)[len] = 0;
  return SQLITE_OK;
}

static int jsonschema_decode(const codec_schema *writer, const void *data, size_t len, char **json,
                             char **why) {
  (void)writer;
  int rc = memchr(data, 0, len) ? SQLITE_ERROR : json_copy(data, len, json);
  if (rc == SQLITE_ERROR) *why = sqlite3_mprintf("the payload is not JSON text");
  return rc;
}

/* Non-zero when a property's type is boolean (alone or with null). */
static int is_boolean_property(const cJSON *property) {
  const char *sql = property_sql(property);
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(property, "type");
  if (cJSON_IsString(type)) return !strcmp(type->valuestring, "boolean");
  const cJSON *t;
  cJSON_ArrayForEach(t, type) if (cJSON_IsString(t) && !strcmp(t->valuestring, "boolean")) return *sql != 0;
  return 0;
}

/* A boolean property's INTEGER column composes 0 or 1: the JSON gets
** false or true, as the schema (and its validating readers) want.
** Returns non-zero when it changed something (the text is printed anew). */
static int booleans_from_integers(const codec_schema *s, cJSON *root) {
  const cJSON *properties = cJSON_GetObjectItemCaseSensitive(s->json, "properties");
  int changed = 0;
  for (cJSON *v = cJSON_IsObject(root) && cJSON_IsObject(properties) ? root->child : NULL; v; v = v->next) {
    const cJSON *property = cJSON_GetObjectItemCaseSensitive(properties, v->string);
    if (!cJSON_IsNumber(v) || (v->valuedouble != 0 && v->valuedouble != 1) || !is_boolean_property(property))
      continue;
    v->type = v->valuedouble ? cJSON_True : cJSON_False;
    changed = 1;
  }
  return changed;
}

/* ----------------------------------------------------------- validate -- */

typedef codec_path value_path;

/* Sets *err to "kafka: JSON Schema field 'a.b': <why>". */
#define field_error(err, p, ...) codec_field_error(err, "JSON Schema", p, __VA_ARGS__)

static int validate(const cJSON *root, const cJSON *schema, const cJSON *v, const value_path *p, int depth,
                    char **err);

static const cJSON *keyword(const cJSON *schema, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(schema, name);
}

/* The schema a local $ref ("#", "#/definitions/x", "#/$defs/x", any JSON
** pointer into the document) names; NULL for one elsewhere (not checked). */
static const cJSON *resolve_ref(const cJSON *root, const char *ref) {
  if (ref[0] != '#') return NULL;
  const cJSON *node = root;
  for (const char *p = ref + 1; *p == '/' && node;) {
    char name[256];
    size_t n = 0;
    for (p++; *p && *p != '/' && n + 1 < sizeof name; p++)
      name[n++] = *p == '~' && p[1] == '1' ? (p++, '/') : *p == '~' && p[1] == '0' ? (p++, '~') : *p;
    name[n] = 0;
    node = cJSON_IsArray(node) ? cJSON_GetArrayItem(node, atoi(name)) : keyword(node, name);
  }
  return node;
}

/* Non-zero when v is of JSON Schema type name (an integer is a number
** with no fraction, 1.0 included, as from draft 6 on). */
static int of_type(const cJSON *v, const char *name) {
  if (!strcmp(name, "null")) return cJSON_IsNull(v);
  if (!strcmp(name, "boolean")) return cJSON_IsBool(v);
  if (!strcmp(name, "object")) return cJSON_IsObject(v);
  if (!strcmp(name, "array")) return cJSON_IsArray(v);
  if (!strcmp(name, "string")) return cJSON_IsString(v);
  if (!strcmp(name, "number")) return cJSON_IsNumber(v) || cJSON_IsRaw(v);
  if (!strcmp(name, "integer")) return cJSON_IsRaw(v) || (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble));
  return 1; /* an unknown type name constrains nothing here */
}

static int check_type(const cJSON *type, const cJSON *v, const value_path *p, char **err) {
  if (cJSON_IsString(type) && of_type(v, type->valuestring)) return SQLITE_OK;
  const cJSON *t;
  cJSON_ArrayForEach(t, type) if (cJSON_IsString(t) && of_type(v, t->valuestring)) return SQLITE_OK;
  if (!cJSON_IsString(type) && !cJSON_IsArray(type)) return SQLITE_OK;
  char *names = cJSON_PrintUnformatted(type);
  int integer = cJSON_IsNumber(v) && v->valuedouble != floor(v->valuedouble);
  int rc = field_error(err, p, "expected %s, got %s", names ? names : "its type",
                       integer ? "a fraction" : codec_json_kind(v));
  cJSON_free(names);
  return rc;
}

/* The numeric bounds: minimum, maximum, exclusive ones (draft 4's
** booleans and later drafts' numbers), multipleOf; and a number no
** double holds (1e400) is refused, as by the serializers' parsers. An
** integer past 2^53 (a raw node) compares as a long double, exactly
** against a bound a double holds. */
static int check_number(const cJSON *schema, const cJSON *v, const value_path *p, char **err) {
  char text[32], bound[32];
  const char *shown = codec_number_text(v, text, sizeof text);
  long double d = cJSON_IsRaw(v) ? strtold(v->valuestring, NULL) : v->valuedouble;
  if (!isfinite(d)) return field_error(err, p, "%s is out of range for a number", shown);
  const cJSON *min = keyword(schema, "minimum"), *max = keyword(schema, "maximum");
  const cJSON *xmin = keyword(schema, "exclusiveMinimum"), *xmax = keyword(schema, "exclusiveMaximum");
  const cJSON *multiple = keyword(schema, "multipleOf");
  if (cJSON_IsNumber(min) && (d < min->valuedouble || (cJSON_IsTrue(xmin) && d == min->valuedouble)))
    return field_error(err, p, "%s is less than the %sminimum %s", shown, cJSON_IsTrue(xmin) ? "exclusive " : "", codec_number_text(min, bound, sizeof bound));
  if (cJSON_IsNumber(max) && (d > max->valuedouble || (cJSON_IsTrue(xmax) && d == max->valuedouble)))
    return field_error(err, p, "%s is more than the %smaximum %s", shown, cJSON_IsTrue(xmax) ? "exclusive " : "", codec_number_text(max, bound, sizeof bound));
  if (cJSON_IsNumber(xmin) && d <= xmin->valuedouble)
    return field_error(err, p, "%s is not more than the exclusiveMinimum %s", shown, codec_number_text(xmin, bound, sizeof bound));
  if (cJSON_IsNumber(xmax) && d >= xmax->valuedouble)
    return field_error(err, p, "%s is not less than the exclusiveMaximum %s", shown, codec_number_text(xmax, bound, sizeof bound));
  if (cJSON_IsNumber(multiple) && multiple->valuedouble > 0) {
    double q = (double)(d / multiple->valuedouble);
    if (!isfinite(q) || fabs(q - nearbyint(q)) > 1e-9 * fmax(1, fabs(q)))
      return field_error(err, p, "%s is not a multiple of %s", shown, codec_number_text(multiple, bound, sizeof bound));
  }
  return SQLITE_OK;
}

/* Non-zero when text matches the pattern (POSIX extended syntax, which
** most patterns share with ECMA 262's); -1 when it is not one POSIX reads
** (then not checked). */
static int matches(const char *pattern, const char *text) {
  regex_t re;
  if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB)) return -1;
  int found = regexec(&re, text, 0, NULL, 0) == 0;
  regfree(&re);
  return found;
}

static size_t code_points(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

static int check_string(const cJSON *schema, const cJSON *v, const value_path *p, char **err) {
  const cJSON *min = keyword(schema, "minLength"), *max = keyword(schema, "maxLength");
  const cJSON *pattern = keyword(schema, "pattern");
  size_t n = code_points(v->valuestring);
  if (cJSON_IsNumber(min) && (double)n < min->valuedouble)
    return field_error(err, p, "'%s' is shorter than minLength %g", v->valuestring, min->valuedouble);
  if (cJSON_IsNumber(max) && (double)n > max->valuedouble)
    return field_error(err, p, "'%s' is longer than maxLength %g", v->valuestring, max->valuedouble);
  if (cJSON_IsString(pattern) && !matches(pattern->valuestring, v->valuestring))
    return field_error(err, p, "'%s' does not match the pattern %s", v->valuestring, pattern->valuestring);
  return SQLITE_OK;
}

static int check_array(const cJSON *root, const cJSON *schema, const cJSON *v, const value_path *p, int depth,
                       char **err) {
  const cJSON *items = keyword(schema, "items"), *min = keyword(schema, "minItems"), *max = keyword(schema, "maxItems");
  int n = cJSON_GetArraySize(v);
  if (cJSON_IsNumber(min) && n < min->valuedouble)
    return field_error(err, p, "%d items, fewer than minItems %g", n, min->valuedouble);
  if (cJSON_IsNumber(max) && n > max->valuedouble)
    return field_error(err, p, "%d items, more than maxItems %g", n, max->valuedouble);
  size_t i = 0;
  for (const cJSON *item = v->child; item; item = item->next, i++) {
    value_path at = {p, NULL, i};
    const cJSON *item_schema = cJSON_IsArray(items) ? cJSON_GetArrayItem(items, (int)i) : items;
    if (!item_schema && cJSON_IsArray(items)) item_schema = keyword(schema, "additionalItems");
    int rc = item_schema ? validate(root, item_schema, item, &at, depth + 1, err) : SQLITE_OK;
    if (rc) return rc;
    if (cJSON_IsTrue(keyword(schema, "uniqueItems")))
      for (const cJSON *other = item->next; other; other = other->next)
        if (cJSON_Compare(item, other, 1)) return field_error(err, &at, "repeated, and the schema wants unique items");
  }
  return SQLITE_OK;
}

/* The schema a property's value must meet: its own, one whose pattern
** its name matches, else additionalProperties (NULL: any value). *known
** says whether the name is the schema's at all. */
static const cJSON *property_schema(const cJSON *schema, const char *name, int *known) {
  const cJSON *own = keyword(keyword(schema, "properties"), name), *pattern;
  *known = own != NULL;
  if (own) return own;
  cJSON_ArrayForEach(pattern, keyword(schema, "patternProperties")) {
    if (matches(pattern->string, name) != 1) continue;
    *known = 1;
    return pattern;
  }
  return keyword(schema, "additionalProperties");
}

static int check_object(const cJSON *root, const cJSON *schema, const cJSON *v, const value_path *p, int depth,
                        char **err) {
  const cJSON *required = keyword(schema, "required"), *name;
  cJSON_ArrayForEach(name, required) {
    if (!cJSON_IsString(name) || cJSON_GetObjectItemCaseSensitive(v, name->valuestring)) continue;
    value_path at = {p, name->valuestring, 0};
    return field_error(err, &at, "missing, and the schema requires it");
  }
  const cJSON *min = keyword(schema, "minProperties"), *max = keyword(schema, "maxProperties");
  int n = cJSON_GetArraySize(v);
  if (cJSON_IsNumber(min) && n < min->valuedouble)
    return field_error(err, p, "%d properties, fewer than minProperties %g", n, min->valuedouble);
  if (cJSON_IsNumber(max) && n > max->valuedouble)
    return field_error(err, p, "%d properties, more than maxProperties %g", n, max->valuedouble);
  for (const cJSON *item = v->child; item; item = item->next) {
    value_path at = {p, item->string, 0};
    int known;
    const cJSON *sub = property_schema(schema, item->string, &known);
    if (cJSON_IsFalse(sub) && !known) return field_error(err, &at, "not a property of the schema");
    int rc = sub ? validate(root, sub, item, &at, depth + 1, err) : SQLITE_OK;
    if (rc) return rc;
  }
  return SQLITE_OK;
}

/* Non-zero when a refusal names a field below the one at p. */
static int below(const char *refusal, const value_path *p) {
  char *own = NULL;
  if (refusal) field_error(&own, p, "%s", "");
  if (!own) return 0;
  /* own is "kafka: JSON Schema field 'a.b': " (or "... value: " at the top) */
  size_t n = p ? strlen(own) - 3 : strlen("kafka: JSON Schema field '");
  int deeper = !strncmp(refusal, own, n) && (!p || refusal[n] == '.' || refusal[n] == '[');
  sqlite3_free(own);
  return deeper;
}

/* allOf, anyOf, oneOf and not: how many of the listed schemas v meets. */
static int check_combined(const cJSON *root, const cJSON *schema, const cJSON *v, const value_path *p, int depth,
                          char **err) {
  const cJSON *sub;
  cJSON_ArrayForEach(sub, keyword(schema, "allOf")) {
    int rc = validate(root, sub, v, p, depth + 1, err);
    if (rc) return rc;
  }
  static const char *const counted[] = {"anyOf", "oneOf"};
  for (int k = 0; k < 2; k++) {
    const cJSON *list = keyword(schema, counted[k]);
    if (!cJSON_IsArray(list)) continue;
    int met = 0;
    char *deepest = NULL; /* the refusal of the schema v went furthest into */
    cJSON_ArrayForEach(sub, list) {
      char *sub_err = NULL;
      if (validate(root, sub, v, p, depth + 1, &sub_err) == SQLITE_OK) met++;
      else if (sub_err && (!deepest || strlen(sub_err) > strlen(deepest))) sqlite3_free(deepest), deepest = sub_err, sub_err = NULL;
      sqlite3_free(sub_err);
    }
    int rc = SQLITE_OK;
    if (!met && below(deepest, p)) { /* a schema took v's kind and refused something in it: that says why */
      sqlite3_free(*err);
      *err = deepest, deepest = NULL;
      rc = SQLITE_ERROR;
    } else if (!met) {
      rc = field_error(err, p, "%s fits none of the %s schemas", codec_json_kind(v), counted[k]);
    } else if (k == 1 && met > 1) {
      rc = field_error(err, p, "%s fits %d of the oneOf schemas, not one", codec_json_kind(v), met);
    }
    sqlite3_free(deepest);
    if (rc) return rc;
  }
  char *ignored = NULL;
  sub = keyword(schema, "not");
  int fits = sub && validate(root, sub, v, p, depth + 1, &ignored) == SQLITE_OK;
  sqlite3_free(ignored);
  return fits ? field_error(err, p, "%s fits the schema under not", codec_json_kind(v)) : SQLITE_OK;
}

/* Checks value v against schema; SQLITE_ERROR with *err naming the
** field and why. */
static int validate(const cJSON *root, const cJSON *schema, const cJSON *v, const value_path *p, int depth,
                    char **err) {
  /* Deeper than any value cJSON parses (CJSON_NESTING_LIMIT, 1000): a
  ** $ref that refers back to itself without a value to descend into. */
  if (depth > 1100) return SQLITE_OK;
  if (cJSON_IsFalse(schema)) return field_error(err, p, "the schema allows no value here");
  if (!cJSON_IsObject(schema)) return SQLITE_OK;
  const cJSON *ref = keyword(schema, "$ref");
  if (cJSON_IsString(ref)) {
    const cJSON *target = resolve_ref(root, ref->valuestring);
    if (target) return validate(root, target, v, p, depth + 1, err);
  }
  const cJSON *enums = keyword(schema, "enum"), *constant = keyword(schema, "const"), *e;
  int rc = check_type(keyword(schema, "type"), v, p, err);
  if (!rc && constant && !cJSON_Compare(constant, v, 1)) rc = field_error(err, p, "not the schema's const value");
  if (!rc && cJSON_IsArray(enums)) {
    int found = 0;
    cJSON_ArrayForEach(e, enums) found |= cJSON_Compare(e, v, 1);
    if (!found) {
      char *shown = cJSON_PrintUnformatted(v);
      rc = field_error(err, p, "%s is not one of the schema's enum values", shown ? shown : "the value");
      cJSON_free(shown);
    }
  }
  if (!rc && (cJSON_IsNumber(v) || cJSON_IsRaw(v))) rc = check_number(schema, v, p, err);
  if (!rc && cJSON_IsString(v)) rc = check_string(schema, v, p, err);
  if (!rc && cJSON_IsArray(v)) rc = check_array(root, schema, v, p, depth, err);
  if (!rc && cJSON_IsObject(v)) rc = check_object(root, schema, v, p, depth, err);
  if (!rc) rc = check_combined(root, schema, v, p, depth, err);
  return rc;
}

static int jsonschema_encode(const codec_schema *schema, const char *json, size_t len, void **out,
                             size_t *out_len, char **err) {
  /* JSON is UTF-8: every reader would fail on other bytes. */
  if (!utf8_valid((const unsigned char *)json, len)) return field_error(err, NULL, "the JSON text is not UTF-8");
  cJSON *root = cJSON_ParseWithLength(json, len);
  const char *scan = json;
  if (!root) {
    *err = sqlite3_mprintf("kafka: the value to write as JSON Schema JSON is not JSON");
    return SQLITE_ERROR;
  }
  if (codec_keep_big_integers(root, &scan, json + len)) {
    cJSON_Delete(root);
    return SQLITE_NOMEM;
  }
  int changed = booleans_from_integers(schema, root);
  char *printed = changed ? cJSON_PrintUnformatted(root) : NULL;
  int rc = changed && !printed ? SQLITE_NOMEM : validate(schema->json, schema->json, root, NULL, 0, err);
  if (printed) {
    json = printed;
    len = strlen(printed);
  }
  char *copy = rc ? NULL : sqlite3_malloc64(len + 1);
  if (!rc && !copy) rc = SQLITE_NOMEM;
  if (!rc) {
    memcpy(copy, json, len);
    copy[len] = 0;
    *out = copy;
    *out_len = len;
  }
  cJSON_free(printed);
  cJSON_Delete(root);
  return rc;
}

const codec jsonschema_codec = {
    .name = "jsonschema",
    .registry_type = "JSON",
    .parse = jsonschema_parse,
    .release = jsonschema_release,
    .columns = jsonschema_columns,
    .decode = jsonschema_decode,
    .encode = jsonschema_encode,
};
