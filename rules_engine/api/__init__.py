"""The HTTP API (/api/v1) for the enterprise portal, the finance and the budget systems and
for officials' scripts. A thin front end: every route calls the service layer."""

from .app import create_app

__all__ = ["create_app"]
