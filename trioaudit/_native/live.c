/* trioaudit._native._core.Drain: the live path's socket drain, in one call per batch.
 *
 * Drain(reassembler, name_of, declined)
 *     .drain(fd, max, clock) -> (events, others, datagrams, bytes, overflows, records,
 *                                full, errno)
 *         recvfrom() the non-blocking NETLINK_AUDIT socket fd until it is empty or max
 *         datagrams were read. Every audit record from the kernel (sender 0, a record
 *         type) is parsed as parse_kernel_record(type, record_text(payload)) would and
 *         fed to the reassembler at clock; the events that completed are in events.
 *         Everything else -- replies, ACKs, foreign senders, runts -- is in others as
 *         (bytes, sender) for the Python protocol, in arrival order. full: max
 *         datagrams were read (more may wait). errno: a receive error other than
 *         EAGAIN (stop) or ENOBUFS (counted in overflows, reading goes on); the events
 *         taken before it are still returned, so the caller raises after delivering.
 *     .take(batch, clock) -> the same tuple, for (bytes, sender) items already received
 *         (a transport without a file descriptor: the tests' fake kernel). Items that
 *         are not such pairs (the transport's overflow markers) go to others as they are.
 *
 * What the client's reader did per datagram in Python (slice, decode, a KernelRecord, a
 * channel hand-off, then parse and feed in another task) is one C loop here, and the
 * AuditRecord objects exist only between parse and reassembly. The rules are the
 * reference's: the fast path of record_of_datagram (AUDIT_REPLACE ignored and not
 * counted), record_text (trailing NULs and newlines stripped), and parse_kernel_record,
 * whose compiled form (ta_kernel_record) declines what it does not reproduce -- those
 * payloads, and any that is not UTF-8, go to declined(type, payload), the reference
 * parser in Python, which returns the record or None (unparsable: it counts and logs).
 * tests/unit/test_native_drain.py holds both paths to the same events.
 */
#include "_core.h"

#include <structmember.h>

#include <errno.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define NLMSG_HEADER 16
#define FIRST_RECORD_TYPE 1100
#define AUDIT_USER 1005
#define AUDIT_LOGIN 1006
#define AUDIT_REPLACE 1329
/* As transport.MAX_DATAGRAM: a larger datagram is cut there, as the reference's is. */
#define MAX_DATAGRAM (64 * 1024)
/* Type names are remembered for the numbers below this (every defined record type). */
#define NAMED_TYPES 4096

typedef struct {
    PyObject_HEAD
    PyObject *reassembler; /* a _core.Reassembler */
    PyObject *name_of;     /* callable(type: int) -> str */
    PyObject *declined;    /* callable(type: int, payload: bytes) -> AuditRecord | None */
    PyObject **names;      /* NAMED_TYPES remembered name_of answers */
    char *buffer;          /* MAX_DATAGRAM bytes */
} Drain;

/* What one call did, returned to Python as counters. */
typedef struct {
    PyObject *events, *others;
    unsigned long long datagrams, bytes, overflows, records;
} batch;

static PyObject *type_name(Drain *d, long type)
{
    if (type >= 0 && type < NAMED_TYPES && d->names[type])
        return Py_NewRef(d->names[type]);
    PyObject *number = PyLong_FromLong(type);
    if (!number)
        return NULL;
    PyObject *name = PyObject_CallOneArg(d->name_of, number);
    Py_DECREF(number);
    if (name && !PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "name_of() must return a str");
        Py_CLEAR(name);
    }
    if (name && type >= 0 && type < NAMED_TYPES)
        d->names[type] = Py_NewRef(name);
    return name;
}

/* The record of one kernel record payload, or Py_None when the reference parser says
 * it is unparsable. */
static PyObject *record_of(Drain *d, long type, const char *payload, size_t size)
{
    size_t n = size;
    while (n && (payload[n - 1] == '\0' || payload[n - 1] == '\n'))
        n--;
    PyObject *record = NULL;
    PyObject *raw = PyUnicode_DecodeUTF8(payload, (Py_ssize_t)n, NULL);
    if (raw) {
        PyObject *name = type_name(d, type);
        if (name)
            record = ta_kernel_record(type, name, payload, n, raw, Py_None);
        Py_XDECREF(name);
        Py_DECREF(raw);
        if (!record)
            return NULL;
    } else if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear(); /* surrogateescape text: the reference's business */
        record = Py_NewRef(Py_None);
    } else {
        return NULL;
    }
    if (record != Py_None)
        return record;
    Py_DECREF(record);
    PyObject *args[2] = {PyLong_FromLong(type),
                         PyBytes_FromStringAndSize(payload, (Py_ssize_t)size)};
    if (args[0] && args[1])
        record = PyObject_Vectorcall(d->declined, args, 2, NULL);
    Py_XDECREF(args[0]);
    Py_XDECREF(args[1]);
    return record;
}

/* One datagram: a record is parsed and fed, anything else goes to others. item is the
 * (bytes, sender) pair it came in, if any (reused rather than rebuilt). */
static int take_datagram(Drain *d, batch *b, const char *data, size_t len, uint32_t sender,
                         PyObject *item, double clock)
{
    b->datagrams++;
    b->bytes += len;
    if (sender == 0 && len >= NLMSG_HEADER) {
        uint16_t type;
        memcpy(&type, data + 4, sizeof(type));
        if (type >= FIRST_RECORD_TYPE || type == AUDIT_USER || type == AUDIT_LOGIN) {
            if (type == AUDIT_REPLACE)
                return 0; /* the kernel asking whether we live; its payload is a pid */
            b->records++;
            PyObject *record = record_of(d, type, data + NLMSG_HEADER, len - NLMSG_HEADER);
            if (!record)
                return -1;
            int rc = record == Py_None ? 0
                                       : ta_reassembler_feed(d->reassembler, record, clock,
                                                             b->events);
            Py_DECREF(record);
            return rc;
        }
    }
    PyObject *pair = item ? Py_NewRef(item)
                          : Py_BuildValue("(y#I)", data, (Py_ssize_t)len, (unsigned)sender);
    if (!pair)
        return -1;
    int rc = PyList_Append(b->others, pair);
    Py_DECREF(pair);
    return rc;
}

static int batch_init(batch *b)
{
    memset(b, 0, sizeof(*b));
    b->events = PyList_New(0);
    b->others = PyList_New(0);
    if (b->events && b->others)
        return 0;
    Py_CLEAR(b->events);
    Py_CLEAR(b->others);
    return -1;
}

static PyObject *batch_result(batch *b, int full, int error)
{
    return Py_BuildValue("(NNKKKKii)", b->events, b->others, b->datagrams, b->bytes,
                         b->overflows, b->records, full, error);
}

static int ready(Drain *d)
{
    if (!d->buffer) {
        PyErr_SetString(PyExc_RuntimeError, "Drain not initialised");
        return 0;
    }
    return 1;
}

static PyObject *Drain_drain(Drain *d, PyObject *args)
{
    int fd;
    Py_ssize_t max;
    double clock;
    if (!PyArg_ParseTuple(args, "ind", &fd, &max, &clock) || !ready(d))
        return NULL;
    batch b;
    if (batch_init(&b) < 0)
        return NULL;
    int full = 0, error = 0;
    Py_ssize_t taken = 0;
    while (taken < max) {
        struct sockaddr_nl address;
        socklen_t address_len = sizeof(address);
        memset(&address, 0, sizeof(address));
        ssize_t got = recvfrom(fd, d->buffer, MAX_DATAGRAM, MSG_DONTWAIT,
                               (struct sockaddr *)&address, &address_len);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) { /* the kernel dropped records for us: counted, go on */
                b.overflows++;
                taken++;
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                error = errno;
            break;
        }
        taken++;
        uint32_t sender = address.nl_family == AF_NETLINK ? address.nl_pid : 0;
        if (take_datagram(d, &b, d->buffer, (size_t)got, sender, NULL, clock) < 0) {
            Py_DECREF(b.events);
            Py_DECREF(b.others);
            return NULL;
        }
    }
    full = taken >= max;
    return batch_result(&b, full, error);
}

static PyObject *Drain_take(Drain *d, PyObject *args)
{
    PyObject *items;
    double clock;
    if (!PyArg_ParseTuple(args, "Od", &items, &clock) || !ready(d))
        return NULL;
    PyObject *seq = PySequence_Tuple(items); /* a tuple: no callback can change it */
    if (!seq)
        return NULL;
    batch b;
    if (batch_init(&b) < 0) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(seq); i++) {
        PyObject *item = PyTuple_GET_ITEM(seq, i);
        int rc;
        if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 2 &&
            PyBytes_Check(PyTuple_GET_ITEM(item, 0)) && PyLong_Check(PyTuple_GET_ITEM(item, 1))) {
            PyObject *data = PyTuple_GET_ITEM(item, 0);
            unsigned long sender = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(item, 1));
            if (sender == (unsigned long)-1 && PyErr_Occurred()) {
                PyErr_Clear(); /* not a port id: the protocol's business */
                rc = PyList_Append(b.others, item);
            } else {
                rc = take_datagram(d, &b, PyBytes_AS_STRING(data),
                                   (size_t)PyBytes_GET_SIZE(data),
                                   sender > UINT32_MAX ? UINT32_MAX : (uint32_t)sender, item,
                                   clock);
            }
        } else {
            rc = PyList_Append(b.others, item);
        }
        if (rc < 0) {
            Py_DECREF(b.events);
            Py_DECREF(b.others);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    return batch_result(&b, 0, 0);
}

static int Drain_init(Drain *d, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"reassembler", "name_of", "declined", NULL};
    PyObject *reassembler, *name_of, *declined;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OO", keywords, &ReassemblerType,
                                     &reassembler, &name_of, &declined))
        return -1;
    if (!PyCallable_Check(name_of) || !PyCallable_Check(declined)) {
        PyErr_SetString(PyExc_TypeError, "name_of and declined must be callable");
        return -1;
    }
    if (!d->names && !(d->names = PyMem_Calloc(NAMED_TYPES, sizeof(PyObject *)))) {
        PyErr_NoMemory();
        return -1;
    }
    if (!d->buffer && !(d->buffer = PyMem_Malloc(MAX_DATAGRAM))) {
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < NAMED_TYPES; i++)
        Py_CLEAR(d->names[i]);
    Py_XSETREF(d->reassembler, Py_NewRef(reassembler));
    Py_XSETREF(d->name_of, Py_NewRef(name_of));
    Py_XSETREF(d->declined, Py_NewRef(declined));
    return 0;
}

static int Drain_traverse(Drain *d, visitproc visit, void *arg)
{
    Py_VISIT(d->reassembler);
    Py_VISIT(d->name_of);
    Py_VISIT(d->declined);
    return 0;
}

static int Drain_clear(Drain *d)
{
    Py_CLEAR(d->reassembler);
    Py_CLEAR(d->name_of);
    Py_CLEAR(d->declined);
    if (d->names)
        for (int i = 0; i < NAMED_TYPES; i++)
            Py_CLEAR(d->names[i]);
    return 0;
}

static void Drain_dealloc(Drain *d)
{
    PyObject_GC_UnTrack(d);
    Drain_clear(d);
    PyMem_Free(d->names);
    PyMem_Free(d->buffer);
    Py_TYPE(d)->tp_free((PyObject *)d);
}

static PyMethodDef Drain_methods[] = {
    {"drain", (PyCFunction)Drain_drain, METH_VARARGS,
     "Read the socket until empty or max datagrams; parse and feed the records."},
    {"take", (PyCFunction)Drain_take, METH_VARARGS,
     "What drain() does, for (bytes, sender) datagrams already received."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject DrainType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "trioaudit._native._core.Drain",
    .tp_basicsize = sizeof(Drain),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The live path's socket drain: datagrams in, reassembled events out.",
    .tp_traverse = (traverseproc)Drain_traverse,
    .tp_clear = (inquiry)Drain_clear,
    .tp_dealloc = (destructor)Drain_dealloc,
    .tp_init = (initproc)Drain_init,
    .tp_new = PyType_GenericNew,
    .tp_methods = Drain_methods,
};

/* ---- WakeTimer: the reader's wake-up delay as a file descriptor ---------------------
 *
 * WakeTimer()
 *     .arm(seconds)  the descriptor becomes readable that long from now (re-arming
 *                    replaces the previous time; 0 or less: at once)
 *     .clear()       consume the expiry, so the descriptor is not readable again
 *     .fileno()      the timerfd (CLOCK_MONOTONIC, non-blocking, close-on-exec)
 *     .close()       close it (also on deallocation); idempotent
 *
 * Why: the reader waits a few milliseconds after each wake-up so that what arrives
 * meanwhile is read in one batch. In trio a timed wait is a cancel scope's deadline,
 * and its expiry raises and unwinds a Cancelled through the waiting task -- measured
 * as half the reader's CPU at 100 exec/s. Waiting for a timerfd to become readable
 * is an ordinary I/O wait (no exception), and a request that must not wait re-arms
 * it to fire at once.
 */
#include <sys/timerfd.h>
#include <unistd.h>

typedef struct {
    PyObject_HEAD
    int fd;
} WakeTimer;

static int WakeTimer_init(WakeTimer *t, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "WakeTimer() takes no arguments");
        return -1;
    }
    if (t->fd >= 0)
        return 0;
    t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (t->fd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

static PyObject *WakeTimer_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    WakeTimer *t = (WakeTimer *)type->tp_alloc(type, 0);
    if (t)
        t->fd = -1;
    return (PyObject *)t;
}

static int timer_open(WakeTimer *t)
{
    if (t->fd < 0) {
        PyErr_SetString(PyExc_ValueError, "WakeTimer is closed");
        return 0;
    }
    return 1;
}

static PyObject *WakeTimer_arm(WakeTimer *t, PyObject *arg)
{
    double seconds = PyFloat_AsDouble(arg);
    if (seconds == -1.0 && PyErr_Occurred())
        return NULL;
    if (!timer_open(t))
        return NULL;
    if (!(seconds < 86400.0)) /* NaN or absurd: a day at most */
        seconds = 86400.0;
    struct itimerspec when;
    memset(&when, 0, sizeof(when));
    if (seconds > 0.0) {
        when.it_value.tv_sec = (time_t)seconds;
        when.it_value.tv_nsec = (long)((seconds - (double)when.it_value.tv_sec) * 1e9);
    }
    if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0)
        when.it_value.tv_nsec = 1; /* all zero would disarm it: "at once" is 1 ns */
    if (timerfd_settime(t->fd, 0, &when, NULL) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

static PyObject *WakeTimer_clear(WakeTimer *t, PyObject *unused)
{
    (void)unused;
    if (!timer_open(t))
        return NULL;
    uint64_t expirations;
    ssize_t got;
    do {
        got = read(t->fd, &expirations, sizeof(expirations));
    } while (got < 0 && errno == EINTR);
    if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

static PyObject *WakeTimer_fileno(WakeTimer *t, PyObject *unused)
{
    (void)unused;
    if (!timer_open(t))
        return NULL;
    return PyLong_FromLong(t->fd);
}

static PyObject *WakeTimer_close(WakeTimer *t, PyObject *unused)
{
    (void)unused;
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    Py_RETURN_NONE;
}

static void WakeTimer_dealloc(WakeTimer *t)
{
    if (t->fd >= 0)
        close(t->fd);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyMethodDef WakeTimer_methods[] = {
    {"arm", (PyCFunction)WakeTimer_arm, METH_O, "Become readable in this many seconds."},
    {"clear", (PyCFunction)WakeTimer_clear, METH_NOARGS, "Consume the expiry."},
    {"fileno", (PyCFunction)WakeTimer_fileno, METH_NOARGS, "The timerfd."},
    {"close", (PyCFunction)WakeTimer_close, METH_NOARGS, "Close the timerfd."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject WakeTimerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "trioaudit._native._core.WakeTimer",
    .tp_basicsize = sizeof(WakeTimer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A timerfd for the reader's wake-up delay (an I/O wait, not a cancel).",
    .tp_dealloc = (destructor)WakeTimer_dealloc,
    .tp_init = (initproc)WakeTimer_init,
    .tp_new = WakeTimer_new,
    .tp_methods = WakeTimer_methods,
};
