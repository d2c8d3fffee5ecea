"""Fake upstream servers on real HTTP (127.0.0.1, a thread each), for integration tests.

`server.BackgroundServer` hosts any aiohttp or ASGI app; `gemini.FakeGemini` speaks
generativelanguage v1beta and validates what it receives against Google's published protos.
"""
