"""HTTP routes served beside the Streamlit app (st.App): sign-in and sign-out. No Streamlit code runs here."""
