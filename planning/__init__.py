"""Pure planning logic. Never imports streamlit or sqlalchemy."""
