"""The command line (`mianshen`): thin front ends over rules_engine.service. `main` is the
installed entry point; `app` the Typer application (tests drive it with CliRunner)."""

from .common import DEFAULT_POLICIES
from .main import app, main, write_results

__all__ = ["DEFAULT_POLICIES", "app", "main", "write_results"]
