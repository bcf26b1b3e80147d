"""The JSON the gateway answers, one module per family, as pure functions of the store's values
(`jobs.JobView`), base URLs and knobs: no Starlette, no clock, no I/O.

Each shape says where it comes from: a relay's public API docs (6ai.chat, xiaojingai, winfull,
st-ai), OpenAI's own API reference, or the file of a relay's public source it follows (`newapi`:
QuantumNous/new-api; `sora2api`: TheSmallHanCat/sora2api).
"""
