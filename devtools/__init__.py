"""Development tools beside the product: the demo and the benchmarks, on the sandbox forge."""
