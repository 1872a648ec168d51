"""Publishing: the worker side of a post (claim, containers, publish, recover)."""
