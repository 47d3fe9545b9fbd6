"""pushwire decode benchmarks (pytest-benchmark): run `python -m pytest benches --benchmark-only`."""
