"""Benchmarks and the generator of realistic claim mixes they run on."""
