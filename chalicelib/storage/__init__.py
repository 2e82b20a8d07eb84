"""The only package that talks to AWS: DynamoDB, KMS (directly and through the encryption SDK), SSM, S3.

Each adapter takes its clients as constructor arguments and imports boto3 or the encryption SDK
inside functions, so that importing this package costs nothing and GET pages never load the SDK.
"""
