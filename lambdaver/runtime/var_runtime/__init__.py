"""lambdaver's ``/var/runtime``: the bootstrap the function's process runs.

This directory is the function's ``LAMBDA_RUNTIME_DIR`` and ``PYTHONPATH``, as
``/var/runtime`` is in AWS Lambda, so it holds nothing but ``bootstrap.py``.
"""
