"""Read-only views the web app's planner needs: the publishing quota left around a time."""
