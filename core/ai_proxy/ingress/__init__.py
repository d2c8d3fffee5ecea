"""Client formats besides Anthropic's own: OpenAI Chat Completions, OpenAI Responses, Gemini.

Each translates onto the Anthropic Messages model and back (base.py); the routes that use them
are in ai_proxy.routes, the loop that drives them in ai_proxy.endpoints.ingress.
"""
