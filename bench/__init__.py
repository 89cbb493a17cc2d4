"""`supportbot bench`: load generation against a server, and the bare model's figures to divide
its throughput and latency by. Sits on top of everything, like the command line."""

from bench.run import BenchPlan, run_bench
from bench.server import BenchError, BenchServer

__all__ = ["BenchError", "BenchPlan", "BenchServer", "run_bench"]
