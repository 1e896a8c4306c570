"""The decoder fuzzer behind ``benchmarks/fuzz.py`` (see that script and docs/fuzzing.md)."""
