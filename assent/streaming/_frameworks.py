"""The loader in the training frameworks: a Hugging Face `datasets.IterableDataset`, and
a torch `IterableDataset`. Each library is imported only when asked for, so that neither
is needed (torch is gigabytes) to stream with the plain loader."""

from collections.abc import Iterator
from typing import Any

from assent.streaming._loader import LicensedLoader, LicensedRecord


def rows(loader: LicensedLoader) -> Iterator[dict[str, Any]]:
    """The loader's records as rows, the generator `datasets.IterableDataset.from_generator`
    takes (`gen_kwargs={"loader": loader}`)."""
    for record in loader:
        yield record.as_row()


def to_iterable_dataset(loader: LicensedLoader) -> Any:
    """A `datasets.IterableDataset` of the loader's rows; each pass over it is a fresh
    pass of the loader, its licences checked again."""
    import datasets

    return datasets.IterableDataset.from_generator(rows, gen_kwargs={"loader": loader})


def worker_records(loader: LicensedLoader, worker: Any | None) -> Iterator[LicensedRecord]:
    """The records one torch DataLoader worker reads: its share when `worker` (torch's
    `get_worker_info()`) names one, else every record."""
    if worker is None:
        return iter(loader)
    return loader.partition(int(worker.id), int(worker.num_workers))


def torch_dataset(loader: LicensedLoader) -> Any:
    """A `torch.utils.data.IterableDataset` of the loader's records; with several
    DataLoader workers each reads its own share, every record read once."""
    from torch.utils.data import IterableDataset, get_worker_info

    class LicensedIterableDataset(IterableDataset):  # type: ignore[misc]
        def __iter__(self) -> Iterator[LicensedRecord]:
            return worker_records(loader, get_worker_info())

    return LicensedIterableDataset()
