"""Benchmarks: `make bench` runs every one and prints figures and ratios."""
