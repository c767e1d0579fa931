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

/* Parse one stripped line; Py_None (new reference) to decline, NULL on error. */
static PyObject *parse_stripped(const char *s, size_t n)
{
    ta_header h;
    if ((Py_ssize_t)n > max_record_length || ta_parse_header(s, n, &h) != TA_OK)
        Py_RETURN_NONE;
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

    PyObject *name = short_str(s + h.type.start, h.type.len);
    if (!name)
        return NULL;
    PyObject *number_obj = PyDict_GetItemWithError(log_numbers, name); /* borrowed */
    if (!number_obj) {
        Py_DECREF(name);
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE; /* numbers, UNKNOWN[n], names we lack: the reference names them */
    }
    long number = PyLong_AsLong(number_obj);
    if (number == -1 && PyErr_Occurred()) {
        Py_DECREF(name);
        return NULL;
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
    PyObject *node = h.has_node ? short_str(s + h.node.start, h.node.len) : Py_NewRef(Py_None);
    PyObject *raw = decode(s, n);
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
    {"split_fields", split_fields, METH_VARARGS, "The C field splitter (for the tests)."},
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
