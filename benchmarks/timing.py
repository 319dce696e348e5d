"""Timing one call, for bench.py and batch_speed.py."""
import statistics
import time


def per_step(fn, n=2000):
    """Median microseconds per call over 5 rounds of n calls."""
    for _ in range(n // 10):
        fn()
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(rounds)
