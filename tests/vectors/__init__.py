"""Test vectors for the sealed recording format (docs/FORMAT.md), age test-kit style."""
