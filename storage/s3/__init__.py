"""The S3 backend (AWS, MinIO, Ceph, R2): one boto3 client per store, every call off the loop.

``_client`` holds the client factory and the error mapping, ``_objects`` the bucket and
whole objects, ``_multipart`` uploads in parts, ``_presign`` presigned URLs, and
``_store`` the store that puts them behind the ObjectStore interface.
"""

from storage.s3._client import create_s3_client
from storage.s3._store import S3ObjectStore

__all__ = ["S3ObjectStore", "create_s3_client"]
