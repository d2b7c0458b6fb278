"""The I/O layer: the wire (aiohttp), auth flows, the request driver, sync portals."""
