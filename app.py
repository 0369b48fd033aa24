"""Streamlit entry point: routes to the pages, nothing else."""

import streamlit as st

st.set_page_config(page_title="养老服务一张图", page_icon="🗺️", layout="wide")
pages = [
    st.Page("pages/map.py", title="一张图", icon=":material/map:", url_path="map", default=True),
    st.Page("pages/coverage.py", title="15分钟服务圈", icon=":material/directions_walk:", url_path="coverage"),
]
st.navigation(pages).run()
