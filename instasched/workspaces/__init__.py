"""Workspaces: what data belongs to, and the role each member has in it (issue 20)."""
