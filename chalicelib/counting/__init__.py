"""Counting signatories: stream batches turned into increments per (initiative, Member State), applied
exactly once; the scheduled recount; and what the public view shows of the counts.

Pure: nothing here imports boto3. The DynamoDB side is in chalicelib/storage (counter_writer, recount).
"""
