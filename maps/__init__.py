"""Folium map builders shared by the pages and the offline HTML export (no Streamlit, no database)."""
