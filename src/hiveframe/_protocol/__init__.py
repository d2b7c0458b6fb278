"""Sans-I/O core: decisions and decoders with no sockets, no sleeping, time injected."""
