"""Pure geospatial computation. Never imports streamlit or sqlalchemy."""
