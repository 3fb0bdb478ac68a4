"""Local servers that speak the LLM vendors' wire protocols, for the real SDKs to talk to in tests."""
