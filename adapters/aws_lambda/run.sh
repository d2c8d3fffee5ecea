#!/bin/sh
# Streaming entry under the AWS Lambda Web Adapter (layer + AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap):
# the adapter forwards each invocation to this server and streams its answer back through a
# Function URL with InvokeMode RESPONSE_STREAM. Secrets are read in the ASGI lifespan startup.
export PYTHONPATH="${LAMBDA_TASK_ROOT:-.}${PYTHONPATH:+:$PYTHONPATH}"
exec python -m uvicorn --factory ai_proxy.http.app:create_serving_app \
    --host 127.0.0.1 --port "${PORT:-8080}" --lifespan on --no-access-log
