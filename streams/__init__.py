"""The log: topic catalogue, envelope, events, commands, upcasters and codec."""
