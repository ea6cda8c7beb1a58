"""Run every benchmark: python -m bench."""

from bench import verify_throughput

if __name__ == "__main__":
    verify_throughput.main([])
