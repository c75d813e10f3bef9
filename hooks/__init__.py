"""Webhooks: what happened in a class, told to the operator's own systems over HTTP.

`payloads` turns a class's events into webhook messages (pure), `records`
folds the outbox's records into what is due (pure), `outbox` keeps those
records in the journal's backends, `sender` signs and posts one message,
`delivery` retries with backoff, `feeds` follows each class off its
acknowledgement path, and `service` puts them together.
"""
