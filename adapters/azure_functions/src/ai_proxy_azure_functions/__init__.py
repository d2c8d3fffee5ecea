"""Azure Functions entry points for ai-proxy (the shim files live in adapters/azure_functions/)."""
