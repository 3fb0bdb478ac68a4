"""The log: topic catalogue, envelope, events, commands, upcasters, codec and the Faust app factory."""
