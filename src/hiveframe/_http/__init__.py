"""The transport: httpx clients, auth flows, the request driver. The only async-aware layer."""
