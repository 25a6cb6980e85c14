"""tito: the command line of the tinytorch course."""
