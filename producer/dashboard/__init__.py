"""The live dashboard: static HTML, CSS and JavaScript served by the API at `/`."""
