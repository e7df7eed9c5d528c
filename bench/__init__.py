"""Benchmarks: scripts that measure speed and write JSON + PNG to bench/results/."""
