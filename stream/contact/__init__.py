"""Runs on an emergency contact's or a lawyer's machine: watching live and fetching."""
