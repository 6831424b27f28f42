"""The gateway's HTTP side: a JSON API for browsers, Server-Sent Events, the dashboard.

It runs in the gateway process on its own port (DISTILL_HTTP_PORT) and calls the same
servicer objects the gRPC server serves, in process (see bridge.py for why), so
authentication, validation, tenancy and error mapping are the gRPC API's own.
"""
