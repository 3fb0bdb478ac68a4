"""Content providers: the interface through which stage handlers generate text, and its implementations."""
