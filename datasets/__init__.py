"""The bundled default data set, its task schema and the demo market split."""
