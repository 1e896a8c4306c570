"""The sections of ``benchmarks/gpu.py`` (imported by it; run that script)."""
