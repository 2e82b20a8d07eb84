"""The organisers' console at /organiser/: who may do what, and the actions themselves.

Pure: the token's keys, the stores and the clock are given (chalicelib.storage implements the stores).
"""
