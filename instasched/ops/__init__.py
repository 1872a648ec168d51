"""Operations: /metrics and the queue statistics endpoint."""
