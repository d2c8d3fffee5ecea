"""The Azure Functions entry file (Python v2 model); the code is in ai_proxy_azure_functions.

Imported once per worker process: that is where the config is read and the provider keys are
loaded from Key Vault (a failure stops the function from loading, with the secret named in the
worker's log).
"""

from ai_proxy_azure_functions.app import build_function_app, load_gateway

app = build_function_app(load_gateway())
