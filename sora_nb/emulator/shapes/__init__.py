"""The JSON the gateway answers, one module per family, as pure functions of the store's values
(`jobs.JobView`), base URLs and knobs: no Starlette, no clock, no I/O.

Each shape says where it comes from: a seed (the user's relay documents), a section of
PROTOCOLS.md, or OpenAI's own API.
"""
