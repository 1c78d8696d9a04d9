"""`PyDataset` (Keras 3) and its classic name `Sequence`: batches produced by indexing.

A subclass implements `__len__` (number of batches per epoch) and `__getitem__(index)` returning
`(x, y)` or `(x, y, sample_weight)` for one batch; `on_epoch_end` runs after each epoch. `fit`
asks for the batches in order (shuffling, if any, is the dataset's business, as in Keras).
The worker arguments are accepted for compatibility; batches are produced in the calling thread.
"""


class PyDataset:
    """Base class for datasets that produce whole batches by index."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    @property
    def workers(self):
        return getattr(self, "_workers", 1)

    @property
    def use_multiprocessing(self):
        return getattr(self, "_use_multiprocessing", False)

    @property
    def max_queue_size(self):
        return getattr(self, "_max_queue_size", 10)

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__()")

    @property
    def num_batches(self):
        """Number of batches in an epoch (None for an endless dataset)."""
        try:
            return len(self)
        except NotImplementedError:
            return None

    def on_epoch_begin(self):
        """Called at the start of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


Sequence = PyDataset
