"""Files: what a media message carries (PhotoSize list, Document, Voice, ...), uploads, file ids and URLs
given instead of an upload, and getFile (the download route is in :mod:`emulator.transport`)."""

from __future__ import annotations

from typing import Any

from emulator.models import JSON, ApiError, StoredFile, bad_request
from emulator.state import EmulatorState
from emulator.transport import MAX_UPLOAD, Handler, Params, Upload

MAX_DOWNLOAD = 20 * 1024 * 1024
MEDIA_KINDS = ("document", "photo", "audio", "voice", "video", "animation", "sticker", "video_note")


class FileMethods:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def handlers(self) -> dict[str, Handler]:
        return {"getFile": self.get_file}

    async def get_file(self, params: Params, bot_id: int) -> JSON:
        stored = self.state.files.get(params.get_str("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }


def file_from_request(state: EmulatorState, params: Params, kind: str) -> StoredFile:
    """The file of parameter ``kind``: an upload (stored now), a known file_id, or an HTTP URL."""
    source = params.file(kind)
    if source is None:
        raise bad_request(f"there is no {kind} in the request")
    if isinstance(source, Upload):
        if not source.data:
            raise bad_request("file must be non-empty")
        if len(source.data) > MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        return state.store_file(source.data, kind, source.filename, source.content_type)
    known = state.files.get(source)
    if known is not None:
        return known
    if source.startswith(("http://", "https://")):
        name = source.rstrip("/").rsplit("/", 1)[-1] or None
        return state.store_file(b"", kind, name)
    raise bad_request("wrong file identifier/HTTP URL specified")


def media_json(stored: StoredFile, kind: str, params: Params) -> Any:
    """The Message field of a media kind (PhotoSize list, Document, Voice, ...) for a stored file."""
    base: JSON = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
    }
    duration = params.get_int("duration", 1) or 1
    if kind == "photo":
        return [{**base, "width": 800, "height": 600}]
    if kind == "sticker":
        return {
            **base,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
    if kind == "video_note":
        return {**base, "length": 240, "duration": duration}
    if kind in ("video", "animation"):
        base.update(width=640, height=480, duration=duration)
    elif kind in ("audio", "voice"):
        base["duration"] = duration
    if kind != "voice" and stored.file_name:
        base["file_name"] = stored.file_name
    if stored.mime_type:
        base["mime_type"] = stored.mime_type
    return base
