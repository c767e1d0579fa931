/* What the binding's C files share: the configured classes and their slots. */
#ifndef TRIOAUDIT_CORE_H
#define TRIOAUDIT_CORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

enum { F_TYPE, F_TYPE_NAME, F_TIMESTAMP, F_SEQUENCE, F_NODE, F_RAW, F_ITEMS, F_ENRICHED, F_CACHE, F_COUNT };
enum { E_SEQUENCE, E_TIMESTAMP, E_NODE, E_RECORDS, E_EOE, E_COUNT };

extern PyTypeObject *record_class; /* AuditRecord (a frozen slotted dataclass) */
extern PyTypeObject *event_class;  /* AuditEvent (likewise) */
extern Py_ssize_t field_offsets[F_COUNT];
extern Py_ssize_t event_offsets[E_COUNT];

/* A slot of an AuditRecord / AuditEvent (borrowed; the object must be of that class). */
static inline PyObject *record_slot(PyObject *record, int field)
{
    return *(PyObject **)((char *)record + field_offsets[field]);
}

static inline PyObject *event_slot(PyObject *event, int field)
{
    return *(PyObject **)((char *)event + event_offsets[field]);
}

/* The reassembler type (reassembly.c), the socket drain and the wake-up timer (live.c),
 * added to the module by PyInit__core. */
extern PyTypeObject ReassemblerType;
extern PyTypeObject DrainType;
extern PyTypeObject WakeTimerType;

/* Feed one record to a Reassembler at the given clock, appending completed events to
 * the list out (reassembly.c). -1 with an exception set on error. */
int ta_reassembler_feed(PyObject *reassembler, PyObject *record, double now, PyObject *out);

/* The AuditRecord of one netlink record payload, or Py_None to decline (_core.c). */
PyObject *ta_kernel_record(long type, PyObject *name, const char *s, size_t n, PyObject *raw,
                           PyObject *node);

#endif
