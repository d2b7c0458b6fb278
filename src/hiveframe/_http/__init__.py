"""The I/O layer: the wire (llhttp; aiohttp for proxies), auth, the request driver, sync portals.

Everything that talks HTTP imports this package first (connectors, streaming, the CLI's
commands), so a base install without the ``http`` extra fails here, on first use, with one
clear line; ``import hiveframe`` and the Arrow-only features never get here. The check finds
the extra's modules without importing them: the wire loads with the transport, not before.
"""

from importlib.util import find_spec

from hiveframe.errors import MissingExtraError


def _installed(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError:  # a finder that refuses the name says so by raising
        return False


for _name in ("aiohttp", "anyio", "httptools"):
    if not _installed(_name):
        raise MissingExtraError("HTTP I/O", extra="http", missing=_name)
