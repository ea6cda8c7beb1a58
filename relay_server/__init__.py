"""relay_server."""
