"""Reproducible performance benchmarks of VSRC (not tests: they print numbers, they assert nothing)."""
