"""The creator portal: static pages served by the gateway that speak only GraphQL."""

from gateway.portal.router import PORTAL_PATH, portal_router, upload_origins

__all__ = ["PORTAL_PATH", "portal_router", "upload_origins"]
