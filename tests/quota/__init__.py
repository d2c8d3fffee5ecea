"""The limit stores (ai_proxy.quota): one contract for both, Redis's own failure modes."""
