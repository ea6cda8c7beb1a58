"""Parts of the `testigo` command (cli.py): value types, shared options, error output.

Runs wherever the command runs; holds no behaviour of its own beyond the terminal.
"""
