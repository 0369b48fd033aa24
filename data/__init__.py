"""The database (models, engine, repository), importers and the demo generator."""
