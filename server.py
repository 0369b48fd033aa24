"""The dashboard with its sign-in: ``streamlit run server.py`` (app.py's pages, plus /account/login, /account/logout
and /account/password, web/auth_routes.py; page navigations without a session go to /account/login, web/gate.py)."""

import sys

import streamlit as st
from starlette.middleware import Middleware

from services.engine import database_url, deployment_problem
from web.auth_routes import auth_routes
from web.gate import SignInGate
from web.present import present_routes
from web.wall import wall_routes

# A connection that could see past the township scope (the tables' owner, a superuser) refuses to start: no page
# and no sign-in form is served over it.
_problem = deployment_problem(database_url())
if _problem:
    sys.exit(f"养老服务一张图拒绝启动：{_problem}")

app = st.App("app.py", routes=[*auth_routes(), *present_routes(), *wall_routes()], middleware=[Middleware(SignInGate)])
