"""The command line: parses and renders only.  The single error boundary is in main.py."""
