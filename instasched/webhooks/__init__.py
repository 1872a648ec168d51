"""Webhooks for users (issue 21): subscriptions, signed deliveries from an outbox, a log."""
