"""Adapters for outside systems; the rest of the code sees small typed interfaces."""
