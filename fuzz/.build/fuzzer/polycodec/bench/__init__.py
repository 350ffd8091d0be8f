"""Benchmark workloads behind `polycodec bench`. Each module has `run(args) -> Section`."""
