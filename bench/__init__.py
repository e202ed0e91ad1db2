"""Benchmark harness of foodsec-aggregator (`make bench`, not part of `make test`).

run.py drives the scenarios (scenarios.py) and writes docs/benchmarks.md; generators.py
writes large inputs in the live services' shapes into a cache outside the repository;
serve.py plays them on a loopback HTTP server in its own process; measure.py times whole
processes and in-process calls (child.py) one fresh process per run.
"""
