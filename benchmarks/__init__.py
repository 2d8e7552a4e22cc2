"""Benchmark harness: request counts, rate-limit bounds, CPU and memory of full and daily syncs."""
