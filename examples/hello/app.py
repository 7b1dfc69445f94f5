"""A tiny function to try lambdaver with: greets the caller and says which version ran."""

import json
import os


def handler(event, context):
    print("received event:", json.dumps(event))
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    greeting = os.environ.get("GREETING", "Hello")
    return {
        "message": f"{greeting}, {name}!",
        "version": context.function_version,
    }
