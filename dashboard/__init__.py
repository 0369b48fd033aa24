"""UI glue: map builders, components, i18n, session state, cached services."""
