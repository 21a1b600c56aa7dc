"""Background jobs on Huey: queue set-up, job handlers, and the worker context."""
