"""Python client for Distill's gRPC API (see client.py)."""

from distill_client.client import AsyncClient, Client, DistillClientError, resolve_target

__all__ = ["AsyncClient", "Client", "DistillClientError", "resolve_target"]
