"""The services' memo backed by Streamlit's caches (spinners, st.cache_data copies); installed by app.py."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from services.cache import CacheSpec, backend, use_backend


class StreamlitBackend:
    def wrap(self, fn: Callable, spec: CacheSpec) -> Callable:
        decorator = st.cache_resource if spec.kind == "resource" else st.cache_data
        return decorator(fn, ttl=spec.ttl_s, max_entries=spec.max_entries, show_spinner=spec.message or False)


def install() -> None:
    """Route the services' memo through Streamlit (once per process; every script run calls it)."""
    if not isinstance(backend(), StreamlitBackend):
        use_backend(StreamlitBackend())
