"""rightsizer: right-size the S3 permissions of Lambda execution roles from CloudTrail."""

__version__ = "0.1.0"
