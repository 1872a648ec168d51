"""Users: register, log in (JWT), who am I."""
