"""Testigo tests."""
