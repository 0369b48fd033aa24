"""UI glue: components, i18n, session state, the pages' views and tables, the live map's Streamlit end."""
