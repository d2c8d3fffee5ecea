"""AWS Lambda entry points for ai-proxy (`handler.handler`; `run.sh` for the streaming path)."""
