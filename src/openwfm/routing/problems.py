"""Errors the router answers with (``application/problem+json``; ``field`` names the culprit)."""

from __future__ import annotations


class Problem(Exception):
    """An HTTP problem: ``status``, a one-line ``detail`` and the ``field`` it concerns."""

    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, field: str | None = None) -> None:
        self.detail = f"{field}: {detail}" if field and not detail.startswith(field) else detail
        self.field = field
        super().__init__(self.detail)

    def body(self) -> dict:
        body = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.field:
            body["field"] = self.field
        return body


class BadRequest(Problem):
    status, title = 400, "Bad Request"


class Unauthorized(Problem):
    status, title = 401, "Unauthorized"


class Forbidden(Problem):
    status, title = 403, "Forbidden"


class NotFound(Problem):
    status, title = 404, "Not Found"


class Conflict(Problem):
    status, title = 409, "Conflict"


class TooLarge(Problem):
    status, title = 413, "Content Too Large"


class Unprocessable(Problem):
    status, title = 422, "Unprocessable Content"


class Unavailable(Problem):
    status, title = 503, "Service Unavailable"
