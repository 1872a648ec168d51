"""Connected Instagram accounts (the spec dependencies IG-001/IG-002)."""
