"""The embedded default system: moto in-process, the data template provisioned on it, the app served.

``python -m chalicelib.local`` (``make run``) runs it; tests use moto_server and provision directly.
"""
