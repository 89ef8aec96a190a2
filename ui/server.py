"""The web UI's server: ui/app.py served by Streamlit, plus the routes that set and clear
the session cookie (ui/websession.py), security headers and /media bound to its person
(ui/security.py).

    streamlit run ui/server.py        (or: bash scripts/demo.sh)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `ui` and `rules_engine` from the checkout

import streamlit as st  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from ui import security, websession  # noqa: E402

app = st.App("app.py", routes=websession.routes(), middleware=[Middleware(security.Guard)])
