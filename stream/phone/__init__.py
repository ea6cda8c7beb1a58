"""Runs on the person's device: recording, sealing into the spool, and uploading."""
