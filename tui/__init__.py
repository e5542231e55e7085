"""The terminal front ends: the `hearth` command line (rich) and the Textual app."""
