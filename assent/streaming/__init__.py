"""Streaming a delivery into a training job (`pip install 'assent[stream]'`).

    import pandas as pd
    from assent.streaming import LicensedLoader

    index = pd.read_parquet("assent://DELIVERY/shards/index.parquet")
    loader = LicensedLoader(["DELIVERY"], "training")
    for record in loader:
        ...
    print(loader.report.summary())

`assent://DELIVERY/PATH` is an fsspec filesystem (`AssentFileSystem`), registered under
that protocol on import and through the `fsspec.specs` entry point, so pandas, pyarrow
and `datasets` open such URLs themselves. The loader yields only the records whose
licence allows the declared use now, and reports what it skipped and why;
`to_iterable_dataset` and `torch_dataset` hand it to `datasets` and torch.
"""

from fsspec import register_implementation

from assent.streaming._errors import ChecksumMismatch, LinkRefused, StreamError
from assent.streaming._file import StreamedFile
from assent.streaming._filesystem import (
    PROTOCOL,
    SHARDS_DIR,
    AssentFileSystem,
    DeliveryListing,
    DeliveryObject,
)
from assent.streaming._frameworks import rows, to_iterable_dataset, torch_dataset, worker_records
from assent.streaming._gateway import LINK_EXPIRES_HEADER, LicenceState
from assent.streaming._licence import LoaderReport, Skipped, SkipReason, skip_reason
from assent.streaming._loader import LicensedLoader, LicensedRecord

__all__ = [
    "LINK_EXPIRES_HEADER",
    "PROTOCOL",
    "SHARDS_DIR",
    "AssentFileSystem",
    "ChecksumMismatch",
    "DeliveryListing",
    "DeliveryObject",
    "LicenceState",
    "LicensedLoader",
    "LicensedRecord",
    "LinkRefused",
    "LoaderReport",
    "SkipReason",
    "Skipped",
    "StreamError",
    "StreamedFile",
    "rows",
    "skip_reason",
    "to_iterable_dataset",
    "torch_dataset",
    "worker_records",
]

# Also registered by the entry point; here too, for a checkout used without installing.
register_implementation(PROTOCOL, AssentFileSystem, clobber=True)
