"""GET /v1/models[/{id}]: aliases and the models of providers that have a key."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from .. import model_list
from ..observability import RequestRecord
from ..plain import CoreRequest, CoreResponse, json_response
from ..routing import Router


class ModelsEndpoint:
    def __init__(
        self,
        router: Router,
        extra_models: Mapping[str, Sequence[str]],
        configured_providers: Callable[[], list[str]],
    ) -> None:
        self._router = router
        self._extra = extra_models
        # Read per request: which providers have a key changes when secrets are refreshed.
        self._configured = configured_providers

    async def __call__(self, request: CoreRequest, record: RequestRecord) -> CoreResponse:
        catalogue = model_list.entries(self._router, self._configured(), self._extra)
        model_id = request.path.removeprefix("/v1/models").removeprefix("/")
        if model_id:
            return json_response(model_list.retrieve(catalogue, model_id, self._router))
        return json_response(model_list.page(catalogue, request.query))
