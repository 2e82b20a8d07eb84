"""Statements of support -> XML support forms per Member State and language; runs, parts and manifests.

Pure: nothing here imports boto3 or the encryption SDK. The ports it works through (statement source,
opener, file sinks, progress store) are in ``exporting.ports``; chalicelib/storage implements them on
AWS and tests/fakes.py in memory. ``support_form.xsd`` beside this file is the schema of what
``support_form`` writes.
"""
