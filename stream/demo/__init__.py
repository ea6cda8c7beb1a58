"""Runs only in `testigo demo` and the tests: a local relay, an alert inbox, the mission."""
