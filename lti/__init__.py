"""The LTI 1.3 tool: a learning platform (Moodle, Canvas...) launches classes and replays.

`platforms` (registrations and the tool's keys), `store` (where they are
kept), `oidc` (login and the id_token), `claims`, `links` (resource links,
classes and people), `launches` (where a launch lands), `deeplink`,
`services` (tokens, AGS, NRPS), `grades` (scores, durably), `roster`, and
`service`, which holds them together for the web layer (web/lti_api.py).
"""
