"""lambdaver: AWS Lambda's versioning model on your own disk."""

__version__ = "0.1.0"
