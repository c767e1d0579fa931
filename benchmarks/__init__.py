"""trioaudit benchmarks: live drain, log parsing, and the shared report.

Run ``python -m benchmarks`` (root, no audit daemon running). Benchmarks are
not tests: they take minutes, need the live kernel and change its audit
settings (restored afterwards). ``tests/unit/test_benchmarks_smoke.py`` runs them
in a tiny mode only.
"""
