"""Database layer: models, engine factories and the functions that read and write rows.

Knows nothing of GraphQL. Every function takes a connection or session first and
never commits or closes it: the caller owns the transaction.
"""
