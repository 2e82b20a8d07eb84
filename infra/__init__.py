"""CloudFormation for what Chalice does not create, and the organisers' deploy command (infra/deploy.py).

Nothing here goes into the Lambda package: Chalice packages only app.py, chalicelib/ and vendor/.
"""
