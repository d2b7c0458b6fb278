"""The I/O layer: the wire (aiohttp), auth flows, the request driver, sync portals.

Everything that talks HTTP imports this package first (connectors, streaming, the CLI's
commands), so a base install without the ``http`` extra fails here, on first use, with one
clear line; ``import hiveframe`` and the Arrow-only features never get here.
"""

from hiveframe.errors import MissingExtraError

try:
    import aiohttp  # noqa: F401
    import anyio  # noqa: F401
except ModuleNotFoundError as exc:  # a broken install (another ImportError) shows as it is
    raise MissingExtraError("HTTP I/O", extra="http", missing=exc.name) from None
