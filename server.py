"""The dashboard with its sign-in: ``streamlit run server.py`` (app.py's pages, plus /account/login, /account/logout
and /account/password, web/auth_routes.py; page navigations without a session go to /account/login, web/gate.py)."""

import streamlit as st
from starlette.middleware import Middleware

from web.auth_routes import auth_routes
from web.gate import SignInGate

app = st.App("app.py", routes=auth_routes(), middleware=[Middleware(SignInGate)])
