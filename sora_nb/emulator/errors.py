"""Error answers raised by handlers (`ApiError` in OpenAI's shape, `RawError` in any other), and
the app's exception handlers that turn them, unknown routes and crashes into answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .shapes.errors import error_body
from .shapes.newapi import invalid_url

__all__ = ["EXCEPTION_HANDLERS", "ApiError", "RawError", "bad", "not_found"]


class ApiError(Exception):
    """An error answer in OpenAI's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = (
            status,
            message,
            type,
            code,
            param,
        )

    def response(self) -> JSONResponse:
        body = error_body(self.status, self.message, self.type, self.code)
        body["error"]["param"] = self.param
        return JSONResponse(body, status_code=self.status)


class RawError(Exception):
    """An error answer with a body of its own (new-api's task errors, its proxy's errors)."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(f"{status}: {body}")
        self.status, self.body = status, body


def bad(message: str, param: str | None = None, code: str | None = "invalid_value") -> ApiError:
    """400 for a bad parameter."""
    return ApiError(400, message, "invalid_request_error", code, param)


def not_found(message: str) -> ApiError:
    """404 for an unknown id on a known route."""
    return ApiError(404, message, "invalid_request_error", "not_found")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _raw_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RawError)
    return JSONResponse(exc.body, status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        # An unknown route, answered as new-api answers it (controller/relay.go RelayNotFound).
        return JSONResponse(invalid_url(request.method, request.url.path), status_code=404)
    if exc.status_code == 405:
        return ApiError(
            405,
            f"Method {request.method} not allowed for {request.url.path}",
            "invalid_request_error",
            "method_not_allowed",
        ).response()
    return ApiError(exc.status_code, str(exc.detail)).response()


async def _server_error(request: Request, exc: Exception) -> Response:
    return ApiError(500, f"Internal emulator error: {type(exc).__name__}: {exc}").response()


EXCEPTION_HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    ApiError: _api_error,
    RawError: _raw_error,
    HTTPException: _http_error,
    Exception: _server_error,
}
