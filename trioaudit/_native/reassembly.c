/* trioaudit._native._core.Reassembler: trioaudit._records.reassembly.Reassembler in C.
 *
 * The same rules, step for step (the Python class is the reference and the module doc
 * there says why each rule is what it is): events keyed by (timestamp, serial, node),
 * one clock and one list of open events by last activity per node, EOE, single-record
 * types, the once-per-event types, late records, max_open with eviction, MAX_NODES,
 * serial-gap hints, and the stamp order of log files (a sorted run and a heap of the
 * open events' places, a heap of held events). tests/unit/test_native_reassembly.py
 * feeds both the same records and compares every event and every counter.
 *
 * Records stay Python objects (AuditRecord); what the rules read of them (type, stamp,
 * node) is read once per record. Events are built as AuditEvent objects directly
 * through the dataclass's slots, as records are (see _core.c).
 */
#include "_core.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* As in reassembly.py */
#define RECENT_COMPLETED 4096
#define MAX_TRACKED_MISSING 8192
#define GAP_RESET_WINDOW (1LL << 20)
#define MAX_NODES 4096
#define DAEMON_FIRST 1200
#define DAEMON_LAST 1299

typedef struct node node;
typedef struct pending pending;

/* An event's stamp: (timestamp, serial, node name) -- reassembly.py's Key. */
typedef struct {
    double ts;
    PyObject *ts_obj; /* owned: the first record's timestamp */
    PyObject *seq;    /* owned: its sequence (int) */
    long long seq_small;
    int small;        /* seq fits in seq_small */
    PyObject *name;   /* owned: str or None */
    Py_hash_t hash;
} stamp;

/* An event's place in stamp order: (timestamp, serial, arrival). */
typedef struct {
    double ts;
    PyObject *seq; /* borrowed from the pending's / event's stamp */
    long long seq_small;
    int small;
    unsigned long long arrival;
} order;

struct pending { /* reassembly.py's _Pending */
    stamp key;
    node *owner;
    PyObject *records; /* list */
    int once, late, closed, has_order;
    double created;
    order place;
    pending *prev, *next; /* the node's open events, by last activity */
    pending *chain;       /* the table's bucket */
    int refs;             /* the table (while open) + run/heap entries */
};

struct node { /* reassembly.py's _Node */
    PyObject *name; /* owned */
    double now;
    PyObject *highest; /* owned int, or NULL */
    pending *first, *last;
    Py_ssize_t count;
    node *prev, *next; /* nodes, by last activity */
};

typedef struct {
    order place;
    pending *p;
} placed;

typedef struct {
    order place;
    PyObject *event; /* owned */
} held_event;

typedef struct {
    PyObject_HEAD
    double timeout;
    Py_ssize_t max_open;
    int stamp_order;
    PyObject *statistics_class;
    long eoe_type;
    long once_types[16];
    int once_count;
    /* nodes */
    PyObject *nodes_by_name; /* dict: name -> int (the node's address) */
    node *lru, *mru;
    Py_ssize_t node_count;
    node *current;
    /* open events */
    pending **table;
    size_t buckets, in_table;
    Py_ssize_t open;
    /* completed stamps remembered */
    stamp *recent; /* ring of RECENT_COMPLETED */
    size_t recent_head, recent_count;
    int *recent_chain;   /* per ring slot: the next slot in its bucket, or -1 */
    int *recent_buckets; /* RECENT_BUCKETS heads, or -1 */
    PyObject *missing;    /* set of (name, serial) */
    /* stamp order */
    placed *run;
    size_t run_head, run_len, run_cap; /* a ring */
    placed *heap;
    size_t heap_len, heap_cap;
    held_event *held;
    size_t held_len, held_cap;
    unsigned long long arrivals;
    /* counters */
    Py_ssize_t completed, by_eoe, timed_out, evicted, late, repeated, gaps, lost, resets;
} Reassembler;

/* ---- stamps and places ------------------------------------------------------------ */

static int stamp_init(stamp *s, PyObject *ts_obj, PyObject *seq, PyObject *name)
{
    s->ts = PyFloat_AsDouble(ts_obj);
    if (s->ts == -1.0 && PyErr_Occurred())
        return -1;
    int overflow = 0;
    s->seq_small = PyLong_AsLongLongAndOverflow(seq, &overflow);
    if (s->seq_small == -1 && PyErr_Occurred())
        return -1;
    s->small = !overflow;
    /* The hash of the key tuple is not needed, only a consistent one: equal keys hash
     * alike (equal ints have equal hashes, so big serials use Python's). */
    Py_hash_t h = PyObject_Hash(seq);
    if (h == -1)
        return -1;
    Py_hash_t nh = name == Py_None ? 0 : PyObject_Hash(name);
    if (nh == -1)
        return -1;
    uint64_t bits;
    double ts = s->ts == 0.0 ? 0.0 : s->ts; /* -0.0 == 0.0 */
    memcpy(&bits, &ts, sizeof(bits));
    s->hash = (Py_hash_t)((uint64_t)h * 0x9E3779B97F4A7C15ULL ^ bits * 0xC2B2AE3D27D4EB4FULL ^
                          (uint64_t)nh);
    s->ts_obj = Py_NewRef(ts_obj);
    s->seq = Py_NewRef(seq);
    s->name = Py_NewRef(name);
    return 0;
}

static void stamp_clear(stamp *s)
{
    Py_CLEAR(s->ts_obj);
    Py_CLEAR(s->seq);
    Py_CLEAR(s->name);
}

/* name == other, as Python compares them (None, or str). -1 on error. */
static int same_node(PyObject *a, PyObject *b)
{
    if (a == b)
        return 1;
    if (a == Py_None || b == Py_None)
        return 0;
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

static int same_serial(long long a_small, int a_is, PyObject *a, long long b_small, int b_is,
                       PyObject *b)
{
    if (a_is && b_is)
        return a_small == b_small;
    if (a_is != b_is)
        return 0; /* one fits in 64 bits, the other does not */
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

static int stamp_eq(const stamp *a, const stamp *b)
{
    if (a->hash != b->hash || a->ts != b->ts)
        return 0;
    int same = same_serial(a->seq_small, a->small, a->seq, b->seq_small, b->small, b->seq);
    if (same <= 0)
        return same;
    return same_node(a->name, b->name);
}

/* a < b for serials (ints). */
static int serial_lt(long long a_small, int a_is, PyObject *a, long long b_small, int b_is,
                     PyObject *b)
{
    if (a_is && b_is)
        return a_small < b_small;
    int lt = PyObject_RichCompareBool(a, b, Py_LT);
    if (lt < 0) {
        PyErr_Clear(); /* ints always compare */
        return 0;
    }
    return lt;
}

static int order_lt(const order *a, const order *b)
{
    if (a->ts != b->ts)
        return a->ts < b->ts;
    if (!same_serial(a->seq_small, a->small, a->seq, b->seq_small, b->small, b->seq))
        return serial_lt(a->seq_small, a->small, a->seq, b->seq_small, b->small, b->seq);
    return a->arrival < b->arrival;
}

static order order_of(const stamp *s, unsigned long long arrival)
{
    order o = {s->ts, s->seq, s->seq_small, s->small, arrival};
    return o;
}

/* ---- pending events -------------------------------------------------------------- */

static void pending_release(pending *p)
{
    if (--p->refs > 0)
        return;
    stamp_clear(&p->key);
    Py_CLEAR(p->records);
    PyMem_Free(p);
}

static int table_grow(Reassembler *r)
{
    size_t buckets = r->buckets ? r->buckets * 2 : 1024;
    pending **table = PyMem_Calloc(buckets, sizeof(pending *));
    if (!table) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < r->buckets; i++) {
        pending *p = r->table[i];
        while (p) {
            pending *next = p->chain;
            size_t at = (size_t)p->key.hash & (buckets - 1);
            p->chain = table[at];
            table[at] = p;
            p = next;
        }
    }
    PyMem_Free(r->table);
    r->table = table;
    r->buckets = buckets;
    return 0;
}

/* The open event of this stamp on node n, or NULL (with an error set on failure). */
static pending *table_find(Reassembler *r, const stamp *key)
{
    if (!r->buckets)
        return NULL;
    for (pending *p = r->table[(size_t)key->hash & (r->buckets - 1)]; p; p = p->chain) {
        int eq = stamp_eq(&p->key, key);
        if (eq < 0)
            return NULL;
        if (eq)
            return p;
    }
    return NULL;
}

static int table_add(Reassembler *r, pending *p)
{
    if (r->in_table >= r->buckets && table_grow(r) < 0)
        return -1;
    size_t at = (size_t)p->key.hash & (r->buckets - 1);
    p->chain = r->table[at];
    r->table[at] = p;
    r->in_table++;
    p->refs++;
    return 0;
}

static void table_remove(Reassembler *r, pending *p)
{
    pending **at = &r->table[(size_t)p->key.hash & (r->buckets - 1)];
    while (*at != p)
        at = &(*at)->chain;
    *at = p->chain;
    r->in_table--;
}

/* Doubly linked lists through prev/next: a node's open events, and the nodes. */
#define LIST_UNLINK(first, last, item)                                                        \
    do {                                                                                      \
        if ((item)->prev)                                                                     \
            (item)->prev->next = (item)->next;                                                \
        else                                                                                  \
            (first) = (item)->next;                                                           \
        if ((item)->next)                                                                     \
            (item)->next->prev = (item)->prev;                                                \
        else                                                                                  \
            (last) = (item)->prev;                                                            \
        (item)->prev = (item)->next = NULL;                                                   \
    } while (0)

#define LIST_APPEND(first, last, item)                                                        \
    do {                                                                                      \
        (item)->prev = (last);                                                                \
        (item)->next = NULL;                                                                  \
        if (last)                                                                             \
            (last)->next = (item);                                                            \
        else                                                                                  \
            (first) = (item);                                                                 \
        (last) = (item);                                                                      \
    } while (0)

static void unlink_pending(node *n, pending *p)
{
    LIST_UNLINK(n->first, n->last, p);
    n->count--;
}

static void append_pending(node *n, pending *p)
{
    LIST_APPEND(n->first, n->last, p);
    n->count++;
}

/* Remove an open event from its node and the table (events.pop(key)); the caller
 * holds the table's reference until it is done with it. */
static void take_pending(Reassembler *r, pending *p)
{
    unlink_pending(p->owner, p);
    table_remove(r, p);
}

/* ---- heaps (by place) ------------------------------------------------------------ */

#define HEAP_FUNCS(NAME, T)                                                                   \
    static int NAME##_push(T **items, size_t *len, size_t *cap, T item)                      \
    {                                                                                         \
        if (*len == *cap) {                                                                   \
            size_t grown = *cap ? *cap * 2 : 64;                                              \
            T *more = PyMem_Realloc(*items, grown * sizeof(T));                               \
            if (!more) {                                                                      \
                PyErr_NoMemory();                                                             \
                return -1;                                                                    \
            }                                                                                 \
            *items = more;                                                                    \
            *cap = grown;                                                                     \
        }                                                                                     \
        T *h = *items;                                                                        \
        size_t i = (*len)++;                                                                  \
        while (i > 0) {                                                                       \
            size_t up = (i - 1) / 2;                                                          \
            if (!order_lt(&item.place, &h[up].place))                                         \
                break;                                                                        \
            h[i] = h[up];                                                                     \
            i = up;                                                                           \
        }                                                                                     \
        h[i] = item;                                                                          \
        return 0;                                                                             \
    }                                                                                         \
    static void NAME##_sift_down(T *h, size_t len, size_t i)                                  \
    {                                                                                         \
        T item = h[i];                                                                        \
        for (;;) {                                                                            \
            size_t child = 2 * i + 1;                                                         \
            if (child >= len)                                                                 \
                break;                                                                        \
            if (child + 1 < len && order_lt(&h[child + 1].place, &h[child].place))            \
                child++;                                                                      \
            if (!order_lt(&h[child].place, &item.place))                                      \
                break;                                                                        \
            h[i] = h[child];                                                                  \
            i = child;                                                                        \
        }                                                                                     \
        h[i] = item;                                                                          \
    }                                                                                         \
    static T NAME##_pop(T *h, size_t *len)                                                    \
    {                                                                                         \
        T top = h[0];                                                                         \
        if (--*len > 0) {                                                                     \
            h[0] = h[*len];                                                                   \
            NAME##_sift_down(h, *len, 0);                                                     \
        }                                                                                     \
        return top;                                                                           \
    }

HEAP_FUNCS(places, placed)
HEAP_FUNCS(helds, held_event)

static int run_append(Reassembler *r, placed item)
{
    if (r->run_len == r->run_cap) {
        size_t grown = r->run_cap ? r->run_cap * 2 : 256;
        placed *more = PyMem_Malloc(grown * sizeof(placed));
        if (!more) {
            PyErr_NoMemory();
            return -1;
        }
        for (size_t i = 0; i < r->run_len; i++)
            more[i] = r->run[(r->run_head + i) % r->run_cap];
        PyMem_Free(r->run);
        r->run = more;
        r->run_head = 0;
        r->run_cap = grown;
    }
    r->run[(r->run_head + r->run_len++) % r->run_cap] = item;
    return 0;
}

static placed *run_front(Reassembler *r)
{
    return r->run_len ? &r->run[r->run_head] : NULL;
}

static placed *run_back(Reassembler *r)
{
    return r->run_len ? &r->run[(r->run_head + r->run_len - 1) % r->run_cap] : NULL;
}

static void run_popleft(Reassembler *r)
{
    pending_release(r->run[r->run_head].p);
    r->run_head = (r->run_head + 1) % r->run_cap;
    r->run_len--;
}

/* _lowest_open: the place of the lowest open event (pruning closed ones), or NULL. */
static const order *lowest_open(Reassembler *r)
{
    while (r->run_len && run_front(r)->p->closed)
        run_popleft(r);
    while (r->heap_len && r->heap[0].p->closed)
        pending_release(places_pop(r->heap, &r->heap_len).p);
    placed *front = run_front(r);
    if (!front)
        return r->heap_len ? &r->heap[0].place : NULL;
    if (r->heap_len && order_lt(&r->heap[0].place, &front->place))
        return &r->heap[0].place;
    return &front->place;
}

/* ---- nodes ------------------------------------------------------------------------- */

static node *node_new(PyObject *name)
{
    node *n = PyMem_Calloc(1, sizeof(node));
    if (!n) {
        PyErr_NoMemory();
        return NULL;
    }
    n->name = Py_NewRef(name);
    n->now = -INFINITY;
    return n;
}

static void node_unlink(Reassembler *r, node *n)
{
    LIST_UNLINK(r->lru, r->mru, n);
}

static void node_append(Reassembler *r, node *n)
{
    LIST_APPEND(r->lru, r->mru, n);
}

static void node_free(node *n)
{
    Py_CLEAR(n->name);
    Py_CLEAR(n->highest);
    PyMem_Free(n);
}

/* ---- completing events ------------------------------------------------------------- */

static PyObject *make_event(const stamp *key, PyObject *records, int eoe)
{
    PyObject *tuple = PyList_AsTuple(records);
    if (!tuple)
        return NULL;
    PyObject_GC_UnTrack(tuple); /* of records, which are acyclic (see make_record) */
    PyObject *event = event_class->tp_alloc(event_class, 0);
    if (!event) {
        Py_DECREF(tuple);
        return NULL;
    }
    PyObject *values[E_COUNT] = {Py_NewRef(key->seq), Py_NewRef(key->ts_obj),
                                 Py_NewRef(key->name), tuple, Py_NewRef(eoe ? Py_True : Py_False)};
    for (int f = 0; f < E_COUNT; f++) {
        PyObject **where = (PyObject **)((char *)event + event_offsets[f]);
        Py_XSETREF(*where, values[f]);
    }
    /* Acyclic (a stamp and a tuple of records, which are): see make_record. */
    PyObject_GC_UnTrack(event);
    return event;
}

/* The completed stamps remembered (reassembly.py's _recent deque and _recent_set): a
 * ring of RECENT_COMPLETED stamps, chained by hash from RECENT_BUCKETS buckets. */
#define RECENT_BUCKETS (2 * RECENT_COMPLETED)

/* Whether key is among the remembered stamps: 1, 0, or -1 on error. */
static int recently_completed(Reassembler *r, const stamp *key)
{
    for (int i = r->recent_buckets[(size_t)key->hash & (RECENT_BUCKETS - 1)]; i >= 0;
         i = r->recent_chain[i]) {
        int eq = stamp_eq(&r->recent[i], key);
        if (eq)
            return eq;
    }
    return 0;
}

static int remember(Reassembler *r, const stamp *key)
{
    int known = recently_completed(r, key);
    if (known)
        return known < 0 ? -1 : 0;
    int at;
    if (r->recent_count == RECENT_COMPLETED) { /* forget the oldest: unlink it */
        at = (int)r->recent_head;
        stamp *oldest = &r->recent[at];
        int *link = &r->recent_buckets[(size_t)oldest->hash & (RECENT_BUCKETS - 1)];
        while (*link != at)
            link = &r->recent_chain[*link];
        *link = r->recent_chain[at];
        stamp_clear(oldest);
        r->recent_head = (r->recent_head + 1) % RECENT_COMPLETED;
    } else {
        at = (int)((r->recent_head + r->recent_count++) % RECENT_COMPLETED);
    }
    stamp *slot = &r->recent[at];
    *slot = *key;
    Py_INCREF(slot->ts_obj);
    Py_INCREF(slot->seq);
    Py_INCREF(slot->name);
    int *bucket = &r->recent_buckets[(size_t)key->hash & (RECENT_BUCKETS - 1)];
    r->recent_chain[at] = *bucket;
    *bucket = at;
    return 0;
}

/* _emit: build the event of key; append it to out, or in stamp order hold it (place:
 * where it first appeared, or NULL). */
static int emit(Reassembler *r, const stamp *key, PyObject *records, PyObject *out, int eoe,
                const order *place)
{
    r->completed++;
    if (remember(r, key) < 0)
        return -1;
    PyObject *event = make_event(key, records, eoe);
    if (!event)
        return -1;
    if (!r->stamp_order) {
        int rc = PyList_Append(out, event);
        Py_DECREF(event);
        return rc;
    }
    order o = place ? *place : order_of(key, r->arrivals++);
    if (!r->held_len || order_lt(&o, &r->held[0].place)) {
        const order *lowest = lowest_open(r);
        if (!lowest || order_lt(&o, lowest)) {
            int rc = PyList_Append(out, event);
            Py_DECREF(event);
            return rc;
        }
    }
    /* The event owns the stamp objects the place points to (sequence): keep it so. */
    o.seq = event_slot(event, E_SEQUENCE);
    held_event h = {o, event};
    if (helds_push(&r->held, &r->held_len, &r->held_cap, h) < 0) {
        Py_DECREF(event);
        return -1;
    }
    if (r->open + (Py_ssize_t)r->held_len > r->max_open) {
        held_event top = helds_pop(r->held, &r->held_len); /* out of turn */
        int rc = PyList_Append(out, top.event);
        Py_DECREF(top.event);
        return rc;
    }
    return 0;
}

/* _close: an event stops being open (already taken from its node) and completes. The
 * caller's table reference is released here. */
static int close_pending(Reassembler *r, pending *p, PyObject *out, int eoe)
{
    r->open--;
    p->closed = 1;
    int rc = emit(r, &p->key, p->records, out, eoe, p->has_order ? &p->place : NULL);
    pending_release(p); /* the table's reference */
    if (rc < 0)
        return -1;
    if (r->run_len + r->heap_len > 2 * (size_t)r->open + 64) {
        /* Closed events deep inside are pruned only when they surface; rebuild now and
         * then so both stay within a constant of the open count. */
        size_t kept = 0;
        placed *ring = PyMem_Malloc((r->run_len ? r->run_len : 1) * sizeof(placed));
        if (!ring) {
            PyErr_NoMemory();
            return -1;
        }
        for (size_t i = 0; i < r->run_len; i++) {
            placed e = r->run[(r->run_head + i) % r->run_cap];
            if (e.p->closed)
                pending_release(e.p);
            else
                ring[kept++] = e;
        }
        PyMem_Free(r->run);
        r->run = ring;
        r->run_head = 0;
        r->run_len = kept;
        r->run_cap = r->run_len ? r->run_len : 1;
        kept = 0;
        for (size_t i = 0; i < r->heap_len; i++) {
            if (r->heap[i].p->closed)
                pending_release(r->heap[i].p);
            else
                r->heap[kept++] = r->heap[i];
        }
        r->heap_len = kept;
        for (size_t i = kept / 2; i-- > 0;)
            places_sift_down(r->heap, r->heap_len, i);
    }
    return 0;
}

/* _release: stamp order: move held events whose turn has come to out. */
static int release_held(Reassembler *r, PyObject *out)
{
    while (r->held_len) {
        const order *lowest = lowest_open(r);
        if (lowest && order_lt(lowest, &r->held[0].place))
            break;
        held_event top = helds_pop(r->held, &r->held_len);
        int rc = PyList_Append(out, top.event);
        Py_DECREF(top.event);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int expire(Reassembler *r, node *n, PyObject *out)
{
    double limit = n->now - r->timeout;
    while (n->first && !(n->first->created > limit)) {
        pending *p = n->first;
        take_pending(r, p);
        r->timed_out++;
        if (close_pending(r, p, out, 0) < 0)
            return -1;
    }
    return 0;
}

/* Keep only the missing serials of other nodes than name. */
static int forget_missing(Reassembler *r, PyObject *name)
{
    if (!PySet_GET_SIZE(r->missing))
        return 0;
    PyObject *kept = PySet_New(NULL);
    if (!kept)
        return -1;
    PyObject *iter = PyObject_GetIter(r->missing), *item;
    if (!iter) {
        Py_DECREF(kept);
        return -1;
    }
    while ((item = PyIter_Next(iter))) {
        int ne = PyObject_RichCompareBool(PyTuple_GET_ITEM(item, 0), name, Py_NE);
        int rc = ne < 0 ? -1 : ne ? PySet_Add(kept, item) : 0;
        Py_DECREF(item);
        if (rc < 0)
            break;
    }
    Py_DECREF(iter);
    if (PyErr_Occurred()) {
        Py_DECREF(kept);
        return -1;
    }
    Py_SETREF(r->missing, kept);
    return 0;
}

static int forget_node(Reassembler *r, PyObject *out)
{
    node *n = r->lru;
    node_unlink(r, n);
    r->node_count--;
    if (PyDict_DelItem(r->nodes_by_name, n->name) < 0)
        return -1;
    int rc = 0;
    while (n->first && rc == 0) {
        pending *p = n->first;
        take_pending(r, p);
        r->evicted++;
        rc = close_pending(r, p, out, 0);
    }
    if (rc == 0)
        rc = forget_missing(r, n->name);
    node_free(n);
    return rc;
}

/* _switch_node: the state of node name (created if new), now the most recently active. */
static node *switch_node(Reassembler *r, PyObject *name, PyObject *out)
{
    PyObject *found = PyDict_GetItemWithError(r->nodes_by_name, name);
    node *n;
    if (found) {
        n = PyLong_AsVoidPtr(found);
        node_unlink(r, n);
        node_append(r, n);
    } else {
        if (PyErr_Occurred())
            return NULL;
        if (r->node_count >= MAX_NODES && forget_node(r, out) < 0)
            return NULL;
        n = node_new(name);
        if (!n)
            return NULL;
        PyObject *address = PyLong_FromVoidPtr(n);
        if (!address || PyDict_SetItem(r->nodes_by_name, name, address) < 0) {
            Py_XDECREF(address);
            node_free(n);
            return NULL;
        }
        Py_DECREF(address);
        node_append(r, n);
        r->node_count++;
    }
    r->current = n;
    return n;
}

static int make_room(Reassembler *r, PyObject *out)
{
    while (r->open + (Py_ssize_t)r->held_len >= r->max_open) {
        if (r->held_len) { /* out of turn: the order yields before an event is split */
            held_event top = helds_pop(r->held, &r->held_len);
            int rc = PyList_Append(out, top.event);
            Py_DECREF(top.event);
            if (rc < 0)
                return -1;
            continue;
        }
        node *n = r->lru;
        while (n && !n->first)
            n = n->next;
        if (!n)
            return 0; /* nothing open: nothing to make room from */
        pending *p = n->first;
        take_pending(r, p);
        r->evicted++;
        if (close_pending(r, p, out, 0) < 0)
            return -1;
    }
    return 0;
}

/* _reset: a serial counter reset. */
static int reset_serials(Reassembler *r, node *n, PyObject *serial)
{
    r->resets++;
    Py_XSETREF(n->highest, Py_NewRef(serial));
    return forget_missing(r, n->name);
}

/* A jump of jump serials above n's highest: a gap of jump - 1 missing serials,
 * remembered one by one while there is room. */
static int note_gap(Reassembler *r, node *n, PyObject *serial, long long jump)
{
    r->gaps++;
    r->lost += (Py_ssize_t)(jump - 1);
    if (PySet_GET_SIZE(r->missing) + jump - 1 > MAX_TRACKED_MISSING)
        return 0;
    PyObject *one = PyLong_FromLong(1);
    PyObject *m = one ? PyNumber_Add(n->highest, one) : NULL;
    int rc = m ? 0 : -1;
    while (rc == 0) {
        int below = PyObject_RichCompareBool(m, serial, Py_LT);
        if (below <= 0) {
            rc = below;
            break;
        }
        PyObject *entry = PyTuple_Pack(2, n->name, m);
        rc = entry ? PySet_Add(r->missing, entry) : -1;
        Py_XDECREF(entry);
        if (rc == 0) {
            Py_SETREF(m, PyNumber_Add(m, one));
            rc = m ? 0 : -1;
        }
    }
    Py_XDECREF(m);
    Py_XDECREF(one);
    return rc;
}

/* A serial below n's highest: if it was missing, it is not any more. */
static int note_late_serial(Reassembler *r, node *n, PyObject *serial)
{
    if (!PySet_GET_SIZE(r->missing))
        return 0;
    PyObject *entry = PyTuple_Pack(2, n->name, serial);
    if (!entry)
        return -1;
    int found = PySet_Discard(r->missing, entry);
    Py_DECREF(entry);
    if (found < 0)
        return -1;
    r->lost -= found;
    return 0;
}

/* _track_serial, on Python ints (serials of logs are unbounded); the distance in C. */
static int track_serial(Reassembler *r, node *n, PyObject *serial)
{
    if (!n->highest) {
        n->highest = Py_NewRef(serial);
        return 0;
    }
    int gt = PyObject_RichCompareBool(serial, n->highest, Py_GT);
    int lt = gt ? 0 : PyObject_RichCompareBool(serial, n->highest, Py_LT);
    if (gt < 0 || lt < 0)
        return -1;
    if (!gt && !lt)
        return 0;
    PyObject *distance = gt ? PyNumber_Subtract(serial, n->highest)
                            : PyNumber_Subtract(n->highest, serial);
    if (!distance)
        return -1;
    int over = 0;
    long long d = PyLong_AsLongLongAndOverflow(distance, &over);
    Py_DECREF(distance);
    if (d == -1 && PyErr_Occurred())
        return -1;
    if (over || d > GAP_RESET_WINDOW)
        return reset_serials(r, n, serial);
    if (!gt)
        return note_late_serial(r, n, serial);
    if (d > 1 && note_gap(r, n, serial, d) < 0)
        return -1;
    Py_SETREF(n->highest, Py_NewRef(serial));
    return 0;
}

/* The record types written at most once per event, bit i for once_types[i]. */
static int once_bit(const Reassembler *r, long kind)
{
    for (int i = 0; i < r->once_count; i++)
        if (r->once_types[i] == kind)
            return 1 << i;
    return 0;
}

static int single_record(long kind)
{
    return (kind >= 1100 && kind <= 1299) || (kind >= 2100 && kind <= 2999);
}

/* What the rules read of a record: its slots when it is an AuditRecord, else its
 * attributes (new references). */
static int read_record(PyObject *record, PyObject **name, PyObject **ts, PyObject **seq,
                       long *kind)
{
    PyObject *type;
    if (Py_TYPE(record) == record_class) {
        *name = Py_NewRef(record_slot(record, F_NODE));
        *ts = Py_NewRef(record_slot(record, F_TIMESTAMP));
        *seq = Py_NewRef(record_slot(record, F_SEQUENCE));
        type = Py_NewRef(record_slot(record, F_TYPE));
    } else {
        *name = PyObject_GetAttrString(record, "node");
        *ts = PyObject_GetAttrString(record, "timestamp");
        *seq = PyObject_GetAttrString(record, "sequence");
        type = PyObject_GetAttrString(record, "type");
    }
    *kind = type ? PyLong_AsLong(type) : -1;
    Py_XDECREF(type);
    if (!*name || !*ts || !*seq || (*kind == -1 && PyErr_Occurred())) {
        Py_CLEAR(*name);
        Py_CLEAR(*ts);
        Py_CLEAR(*seq);
        return -1;
    }
    if (!PyLong_Check(*seq)) {
        PyErr_SetString(PyExc_TypeError, "a record's sequence must be an int");
        Py_CLEAR(*name);
        Py_CLEAR(*ts);
        Py_CLEAR(*seq);
        return -1;
    }
    return 0;
}

/* feed() into out: the body of Reassembler.feed. own_clock: now is the record's own
 * timestamp (a log's time). */
static int feed_into(Reassembler *r, PyObject *record, double now, int own_clock,
                     PyObject *out)
{
    PyObject *name, *ts, *seq;
    long kind;
    if (read_record(record, &name, &ts, &seq, &kind) < 0)
        return -1;
    int rc = -1;
    stamp key = {0};
    if (own_clock) {
        now = PyFloat_AsDouble(ts);
        if (now == -1.0 && PyErr_Occurred())
            goto done;
    }
    node *n = r->current;
    int same = same_node(name, n->name);
    if (same < 0)
        goto done;
    if (!same && !(n = switch_node(r, name, out)))
        goto done;
    if (now > n->now) {
        n->now = now;
        if (expire(r, n, out) < 0)
            goto done;
    }
    if (stamp_init(&key, ts, seq, name) < 0)
        goto done;
    if (kind == r->eoe_type) {
        pending *p = table_find(r, &key);
        if (PyErr_Occurred())
            goto done;
        if (p) {
            take_pending(r, p);
            r->by_eoe++;
            if (close_pending(r, p, out, 1) < 0)
                goto done;
        }
        rc = r->held_len ? release_held(r, out) : 0;
        goto done;
    }
    if (!(kind >= DAEMON_FIRST && kind <= DAEMON_LAST) && track_serial(r, n, seq) < 0)
        goto done;
    int once = once_bit(r, kind);
    pending *p = table_find(r, &key);
    if (PyErr_Occurred())
        goto done;
    int late = 0;
    if (p) {
        if (!(p->once & once)) {
            if (PyList_Append(p->records, record) < 0)
                goto done;
            p->once |= once;
            if (p->late)
                r->late++;
            /* The timeout runs from the latest record: keep the list ordered by last
             * activity so expiry still only looks at the front. */
            p->created = n->now;
            unlink_pending(n, p);
            append_pending(n, p);
            rc = 0;
            goto done;
        }
        /* A second SYSCALL (...) for this stamp: a repeated copy begins. */
        take_pending(r, p);
        r->repeated++;
        if (close_pending(r, p, out, 0) < 0)
            goto done;
    } else {
        int known = recently_completed(r, &key);
        if (known < 0)
            goto done;
        if (known) {
            late = 1;
            r->late++;
        }
    }
    if (single_record(kind)) {
        PyObject *records = PyList_New(1);
        if (!records)
            goto done;
        PyList_SET_ITEM(records, 0, Py_NewRef(record));
        int emitted = emit(r, &key, records, out, 0, NULL);
        Py_DECREF(records);
        if (emitted < 0)
            goto done;
    } else {
        if (make_room(r, out) < 0)
            goto done;
        /* make_room may have forgotten nothing but events: n is still this node's. */
        pending *q = PyMem_Calloc(1, sizeof(pending));
        if (!q) {
            PyErr_NoMemory();
            goto done;
        }
        q->key = key; /* the pending takes the stamp's references */
        memset(&key, 0, sizeof(key));
        q->owner = n;
        q->created = n->now;
        q->once = once;
        q->late = late;
        q->records = PyList_New(1);
        if (!q->records) {
            stamp_clear(&q->key);
            PyMem_Free(q);
            goto done;
        }
        PyList_SET_ITEM(q->records, 0, Py_NewRef(record));
        if (table_add(r, q) < 0) {
            q->refs = 1;
            pending_release(q);
            goto done;
        }
        append_pending(n, q);
        r->open++;
        if (r->stamp_order) {
            q->has_order = 1;
            q->place = order_of(&q->key, r->arrivals++);
            placed e = {q->place, q};
            placed *back = run_back(r);
            q->refs++;
            int added = (!back || order_lt(&back->place, &q->place))
                            ? run_append(r, e)
                            : places_push(&r->heap, &r->heap_len, &r->heap_cap, e);
            if (added < 0) {
                q->refs--;
                goto done;
            }
        }
    }
    rc = r->held_len ? release_held(r, out) : 0;
done:
    stamp_clear(&key);
    Py_DECREF(name);
    Py_DECREF(ts);
    Py_DECREF(seq);
    return rc;
}

/* ---- the type --------------------------------------------------------------------- */

static int Reassembler_init(Reassembler *r, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"timeout",  "max_open",   "stamp_order", "statistics_class",
                             "eoe_type", "once_types", NULL};
    double timeout;
    Py_ssize_t max_open;
    int stamp_order;
    PyObject *statistics_class, *once_types;
    long eoe_type;
    if (r->nodes_by_name) {
        PyErr_SetString(PyExc_RuntimeError, "Reassembler.__init__ called twice");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "dnpOlO!", kwlist, &timeout, &max_open,
                                     &stamp_order, &statistics_class, &eoe_type, &PyTuple_Type,
                                     &once_types))
        return -1;
    if (PyTuple_GET_SIZE(once_types) > 16) {
        PyErr_SetString(PyExc_ValueError, "at most 16 once-per-event types");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(once_types); i++) {
        r->once_types[i] = PyLong_AsLong(PyTuple_GET_ITEM(once_types, i));
        if (r->once_types[i] == -1 && PyErr_Occurred())
            return -1;
    }
    r->once_count = (int)PyTuple_GET_SIZE(once_types);
    r->eoe_type = eoe_type;
    if (timeout < 0 || max_open < 1) {
        PyErr_SetString(PyExc_ValueError, "timeout must be >= 0 and max_open >= 1");
        return -1;
    }
    if (!event_class || !record_class) {
        PyErr_SetString(PyExc_RuntimeError, "trioaudit._native._core is not configured");
        return -1;
    }
    r->timeout = timeout;
    r->max_open = max_open;
    r->stamp_order = stamp_order;
    r->statistics_class = Py_NewRef(statistics_class);
    r->nodes_by_name = PyDict_New();
    r->missing = PySet_New(NULL);
    r->recent = PyMem_Calloc(RECENT_COMPLETED, sizeof(stamp));
    r->recent_chain = PyMem_Malloc(RECENT_COMPLETED * sizeof(int));
    r->recent_buckets = PyMem_Malloc(RECENT_BUCKETS * sizeof(int));
    if (r->recent_buckets)
        for (int i = 0; i < RECENT_BUCKETS; i++)
            r->recent_buckets[i] = -1;
    if (!r->nodes_by_name || !r->missing || !r->recent || !r->recent_chain || !r->recent_buckets) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    return switch_node(r, Py_None, NULL) ? 0 : -1;
}

static void Reassembler_dealloc(Reassembler *r)
{
    PyObject_GC_UnTrack(r);
    node *n = r->lru;
    while (n) {
        node *next = n->next;
        while (n->first) {
            pending *p = n->first;
            unlink_pending(n, p);
            pending_release(p);
        }
        node_free(n);
        n = next;
    }
    while (r->run_len)
        run_popleft(r);
    for (size_t i = 0; i < r->heap_len; i++)
        pending_release(r->heap[i].p);
    for (size_t i = 0; i < r->held_len; i++)
        Py_DECREF(r->held[i].event);
    if (r->recent)
        for (size_t i = 0; i < r->recent_count; i++)
            stamp_clear(&r->recent[(r->recent_head + i) % RECENT_COMPLETED]);
    PyMem_Free(r->recent);
    PyMem_Free(r->recent_chain);
    PyMem_Free(r->recent_buckets);
    PyMem_Free(r->table);
    PyMem_Free(r->run);
    PyMem_Free(r->heap);
    PyMem_Free(r->held);
    Py_CLEAR(r->nodes_by_name);
    Py_CLEAR(r->missing);
    Py_CLEAR(r->statistics_class);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static int Reassembler_traverse(Reassembler *r, visitproc visit, void *arg)
{
    /* Held events and open records are acyclic (untracked); the rest is visited. */
    Py_VISIT(r->statistics_class);
    Py_VISIT(r->nodes_by_name);
    Py_VISIT(r->missing);
    return 0;
}

static int ready(Reassembler *r)
{
    if (!r->nodes_by_name) {
        PyErr_SetString(PyExc_RuntimeError, "Reassembler not initialised");
        return 0;
    }
    return 1;
}

static PyObject *Reassembler_feed(Reassembler *r, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "feed(record, now)");
        return NULL;
    }
    double now = PyFloat_AsDouble(args[1]);
    if ((now == -1.0 && PyErr_Occurred()) || !ready(r))
        return NULL;
    PyObject *out = PyList_New(0);
    if (out && feed_into(r, args[0], now, 0, out) < 0)
        Py_CLEAR(out);
    return out;
}

static PyObject *Reassembler_flush_expired(Reassembler *r, PyObject *arg)
{
    double now = PyFloat_AsDouble(arg);
    if ((now == -1.0 && PyErr_Occurred()) || !ready(r))
        return NULL;
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    for (node *n = r->lru; n;) {
        node *next = n->next; /* expiry never removes nodes */
        if (now > n->now)
            n->now = now;
        if (expire(r, n, out) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        n = next;
    }
    if (r->held_len && release_held(r, out) < 0)
        Py_CLEAR(out);
    return out;
}

static PyObject *Reassembler_flush_all(Reassembler *r, PyObject *unused)
{
    if (!ready(r))
        return NULL;
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    for (node *n = r->lru; n; n = n->next) {
        while (n->first) {
            pending *p = n->first;
            take_pending(r, p);
            if (close_pending(r, p, out, 0) < 0) {
                Py_DECREF(out);
                return NULL;
            }
        }
    }
    while (r->run_len)
        run_popleft(r);
    while (r->heap_len)
        pending_release(places_pop(r->heap, &r->heap_len).p);
    if (release_held(r, out) < 0)
        Py_CLEAR(out);
    return out;
}

static PyObject *Reassembler_next_deadline(Reassembler *r, PyObject *unused)
{
    if (!ready(r))
        return NULL;
    int any = 0;
    double lowest = 0.0;
    for (node *n = r->lru; n; n = n->next) {
        if (n->first && (!any || n->first->created < lowest)) {
            lowest = n->first->created;
            any = 1;
        }
    }
    if (!any)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(lowest + r->timeout);
}

static PyObject *Reassembler_statistics(Reassembler *r, PyObject *unused)
{
    if (!ready(r))
        return NULL;
    PyObject *kwargs = Py_BuildValue(
        "{s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n}", "open", r->open, "completed",
        r->completed, "by_eoe", r->by_eoe, "timed_out", r->timed_out, "evicted", r->evicted,
        "late", r->late, "gaps", r->gaps, "lost_estimate", r->lost, "resets", r->resets,
        "repeated", r->repeated, "held", (Py_ssize_t)r->held_len);
    if (!kwargs)
        return NULL;
    PyObject *empty = PyTuple_New(0);
    PyObject *stats = empty ? PyObject_Call(r->statistics_class, empty, kwargs) : NULL;
    Py_XDECREF(empty);
    Py_DECREF(kwargs);
    return stats;
}

/* feed_records(records, clock) -> list: feed(record, record.timestamp) of each record
 * when clock is None (a log: time is the records' own), else feed(record, clock). */
static PyObject *Reassembler_feed_records(Reassembler *r, PyObject *args)
{
    PyObject *records, *clock;
    if (!PyArg_ParseTuple(args, "OO", &records, &clock) || !ready(r))
        return NULL;
    double now = 0.0;
    if (clock != Py_None) {
        now = PyFloat_AsDouble(clock);
        if (now == -1.0 && PyErr_Occurred())
            return NULL;
    }
    PyObject *seq = PySequence_Tuple(records);
    if (!seq)
        return NULL;
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out && i < PyTuple_GET_SIZE(seq); i++)
        if (feed_into(r, PyTuple_GET_ITEM(seq, i), now, clock == Py_None, out) < 0)
            Py_CLEAR(out);
    Py_DECREF(seq);
    return out;
}

static PyMethodDef Reassembler_methods[] = {
    {"feed", (PyCFunction)(void (*)(void))Reassembler_feed, METH_FASTCALL,
     "Add one record; return the events that completed."},
    {"feed_records", (PyCFunction)Reassembler_feed_records, METH_VARARGS,
     "feed() of each record (at its own timestamp when clock is None)."},
    {"flush_expired", (PyCFunction)Reassembler_flush_expired, METH_O,
     "Complete the events that waited timeout seconds or more."},
    {"flush_all", (PyCFunction)Reassembler_flush_all, METH_NOARGS,
     "Complete every open event now."},
    {"next_deadline", (PyCFunction)Reassembler_next_deadline, METH_NOARGS,
     "When the least recently active open event times out (None if none)."},
    {"statistics", (PyCFunction)Reassembler_statistics, METH_NOARGS, "A snapshot of the counters."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject ReassemblerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "trioaudit._native._core.Reassembler",
    .tp_basicsize = sizeof(Reassembler),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "trioaudit._records.reassembly.Reassembler in C (the same rules).",
    .tp_traverse = (traverseproc)Reassembler_traverse,
    .tp_dealloc = (destructor)Reassembler_dealloc,
    .tp_init = (initproc)Reassembler_init,
    .tp_new = PyType_GenericNew,
    .tp_methods = Reassembler_methods,
};

/* For live.c: feed() without the Python call. */
int ta_reassembler_feed(PyObject *reassembler, PyObject *record, double now, PyObject *out)
{
    if (!PyObject_TypeCheck(reassembler, &ReassemblerType)) {
        PyErr_SetString(PyExc_TypeError, "not a trioaudit._native._core.Reassembler");
        return -1;
    }
    Reassembler *r = (Reassembler *)reassembler;
    if (!ready(r))
        return -1;
    return feed_into(r, record, now, 0, out);
}
