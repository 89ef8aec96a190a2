"""`uvicorn rules_engine.api.asgi:app`: the API on the settings in the environment. The
platform (data, library, ledger) is loaded before the first request is accepted."""

from ..service.platform import Platform
from .app import create_app

app = create_app(Platform.from_env())
