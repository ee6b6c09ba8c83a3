"""The waiting tasks as parallel arrays, with the stations they go to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from controller.dispatch.snapshots import PickTask


@dataclass(frozen=True)
class TaskArrays:
    tasks: tuple[PickTask, ...]
    pickup: np.ndarray  # int64 node
    dropoff: np.ndarray  # int64 node
    created_s: np.ndarray
    due_s: np.ndarray  # nan where a task has no due time
    priority: np.ndarray
    stations: np.ndarray  # int64: the distinct dropoff nodes
    station_index: np.ndarray  # int64: each task's dropoff as an index into `stations`

    @classmethod
    def of(cls, tasks: Sequence[PickTask]) -> TaskArrays:
        dropoff = np.array([task.dropoff for task in tasks], dtype=np.int64)
        stations, station_index = np.unique(dropoff, return_inverse=True)
        return cls(
            tasks=tuple(tasks),
            pickup=np.array([task.pickup for task in tasks], dtype=np.int64),
            dropoff=dropoff,
            created_s=np.array([task.created_s for task in tasks], dtype=np.float64),
            due_s=np.array(
                [np.nan if task.due_s is None else task.due_s for task in tasks], dtype=np.float64
            ),
            priority=np.array([task.priority for task in tasks], dtype=np.float64),
            stations=stations.astype(np.int64),
            station_index=station_index.astype(np.int64).reshape(-1),
        )

    def __len__(self) -> int:
        return len(self.tasks)

    def subset(self, index: np.ndarray) -> TaskArrays:
        """The tasks at `index`, in that order; `stations` kept whole (indices stay valid)."""
        return TaskArrays(
            tasks=tuple(self.tasks[i] for i in index),
            pickup=self.pickup[index],
            dropoff=self.dropoff[index],
            created_s=self.created_s[index],
            due_s=self.due_s[index],
            priority=self.priority[index],
            stations=self.stations,
            station_index=self.station_index[index],
        )
