"""The creator portal: static pages served by the gateway that speak only GraphQL."""

from gateway.portal.router import PORTAL_PATH, landing_router, portal_router, upload_origins

__all__ = ["PORTAL_PATH", "landing_router", "portal_router", "upload_origins"]
