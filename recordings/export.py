"""Recordings handed to an export (the case evidence zip), as one requester may hear them.

``ExportRecordings`` implements ``cases.export.RecordingSource``: ``prepare`` authorises every
recording at once (one ``download`` row each in the access log, with the export's purpose as the
detail) and checks that each has stored audio, so a refusal is answered before the first byte;
``open`` then streams one stored object in ``CHUNK_SIZE`` pieces through the store's range read.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

from recordings.errors import NotStored
from recordings.service import RecordingService, Requester
from recordings.states import RecordingState


class ExportRecordings:
    """The recordings of one export for one requester (``prepare`` first, then ``open`` each)."""

    def __init__(self, service: RecordingService, who: Requester, *, purpose: str) -> None:
        self.service, self.who, self.purpose = service, who, purpose
        self._objects: dict[str, tuple[str, str | None]] = {}

    async def prepare(self, recording_ids: Sequence[str]) -> dict[str, int | None]:
        """Authorise and log each recording as a download; their stored sizes (None if unknown).

        ``NoSuchRecording`` / ``RecordingAccessDenied`` / ``NotStored`` if any cannot be exported.
        """
        recs = await self.service.authorize_all(self.who, recording_ids, "download", detail=self.purpose)
        not_stored = [r.id for r in recs if r.state != RecordingState.STORED or r.key is None]
        if not_stored:
            raise NotStored(f"recording {not_stored[0]} has no stored audio",
                            details={"recording_ids": not_stored})
        for r in recs:
            assert r.key is not None
            self._objects[r.id] = (r.key, r.version_id)
        return {r.id: r.size for r in recs}

    async def open(self, recording_id: str) -> AsyncGenerator[bytes, None]:
        """The stored audio of a prepared recording, in chunks (storage errors as ``Storage*``)."""
        key, version_id = self._objects[recording_id]
        async with await self.service.store.open_range(key, version_id=version_id) as rng:
            async for chunk in rng:
                yield chunk
