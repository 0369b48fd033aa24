"""The dashboard with its sign-in routes: ``streamlit run server.py`` (app.py's pages, plus /auth/login,
/auth/logout and /auth/password; see web/auth_routes.py)."""

import streamlit as st

from web.auth_routes import auth_routes

app = st.App("app.py", routes=auth_routes())
