"""Bytes, hashes, paths and locks.  Knows nothing of Lambda."""
