"""Benchmarks, run by hand (`make bench`); results go to bench/results/ and the README."""
