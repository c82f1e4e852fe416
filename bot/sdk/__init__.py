"""Replacements for parts of the archived Bot Framework SDK for Python (botbuilder 4.17.1), in one place.

Everything here exists because of a defect or a cost of that SDK, and plugs in through its supported extension
points: `auth` (every authentication failure a bare 401, signing keys fetched off the event loop, checked before
the body is read), `connector` (one connector client per service URL instead of one per turn; the adapter built
over it), `http` (replies through one pooled aiohttp session), `serialise` (activity and reply (de)serialisation
without msrest's per-attribute cost). The move to the Microsoft 365 Agents SDK replaces this package; the rest of
`bot/` (the app, the Teams translation, the router, the handlers, the outbox delivery) keeps its shape.
"""
