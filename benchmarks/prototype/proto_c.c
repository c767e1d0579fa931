/* The renderer's argv step (PROCTITLE) on the C of records.c, as a Python function:
 * the other half of the prototype comparison (see run.py). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>

#include "../../trioaudit/_native/records.h"

static PyObject *argv_json(PyObject *self, PyObject *arg)
{
    char *v;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(arg, &v, &n) < 0)
        return NULL;
    unsigned char local[512];
    ta_decoded d;
    int rc = ta_decode_escaped((const unsigned char *)v, (size_t)n, local, sizeof(local), &d);
    if (rc == TA_NOMEM)
        return PyErr_NoMemory();
    if (rc != TA_OK)
        Py_RETURN_NONE;
    size_t t = d.len;
    while (t && d.p[t - 1] == 0)
        t--;
    char *out = malloc(TA_JSON_STRING_MAX(t) + 2 * t + 4);
    if (!out) {
        free(d.owned);
        return PyErr_NoMemory();
    }
    size_t len = 0, start = 0;
    out[len++] = '[';
    for (size_t i = 0; i <= t; i++) {
        if (i == t || d.p[i] == 0) {
            if (start)
                out[len++] = ',';
            len += ta_json_string(d.p + start, i - start, out + len);
            start = i + 1;
        }
    }
    out[len++] = ']';
    PyObject *result = PyBytes_FromStringAndSize(out, (Py_ssize_t)len);
    free(out);
    free(d.owned);
    return result;
}

static PyMethodDef methods[] = {{"argv_json", argv_json, METH_O, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "proto_c", NULL, -1, methods};
PyMODINIT_FUNC PyInit_proto_c(void) { return PyModule_Create(&module); }
