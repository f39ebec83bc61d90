from storage.s3._store import S3ObjectStore, create_s3_client

__all__ = ["S3ObjectStore", "create_s3_client"]
