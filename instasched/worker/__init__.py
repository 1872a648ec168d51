"""The publish queue (bullmq on Redis), the worker process and the reconciler."""
