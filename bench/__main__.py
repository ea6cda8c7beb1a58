"""Run every benchmark: python -m bench (make bench)."""

from bench import capture_pipeline, verify_throughput

if __name__ == "__main__":
    verify_throughput.main([])
    capture_pipeline.main([])
