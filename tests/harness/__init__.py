"""Harnesses that drive the whole app from a checkout (not part of the library): live-mode frames per second in
headless Chromium (``python -m tests.harness.bench_live``) and the load and hostile-file test
(``python -m tests.harness.stress``). The browser tests share their helpers."""
