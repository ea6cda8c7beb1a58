"""Run every benchmark: python -m bench (make bench). Each prints figures and ratios."""

from bench import (
    browser_recorder,
    capture_pipeline,
    end_to_end,
    enrollment_oracle,
    forged_headers,
    fragment_length,
    live_delay,
    relay_load,
    slow_connections,
    verify_throughput,
)

if __name__ == "__main__":
    verify_throughput.main([])
    capture_pipeline.main([])
    end_to_end.main([])
    live_delay.main([])
    fragment_length.main([])
    relay_load.main(["--quick"])
    slow_connections.main([])
    forged_headers.main([])
    enrollment_oracle.main([])
    browser_recorder.main([])
