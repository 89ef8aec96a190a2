"""`uvicorn rules_engine.api.asgi:app`: the API on the settings in the environment."""

from .app import create_app

app = create_app()
