"""Tests of sora_nb's reliability and security promises (docs/reliability.md, docs/security.md)."""
