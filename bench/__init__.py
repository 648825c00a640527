"""`make bench`: hostdesk's performance benchmark suite (run it with `python -m bench`).

Timings are benchmarks, not tests: `tests/test_bench_smoke.py` only checks that a tiny run
produces every figure and that the daily run and its plain-SQL floor end in the same state.
"""
