"""The ``embedload`` command line and what its commands do that no lower layer does."""
