/* trioaudit._native._core: the compiled core's CPython binding.
 *
 * parse_line(line: bytes) -> AuditRecord | None
 *     What trioaudit._records.parse.parse_log_line(line) returns, built in C -- or
 *     None when the line is anything but the common form (records.h: "declines"),
 *     and the caller then runs the reference Python code on it. So the result is
 *     always the reference's; tests/unit/test_native.py holds it to that.
 *
 * configure(...) hands over the Python objects the records are made of (the
 * AuditRecord class, the type-name table, the enrichment factory); the Python side
 * (trioaudit/_native/__init__.py) calls it once at import.
 *
 * AuditRecord is a frozen slotted dataclass: its slots are written through the
 * member descriptors' offsets (what object.__setattr__ would do, without the
 * per-field call), checked at configure time to be plain object slots.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <string.h>

#include "records.h"

/* ---- configuration ---------------------------------------------------------------- */

static PyTypeObject *record_class;
static PyObject *log_numbers;    /* dict: type name -> number */
static PyObject *enrichment_for; /* callable(extra: str) -> Mapping */
static PyObject *no_enrichment;  /* the shared empty mapping */
static long avc_type, user_avc_type;
static Py_ssize_t max_record_length;
static long long max_timestamp;

enum { F_TYPE, F_TYPE_NAME, F_TIMESTAMP, F_SEQUENCE, F_NODE, F_RAW, F_ITEMS, F_ENRICHED, F_CACHE, F_COUNT };
static const char *const field_names[F_COUNT] = {
    "type", "type_name", "timestamp", "sequence", "node", "raw", "items", "enriched", "_cache",
};
static Py_ssize_t field_offsets[F_COUNT];

static ta_items scratch; /* reused between calls (the GIL serialises them) */

/* ---- a bounded cache of short ASCII strings and pairs ------------------------------ */

#define CACHE_SLOTS 8192
#define CACHE_MAX_KEY 96

typedef struct {
    size_t len;
    char key[CACHE_MAX_KEY];
    PyObject *value;
} cache_slot;

static cache_slot *str_cache, *pair_cache;

static uint64_t fnv1a(const char *p, size_t k)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < k; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int is_ascii(const char *p, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if ((unsigned char)p[i] >= 0x80)
            return 0;
    return 1;
}

/* The slot a key maps to (NULL: not cacheable). */
static cache_slot *slot_for(cache_slot *cache, const char *key, size_t k)
{
    if (!cache || k > CACHE_MAX_KEY)
        return NULL;
    return &cache[fnv1a(key, k) & (CACHE_SLOTS - 1)];
}

static PyObject *slot_get(cache_slot *slot, const char *key, size_t k)
{
    if (slot && slot->value && slot->len == k && memcmp(slot->key, key, k) == 0) {
        Py_INCREF(slot->value);
        return slot->value;
    }
    return NULL;
}

static void slot_put(cache_slot *slot, const char *key, size_t k, PyObject *value)
{
    if (!slot)
        return;
    Py_XDECREF(slot->value);
    memcpy(slot->key, key, k);
    slot->len = k;
    Py_INCREF(value);
    slot->value = value;
}

static PyObject *decode(const char *p, size_t k)
{
    return PyUnicode_DecodeUTF8(p, (Py_ssize_t)k, "surrogateescape");
}

static PyObject *short_str(const char *p, size_t k)
{
    cache_slot *slot = is_ascii(p, k) ? slot_for(str_cache, p, k) : NULL;
    PyObject *s = slot_get(slot, p, k);
    if (s)
        return s;
    s = decode(p, k);
    if (s && slot)
        slot_put(slot, p, k, s);
    return s;
}

/* The (name, value) tuple of one item; cached when short and ASCII. */
static PyObject *pair_of(const ta_items *it, const ta_item *item)
{
    const char *name = it->buf + item->name_off;
    const char *value = it->buf + item->value_off;
    char key[CACHE_MAX_KEY];
    size_t k = item->name_len + 1 + item->value_len;
    cache_slot *slot = NULL;
    if (k <= CACHE_MAX_KEY && is_ascii(name, item->name_len) && is_ascii(value, item->value_len)) {
        memcpy(key, name, item->name_len);
        key[item->name_len] = '=';
        memcpy(key + item->name_len + 1, value, item->value_len);
        slot = slot_for(pair_cache, key, k);
        PyObject *hit = slot_get(slot, key, k);
        if (hit)
            return hit;
    }
    PyObject *n = short_str(name, item->name_len);
    if (!n)
        return NULL;
    PyObject *v = item->value_len <= 32 ? short_str(value, item->value_len)
                                         : decode(value, item->value_len);
    if (!v) {
        Py_DECREF(n);
        return NULL;
    }
    PyObject *pair = PyTuple_Pack(2, n, v);
    Py_DECREF(n);
    Py_DECREF(v);
    if (pair && slot)
        slot_put(slot, key, k, pair);
    return pair;
}

/* ---- parse_line ------------------------------------------------------------------- */

static void set_slot(PyObject *obj, int field, PyObject *value) /* steals value */
{
    PyObject **where = (PyObject **)((char *)obj + field_offsets[field]);
    PyObject *old = *where;
    *where = value;
    Py_XDECREF(old);
}

static PyObject *make_record(long number, PyObject *name, double timestamp, PyObject *sequence,
                             PyObject *node, PyObject *raw, PyObject *items, PyObject *enriched)
{
    PyObject *cache = PyDict_New();
    if (!cache)
        return NULL;
    PyObject *obj = record_class->tp_alloc(record_class, 0);
    if (!obj) {
        Py_DECREF(cache);
        return NULL;
    }
    PyObject *type = PyLong_FromLong(number);
    PyObject *stamp = PyFloat_FromDouble(timestamp);
    if (!type || !stamp) {
        Py_XDECREF(type);
        Py_XDECREF(stamp);
        Py_DECREF(cache);
        Py_DECREF(obj);
        return NULL;
    }
    set_slot(obj, F_TYPE, type);
    Py_INCREF(name);
    set_slot(obj, F_TYPE_NAME, name);
    set_slot(obj, F_TIMESTAMP, stamp);
    Py_INCREF(sequence);
    set_slot(obj, F_SEQUENCE, sequence);
    Py_INCREF(node);
    set_slot(obj, F_NODE, node);
    Py_INCREF(raw);
    set_slot(obj, F_RAW, raw);
    Py_INCREF(items);
    set_slot(obj, F_ITEMS, items);
    Py_INCREF(enriched);
    set_slot(obj, F_ENRICHED, enriched);
    set_slot(obj, F_CACHE, cache);
    return obj;
}

static PyObject *items_tuple(const ta_items *it)
{
    PyObject *tuple = PyTuple_New((Py_ssize_t)it->count);
    if (!tuple)
        return NULL;
    for (size_t i = 0; i < it->count; i++) {
        PyObject *pair = pair_of(it, &it->items[i]);
        if (!pair) {
            Py_DECREF(tuple);
            return NULL;
        }
        PyTuple_SET_ITEM(tuple, (Py_ssize_t)i, pair);
    }
    return tuple;
}

static PyObject *build_record(const char *s, size_t n, const ta_header *hp, PyObject *kernel_name,
                              long kernel_type, PyObject *raw_text, PyObject *kernel_node);

/* Parse one stripped line; Py_None (new reference) to decline, NULL on error. */
static PyObject *parse_stripped(const char *s, size_t n)
{
    ta_header h;
    if ((Py_ssize_t)n > max_record_length || ta_parse_header(s, n, &h) != TA_OK)
        Py_RETURN_NONE;
    return build_record(s, n, &h, NULL, 0, NULL, NULL);
}

/* The record of a parsed header: from a log line (kernel_name NULL: the type is named in
 * the line) or from a netlink record (its type's number and name given, raw_text the
 * payload as a str, kernel_node the node to attach). */
static PyObject *build_record(const char *s, size_t n, const ta_header *hp, PyObject *kernel_name,
                              long kernel_type, PyObject *raw_text, PyObject *kernel_node)
{
    ta_header h = *hp;
    if (h.sec.len > 12 || h.serial.len > 20)
        Py_RETURN_NONE; /* out of range: the reference raises its own error */
    long long sec = 0;
    for (size_t i = 0; i < h.sec.len; i++)
        sec = sec * 10 + (s[h.sec.start + i] - '0');
    if (sec > max_timestamp)
        Py_RETURN_NONE;
    long ms = 0;
    for (size_t i = 0; i < 3; i++)
        ms = ms * 10 + (i < h.ms.len ? s[h.ms.start + i] - '0' : 0);

    PyObject *name;
    long number;
    if (kernel_name) {
        name = Py_NewRef(kernel_name);
        number = kernel_type;
    } else {
        name = short_str(s + h.type.start, h.type.len);
        if (!name)
            return NULL;
        PyObject *number_obj = PyDict_GetItemWithError(log_numbers, name); /* borrowed */
        if (!number_obj) {
            Py_DECREF(name);
            if (PyErr_Occurred())
                return NULL;
            Py_RETURN_NONE; /* numbers, UNKNOWN[n], names we lack: the reference names them */
        }
        number = PyLong_AsLong(number_obj);
        if (number == -1 && PyErr_Occurred()) {
            Py_DECREF(name);
            return NULL;
        }
    }

    PyObject *sequence;
    if (h.serial.len <= 19) {
        unsigned long long serial = 0; /* below 10**19 < 2**64: no overflow */
        for (size_t i = 0; i < h.serial.len; i++)
            serial = serial * 10 + (unsigned long long)(s[h.serial.start + i] - '0');
        sequence = PyLong_FromUnsignedLongLong(serial);
    } else {
        char digits[24];
        memcpy(digits, s + h.serial.start, h.serial.len);
        digits[h.serial.len] = '\0';
        sequence = PyLong_FromString(digits, NULL, 10);
    }
    PyObject *node = kernel_name ? Py_NewRef(kernel_node)
                     : h.has_node ? short_str(s + h.node.start, h.node.len)
                                  : Py_NewRef(Py_None);
    PyObject *raw = raw_text ? Py_NewRef(raw_text) : decode(s, n);
    PyObject *items = NULL, *enriched = NULL, *record = NULL;
    if (!sequence || !node || !raw)
        goto done;

    const char *rest = s + h.end;
    size_t rest_len = n - h.end;
    const char *sep = memchr(rest, 0x1d, rest_len);
    size_t body_len = sep ? (size_t)(sep - rest) : rest_len;
    if (sep) {
        PyObject *extra = decode(sep + 1, rest_len - body_len - 1);
        if (!extra)
            goto done;
        enriched = PyObject_CallOneArg(enrichment_for, extra);
        Py_DECREF(extra);
        if (!enriched)
            goto done;
    } else {
        enriched = Py_NewRef(no_enrichment);
    }
    if (body_len) {
        int rc = ta_split_fields(rest, body_len, number == avc_type || number == user_avc_type,
                                 &scratch);
        if (rc != TA_OK) {
            PyErr_NoMemory();
            goto done;
        }
        items = items_tuple(&scratch);
    } else {
        items = PyTuple_New(0);
    }
    if (!items)
        goto done;
    record = make_record(number, name, (double)sec + (double)ms / 1000.0, sequence, node, raw,
                         items, enriched);
done:
    Py_DECREF(name);
    Py_XDECREF(sequence);
    Py_XDECREF(node);
    Py_XDECREF(raw);
    Py_XDECREF(items);
    Py_XDECREF(enriched);
    return record;
}

static int strippable(char c)
{
    return c == '\r' || c == '\n' || c == '\0';
}

static PyObject *parse_line(PyObject *self, PyObject *line)
{
    (void)self;
    if (!record_class) {
        PyErr_SetString(PyExc_RuntimeError, "trioaudit._native._core is not configured");
        return NULL;
    }
    if (!PyBytes_Check(line))
        Py_RETURN_NONE; /* str lines: the reference */
    const char *s = PyBytes_AS_STRING(line);
    size_t n = (size_t)PyBytes_GET_SIZE(line);
    while (n && strippable(s[n - 1]))
        n--;
    return parse_stripped(s, n);
}

/* parse_kernel(type, name, text, node) -> AuditRecord | None:
 * parse_kernel_record(type, text, node=node) for a payload already decoded to str. */
static PyObject *parse_kernel(PyObject *self, PyObject *args)
{
    (void)self;
    long type;
    PyObject *name, *text, *node;
    if (!PyArg_ParseTuple(args, "lUUO", &type, &name, &text, &node))
        return NULL;
    if (!record_class) {
        PyErr_SetString(PyExc_RuntimeError, "trioaudit._native._core is not configured");
        return NULL;
    }
    Py_ssize_t size;
    const char *s = PyUnicode_AsUTF8AndSize(text, &size);
    if (!s) {
        PyErr_Clear(); /* lone surrogates: not UTF-8, the reference's business */
        Py_RETURN_NONE;
    }
    size_t n = (size_t)size;
    while (n && (s[n - 1] == '\0' || s[n - 1] == '\n')) /* rstrip("\x00\n") */
        n--;
    ta_header h;
    memset(&h, 0, sizeof(h));
    if ((Py_ssize_t)n > max_record_length || ta_parse_stamp(s, n, &h) != TA_OK)
        Py_RETURN_NONE;
    PyObject *raw = (Py_ssize_t)n == size ? Py_NewRef(text) : decode(s, n);
    if (!raw)
        return NULL;
    PyObject *record = build_record(s, n, &h, name, type, raw, node);
    Py_DECREF(raw);
    return record;
}

static PyObject *parse_lines(PyObject *self, PyObject *lines)
{
    PyObject *seq = PySequence_Fast(lines, "parse_lines() takes a sequence of bytes");
    if (!seq)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(count);
    if (!out) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *record = parse_line(self, PySequence_Fast_GET_ITEM(seq, i));
        if (!record) {
            Py_DECREF(out);
            Py_DECREF(seq);
            return NULL;
        }
        PyList_SET_ITEM(out, i, record);
    }
    Py_DECREF(seq);
    return out;
}

/* split_fields(body: bytes, avc: bool) -> list[tuple[str, str]]: for the tests. */
static PyObject *split_fields(PyObject *self, PyObject *args)
{
    (void)self;
    const char *body;
    Py_ssize_t n;
    int avc;
    if (!PyArg_ParseTuple(args, "y#p", &body, &n, &avc))
        return NULL;
    ta_items it;
    ta_items_init(&it);
    if (ta_split_fields(body, (size_t)n, avc, &it) != TA_OK) {
        ta_items_free(&it);
        return PyErr_NoMemory();
    }
    PyObject *tuple = items_tuple(&it);
    ta_items_free(&it);
    if (!tuple)
        return NULL;
    PyObject *list = PySequence_List(tuple);
    Py_DECREF(tuple);
    return list;
}

/* ---- fields_json: Interpreter.fields_json's JSON pipeline ------------------------- */

/* A JSON string literal of ASCII text with nothing below 0x20 ('"' and '\\' escaped),
 * appended to buf; 0 when the text is anything else (the reference renders it). */
static int json_ascii(PyObject *text, char **buf, size_t *len, size_t *cap)
{
    if (!PyUnicode_IS_ASCII(text))
        return 0;
    const unsigned char *p = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t k = PyUnicode_GET_LENGTH(text);
    if ((size_t)k > (SIZE_MAX - 8) / 2 - *len)
        return 0;
    size_t need = *len + 2 * (size_t)k + 2;
    if (need > *cap) {
        size_t grown = *cap ? *cap : 256;
        while (grown < need)
            grown *= 2;
        char *b = PyMem_Realloc(*buf, grown);
        if (!b)
            return -1;
        *buf = b;
        *cap = grown;
    }
    char *out = *buf + *len;
    *out++ = '"';
    for (Py_ssize_t i = 0; i < k; i++) {
        unsigned char c = p[i];
        if (c < 0x20)
            return 0;
        if (c == '"' || c == '\\')
            *out++ = '\\';
        *out++ = (char)c;
    }
    *out++ = '"';
    *len = (size_t)(out - *buf);
    return 1;
}

/* The fragment "name":"value" of a VERBATIM field, or NULL with no error to decline. */
static PyObject *verbatim_fragment(PyObject *name, PyObject *value)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    PyObject *out = NULL;
    int ok = json_ascii(name, &buf, &len, &cap);
    if (ok > 0) {
        if (len + 1 > cap) {
            char *b = PyMem_Realloc(buf, cap + 16);
            ok = b ? 1 : -1;
            if (b) {
                buf = b;
                cap += 16;
            }
        }
        if (ok > 0) {
            buf[len++] = ':';
            ok = json_ascii(value, &buf, &len, &cap);
        }
    }
    if (ok > 0)
        out = PyUnicode_DecodeASCII(buf, (Py_ssize_t)len, NULL);
    else if (ok < 0)
        PyErr_NoMemory();
    PyMem_Free(buf);
    return out;
}

/* How fields of this name in records of this type print (memoised in
 * kinds[rtype][name] from the Python answer, Interpreter._native_kind): KIND_OTHER,
 * KIND_VERBATIM, or KIND_ARG + i for syscall argument i. -1 on error. */
enum { KIND_OTHER = 0, KIND_VERBATIM = 1, KIND_SYSCALL = 2, KIND_ARG = 10 };

static long field_kind(PyObject *kinds, PyObject *rtype, PyObject *name, PyObject *ask)
{
    PyObject *names = PyDict_GetItemWithError(kinds, rtype);
    if (!names) {
        if (PyErr_Occurred())
            return -1;
        names = PyDict_New();
        if (!names || PyDict_SetItem(kinds, rtype, names) < 0) {
            Py_XDECREF(names);
            return -1;
        }
        Py_DECREF(names); /* the dict holds it */
    }
    PyObject *answer = PyDict_GetItemWithError(names, name);
    if (!answer) {
        if (PyErr_Occurred())
            return -1;
        answer = PyObject_CallFunctionObjArgs(ask, rtype, name, NULL);
        if (!answer)
            return -1;
        int stored = PyDict_SetItem(names, name, answer);
        Py_DECREF(answer);
        if (stored < 0)
            return -1;
    }
    return PyLong_AsLong(answer);
}

/* "aN":"0x<value>" -- the generic argument printer (printers._hex), or NULL with no
 * error to decline. */
static PyObject *hex_argument_fragment(PyObject *name, PyObject *value)
{
    if (!PyUnicode_IS_ASCII(value))
        return NULL;
    PyObject *text = PyUnicode_FromFormat("0x%U", value);
    if (!text)
        return NULL;
    PyObject *fragment = verbatim_fragment(name, text);
    Py_DECREF(text);
    return fragment;
}

/* What the record's call decides, memoised in sites under the items the call is read
 * from (Interpreter._call_site's key), from the Python answer: a borrowed
 * (mask, syscall) tuple -- mask: which of a0..a3 print with the generic hex printer;
 * syscall: the finished fragment of the syscall= field at index 1, or None when it
 * cannot be shared (socketcall/ipc read a0). NULL on error. */
static PyObject *call_site(PyObject *sites, PyObject *record, PyObject *items, PyObject *ask)
{
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    PyObject *parts[4];
    for (int i = 0; i < 4; i++)
        parts[i] = Py_None;
    if (n > 0)
        parts[0] = PyTuple_GET_ITEM(items, 0);
    if (n > 1)
        parts[1] = PyTuple_GET_ITEM(items, 1);
    if (n > 9 && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(PyTuple_GET_ITEM(items, 9), 0), "arch") == 0)
        parts[2] = PyTuple_GET_ITEM(items, 9);
    if (n > 10 && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(PyTuple_GET_ITEM(items, 10), 0), "syscall") == 0)
        parts[3] = PyTuple_GET_ITEM(items, 10);
    PyObject *key = PyTuple_Pack(4, parts[0], parts[1], parts[2], parts[3]);
    if (!key)
        return NULL;
    PyObject *site = PyDict_GetItemWithError(sites, key);
    if (!site && !PyErr_Occurred()) {
        site = PyObject_CallOneArg(ask, record);
        if (site && (!PyTuple_CheckExact(site) || PyTuple_GET_SIZE(site) != 2 ||
                     !PyLong_CheckExact(PyTuple_GET_ITEM(site, 0)))) {
            PyErr_SetString(PyExc_TypeError, "call site: expected (int, str | None)");
            Py_CLEAR(site);
        }
        if (site) {
            if (PyDict_GET_SIZE(sites) >= 4096)
                PyDict_Clear(sites);
            int stored = PyDict_SetItem(sites, key, site);
            Py_DECREF(site); /* the dict holds it now */
            if (stored < 0)
                site = NULL;
        }
    }
    Py_DECREF(key);
    return site;
}

static PyObject *record_slot(PyObject *record, int field)
{
    return *(PyObject **)((char *)record + field_offsets[field]);
}

/* fields_json(record, by_type, overrides, kinds, ask_kind, sites, ask_site, fill)
 *     -> (json, repeats) | None
 *
 * Interpreter.fields_json for the memoised, escaping JSON pipeline: memo lookups,
 * auditd's translations over them, VERBATIM fields of plain ASCII finished here, and
 * fill(record, finished, cache) -- the reference's _fill -- for whatever is left. */
static PyObject *fields_json(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *record, *by_type, *overrides, *kinds, *ask_kind, *sites, *ask_site, *fill;
    if (!PyArg_ParseTuple(args, "OO!OO!OO!OO", &record, &PyDict_Type, &by_type, &overrides,
                          &PyDict_Type, &kinds, &ask_kind, &PyDict_Type, &sites, &ask_site, &fill))
        return NULL;
    PyObject *site = NULL; /* from sites; asked for at most once */
    long mask = 0;
    if (!record_class || Py_TYPE(record) != record_class)
        Py_RETURN_NONE;
    PyObject *items = record_slot(record, F_ITEMS);
    PyObject *rtype = record_slot(record, F_TYPE);
    if (!items || !rtype || !PyTuple_CheckExact(items) || PyTuple_GET_SIZE(items) > 128)
        Py_RETURN_NONE;
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    int repeats = 0;
    for (Py_ssize_t i = 0; i < n && !repeats; i++) {
        PyObject *a = PyTuple_GET_ITEM(PyTuple_GET_ITEM(items, i), 0);
        for (Py_ssize_t j = 0; j < i; j++) {
            PyObject *b = PyTuple_GET_ITEM(PyTuple_GET_ITEM(items, j), 0);
            int same = a == b ? 1 : PyUnicode_Compare(a, b) == 0;
            if (same) {
                repeats = 1;
                break;
            }
        }
    }
    if (PyErr_Occurred())
        return NULL;
    PyObject *cache = PyDict_GetItemWithError(by_type, rtype);
    if (!cache) {
        if (PyErr_Occurred())
            return NULL;
        cache = PyDict_New();
        if (!cache || PyDict_SetItem(by_type, rtype, cache) < 0) {
            Py_XDECREF(cache);
            return NULL;
        }
        Py_DECREF(cache);
    }
    Py_INCREF(cache);
    PyObject *finished = PyList_New(n);
    PyObject *result = NULL;
    if (!finished)
        goto done;
    int missing = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        PyObject *done = PyDict_GetItemWithError(cache, item);
        if (!done && PyErr_Occurred())
            goto done;
        if (overrides != Py_None) {
            PyObject *found = PyDict_GetItemWithError(overrides, PyTuple_GET_ITEM(item, 0));
            if (!found && PyErr_Occurred())
                goto done;
            if (found)
                done = found;
        }
        if (!done) {
            long kind = field_kind(kinds, rtype, PyTuple_GET_ITEM(item, 0), ask_kind);
            if (kind < 0)
                goto done;
            int call = (kind >= KIND_ARG && kind < KIND_ARG + 4) || (kind == KIND_SYSCALL && i == 1);
            if (call && !site) {
                site = call_site(sites, record, items, ask_site);
                if (!site)
                    goto done;
                Py_INCREF(site); /* a clear of sites by a later record must not free it */
                mask = PyLong_AsLong(PyTuple_GET_ITEM(site, 0));
                if (mask == -1 && PyErr_Occurred())
                    goto done;
            }
            PyObject *fragment = NULL;
            if (kind == KIND_SYSCALL && i == 1 && PyUnicode_CheckExact(PyTuple_GET_ITEM(site, 1)))
                fragment = Py_NewRef(PyTuple_GET_ITEM(site, 1));
            else if (kind == KIND_VERBATIM)
                fragment = verbatim_fragment(PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1));
            else if (kind >= KIND_ARG && kind < KIND_ARG + 4 && (mask >> (kind - KIND_ARG)) & 1)
                fragment = hex_argument_fragment(PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1));
            {
                if (!fragment && PyErr_Occurred())
                    goto done;
                if (fragment) {
                    PyList_SET_ITEM(finished, i, fragment);
                    continue;
                }
            }
            Py_INCREF(Py_None);
            PyList_SET_ITEM(finished, i, Py_None);
            missing = 1;
            continue;
        }
        Py_INCREF(done);
        PyList_SET_ITEM(finished, i, done);
    }
    if (missing) {
        PyObject *r = PyObject_CallFunctionObjArgs(fill, record, finished, cache, NULL);
        if (!r)
            goto done;
        Py_DECREF(r);
    }
    PyObject *parts = finished;
    Py_INCREF(parts);
    if (repeats) { /* the first of a repeated name wins, as in Interpreter.interpret */
        Py_DECREF(parts);
        parts = PyList_New(0);
        if (!parts)
            goto done;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *a = PyTuple_GET_ITEM(PyTuple_GET_ITEM(items, i), 0);
            int seen = 0;
            for (Py_ssize_t j = 0; j < i && !seen; j++) {
                PyObject *b = PyTuple_GET_ITEM(PyTuple_GET_ITEM(items, j), 0);
                seen = a == b || PyUnicode_Compare(a, b) == 0;
            }
            if (!seen && PyList_Append(parts, PyList_GET_ITEM(finished, i)) < 0) {
                Py_DECREF(parts);
                goto done;
            }
        }
    }
    PyObject *comma = PyUnicode_FromString(",");
    PyObject *joined = comma ? PyUnicode_Join(comma, parts) : NULL;
    Py_XDECREF(comma);
    Py_DECREF(parts);
    if (!joined)
        goto done;
    PyObject *json = PyUnicode_FromFormat("{%U}", joined);
    Py_DECREF(joined);
    if (!json)
        goto done;
    result = Py_BuildValue("(NO)", json, repeats ? Py_True : Py_False);
done:
    Py_XDECREF(site);
    Py_XDECREF(finished);
    Py_DECREF(cache);
    return result;
}

static PyObject *configure(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cls, *numbers, *factory, *empty;
    long avc, user_avc;
    Py_ssize_t max_length;
    long long max_stamp;
    if (!PyArg_ParseTuple(args, "O!O!OOllnL", &PyType_Type, &cls, &PyDict_Type, &numbers,
                          &factory, &empty, &avc, &user_avc, &max_length, &max_stamp))
        return NULL;
    for (int f = 0; f < F_COUNT; f++) {
        PyObject *descr = PyObject_GetAttrString(cls, field_names[f]);
        if (!descr)
            return NULL;
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
                 ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX;
        Py_ssize_t offset = ok ? ((PyMemberDescrObject *)descr)->d_member->offset : 0;
        Py_DECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot",
                         ((PyTypeObject *)cls)->tp_name, field_names[f]);
            return NULL;
        }
        field_offsets[f] = offset;
    }
    if (!str_cache) {
        str_cache = PyMem_Calloc(CACHE_SLOTS, sizeof(cache_slot));
        pair_cache = PyMem_Calloc(CACHE_SLOTS, sizeof(cache_slot));
        if (!str_cache || !pair_cache)
            return PyErr_NoMemory();
    }
    Py_XSETREF(record_class, (PyTypeObject *)Py_NewRef(cls));
    Py_XSETREF(log_numbers, Py_NewRef(numbers));
    Py_XSETREF(enrichment_for, Py_NewRef(factory));
    Py_XSETREF(no_enrichment, Py_NewRef(empty));
    avc_type = avc;
    user_avc_type = user_avc;
    max_record_length = max_length;
    max_timestamp = max_stamp;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS, "Hand over the objects records are made of."},
    {"parse_line", parse_line, METH_O, "parse_log_line(line) in C, or None to decline."},
    {"parse_lines", parse_lines, METH_O, "parse_line() of each line of a sequence."},
    {"parse_kernel", parse_kernel, METH_VARARGS, "parse_kernel_record() in C, or None."},
    {"split_fields", split_fields, METH_VARARGS, "The C field splitter (for the tests)."},
    {"fields_json", fields_json, METH_VARARGS, "Interpreter.fields_json in C, or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_core", "trioaudit's compiled core.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void)
{
    ta_items_init(&scratch);
    return PyModule_Create(&module);
}
