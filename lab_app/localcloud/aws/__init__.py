"""What every AWS stand-in shares: request parsing, the SigV4 credential scope, the error family, paging.

* :mod:`~lab_app.localcloud.aws.sigv4`: the credential scope of a signed request (key, date, region, service).
* :mod:`~lab_app.localcloud.aws.request`: what one API call is (service, operation, parameters, caller)
  and the one JSON body reader.
* :mod:`~lab_app.localcloud.aws.identity`: who an access key belongs to, from moto's IAM and STS state.
* :mod:`~lab_app.localcloud.aws.errors`: ``AwsError``, rendered in the wire protocol of the service called.
* :mod:`~lab_app.localcloud.aws.paging`: opaque NextTokens (offsets and keyset cursors).

The account id and the region come from :mod:`lab_app.config` (``ACCOUNT_ID``, ``REGION``).
"""
