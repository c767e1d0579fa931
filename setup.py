"""Build the optional compiled core (trioaudit._native._core); metadata is in pyproject.toml.

``optional=True``: when the C compiler or the Python headers are missing, the build
says so and installs the pure-Python package, which then runs on its reference path
(``trioaudit --version`` names the core in use).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "trioaudit._native._core",
            sources=[
                "trioaudit/_native/_core.c",
                "trioaudit/_native/live.c",
                "trioaudit/_native/reassembly.c",
                "trioaudit/_native/records.c",
            ],
            depends=["trioaudit/_native/_core.h", "trioaudit/_native/records.h"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
