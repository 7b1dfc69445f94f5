"""``lambdaver serve``: the Lambda REST API (lambda-semantics-2 §1) over the repositories
on disk, for boto3, the aws CLI, SAM and Terraform.

- :mod:`lambdaver.server.app` builds the ASGI application: routing, request parsing and
  rendering of the service's typed results as the REST API's JSON;
- :mod:`lambdaver.server.wire` turns lambdaver's errors into status, ``x-amzn-ErrorType``
  header and body, in one place;
- :mod:`lambdaver.server.functions` finds the functions under the served directory;
- :mod:`lambdaver.server.run` runs the application with uvicorn (start-up line, signals,
  shutdown of the execution environments).

Imported only by the ``serve`` verb: nothing here is on another verb's start-up path.
"""
