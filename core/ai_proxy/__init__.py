"""ai-proxy: the Anthropic Messages API, served by Gemini, OpenAI or Anthropic."""

__version__ = "0.1.0"
