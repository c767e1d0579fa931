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
#define _GNU_SOURCE /* memmem */
#include "_core.h"

#include <structmember.h>

#include <math.h>
#include <string.h>
#include <time.h>

#include "records.h"

/* ---- configuration ---------------------------------------------------------------- */

PyTypeObject *record_class;
static PyObject *log_numbers;    /* dict: type name -> number */
static PyObject *enrichment_for; /* callable(extra: str) -> Mapping */
static PyObject *no_enrichment;  /* the shared empty mapping */
static long avc_type, user_avc_type;
static Py_ssize_t max_record_length;
static long long max_timestamp;

static const char *const field_names[F_COUNT] = {
    "type", "type_name", "timestamp", "sequence", "node", "raw", "items", "enriched", "_cache",
};
Py_ssize_t field_offsets[F_COUNT];

PyTypeObject *event_class;
static const char *const event_field_names[E_COUNT] = {"sequence", "timestamp", "node", "records",
                                                       "eoe"};
Py_ssize_t event_offsets[E_COUNT];

static ta_items scratch; /* reused between calls (the GIL serialises them) */

/* ---- a bounded cache of short ASCII strings and pairs ------------------------------ */

#define CACHE_SLOTS 8192
#define CACHE_MAX_KEY 96

typedef struct {
    size_t len;      /* of key */
    size_t name_len; /* pairs: key is name '=' value, the name this long */
    char key[CACHE_MAX_KEY];
    PyObject *value;
} cache_slot;

static cache_slot *str_cache, *pair_cache;

/* A 64-bit hash of p[:k] folded into h, eight bytes at a time (a byte-at-a-time hash
 * was a fifth of the parse), and the OR of every byte in *high (bit 7 set: not ASCII).
 * The caches it indexes are direct-mapped, so colliding keys only cost a rebuild. */
static inline uint64_t hash_more(uint64_t h, const char *p, size_t k, uint64_t *high)
{
    const uint64_t m = 0xBF58476D1CE4E5B9ULL;
    uint64_t w;
    for (; k >= 8; p += 8, k -= 8) {
        memcpy(&w, p, 8);
        *high |= w;
        h = (h ^ w) * m;
        h ^= h >> 31;
    }
    if (k) { /* the last 1-7 bytes, in fixed-size loads (no memcpy call) */
        uint64_t tail = 0;
        size_t at = 0;
        if (k & 4) {
            uint32_t v;
            memcpy(&v, p, 4);
            tail = v;
            at = 4;
        }
        if (k & 2) {
            uint16_t v;
            memcpy(&v, p + at, 2);
            tail |= (uint64_t)v << (8 * at);
            at += 2;
        }
        if (k & 1)
            tail |= (uint64_t)(unsigned char)p[at] << (8 * at);
        *high |= tail;
        h = (h ^ tail ^ ((uint64_t)k << 59)) * m;
        h ^= h >> 31;
    }
    return h;
}

static size_t hash_slot(uint64_t h)
{
    h ^= h >> 29;
    h *= 0x94D049BB133111EBULL;
    return (size_t)(h >> 32) & (CACHE_SLOTS - 1);
}

#define HIGH_BITS 0x8080808080808080ULL

/* The slot a short ASCII key maps to (NULL: not cacheable). */
static cache_slot *str_slot(const char *key, size_t k)
{
    if (!str_cache || k > CACHE_MAX_KEY)
        return NULL;
    uint64_t high = 0;
    uint64_t h = hash_more(0x9E3779B97F4A7C15ULL ^ k, key, k, &high);
    return (high & HIGH_BITS) ? NULL : &str_cache[hash_slot(h)];
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
    cache_slot *slot = str_slot(p, k);
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
    size_t nk = item->name_len, vk = item->value_len;
    size_t k = nk + 1 + vk;
    cache_slot *slot = NULL;
    if (pair_cache && k <= CACHE_MAX_KEY) {
        uint64_t high = 0;
        uint64_t h = hash_more(0x9E3779B97F4A7C15ULL ^ nk, name, nk, &high);
        h = hash_more(h ^ vk, value, vk, &high);
        if (!(high & HIGH_BITS)) {
            slot = &pair_cache[hash_slot(h)];
            if (slot->value && slot->len == k && slot->name_len == nk &&
                memcmp(slot->key, name, nk) == 0 && memcmp(slot->key + nk + 1, value, vk) == 0)
                return Py_NewRef(slot->value);
        }
    }
    PyObject *n = short_str(name, nk);
    if (!n)
        return NULL;
    PyObject *v = vk <= 32 ? short_str(value, vk) : decode(value, vk);
    if (!v) {
        Py_DECREF(n);
        return NULL;
    }
    PyObject *pair = PyTuple_Pack(2, n, v);
    Py_DECREF(n);
    Py_DECREF(v);
    /* Two str cannot be part of a cycle: keep the collector from visiting the pair (what
     * it would decide itself, after visiting it once -- records are many). */
    if (pair)
        PyObject_GC_UnTrack(pair);
    if (pair && slot) {
        Py_XSETREF(slot->value, Py_NewRef(pair));
        memcpy(slot->key, name, nk);
        slot->key[nk] = '=';
        memcpy(slot->key + nk + 1, value, vk);
        slot->len = k;
        slot->name_len = nk;
    }
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

/* The type numbers of records as int objects, made once (they are not small ints). */
#define TYPE_INTS 4096
static PyObject *type_ints[TYPE_INTS];

static PyObject *type_int(long number)
{
    if (number < 0 || number >= TYPE_INTS)
        return PyLong_FromLong(number);
    if (!type_ints[number])
        type_ints[number] = PyLong_FromLong(number);
    return Py_XNewRef(type_ints[number]);
}

/* The records of one event arrive together and share their stamp: the last record's
 * timestamp and serial objects are given to the next record with the same ones (both
 * immutable) rather than made again. */
static struct {
    long long sec;
    long ms;
    PyObject *timestamp;
    unsigned long long serial;
    PyObject *sequence;
} last_stamp = {-1, 0, NULL, 0, NULL};

static PyObject *timestamp_of(long long sec, long ms)
{
    if (last_stamp.timestamp && last_stamp.sec == sec && last_stamp.ms == ms)
        return Py_NewRef(last_stamp.timestamp);
    PyObject *stamp = PyFloat_FromDouble((double)sec + (double)ms / 1000.0);
    if (stamp) {
        Py_XSETREF(last_stamp.timestamp, Py_NewRef(stamp));
        last_stamp.sec = sec;
        last_stamp.ms = ms;
    }
    return stamp;
}

static PyObject *sequence_of(unsigned long long serial)
{
    if (last_stamp.sequence && last_stamp.serial == serial)
        return Py_NewRef(last_stamp.sequence);
    PyObject *sequence = PyLong_FromUnsignedLongLong(serial);
    if (sequence) {
        Py_XSETREF(last_stamp.sequence, Py_NewRef(sequence));
        last_stamp.serial = serial;
    }
    return sequence;
}

static PyObject *make_record(long number, PyObject *name, PyObject *stamp, PyObject *sequence,
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
    PyObject *type = type_int(number);
    if (!type) {
        Py_DECREF(cache);
        Py_DECREF(obj);
        return NULL;
    }
    set_slot(obj, F_TYPE, type);
    Py_INCREF(name);
    set_slot(obj, F_TYPE_NAME, name);
    Py_INCREF(stamp);
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
    /* A record cannot be part of a cycle: its slots hold str, numbers, tuples of str, a
     * shared mapping of str, and a private cache of dicts of str derived from them. The
     * collector would visit every one of the many records of a flood for nothing. */
    PyObject_GC_UnTrack(obj);
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
    PyObject_GC_UnTrack(tuple); /* untracked pairs only: no cycle through it */
    return tuple;
}

static PyObject *build_record(const char *s, size_t n, const ta_header *hp, PyObject *kernel_name,
                              long kernel_type, PyObject *raw_text, PyObject *kernel_node);

/* The mapping enrichment_for gives for an ENRICHED tail, remembered per tail text here
 * (auditd repeats the same few tails): no Python call for a tail seen before. */
#define ENRICHMENT_SLOTS 1024
#define ENRICHMENT_MAX_KEY 512
typedef struct {
    size_t len;
    char *key;
    PyObject *mapping;
} enrichment_slot;
static enrichment_slot *enrichments;

static PyObject *enrichment_of(const char *tail, size_t k)
{
    enrichment_slot *slot = NULL;
    if (enrichments && k <= ENRICHMENT_MAX_KEY) {
        uint64_t high = 0;
        slot = &enrichments[hash_slot(hash_more(0x9E3779B97F4A7C15ULL ^ k, tail, k, &high)) &
                            (ENRICHMENT_SLOTS - 1)];
        if (slot->mapping && slot->len == k && memcmp(slot->key, tail, k) == 0)
            return Py_NewRef(slot->mapping);
    }
    PyObject *extra = decode(tail, k);
    if (!extra)
        return NULL;
    PyObject *mapping = PyObject_CallOneArg(enrichment_for, extra);
    Py_DECREF(extra);
    if (mapping && slot) {
        char *key = PyMem_Malloc(k ? k : 1);
        if (key) { /* else: not remembered, no harm */
            memcpy(key, tail, k);
            PyMem_Free(slot->key);
            Py_XSETREF(slot->mapping, Py_NewRef(mapping));
            slot->key = key;
            slot->len = k;
        }
    }
    return mapping;
}

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
        sequence = sequence_of(serial);
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
    PyObject *stamp = timestamp_of(sec, ms);
    PyObject *items = NULL, *enriched = NULL, *record = NULL;
    if (!sequence || !node || !raw || !stamp)
        goto done;

    const char *rest = s + h.end;
    size_t rest_len = n - h.end;
    const char *sep = memchr(rest, 0x1d, rest_len);
    size_t body_len = sep ? (size_t)(sep - rest) : rest_len;
    if (sep) {
        enriched = enrichment_of(sep + 1, rest_len - body_len - 1);
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
    record = make_record(number, name, stamp, sequence, node, raw, items, enriched);
done:
    Py_DECREF(name);
    Py_XDECREF(stamp);
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

/* The record of one netlink payload s[:n] (trailing NULs and newlines stripped, valid
 * UTF-8, raw its str) with the given node (a str or None): Py_None (new reference) to
 * decline. live.c's drain and parse_kernel below share it. */
PyObject *ta_kernel_record(long type, PyObject *name, const char *s, size_t n, PyObject *raw,
                           PyObject *node)
{
    if (!record_class) {
        PyErr_SetString(PyExc_RuntimeError, "trioaudit._native._core is not configured");
        return NULL;
    }
    ta_header h;
    memset(&h, 0, sizeof(h));
    if ((Py_ssize_t)n > max_record_length || ta_parse_stamp(s, n, &h) != TA_OK)
        Py_RETURN_NONE;
    return build_record(s, n, &h, name, type, raw, node);
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
    Py_ssize_t size;
    const char *s = PyUnicode_AsUTF8AndSize(text, &size);
    if (!s) {
        PyErr_Clear(); /* lone surrogates: not UTF-8, the reference's business */
        Py_RETURN_NONE;
    }
    size_t n = (size_t)size;
    while (n && (s[n - 1] == '\0' || s[n - 1] == '\n')) /* rstrip("\x00\n") */
        n--;
    PyObject *raw = (Py_ssize_t)n == size ? Py_NewRef(text) : decode(s, n);
    if (!raw)
        return NULL;
    PyObject *record = ta_kernel_record(type, name, s, n, raw, node);
    Py_DECREF(raw);
    return record;
}

static PyObject *parse_lines(PyObject *self, PyObject *lines)
{
    PyObject *seq = PySequence_Tuple(lines); /* a tuple: no callback can change it */
    if (!seq)
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(seq);
    PyObject *out = PyList_New(count);
    if (!out) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *record = parse_line(self, PyTuple_GET_ITEM(seq, i));
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

/* A growing output buffer of ASCII text. */
typedef struct {
    char *p;
    size_t len, cap;
    int utf8; /* some text is not ASCII */
    char local[2048];
} outbuf;

static void out_init(outbuf *b)
{
    b->p = b->local;
    b->len = 0;
    b->utf8 = 0;
    b->cap = sizeof(b->local);
}

static void out_free(outbuf *b)
{
    if (b->p != b->local)
        PyMem_Free(b->p);
}

static int out_reserve(outbuf *b, size_t extra)
{
    if (extra > PY_SSIZE_T_MAX / 2 - b->len) {
        PyErr_NoMemory();
        return -1;
    }
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t grown = b->cap * 2;
    while (grown < need)
        grown *= 2;
    char *p = b->p == b->local ? PyMem_Malloc(grown) : PyMem_Realloc(b->p, grown);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    if (b->p == b->local)
        memcpy(p, b->local, b->len);
    b->p = p;
    b->cap = grown;
    return 0;
}

static int out_put(outbuf *b, const char *s, size_t k)
{
    if (out_reserve(b, k) < 0)
        return -1;
    memcpy(b->p + b->len, s, k);
    b->len += k;
    return 0;
}

#define OUT_LITERAL(b, s) out_put((b), (s), sizeof(s) - 1)

/* Append an ASCII str as is: 1, or 0 when it is not ASCII (the caller declines). */
static int out_ascii_str(outbuf *b, PyObject *text)
{
    if (!PyUnicode_CheckExact(text) || !PyUnicode_IS_ASCII(text))
        return 0;
    if (out_put(b, (const char *)PyUnicode_1BYTE_DATA(text), (size_t)PyUnicode_GET_LENGTH(text)) < 0)
        return -1;
    return 1;
}

/* Append a JSON string literal of ASCII bytes (records.c: ta_json_string). */
static int out_json_bytes(outbuf *b, const unsigned char *s, size_t k)
{
    if (k > (PY_SSIZE_T_MAX - 2) / 6 || out_reserve(b, TA_JSON_STRING_MAX(k)) < 0) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    b->len += ta_json_string(s, k, b->p + b->len);
    return 0;
}

/* The JSON literal of an ASCII str (1), or 0 to decline (not ASCII). */
static int out_json_str(outbuf *b, PyObject *text)
{
    if (!PyUnicode_CheckExact(text) || !PyUnicode_IS_ASCII(text))
        return 0;
    if (out_json_bytes(b, PyUnicode_1BYTE_DATA(text), (size_t)PyUnicode_GET_LENGTH(text)) < 0)
        return -1;
    return 1;
}

/* A VERBATIM value's JSON literal (1), or 0 when it is not ASCII or holds a control
 * character: the reference escapes those as \ooo first, so it renders them. */
static int out_json_plain_bytes(outbuf *b, const unsigned char *p, size_t k);

static int out_json_plain(outbuf *b, PyObject *text)
{
    if (!PyUnicode_IS_ASCII(text))
        return 0;
    return out_json_plain_bytes(b, PyUnicode_1BYTE_DATA(text), (size_t)PyUnicode_GET_LENGTH(text));
}

/* The same for ASCII bytes: 1, or 0 to decline (a control character, or not ASCII). */
static int out_json_plain_bytes(outbuf *b, const unsigned char *p, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (p[i] < 0x20 || p[i] > 0x7f)
            return 0;
    return out_json_bytes(b, p, k) < 0 ? -1 : 1;
}

/* ASCII bytes with no control character as they are (1), or 0 to decline. */
static int out_plain_bytes(outbuf *b, const unsigned char *p, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (p[i] < 0x20 || p[i] > 0x7f)
            return 0;
    return out_put(b, (const char *)p, k) < 0 ? -1 : 1;
}

/* The fragment "name":"<value bytes>" (value as out_json_plain_bytes takes it) -- or,
 * text, name=<value bytes> (the text format's field) -- or NULL with no error to
 * decline. */
static PyObject *plain_fragment(PyObject *name, const unsigned char *value, size_t k, int text)
{
    outbuf b;
    out_init(&b);
    int ok;
    if (text) {
        ok = PyUnicode_IS_ASCII(name)
                 ? out_plain_bytes(&b, PyUnicode_1BYTE_DATA(name), (size_t)PyUnicode_GET_LENGTH(name))
                 : 0;
        if (ok > 0)
            ok = OUT_LITERAL(&b, "=") < 0 ? -1 : out_plain_bytes(&b, value, k);
    } else {
        ok = out_json_plain(&b, name);
        if (ok > 0)
            ok = OUT_LITERAL(&b, ":") < 0 ? -1 : out_json_plain_bytes(&b, value, k);
    }
    PyObject *out = ok > 0 ? PyUnicode_DecodeASCII(b.p, (Py_ssize_t)b.len, NULL) : NULL;
    out_free(&b);
    return out;
}

/* The fragment "name":"value" of a VERBATIM field, or NULL with no error to decline. */
static PyObject *verbatim_fragment(PyObject *name, PyObject *value, int text)
{
    if (!PyUnicode_IS_ASCII(value))
        return NULL;
    return plain_fragment(name, PyUnicode_1BYTE_DATA(value), (size_t)PyUnicode_GET_LENGTH(value),
                          text);
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
static PyObject *hex_argument_fragment(PyObject *name, PyObject *value, int text_mode)
{
    if (!PyUnicode_IS_ASCII(value))
        return NULL;
    size_t k = (size_t)PyUnicode_GET_LENGTH(value);
    unsigned char local[128];
    unsigned char *text = k + 2 <= sizeof(local) ? local : PyMem_Malloc(k + 2);
    if (!text)
        return PyErr_NoMemory();
    text[0] = '0';
    text[1] = 'x';
    memcpy(text + 2, PyUnicode_1BYTE_DATA(value), k);
    PyObject *fragment = plain_fragment(name, text, k + 2, text_mode);
    if (text != local)
        PyMem_Free(text);
    return fragment;
}

/* ---- the renderer: Interpreter.fields_json and formats.event_json in C ------------ */

/* auditd's translations finished for one (record type, shared enrichment mapping):
 * Interpreter._overrides' answer, remembered here so that a record costs no Python
 * call. The slot holds the mapping, so its address cannot be reused meanwhile. */
#define OVERRIDE_SLOTS 1024
typedef struct {
    PyObject *enriched;
    long rtype;
    PyObject *done; /* dict: name -> finished fragment */
} override_slot;

typedef struct {
    PyObject_HEAD
    /* Interpreter.fields_json's state (see Interpreter._make_native_renderer) */
    PyObject *by_type, *kinds, *ask_kind, *sites, *ask_site, *fill;
    PyObject *overrides; /* callable(rtype, enriched) -> dict, or None: no enrichment */
    int text;            /* fields finished as name=text (the text format), not JSON */
    /* formats.event_json's hooks (None until set_event_hooks) */
    PyObject *record_tail; /* callable(record, repeats) -> str: what follows "fields" */
    PyObject *fallback;    /* callable(event, raw) -> str: the reference event_json */
    PyObject *records_fallback; /* callable(event, raw) -> str: its records-format lines */
    PyObject *text_fallback;    /* callable(event, raw) -> str: its text-format lines */
    PyObject *log_names;        /* dict: type -> the name ausearch prints (LOG_NAMES) */
    long daemon_first, daemon_end;
    /* --raw (None until set_raw_hooks): formats._raw_fields_json and its memo */
    PyObject *raw_fields;    /* callable(record) -> (json, repeats) */
    PyObject *raw_fragments; /* dict: type -> {(name, value): fragment} */
    long execve_type, proctitle_type, sockaddr_type;
    override_slot slots[OVERRIDE_SLOTS];
    struct front_slot *front; /* FRONT_SLOTS of them (see front_for) */
    struct kind_slot *kind_memo; /* KIND_SLOTS (see kind_of) */
    struct site_slot *site_memo; /* SITE_SLOTS (see call_site) */
    struct argv_slot *argv_memo; /* ARGV_SLOTS (see out_proctitle_argv) */
    char *spare;              /* many_events' last buffer, kept for the next call */
    size_t spare_cap;
} Renderer;

/* The renderer's front memo: a field's finished fragment under the identity of its
 * (name, value) pair, its type's memo and its record's overrides -- what the dict
 * lookups of finished_fields would find, without hashing a tuple or probing two
 * dicts per field. Only answers that depend on nothing else are kept (memoised and
 * overridden fragments, VERBATIM fields); the slot holds all four objects, so no
 * address can be reused while it names them. Pairs repeat as the same object because
 * the parser caches them (pair_of). Direct-mapped and bounded: a collision replaces. */
#define FRONT_SLOTS (1 << 15)
typedef struct front_slot {
    PyObject *item, *cache, *overrides, *fragment;
} front_slot;

static front_slot *front_for(Renderer *r, PyObject *item, PyObject *cache, PyObject *overrides)
{
    uint64_t h = (uint64_t)(uintptr_t)item * 0x9E3779B97F4A7C15ULL;
    h ^= (uint64_t)(uintptr_t)cache >> 4;
    h ^= (uint64_t)(uintptr_t)overrides * 0xC2B2AE3D27D4EB4FULL;
    return &r->front[(h >> 40) & (FRONT_SLOTS - 1)];
}

static void front_put(front_slot *slot, PyObject *item, PyObject *cache, PyObject *overrides,
                      PyObject *fragment)
{
    Py_XSETREF(slot->item, Py_NewRef(item));
    Py_XSETREF(slot->cache, Py_NewRef(cache));
    Py_XSETREF(slot->overrides, Py_NewRef(overrides));
    Py_XSETREF(slot->fragment, Py_NewRef(fragment));
}

/* The renderer's memo of Interpreter._native_kind (a function of the record type and
 * the field name alone) under the identity of the name, which the parser's caches
 * repeat: one pointer compare instead of two dict probes per field the front memo
 * misses. Direct-mapped; the slot holds the name. */
#define KIND_SLOTS (1 << 12)
typedef struct kind_slot {
    PyObject *name;
    long rtype, kind;
} kind_slot;

static long kind_of(Renderer *r, PyObject *rtype_obj, long rtype, PyObject *name)
{
    uint64_t h = (uint64_t)(uintptr_t)name * 0x9E3779B97F4A7C15ULL;
    h ^= (uint64_t)rtype * 0xC2B2AE3D27D4EB4FULL;
    kind_slot *slot = &r->kind_memo[(h >> 40) & (KIND_SLOTS - 1)];
    if (slot->name == name && slot->rtype == rtype)
        return slot->kind;
    long kind = field_kind(r->kinds, rtype_obj, name, r->ask_kind);
    if (kind >= 0) {
        Py_XSETREF(slot->name, Py_NewRef(name));
        slot->rtype = rtype;
        slot->kind = kind;
    }
    return kind;
}

#define ARGV_SLOTS (1 << 8)
#define ARGV_MAX_KEY 8192
typedef struct argv_slot {
    PyObject *value, *text; /* an ASCII proctitle value, and the bytes of its argv text */
} argv_slot;

#define SITE_SLOTS (1 << 10)
typedef struct site_slot {
    PyObject *parts[4], *site;
    long rtype;
} site_slot;

/* What the record's call decides, memoised in sites under the items the call is read
 * from (Interpreter._call_site's key), from the Python answer: a borrowed
 * (mask, syscall, by_value) tuple -- mask: which of a0..a3 print with the generic hex
 * printer; syscall: the finished fragment of the syscall= field at index 1, or None
 * when it cannot be shared (socketcall/ipc read a0); by_value: which of a0..a3, once
 * filled, depend on nothing but their value and this call. NULL on error. In front of
 * the dict, the renderer's site memo answers under the identities of the four items and
 * the record type (the parser's pair cache makes them repeat); the slot holds them, so
 * no address is reused while it names them. */
static PyObject *call_site(Renderer *r, PyObject *record, PyObject *items, long rtype)
{
    PyObject *sites = r->sites, *ask = r->ask_site;
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
    uint64_t h = (uint64_t)rtype * 0xC2B2AE3D27D4EB4FULL;
    for (int i = 0; i < 4; i++)
        h = (h ^ (uint64_t)(uintptr_t)parts[i]) * 0x9E3779B97F4A7C15ULL;
    site_slot *slot = &r->site_memo[(h >> 40) & (SITE_SLOTS - 1)];
    if (slot->site && slot->rtype == rtype && slot->parts[0] == parts[0] &&
        slot->parts[1] == parts[1] && slot->parts[2] == parts[2] && slot->parts[3] == parts[3])
        return slot->site;
    PyObject *key = PyTuple_Pack(4, parts[0], parts[1], parts[2], parts[3]);
    if (!key)
        return NULL;
    PyObject *site = PyDict_GetItemWithError(sites, key);
    if (!site && !PyErr_Occurred()) {
        site = PyObject_CallOneArg(ask, record);
        if (site && (!PyTuple_CheckExact(site) || PyTuple_GET_SIZE(site) != 3 ||
                     !PyLong_CheckExact(PyTuple_GET_ITEM(site, 0)) ||
                     !PyLong_CheckExact(PyTuple_GET_ITEM(site, 2)))) {
            PyErr_SetString(PyExc_TypeError, "call site: expected (int, str | None, int)");
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
    if (site) { /* borrowed from sites: the slot keeps it (sites may be cleared) */
        for (int i = 0; i < 4; i++)
            Py_XSETREF(slot->parts[i], Py_NewRef(parts[i]));
        Py_XSETREF(slot->site, Py_NewRef(site));
        slot->rtype = rtype;
    }
    return site;
}

static int Renderer_traverse(Renderer *r, visitproc visit, void *arg)
{
    Py_VISIT(r->by_type);
    Py_VISIT(r->kinds);
    Py_VISIT(r->ask_kind);
    Py_VISIT(r->sites);
    Py_VISIT(r->ask_site);
    Py_VISIT(r->fill);
    Py_VISIT(r->overrides);
    Py_VISIT(r->record_tail);
    Py_VISIT(r->fallback);
    Py_VISIT(r->records_fallback);
    Py_VISIT(r->text_fallback);
    Py_VISIT(r->log_names);
    Py_VISIT(r->raw_fields);
    Py_VISIT(r->raw_fragments);
    for (int i = 0; i < OVERRIDE_SLOTS; i++) {
        Py_VISIT(r->slots[i].enriched);
        Py_VISIT(r->slots[i].done);
    }
    /* Not the front memo's slots: str fragments, untracked pairs of str, and memo dicts
     * of str that the interpreter owns too -- none can lead back here, so leaving them
     * out hides no cycle, and a full collection does not walk 4 x FRONT_SLOTS of them.
     * Nor the kind, site and argv memos' (names; pairs, (int, str | None, int) tuples
     * and bytes). */
    return 0;
}

static int Renderer_clear(Renderer *r)
{
    Py_CLEAR(r->by_type);
    Py_CLEAR(r->kinds);
    Py_CLEAR(r->ask_kind);
    Py_CLEAR(r->sites);
    Py_CLEAR(r->ask_site);
    Py_CLEAR(r->fill);
    Py_CLEAR(r->overrides);
    Py_CLEAR(r->record_tail);
    Py_CLEAR(r->fallback);
    Py_CLEAR(r->records_fallback);
    Py_CLEAR(r->text_fallback);
    Py_CLEAR(r->log_names);
    Py_CLEAR(r->raw_fields);
    Py_CLEAR(r->raw_fragments);
    for (int i = 0; i < OVERRIDE_SLOTS; i++) {
        Py_CLEAR(r->slots[i].enriched);
        Py_CLEAR(r->slots[i].done);
    }
    for (int i = 0; r->kind_memo && i < KIND_SLOTS; i++)
        Py_CLEAR(r->kind_memo[i].name);
    for (int i = 0; r->site_memo && i < SITE_SLOTS; i++) {
        for (int j = 0; j < 4; j++)
            Py_CLEAR(r->site_memo[i].parts[j]);
        Py_CLEAR(r->site_memo[i].site);
    }
    for (int i = 0; r->argv_memo && i < ARGV_SLOTS; i++) {
        Py_CLEAR(r->argv_memo[i].value);
        Py_CLEAR(r->argv_memo[i].text);
    }
    for (int i = 0; r->front && i < FRONT_SLOTS; i++) {
        Py_CLEAR(r->front[i].item);
        Py_CLEAR(r->front[i].cache);
        Py_CLEAR(r->front[i].overrides);
        Py_CLEAR(r->front[i].fragment);
    }
    return 0;
}

static void Renderer_dealloc(Renderer *r)
{
    PyObject_GC_UnTrack(r);
    Renderer_clear(r);
    PyMem_Free(r->front);
    PyMem_Free(r->kind_memo);
    PyMem_Free(r->site_memo);
    PyMem_Free(r->argv_memo);
    PyMem_Free(r->spare);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

/* Renderer(by_type, kinds, ask_kind, sites, ask_site, fill, overrides[, text]) */
static int Renderer_init(Renderer *r, PyObject *args, PyObject *kwds)
{
    PyObject *by_type, *kinds, *ask_kind, *sites, *ask_site, *fill, *overrides;
    int text = 0;
    if (kwds && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "Renderer() takes no keyword arguments");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "O!O!OO!OOO|p", &PyDict_Type, &by_type, &PyDict_Type, &kinds,
                          &ask_kind, &PyDict_Type, &sites, &ask_site, &fill, &overrides, &text))
        return -1;
    r->text = text;
    Renderer_clear(r);
    if (!r->front)
        r->front = PyMem_Calloc(FRONT_SLOTS, sizeof(front_slot));
    if (!r->kind_memo)
        r->kind_memo = PyMem_Calloc(KIND_SLOTS, sizeof(kind_slot));
    if (!r->site_memo)
        r->site_memo = PyMem_Calloc(SITE_SLOTS, sizeof(site_slot));
    if (!r->argv_memo)
        r->argv_memo = PyMem_Calloc(ARGV_SLOTS, sizeof(argv_slot));
    if (!r->front || !r->kind_memo || !r->site_memo || !r->argv_memo) {
        PyErr_NoMemory();
        return -1;
    }
    r->by_type = Py_NewRef(by_type);
    r->kinds = Py_NewRef(kinds);
    r->ask_kind = Py_NewRef(ask_kind);
    r->sites = Py_NewRef(sites);
    r->ask_site = Py_NewRef(ask_site);
    r->fill = Py_NewRef(fill);
    r->overrides = Py_NewRef(overrides);
    r->record_tail = Py_NewRef(Py_None);
    r->fallback = Py_NewRef(Py_None);
    r->records_fallback = Py_NewRef(Py_None);
    r->text_fallback = Py_NewRef(Py_None);
    r->log_names = Py_NewRef(Py_None);
    r->raw_fields = Py_NewRef(Py_None);
    r->raw_fragments = Py_NewRef(Py_None);
    return 0;
}

/* Whether two field names are the same string (names are mostly the cache's objects). */
static int same_name(PyObject *a, PyObject *b)
{
    if (a == b)
        return 1;
    Py_hash_t ha = ((PyASCIIObject *)a)->hash, hb = ((PyASCIIObject *)b)->hash;
    if (ha != -1 && hb != -1 && ha != hb)
        return 0; /* both hashes known (names are dict keys): different strings */
    Py_ssize_t k = PyUnicode_GET_LENGTH(a);
    if (k != PyUnicode_GET_LENGTH(b))
        return 0;
    if (PyUnicode_IS_ASCII(a) && PyUnicode_IS_ASCII(b))
        return memcmp(PyUnicode_1BYTE_DATA(a), PyUnicode_1BYTE_DATA(b), (size_t)k) == 0;
    return PyUnicode_Compare(a, b) == 0;
}

/* Whether every item is a (str, str) tuple, as the parser makes them: what the renderer
 * reads of them unchecked. A record built by hand with other items is declined. */
static int pairs_of_str(PyObject *items)
{
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2 ||
            !PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 0)) ||
            !PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 1)))
            return 0;
    }
    return 1;
}

/* Whether a field name repeats among the items (pairs_of_str, at most 128):
 * a small hash set of the names instead of comparing every pair. 1, 0, or -1 on error. */
static int has_repeats(PyObject *items)
{
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    if (n < 2)
        return 0;
    PyObject *names[256];
    Py_hash_t hashes[256];
    size_t size = 4;
    while (size < 2 * (size_t)n)
        size *= 2;
    if (size > 256) {
        PyErr_Format(PyExc_SystemError, "has_repeats: %zd items", n);
        return -1;
    }
    memset(names, 0, size * sizeof(names[0]));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(PyTuple_GET_ITEM(items, i), 0);
        Py_hash_t h = PyObject_Hash(name); /* a str's hash is computed once, then kept */
        if (h == -1)
            return -1;
        size_t j = (size_t)h & (size - 1);
        while (names[j]) {
            if (hashes[j] == h && same_name(names[j], name))
                return 1;
            j = (j + 1) & (size - 1);
        }
        names[j] = name;
        hashes[j] = h;
    }
    return 0;
}

/* The finished overrides of a record (borrowed), Py_None when it has none; NULL on error. */
static PyObject *overrides_of(Renderer *r, PyObject *record, long rtype)
{
    if (r->overrides == Py_None)
        return Py_None;
    PyObject *enriched = record_slot(record, F_ENRICHED);
    if (!enriched || enriched == no_enrichment)
        return Py_None;
    uintptr_t at = (uintptr_t)enriched;
    override_slot *slot = &r->slots[((at >> 4) ^ (uintptr_t)rtype * 40503u) & (OVERRIDE_SLOTS - 1)];
    if (slot->enriched == enriched && slot->rtype == rtype)
        return slot->done;
    Py_ssize_t size = PyObject_Length(enriched);
    if (size < 0)
        return NULL;
    if (size == 0)
        return Py_None; /* an empty mapping is falsy: the reference skips it too */
    PyObject *type_obj = record_slot(record, F_TYPE);
    PyObject *done = PyObject_CallFunctionObjArgs(r->overrides, type_obj, enriched, NULL);
    if (!done)
        return NULL;
    if (!PyDict_CheckExact(done)) {
        Py_DECREF(done);
        PyErr_SetString(PyExc_TypeError, "overrides: expected a dict");
        return NULL;
    }
    Py_XSETREF(slot->enriched, Py_NewRef(enriched));
    Py_XSETREF(slot->done, done);
    slot->rtype = rtype;
    return done;
}

/* Most fields a record may have for the core to finish it (more: the reference). */
#define MAX_FIELDS 128

/* Every field of the record finished, in order, into parts (new references; *count of
 * them; the caller releases them with parts_free), *repeats set: 1, 0 to decline, -1 on
 * error (nothing to release unless 1). Interpreter._finished's steps: memo lookups
 * (the front memo first), auditd's translations over them, VERBATIM fields of plain
 * ASCII and generic hex arguments finished here, and fill(record, finished, cache) --
 * the reference's _fill -- for whatever is left, through a list made only then. dedupe:
 * only the first field of a repeated name is kept (interpret), else all (interpret_items). */
static int finished_fields_of(Renderer *r, PyObject *record, PyObject **parts,
                              Py_ssize_t *count, int *repeats_out, int dedupe)
{
    PyObject *site = NULL; /* from sites; asked for at most once */
    long mask = 0, by_value = 0;
    Py_ssize_t remember[4]; /* the arguments to keep under the call site once filled */
    int remembered = 0;
    if (!record_class || Py_TYPE(record) != record_class)
        return 0;
    PyObject *items = record_slot(record, F_ITEMS);
    PyObject *rtype = record_slot(record, F_TYPE);
    if (!items || !rtype || !PyTuple_CheckExact(items) || PyTuple_GET_SIZE(items) > MAX_FIELDS ||
        !PyLong_CheckExact(rtype))
        return 0;
    long rtype_number = PyLong_AsLong(rtype);
    if (rtype_number == -1 && PyErr_Occurred())
        return -1;
    if (!pairs_of_str(items))
        return 0;
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    int repeats = has_repeats(items);
    if (repeats < 0)
        return -1;
    PyObject *overrides = overrides_of(r, record, rtype_number);
    if (!overrides)
        return -1;
    PyObject *cache = PyDict_GetItemWithError(r->by_type, rtype);
    if (!cache) {
        if (PyErr_Occurred())
            return -1;
        cache = PyDict_New();
        if (!cache || PyDict_SetItem(r->by_type, rtype, cache) < 0) {
            Py_XDECREF(cache);
            return -1;
        }
        Py_DECREF(cache);
    }
    Py_INCREF(cache);
    Py_INCREF(overrides); /* a fill step may replace the slot */
    Py_ssize_t made = 0; /* parts[:made] hold references */
    int result = -1, missing = 0;
    for (Py_ssize_t i = 0; i < n; i++, made++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        front_slot *front = front_for(r, item, cache, overrides);
        if (front->item == item && front->cache == cache && front->overrides == overrides) {
            parts[i] = Py_NewRef(front->fragment);
            continue;
        }
        PyObject *name = PyTuple_GET_ITEM(item, 0), *value = PyTuple_GET_ITEM(item, 1);
        /* Only pairs short enough for the parser's cache repeat as the same object. */
        int keep = PyUnicode_GET_LENGTH(name) + PyUnicode_GET_LENGTH(value) < CACHE_MAX_KEY;
        PyObject *found = NULL; /* auditd's translation wins over every memo */
        if (overrides != Py_None) {
            found = PyDict_GetItemWithError(overrides, name);
            if (!found && PyErr_Occurred())
                goto done;
        }
        long kind = KIND_OTHER;
        if (!found) {
            kind = kind_of(r, rtype, rtype_number, name);
            if (kind < 0)
                goto done;
            if (kind == KIND_VERBATIM) { /* the value alone decides it: no memo to ask */
                PyObject *fragment = verbatim_fragment(name, value, r->text);
                if (fragment) {
                    parts[i] = fragment;
                    if (keep)
                        front_put(front, item, cache, overrides, fragment);
                    continue;
                }
                if (PyErr_Occurred())
                    goto done;
            }
            found = PyDict_GetItemWithError(cache, item);
            if (!found && PyErr_Occurred())
                goto done;
        }
        if (found) {
            parts[i] = Py_NewRef(found);
            if (keep)
                front_put(front, item, cache, overrides, found);
            continue;
        }
        int call = (kind >= KIND_ARG && kind < KIND_ARG + 4) || (kind == KIND_SYSCALL && i == 1);
        if (call && !site) {
            site = call_site(r, record, items, rtype_number);
            if (!site)
                goto done;
            Py_INCREF(site); /* a clear of sites by a later record must not free it */
            mask = PyLong_AsLong(PyTuple_GET_ITEM(site, 0));
            by_value = PyLong_AsLong(PyTuple_GET_ITEM(site, 2));
            if ((mask == -1 || by_value == -1) && PyErr_Occurred())
                goto done;
        }
        int arg = kind >= KIND_ARG && kind < KIND_ARG + 4 ? (int)(kind - KIND_ARG) : -1;
        int hex = arg >= 0 && ((mask >> arg) & 1);
        front_slot *by_call = NULL;
        if (arg >= 0 && (hex || ((by_value >> arg) & 1))) {
            /* An argument printed from its value and the call alone (by the generic hex
             * printer, or by the fill step): the front memo keeps it under the call site
             * (the site tuple in the overrides' place: no overrides dict can share its
             * address while the slot holds it). */
            by_call = front_for(r, item, cache, site);
            if (by_call->item == item && by_call->cache == cache && by_call->overrides == site) {
                parts[i] = Py_NewRef(by_call->fragment);
                continue;
            }
            if (!hex && keep && remembered < 4)
                remember[remembered++] = i;
        }
        PyObject *fragment = NULL;
        if (kind == KIND_SYSCALL && i == 1 && PyUnicode_CheckExact(PyTuple_GET_ITEM(site, 1)))
            fragment = Py_NewRef(PyTuple_GET_ITEM(site, 1));
        else if (hex) {
            fragment = hex_argument_fragment(name, value, r->text);
            if (fragment && keep)
                front_put(by_call, item, cache, site, fragment);
        }
        if (!fragment && PyErr_Occurred())
            goto done;
        parts[i] = fragment ? fragment : Py_NewRef(Py_None);
        missing |= fragment == NULL;
    }
    if (missing) {
        PyObject *finished = PyList_New(n);
        if (!finished)
            goto done;
        for (Py_ssize_t i = 0; i < n; i++)
            PyList_SET_ITEM(finished, i, Py_NewRef(parts[i]));
        PyObject *rc = PyObject_CallFunctionObjArgs(r->fill, record, finished, cache, NULL);
        if (rc && PyList_GET_SIZE(finished) != n) {
            PyErr_SetString(PyExc_TypeError, "fill changed the number of fields");
            Py_CLEAR(rc);
        }
        for (Py_ssize_t i = 0; rc && i < n; i++) {
            PyObject *text = PyList_GET_ITEM(finished, i);
            if (!PyUnicode_CheckExact(text)) {
                PyErr_SetString(PyExc_TypeError, "fill left a field unfinished");
                Py_CLEAR(rc);
                break;
            }
            Py_SETREF(parts[i], Py_NewRef(text));
        }
        Py_DECREF(finished);
        if (!rc)
            goto done;
        Py_DECREF(rc);
        for (int j = 0; j < remembered; j++) {
            PyObject *item = PyTuple_GET_ITEM(items, remember[j]);
            front_put(front_for(r, item, cache, site), item, cache, site, parts[remember[j]]);
        }
    }
    if (repeats && dedupe) { /* the first of a repeated name wins, as in Interpreter.interpret */
        Py_ssize_t kept = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *a = PyTuple_GET_ITEM(PyTuple_GET_ITEM(items, i), 0);
            int seen = 0;
            for (Py_ssize_t j = 0; j < i && !seen; j++)
                seen = same_name(a, PyTuple_GET_ITEM(PyTuple_GET_ITEM(items, j), 0));
            if (seen)
                Py_DECREF(parts[i]);
            else
                parts[kept++] = parts[i];
        }
        made = kept;
    }
    *repeats_out = repeats;
    *count = made;
    result = 1;
done:
    if (result < 0)
        for (Py_ssize_t i = 0; i < made; i++)
            Py_DECREF(parts[i]);
    Py_XDECREF(site);
    Py_DECREF(overrides);
    Py_DECREF(cache);
    return result;
}

/* finished_fields_of with the first of a repeated name kept only (the JSON formats). */
static int finished_fields(Renderer *r, PyObject *record, PyObject **parts, Py_ssize_t *count,
                           int *repeats_out)
{
    return finished_fields_of(r, record, parts, count, repeats_out, 1);
}

static void parts_free(PyObject **parts, Py_ssize_t count)
{
    for (Py_ssize_t i = 0; i < count; i++)
        Py_DECREF(parts[i]);
}

/* The finished fields joined by sep into b, then released: 1, 0 to decline (a fragment
 * that is not ASCII), -1 on error. */
static int out_parts(outbuf *b, PyObject **parts, Py_ssize_t count, const char *sep)
{
    int ok = 1;
    size_t k = strlen(sep);
    for (Py_ssize_t j = 0; ok > 0 && j < count; j++) {
        if (j && out_put(b, sep, k) < 0)
            ok = -1;
        else
            ok = out_ascii_str(b, parts[j]);
    }
    parts_free(parts, count);
    return ok;
}

/* fields_json(record) -> (json, repeats) | None: Interpreter.fields_json. */
static PyObject *Renderer_fields_json(Renderer *r, PyObject *record)
{
    int repeats = 0;
    PyObject *parts[MAX_FIELDS];
    Py_ssize_t count = 0;
    int ok = finished_fields(r, record, parts, &count, &repeats);
    if (ok <= 0)
        return ok < 0 ? NULL : Py_NewRef(Py_None);
    PyObject *list = PyList_New(count); /* fragments may be any str (fill's): joined */
    if (!list) {
        parts_free(parts, count);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++)
        PyList_SET_ITEM(list, i, parts[i]); /* the list takes the references */
    PyObject *comma = PyUnicode_FromString(",");
    PyObject *joined = comma ? PyUnicode_Join(comma, list) : NULL;
    Py_XDECREF(comma);
    Py_DECREF(list);
    if (!joined)
        return NULL;
    PyObject *json = PyUnicode_FromFormat("{%U}", joined);
    Py_DECREF(joined);
    if (!json)
        return NULL;
    return Py_BuildValue("(NO)", json, repeats ? Py_True : Py_False);
}

/* A logged value decoded as values.decode_value decodes an escaped field (records.c:
 * ta_decode_escaped), from an ASCII str: 1, 0 to decline, -1 on error. */
typedef struct {
    ta_decoded d;
    unsigned char local[512];
} decoded;

static void decoded_free(decoded *d)
{
    free(d->d.owned);
    d->d.owned = NULL;
}

static int decode_escaped(PyObject *value, decoded *d)
{
    d->d.owned = NULL;
    if (!PyUnicode_IS_ASCII(value))
        return 0;
    int rc = ta_decode_escaped(PyUnicode_1BYTE_DATA(value), (size_t)PyUnicode_GET_LENGTH(value),
                               d->local, sizeof(d->local), &d->d);
    if (rc == TA_NOMEM) {
        PyErr_NoMemory();
        return -1;
    }
    return rc == TA_OK;
}

static int proctitle_argv_text(outbuf *b, PyObject *value);

/* ',"argv":[...]' of a PROCTITLE record, as AuditRecord.argv (proctitle_argv) gives it:
 * 1 appended, 2 no argv (no proctitle field), 0 to decline, -1 on error. */
static int out_proctitle_argv(Renderer *r, outbuf *b, PyObject *items)
{
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    PyObject *value = NULL;
    for (Py_ssize_t i = 0; i < n && !value; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(item, 0), "proctitle") == 0)
            value = PyTuple_GET_ITEM(item, 1);
    }
    if (!value)
        return 2;
    /* Command lines repeat: the argv text is kept under the proctitle value's text
     * (compared whole), which costs less than decoding it again. */
    argv_slot *slot = NULL;
    const char *v = NULL;
    size_t vk = 0;
    if (PyUnicode_IS_ASCII(value) && PyUnicode_GET_LENGTH(value) <= ARGV_MAX_KEY) {
        v = (const char *)PyUnicode_1BYTE_DATA(value);
        vk = (size_t)PyUnicode_GET_LENGTH(value);
        uint64_t high = 0;
        slot = &r->argv_memo[hash_slot(hash_more(0x9E3779B97F4A7C15ULL ^ vk, v, vk, &high)) &
                             (ARGV_SLOTS - 1)];
        if (slot->value && PyUnicode_GET_LENGTH(slot->value) == (Py_ssize_t)vk &&
            memcmp(PyUnicode_1BYTE_DATA(slot->value), v, vk) == 0)
            return out_put(b, PyBytes_AS_STRING(slot->text),
                           (size_t)PyBytes_GET_SIZE(slot->text)) < 0
                       ? -1
                       : 1;
    }
    size_t mark = b->len;
    int ok = proctitle_argv_text(b, value);
    if (ok == 1 && slot) {
        PyObject *text = PyBytes_FromStringAndSize(b->p + mark, (Py_ssize_t)(b->len - mark));
        if (!text)
            return -1;
        Py_XSETREF(slot->value, Py_NewRef(value));
        Py_XSETREF(slot->text, text);
    }
    return ok;
}

/* ',"argv":[...]' of a proctitle value into b: 1, 0 to decline, -1 on error. */
static int proctitle_argv_text(outbuf *b, PyObject *value)
{
    decoded d;
    int ok = decode_escaped(value, &d);
    if (ok <= 0)
        return ok;
    const unsigned char *title = d.d.p;
    size_t t = d.d.len;
    while (t && title[t - 1] == 0) /* rstrip("\x00") */
        t--;
    int rc = OUT_LITERAL(b, ",\"argv\":[");
    size_t start = 0;
    for (size_t i = 0; rc == 0 && i <= t; i++) {
        if (i == t || title[i] == 0) { /* split("\x00") */
            if (start && OUT_LITERAL(b, ",") < 0)
                rc = -1;
            if (rc == 0)
                rc = out_json_bytes(b, title + start, i - start);
            start = i + 1;
        }
    }
    if (rc == 0)
        rc = OUT_LITERAL(b, "]");
    decoded_free(&d);
    return rc < 0 ? -1 : 1;
}

/* The argument number of an EXECVE field name "a<N>" (N in canonical decimal, as
 * f"a{i}" writes it), -1 for other names, -2 for the split forms aN_len / aN[i]. */
static long argument_number(PyObject *name)
{
    if (!PyUnicode_IS_ASCII(name))
        return -1;
    const unsigned char *s = PyUnicode_1BYTE_DATA(name);
    Py_ssize_t k = PyUnicode_GET_LENGTH(name);
    if (k < 2 || s[0] != 'a' || s[1] < '0' || s[1] > '9')
        return -1;
    long number = 0;
    Py_ssize_t i = 1;
    for (; i < k && s[i] >= '0' && s[i] <= '9' && i < 8; i++)
        number = number * 10 + (s[i] - '0');
    if (i < k)
        return (s[i] == '_' || s[i] == '[') ? -2 : -1;
    if (s[1] == '0' && k > 2)
        return -1; /* "a01" is not f"a{1}" */
    return number;
}

/* ',"argv":[...]' of a lone EXECVE record, as AuditRecord.argv (execve_argv of the
 * decoded fields) gives it: 1 appended, 2 no argv (argc missing or not digits), 0 to
 * decline (split arguments, non-ASCII, odd forms), -1 on error. */
#define MAX_ARGC 65536
static int out_execve_argv(outbuf *b, PyObject *items)
{
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    PyObject *argc = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(PyTuple_GET_ITEM(items, i), 0);
        if (argument_number(name) == -2)
            return 0; /* a long argument split over fields: the reference joins it */
        if (!argc && PyUnicode_CompareWithASCIIString(name, "argc") == 0)
            argc = PyTuple_GET_ITEM(PyTuple_GET_ITEM(items, i), 1);
    }
    if (!argc)
        return 2;
    if (!PyUnicode_IS_ASCII(argc))
        return 0;
    const unsigned char *a = PyUnicode_1BYTE_DATA(argc);
    size_t k = (size_t)PyUnicode_GET_LENGTH(argc);
    if (k && a[0] == '"') { /* decode_value: quotes removed */
        const unsigned char *close = memchr(a + 1, '"', k - 1);
        k = close ? (size_t)(close - a - 1) : k - 1;
        a++;
    }
    if (!k)
        return 2;
    long count = 0;
    for (size_t i = 0; i < k; i++) {
        if (a[i] < '0' || a[i] > '9')
            return 2; /* not isdigit(): no argv */
        if (count <= MAX_ARGC)
            count = count * 10 + (a[i] - '0');
    }
    if (count > MAX_ARGC)
        count = MAX_ARGC;
    if (OUT_LITERAL(b, ",\"argv\":[") < 0)
        return -1;
    for (long arg = 0; arg < count; arg++) {
        PyObject *value = NULL; /* the first field named a<arg> */
        for (Py_ssize_t i = 0; i < n && !value; i++) {
            PyObject *item = PyTuple_GET_ITEM(items, i);
            if (argument_number(PyTuple_GET_ITEM(item, 0)) == arg)
                value = PyTuple_GET_ITEM(item, 1);
        }
        if (!value)
            break; /* stops at the first missing argument */
        decoded d;
        int ok = decode_escaped(value, &d);
        if (ok <= 0)
            return ok;
        int rc = (arg && OUT_LITERAL(b, ",") < 0) ? -1 : out_json_bytes(b, d.d.p, d.d.len);
        decoded_free(&d);
        if (rc < 0)
            return -1;
    }
    return OUT_LITERAL(b, "]") < 0 ? -1 : 1;
}

/* Whether an ASCII raw text holds " msg='" (a user-space message to keep whole). */
static int has_message(PyObject *raw)
{
    const char *s = (const char *)PyUnicode_1BYTE_DATA(raw);
    Py_ssize_t k = PyUnicode_GET_LENGTH(raw);
    /* Kernel records rarely hold a quote at all: look for one first (vectorised). */
    return k >= 6 && memchr(s, '\'', (size_t)k) && memmem(s, (size_t)k, " msg='", 6) != NULL;
}

/* What follows a record's "fields" in its line, from the reference (formats._record_tail):
 * 1 written, 0 to decline (not ASCII), -1 on error. */
static int out_record_tail(Renderer *r, outbuf *b, PyObject *record, int repeats, int raw)
{
    PyObject *tail = PyObject_CallFunctionObjArgs(r->record_tail, record,
                                                  repeats ? Py_True : Py_False,
                                                  raw ? Py_True : Py_False, NULL);
    if (!tail)
        return -1;
    int ok = out_ascii_str(b, tail);
    Py_DECREF(tail);
    return ok;
}

/* --raw: a record's "fields" object into b, from the reference's memo of fragments
 * (formats._RAW_FRAGMENTS, keyed by type then by the (name, value) pair) when every
 * fragment is there and no name repeats; else the reference's _raw_fields_json, which
 * also fills the memo. 1 done (*repeats set), 0 to decline, -1 on error. */
static int out_raw_fields(Renderer *r, outbuf *b, PyObject *record, int *repeats)
{
    PyObject *items = record_slot(record, F_ITEMS);
    if (!items || !PyTuple_CheckExact(items))
        return 0;
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    size_t mark = b->len;
    PyObject *cache = NULL;
    if (n <= MAX_FIELDS && PyDict_CheckExact(r->raw_fragments) && pairs_of_str(items)) {
        int repeated = has_repeats(items);
        if (repeated < 0)
            return -1;
        if (repeated) /* the reference joins a repeated name's values */
            goto reference;
        cache = PyDict_GetItemWithError(r->raw_fragments, record_slot(record, F_TYPE));
        if (!cache && PyErr_Occurred())
            return -1;
        if (cache && !PyDict_CheckExact(cache))
            cache = NULL;
    }
    int hit = cache != NULL;
    if (hit && OUT_LITERAL(b, "{") < 0)
        return -1;
    for (Py_ssize_t i = 0; hit && i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        PyObject *fragment = PyDict_GetItemWithError(cache, item);
        if (!fragment) {
            if (PyErr_Occurred())
                return -1;
            hit = 0;
            break;
        }
        if (!PyUnicode_CheckExact(fragment) || !PyUnicode_IS_ASCII(fragment)) {
            hit = 0;
            break;
        }
        if ((i && OUT_LITERAL(b, ",") < 0) || out_ascii_str(b, fragment) < 0)
            return -1;
    }
    if (hit) {
        *repeats = 0;
        return OUT_LITERAL(b, "}") < 0 ? -1 : 1;
    }
reference:
    b->len = mark;
    PyObject *done = PyObject_CallOneArg(r->raw_fields, record);
    if (!done)
        return -1;
    int ok = 0;
    if (PyTuple_CheckExact(done) && PyTuple_GET_SIZE(done) == 2 &&
        PyUnicode_CheckExact(PyTuple_GET_ITEM(done, 0))) {
        int flag = PyObject_IsTrue(PyTuple_GET_ITEM(done, 1));
        ok = flag < 0 ? -1 : out_ascii_str(b, PyTuple_GET_ITEM(done, 0));
        *repeats = flag > 0;
    }
    Py_DECREF(done);
    return ok;
}

/* '{"timestamp":"<ISO>","sequence":<N>,"node":<node>' -- the head both JSON formats
 * share (an event's and a record's line, as json_dumps writes their dicts): 1, 0 to
 * decline (out of the core's range), -1 on error. */
static int out_head(outbuf *b, PyObject *timestamp, PyObject *sequence, PyObject *node)
{
    if (!timestamp || !sequence || !node || !PyFloat_CheckExact(timestamp) ||
        !PyLong_CheckExact(sequence))
        return 0;
    /* format_timestamp: round(timestamp * 1000) (half to even, as nearbyint) in UTC */
    double ms = nearbyint(PyFloat_AS_DOUBLE(timestamp) * 1000.0);
    if (!(ms >= 0.0 && ms < 253402300800000.0))
        return 0;
    long long whole = (long long)ms;
    time_t seconds = (time_t)(whole / 1000);
    /* Events come in runs from the same second: its text is kept (the GIL guards it). */
    static time_t last_second = -1;
    static char second_text[20]; /* YYYY-MM-DDTHH:MM:SS */
    if (seconds != last_second) {
        struct tm tm;
        if (!gmtime_r(&seconds, &tm) || tm.tm_year + 1900 < 1000)
            return 0;
        char text[64];
        int k = snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        if (k != 19)
            return 0; /* a year past 9999 cannot be reached below the bound above */
        memcpy(second_text, text, 19);
        last_second = seconds;
    }
    unsigned long long serial = PyLong_AsUnsignedLongLong(sequence);
    if (serial == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0; /* negative or huge: str(int) in the reference */
    }
    char head[96];
    size_t k = 0;
    memcpy(head, "{\"timestamp\":\"", 14);
    k = 14;
    memcpy(head + k, second_text, 19);
    k += 19;
    int millis = (int)(whole % 1000);
    head[k++] = '.';
    head[k++] = (char)('0' + millis / 100);
    head[k++] = (char)('0' + millis / 10 % 10);
    head[k++] = (char)('0' + millis % 10);
    memcpy(head + k, "Z\",\"sequence\":", 14);
    k += 14;
    char digits[24];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + serial % 10);
        serial /= 10;
    } while (serial);
    while (nd)
        head[k++] = digits[--nd];
    memcpy(head + k, ",\"node\":", 8);
    k += 8;
    if (out_put(b, head, k) < 0)
        return -1;
    return node == Py_None ? (OUT_LITERAL(b, "null") < 0 ? -1 : 1) : out_json_str(b, node);
}

/* One event's JSON line into b (raw: the --raw shape): 1 done, 0 to decline (the
 * reference renders it). */
static int out_event(Renderer *r, outbuf *b, PyObject *event, int raw)
{
    if (!event_class || Py_TYPE(event) != event_class)
        return 0;
    PyObject *records = event_slot(event, E_RECORDS);
    PyObject *timestamp = event_slot(event, E_TIMESTAMP);
    PyObject *sequence = event_slot(event, E_SEQUENCE);
    PyObject *node = event_slot(event, E_NODE);
    if (!records || !timestamp || !sequence || !node || !PyTuple_CheckExact(records) ||
        !PyFloat_CheckExact(timestamp) || !PyLong_CheckExact(sequence))
        return 0;
    Py_ssize_t count = PyTuple_GET_SIZE(records);
    int execs = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *record = PyTuple_GET_ITEM(records, i);
        if (Py_TYPE(record) != record_class)
            return 0;
        PyObject *type = record_slot(record, F_TYPE);
        if (!type || !PyLong_CheckExact(type))
            return 0;
        execs += PyLong_AsLong(type) == r->execve_type;
    }
    if (execs > 1 && !raw)
        return 0; /* an argv spread over several EXECVE records: the reference merges it */

    int ok = out_head(b, timestamp, sequence, node);
    if (ok <= 0)
        return ok;
    if (OUT_LITERAL(b, ",\"records\":[") < 0)
        return -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *record = PyTuple_GET_ITEM(records, i);
        PyObject *name = record_slot(record, F_TYPE_NAME);
        PyObject *raw_text = record_slot(record, F_RAW);
        if (!name || !raw_text || !PyUnicode_CheckExact(raw_text) || !PyUnicode_IS_ASCII(raw_text))
            return 0;
        if ((i && OUT_LITERAL(b, ",") < 0) || OUT_LITERAL(b, "{\"type\":") < 0)
            return -1;
        ok = out_json_str(b, name);
        if (ok <= 0)
            return ok;
        if (OUT_LITERAL(b, ",\"fields\":") < 0)
            return -1;
        int repeats = 0;
        if (raw) {
            ok = out_raw_fields(r, b, record, &repeats);
            if (ok <= 0)
                return ok;
            if (repeats || has_message(raw_text)) {
                ok = out_record_tail(r, b, record, repeats, 1);
                if (ok <= 0)
                    return ok;
            }
            if (OUT_LITERAL(b, "}") < 0)
                return -1;
            continue;
        }
        if (OUT_LITERAL(b, "{") < 0)
            return -1;
        PyObject *parts[MAX_FIELDS];
        Py_ssize_t nparts = 0;
        ok = finished_fields(r, record, parts, &nparts, &repeats);
        if (ok <= 0)
            return ok;
        ok = out_parts(b, parts, nparts, ",");
        if (ok <= 0)
            return ok;
        if (OUT_LITERAL(b, "}") < 0)
            return -1;
        long rtype = PyLong_AsLong(record_slot(record, F_TYPE));
        int message = has_message(raw_text);
        if (rtype == r->proctitle_type && !repeats && !message) {
            ok = out_proctitle_argv(r, b, record_slot(record, F_ITEMS));
            if (ok <= 0)
                return ok;
        } else if (rtype == r->execve_type && !repeats && !message) {
            ok = out_execve_argv(b, record_slot(record, F_ITEMS));
            if (ok <= 0)
                return ok;
        } else if (repeats || message || rtype == r->sockaddr_type) {
            ok = out_record_tail(r, b, record, repeats, 0);
            if (ok <= 0)
                return ok;
        }
        if (OUT_LITERAL(b, "}") < 0)
            return -1;
    }
    return OUT_LITERAL(b, "]}") < 0 ? -1 : 1;
}

/* One event's lines in the records format (formats._record_line of each record, joined
 * by newlines): 1 done, 0 to decline (the records-format fallback renders the event),
 * -1 on error. A record whose field names repeat is declined ("repeated" is the
 * reference's). */
static int out_record_lines(Renderer *r, outbuf *b, PyObject *event, int raw)
{
    if (!event_class || Py_TYPE(event) != event_class)
        return 0;
    PyObject *records = event_slot(event, E_RECORDS);
    if (!records || !PyTuple_CheckExact(records))
        return 0;
    Py_ssize_t count = PyTuple_GET_SIZE(records);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *record = PyTuple_GET_ITEM(records, i);
        if (Py_TYPE(record) != record_class)
            return 0;
        PyObject *name = record_slot(record, F_TYPE_NAME);
        PyObject *type = record_slot(record, F_TYPE);
        if (!name || !type || !PyLong_CheckExact(type))
            return 0;
        long number = PyLong_AsLong(type);
        if (number == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0; /* not a C long: the reference prints it */
        }
        if (i && OUT_LITERAL(b, "\n") < 0)
            return -1;
        int ok = out_head(b, record_slot(record, F_TIMESTAMP), record_slot(record, F_SEQUENCE),
                          record_slot(record, F_NODE));
        if (ok <= 0)
            return ok;
        if (OUT_LITERAL(b, ",\"record_type\":") < 0)
            return -1;
        ok = out_json_str(b, name);
        if (ok <= 0)
            return ok;
        char digits[64];
        int k = snprintf(digits, sizeof(digits), ",\"record_type_number\":%ld,\"data\":", number);
        if (k <= 0 || (size_t)k >= sizeof(digits))
            return 0;
        if (out_put(b, digits, (size_t)k) < 0)
            return -1;
        int repeats = 0;
        if (raw) {
            ok = out_raw_fields(r, b, record, &repeats);
            if (ok <= 0 || repeats)
                return ok < 0 ? -1 : 0;
        } else {
            PyObject *parts[MAX_FIELDS];
            Py_ssize_t nparts = 0;
            ok = finished_fields(r, record, parts, &nparts, &repeats);
            if (ok <= 0)
                return ok;
            if (repeats) {
                parts_free(parts, nparts);
                return 0;
            }
            if (OUT_LITERAL(b, "{") < 0) {
                parts_free(parts, nparts);
                return -1;
            }
            ok = out_parts(b, parts, nparts, ",");
            if (ok <= 0)
                return ok;
            if (OUT_LITERAL(b, "}") < 0)
                return -1;
        }
        if (OUT_LITERAL(b, "}") < 0)
            return -1;
    }
    return 1;
}

/* ---- the text format: formats.text_lines (ausearch -i) for the records it takes ---- */

/* Whether text[from:to] holds only printable ASCII: neutralise() leaves it as it is. */
static int printable(const char *p, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
            return 0;
    return 1;
}

static Py_ssize_t find_char(const char *s, Py_ssize_t from, Py_ssize_t to, char c)
{
    if (from >= to)
        return -1;
    const char *at = memchr(s + from, c, (size_t)(to - from));
    return at ? at - s : -1;
}

/* Whether body (the text after "): ") splits as formats._simple_fields does -- at single
 * spaces into name=value tokens that formats._simple_pair accepts -- into exactly the
 * record's items: then interpret_items of the walked record is that of the record. */
static int simple_as_items(const char *body, size_t n, PyObject *items)
{
    Py_ssize_t count = PyTuple_GET_SIZE(items), index = 0;
    size_t pos = 0;
    if (n && body[n - 1] == ' ')
        n--; /* one trailing space ends the last value */
    if (!n && !count)
        return 0; /* no token at all: the walk's business */
    while (pos <= n) {
        const char *space = memchr(body + pos, ' ', n - pos);
        size_t stop = space ? (size_t)(space - body) : n;
        const char *token = body + pos;
        size_t k = stop - pos;
        const char *eq = memchr(token, '=', k);
        if (!eq || eq == token || index >= count)
            return 0;
        size_t nk = (size_t)(eq - token), vk = k - nk - 1;
        const char *value = eq + 1;
        if ((nk == 3 && memcmp(token, "msg", 3) == 0) || (nk == 4 && memcmp(token, "acct", 4) == 0) ||
            (nk == 4 && memcmp(token, "data", 4) == 0) || token[0] == '\'' || token[0] == '(' ||
            memchr(value, ',', vk))
            return 0;
        if (vk && value[0] == '\'')
            return 0;
        if (vk && value[0] == '"') {
            const char *close = memchr(value + 1, '"', vk - 1);
            if (!close || (size_t)(close - value) != vk - 1)
                return 0;
        }
        if (nk == 3 && memcmp(token, "key", 3) == 0 && !(vk && (value[0] == '"' || value[0] == '(')))
            return 0;
        PyObject *item = PyTuple_GET_ITEM(items, index++);
        PyObject *name = PyTuple_GET_ITEM(item, 0), *val = PyTuple_GET_ITEM(item, 1);
        if (!PyUnicode_IS_ASCII(name) || !PyUnicode_IS_ASCII(val) ||
            (size_t)PyUnicode_GET_LENGTH(name) != nk || (size_t)PyUnicode_GET_LENGTH(val) != vk ||
            memcmp(PyUnicode_1BYTE_DATA(name), token, nk) != 0 ||
            memcmp(PyUnicode_1BYTE_DATA(val), value, vk) != 0)
            return 0;
        pos = stop + 1;
    }
    return index == count;
}

/* One record's line (formats._add_record, its simple-fields branch): 1 appended (or, no
 * stamp in the text, nothing to print), 0 to decline, -1 on error. */
static int out_text_record(Renderer *r, outbuf *b, PyObject *record, const char *node,
                           size_t node_len, const char *stamp, size_t stamp_len)
{
    PyObject *raw = record_slot(record, F_RAW), *type = record_slot(record, F_TYPE);
    PyObject *items = record_slot(record, F_ITEMS);
    if (!raw || !type || !items || !PyUnicode_CheckExact(raw) || !PyUnicode_IS_ASCII(raw) ||
        !PyLong_CheckExact(type) || !PyTuple_CheckExact(items) || !pairs_of_str(items))
        return 0;
    const char *text = (const char *)PyUnicode_1BYTE_DATA(raw);
    Py_ssize_t len = PyUnicode_GET_LENGTH(raw);
    Py_ssize_t end = find_char(text, 0, len, 0x1d);
    if (end == -1)
        end = len;
    Py_ssize_t start = 0;
    if (node_len) {
        Py_ssize_t space = find_char(text, 0, end, ' ');
        if (space != -1)
            start = space + 1;
    }
    Py_ssize_t paren = find_char(text, start, end, '(');
    Py_ssize_t close = paren == -1 ? -1 : find_char(text, paren + 1, end, ')');
    if (paren == -1 || close == -1)
        return 1; /* no stamp: ausearch prints nothing */
    if (!(close + 2 < end && text[close + 1] == ':' && text[close + 2] == ' '))
        return 0; /* the walk's business */
    PyObject *name = PyDict_GetItemWithError(r->log_names, type); /* borrowed */
    if (!name) {
        if (PyErr_Occurred())
            return -1;
        if (!(end - start >= 6 && memcmp(text + start, "audit(", 6) == 0))
            return 0; /* a type we cannot name: the reference's head */
        name = record_slot(record, F_TYPE_NAME);
    }
    if (!name || !PyUnicode_CheckExact(name) || !PyUnicode_IS_ASCII(name))
        return 0;
    if (!simple_as_items(text + close + 3, (size_t)(end - close - 3), items))
        return 0;
    PyObject *parts[MAX_FIELDS];
    Py_ssize_t nparts = 0;
    int repeats = 0;
    int ok = finished_fields_of(r, record, parts, &nparts, &repeats, 0);
    if (ok <= 0)
        return ok;
    size_t mark = b->len;
    if (out_put(b, node, node_len) < 0 || OUT_LITERAL(b, "type=") < 0 ||
        out_ascii_str(b, name) < 0 || OUT_LITERAL(b, " msg=") < 0 ||
        out_put(b, stamp, stamp_len) < 0 || OUT_LITERAL(b, ": ") < 0) {
        parts_free(parts, nparts);
        return -1;
    }
    ok = out_parts(b, parts, nparts, " ");
    if (ok <= 0)
        return ok;
    if (OUT_LITERAL(b, " ") < 0)
        return -1;
    return printable(b->p, mark, b->len); /* else neutralise() would change it */
}

/* One event's text (formats.text_lines, joined by newlines): 1, 0 to decline, -1. */
static int out_text_event(Renderer *r, outbuf *b, PyObject *event)
{
    if (!event_class || Py_TYPE(event) != event_class || !PyDict_CheckExact(r->log_names))
        return 0;
    PyObject *records = event_slot(event, E_RECORDS);
    PyObject *timestamp = event_slot(event, E_TIMESTAMP);
    PyObject *sequence = event_slot(event, E_SEQUENCE);
    PyObject *node = event_slot(event, E_NODE);
    PyObject *eoe = event_slot(event, E_EOE);
    if (!records || !timestamp || !sequence || !node || !eoe || !PyTuple_CheckExact(records) ||
        !PyFloat_CheckExact(timestamp) || !PyLong_CheckExact(sequence))
        return 0;
    /* _ausearch_time: round(timestamp * 1000) (half to even), local time */
    double ms = nearbyint(PyFloat_AS_DOUBLE(timestamp) * 1000.0);
    if (!(ms >= 0.0 && ms < 253402300800000.0))
        return 0;
    long long whole = (long long)ms;
    time_t seconds = (time_t)(whole / 1000);
    struct tm tm;
    if (!localtime_r(&seconds, &tm))
        return 0;
    unsigned long long serial = PyLong_AsUnsignedLongLong(sequence);
    if (serial == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    char stamp[96];
    int k = snprintf(stamp, sizeof(stamp), "audit(%02d/%02d/%02d %02d:%02d:%02d.%03d:%llu) ",
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_year % 100, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(whole % 1000), serial);
    if (k <= 0 || (size_t)k >= sizeof(stamp))
        return 0;
    char prefix[256];
    size_t prefix_len = 0;
    if (node != Py_None) {
        if (!PyUnicode_CheckExact(node) || !PyUnicode_IS_ASCII(node) ||
            PyUnicode_GET_LENGTH(node) > 200)
            return 0;
        size_t nk = (size_t)PyUnicode_GET_LENGTH(node);
        if (nk) { /* "node=NAME " -- an empty name prints none, as `if event.node` */
            memcpy(prefix, "node=", 5);
            memcpy(prefix + 5, PyUnicode_1BYTE_DATA(node), nk);
            prefix[5 + nk] = ' ';
            prefix_len = nk + 6;
        }
    }
    if (OUT_LITERAL(b, "----") < 0)
        return -1;
    Py_ssize_t count = PyTuple_GET_SIZE(records), first = 0;
    if (eoe == Py_True) {
        if (OUT_LITERAL(b, "\n") < 0 || out_put(b, prefix, prefix_len) < 0 ||
            OUT_LITERAL(b, "type=EOE msg=") < 0 || out_put(b, stamp, (size_t)k) < 0 ||
            OUT_LITERAL(b, ": \n") < 0)
            return -1;
    } else if (eoe != Py_False) {
        return 0;
    } else if (count) {
        PyObject *last = PyTuple_GET_ITEM(records, count - 1);
        PyObject *type = Py_TYPE(last) == record_class ? record_slot(last, F_TYPE) : NULL;
        if (!type || !PyLong_CheckExact(type))
            return 0;
        long number = PyLong_AsLong(type);
        if (number == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        if (number >= r->daemon_first && number < r->daemon_end)
            first = count - 1; /* ausearch prints only the last record of such events */
    }
    for (Py_ssize_t i = count - 1; i >= first; i--) {
        PyObject *record = PyTuple_GET_ITEM(records, i);
        if (Py_TYPE(record) != record_class)
            return 0;
        size_t before = b->len;
        if (OUT_LITERAL(b, "\n") < 0)
            return -1;
        int ok = out_text_record(r, b, record, prefix, prefix_len, stamp, (size_t)k);
        if (ok <= 0)
            return ok;
        if (b->len == before + 1)
            b->len = before; /* nothing printed for it: no line */
    }
    return 1;
}

/* _make_safe on the ASCII text built from b's offset mark on: DEL (which json.dumps
 * leaves raw) becomes \u007f. 0, or -1 on error. */
static int escape_dels(outbuf *b, size_t mark)
{
    if (!memchr(b->p + mark, 0x7f, b->len - mark))
        return 0; /* nearly always: one vectorised scan */
    size_t dels = 0;
    for (size_t i = mark; i < b->len; i++)
        dels += b->p[i] == 0x7f;
    if (out_reserve(b, 5 * dels) < 0)
        return -1;
    size_t from = b->len, to = b->len + 5 * dels;
    b->len = to;
    while (from > mark) { /* backwards, in place */
        char c = b->p[--from];
        if (c == 0x7f) {
            to -= 6;
            memcpy(b->p + to, "\\u007f", 6);
        } else {
            b->p[--to] = c;
        }
    }
    return 0;
}

/* Append event's line (C where it can, else the fallback's text, UTF-8). 0 or -1. */
enum { FMT_JSON, FMT_RECORDS, FMT_TEXT };

static int out_event_or_fallback(Renderer *r, outbuf *b, PyObject *event, int raw, int fmt)
{
    size_t mark = b->len;
    int ok = fmt == FMT_TEXT      ? (raw ? 0 : out_text_event(r, b, event))
             : fmt == FMT_RECORDS ? out_record_lines(r, b, event, raw)
                                  : out_event(r, b, event, raw);
    if (ok < 0)
        return -1;
    if (ok > 0)
        return fmt == FMT_TEXT ? 0 : escape_dels(b, mark); /* text: printable already */
    b->len = mark;
    PyObject *fallback = fmt == FMT_TEXT      ? r->text_fallback
                         : fmt == FMT_RECORDS ? r->records_fallback
                                              : r->fallback;
    PyObject *text = PyObject_CallFunctionObjArgs(fallback, event, raw ? Py_True : Py_False, NULL);
    if (!text)
        return -1;
    if (!PyUnicode_Check(text)) {
        Py_DECREF(text);
        PyErr_SetString(PyExc_TypeError, "fallback: expected a str");
        return -1;
    }
    Py_ssize_t k;
    const char *s = PyUnicode_AsUTF8AndSize(text, &k); /* the reference's text is valid UTF-8 */
    if (!PyUnicode_IS_ASCII(text))
        b->utf8 = 1;
    int rc = s ? out_put(b, s, (size_t)k) : -1;
    Py_DECREF(text);
    return rc;
}

/* The buffer as a str: ASCII unless a fallback's text was not (then UTF-8). */
static PyObject *out_text(outbuf *b)
{
    if (!b->utf8) {
        PyObject *text = PyUnicode_New((Py_ssize_t)b->len, 127);
        if (text)
            memcpy(PyUnicode_1BYTE_DATA(text), b->p, b->len);
        return text;
    }
    return PyUnicode_DecodeUTF8(b->p, (Py_ssize_t)b->len, NULL);
}

static int hooks_set(Renderer *r, int raw, int fmt)
{
    if (fmt == FMT_TEXT) {
        if (r->text_fallback != Py_None)
            return 1;
        PyErr_SetString(PyExc_RuntimeError, "Renderer: set_text_hooks() first");
        return 0;
    }
    if (r->fallback == Py_None || r->record_tail == Py_None ||
        (fmt == FMT_RECORDS && r->records_fallback == Py_None) ||
        (raw && (r->raw_fields == Py_None || r->raw_fragments == Py_None))) {
        PyErr_SetString(PyExc_RuntimeError, "Renderer: set_event_hooks() first");
        return 0;
    }
    return 1;
}

static PyObject *one_event(Renderer *r, PyObject *event, int raw)
{
    if (!hooks_set(r, raw, FMT_JSON))
        return NULL;
    outbuf b;
    out_init(&b);
    PyObject *text = NULL;
    if (out_event_or_fallback(r, &b, event, raw, FMT_JSON) == 0)
        text = out_text(&b);
    out_free(&b);
    return text;
}

/* The largest buffer many_events keeps between calls (a batch's text is ~0.1-1 MiB). */
#define SPARE_MAX (8u << 20)

static PyObject *many_events(Renderer *r, PyObject *events, int raw, int fmt)
{
    if (!hooks_set(r, raw, fmt))
        return NULL;
    PyObject *seq = PySequence_Tuple(events); /* a tuple: no callback can change it */
    if (!seq)
        return NULL;
    outbuf b;
    out_init(&b);
    if (r->spare) { /* the last call's buffer: its pages are already the process's */
        b.p = r->spare;
        b.cap = r->spare_cap;
        r->spare = NULL; /* taken: a fallback that renders again gets its own */
    }
    PyObject *result = NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        int rc = out_event_or_fallback(r, &b, PyTuple_GET_ITEM(seq, i), raw, fmt);
        if (rc < 0 || OUT_LITERAL(&b, "\n") < 0)
            goto done;
    }
    result = out_text(&b);
done:
    if (b.p != b.local && b.cap <= SPARE_MAX && !r->spare) {
        r->spare = b.p;
        r->spare_cap = b.cap;
    } else {
        out_free(&b);
    }
    Py_DECREF(seq);
    return result;
}

/* event_json(event) -> str: formats.event_json (the reference's text, always). */
static PyObject *Renderer_event_json(Renderer *r, PyObject *event)
{
    return one_event(r, event, 0);
}

/* events_json(events) -> str: event_json of each, each followed by a newline. */
static PyObject *Renderer_events_json(Renderer *r, PyObject *events)
{
    return many_events(r, events, 0, FMT_JSON);
}

/* raw_event_json / raw_events_json: the same for event_json(event, raw=True). */
static PyObject *Renderer_raw_event_json(Renderer *r, PyObject *event)
{
    return one_event(r, event, 1);
}

static PyObject *Renderer_raw_events_json(Renderer *r, PyObject *events)
{
    return many_events(r, events, 1, FMT_JSON);
}

/* records_text(events, raw) -> str: each event in the records format (one line per
 * record), each event's lines followed by a newline -- formats.events_text(events,
 * "records", raw=raw). */
static PyObject *Renderer_records_text(Renderer *r, PyObject *args)
{
    PyObject *events;
    int raw;
    if (!PyArg_ParseTuple(args, "Op", &events, &raw))
        return NULL;
    return many_events(r, events, raw, FMT_RECORDS);
}

/* text_events(events, raw) -> str: formats.events_text(events, "text", raw=raw) (its
 * interpreted lines in C; raw, the fallback's). For a renderer made with text=True. */
static PyObject *Renderer_text_events(Renderer *r, PyObject *args)
{
    PyObject *events;
    int raw;
    if (!PyArg_ParseTuple(args, "Op", &events, &raw))
        return NULL;
    if (!r->text) {
        PyErr_SetString(PyExc_RuntimeError, "Renderer: text_events() needs a text renderer");
        return NULL;
    }
    return many_events(r, events, raw, FMT_TEXT);
}

/* set_text_hooks(fallback, log_names, daemon_first, daemon_end): the reference's lines
 * of one event (callable(event, raw) -> str), LOG_NAMES, and the daemon types' range. */
static PyObject *Renderer_set_text_hooks(Renderer *r, PyObject *args)
{
    PyObject *fallback, *names;
    long first, end;
    if (!PyArg_ParseTuple(args, "OO!ll", &fallback, &PyDict_Type, &names, &first, &end))
        return NULL;
    Py_XSETREF(r->text_fallback, Py_NewRef(fallback));
    Py_XSETREF(r->log_names, Py_NewRef(names));
    r->daemon_first = first;
    r->daemon_end = end;
    Py_RETURN_NONE;
}

/* set_records_hook(fallback): callable(event, raw) -> the event's records-format lines */
static PyObject *Renderer_set_records_hook(Renderer *r, PyObject *fallback)
{
    Py_XSETREF(r->records_fallback, Py_NewRef(fallback));
    Py_RETURN_NONE;
}

/* set_raw_hooks(raw_fields, raw_fragments) */
static PyObject *Renderer_set_raw_hooks(Renderer *r, PyObject *args)
{
    PyObject *fields, *fragments;
    if (!PyArg_ParseTuple(args, "OO!", &fields, &PyDict_Type, &fragments))
        return NULL;
    Py_XSETREF(r->raw_fields, Py_NewRef(fields));
    Py_XSETREF(r->raw_fragments, Py_NewRef(fragments));
    Py_RETURN_NONE;
}

/* set_event_hooks(record_tail, fallback, execve, proctitle, sockaddr) */
static PyObject *Renderer_set_event_hooks(Renderer *r, PyObject *args)
{
    PyObject *tail, *fallback;
    long execve, proctitle, sockaddr;
    if (!PyArg_ParseTuple(args, "OOlll", &tail, &fallback, &execve, &proctitle, &sockaddr))
        return NULL;
    Py_XSETREF(r->record_tail, Py_NewRef(tail));
    Py_XSETREF(r->fallback, Py_NewRef(fallback));
    r->execve_type = execve;
    r->proctitle_type = proctitle;
    r->sockaddr_type = sockaddr;
    Py_RETURN_NONE;
}

static PyMethodDef Renderer_methods[] = {
    {"fields_json", (PyCFunction)Renderer_fields_json, METH_O,
     "Interpreter.fields_json(record) in C: (json, repeats), or None to decline."},
    {"event_json", (PyCFunction)Renderer_event_json, METH_O,
     "formats.event_json(event): in C where it can, else the reference (the fallback hook)."},
    {"events_json", (PyCFunction)Renderer_events_json, METH_O,
     "event_json() of each event, each followed by a newline, as one str."},
    {"raw_event_json", (PyCFunction)Renderer_raw_event_json, METH_O,
     "formats.event_json(event, raw=True): in C where it can, else the reference."},
    {"raw_events_json", (PyCFunction)Renderer_raw_events_json, METH_O,
     "raw_event_json() of each event, each followed by a newline, as one str."},
    {"records_text", (PyCFunction)Renderer_records_text, METH_VARARGS,
     "records_text(events, raw): the records format of each event, as one str."},
    {"text_events", (PyCFunction)Renderer_text_events, METH_VARARGS,
     "text_events(events, raw): the text format (ausearch -i lines) of each event."},
    {"set_text_hooks", (PyCFunction)Renderer_set_text_hooks, METH_VARARGS,
     "Hand over formats' reference text lines, LOG_NAMES and the daemon types' range."},
    {"set_records_hook", (PyCFunction)Renderer_set_records_hook, METH_O,
     "Hand over formats' reference records-format rendering of one event."},
    {"set_event_hooks", (PyCFunction)Renderer_set_event_hooks, METH_VARARGS,
     "Hand over formats' record tail and reference event_json, and the record types."},
    {"set_raw_hooks", (PyCFunction)Renderer_set_raw_hooks, METH_VARARGS,
     "Hand over formats' raw fields function and its memo of fragments (for --raw)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RendererType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "trioaudit._native._core.Renderer",
    .tp_basicsize = sizeof(Renderer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One interpreter's fields_json and the event renderer built on it.",
    .tp_traverse = (traverseproc)Renderer_traverse,
    .tp_clear = (inquiry)Renderer_clear,
    .tp_dealloc = (destructor)Renderer_dealloc,
    .tp_init = (initproc)Renderer_init,
    .tp_new = PyType_GenericNew,
    .tp_methods = Renderer_methods,
};

/* The offsets of a slotted class's named slots, checked to be plain object slots. */
static int slot_offsets(PyObject *cls, const char *const *names, int count, Py_ssize_t *offsets)
{
    for (int f = 0; f < count; f++) {
        PyObject *descr = PyObject_GetAttrString(cls, names[f]);
        if (!descr)
            return -1;
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
                 ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX;
        Py_ssize_t offset = ok ? ((PyMemberDescrObject *)descr)->d_member->offset : 0;
        Py_DECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot",
                         ((PyTypeObject *)cls)->tp_name, names[f]);
            return -1;
        }
        offsets[f] = offset;
    }
    return 0;
}

/* configure(AuditRecord, AuditEvent, log_numbers, enrichment_for, no_enrichment, avc,
 *           user_avc, max_record_length, max_timestamp) */
static PyObject *configure(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cls, *event_cls, *numbers, *factory, *empty;
    long avc, user_avc;
    Py_ssize_t max_length;
    long long max_stamp;
    if (!PyArg_ParseTuple(args, "O!O!O!OOllnL", &PyType_Type, &cls, &PyType_Type, &event_cls,
                          &PyDict_Type, &numbers, &factory, &empty, &avc, &user_avc, &max_length,
                          &max_stamp))
        return NULL;
    if (slot_offsets(cls, field_names, F_COUNT, field_offsets) < 0 ||
        slot_offsets(event_cls, event_field_names, E_COUNT, event_offsets) < 0)
        return NULL;
    if (!str_cache) {
        str_cache = PyMem_Calloc(CACHE_SLOTS, sizeof(cache_slot));
        pair_cache = PyMem_Calloc(CACHE_SLOTS, sizeof(cache_slot));
        enrichments = PyMem_Calloc(ENRICHMENT_SLOTS, sizeof(enrichment_slot));
        if (!str_cache || !pair_cache || !enrichments)
            return PyErr_NoMemory();
    } else {
        for (int i = 0; i < ENRICHMENT_SLOTS; i++) { /* a new factory: forget the old answers */
            Py_CLEAR(enrichments[i].mapping);
            enrichments[i].len = 0;
        }
    }
    Py_XSETREF(record_class, (PyTypeObject *)Py_NewRef(cls));
    Py_XSETREF(event_class, (PyTypeObject *)Py_NewRef(event_cls));
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
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_core", "trioaudit's compiled core.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void)
{
    ta_items_init(&scratch);
    if (PyType_Ready(&RendererType) < 0 || PyType_Ready(&ReassemblerType) < 0 ||
        PyType_Ready(&DrainType) < 0 || PyType_Ready(&WakeTimerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m && (PyModule_AddObjectRef(m, "Renderer", (PyObject *)&RendererType) < 0 ||
              PyModule_AddObjectRef(m, "Reassembler", (PyObject *)&ReassemblerType) < 0 ||
              PyModule_AddObjectRef(m, "Drain", (PyObject *)&DrainType) < 0 ||
              PyModule_AddObjectRef(m, "WakeTimer", (PyObject *)&WakeTimerType) < 0))
        Py_CLEAR(m);
    return m;
}
