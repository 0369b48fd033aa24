"""What a page, a report or a CLI command asks for, as plain functions (no Streamlit).

Each takes a ``DataRef`` (database, district, exact data versions) first, reads
through ``data/``, computes through ``geo/`` and ``planning/``, and returns
frames and dataclasses. The expensive ones are memoised through
``services.cache``, whose backend the dashboard swaps for Streamlit's caches.
"""
