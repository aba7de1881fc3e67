"""Benchmarks, run by hand (`make bench`); results go to bench/results/, the latest figures
to docs/performance.md."""
