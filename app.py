"""Streamlit entry point: routes to the pages, nothing else."""

import streamlit as st

st.set_page_config(page_title="养老服务一张图", page_icon="🗺️", layout="wide")
pages = [st.Page("pages/map.py", title="一张图", icon="🗺️", url_path="map", default=True)]
st.navigation(pages).run()
