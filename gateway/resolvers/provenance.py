"""`traceFile`: the licence a delivered file was issued under, from the file alone.

The file travels base64 in a variable (`contentBase64`), not the multipart upload the
catalogue's works use: those go straight to the object store and are kept, while a file
to trace is read once and dropped. A variable is outside the 32 KiB document limit but
inside the gateway's 1 MiB request body, hence `MAX_TRACE_FILE_BYTES` (720 KiB).
"""

import pydantic
import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.errors import REFUSALS, Forbidden, NotFound, ValidationFailed, failure
from gateway.types.provenance import FileTrace, TraceFileResult
from services.contracts import delivery as contract
from services.kit import errors


@strawberry.type
class ProvenanceMutation:
    @strawberry.mutation(
        description="Name the licence a file was delivered under, from its embedded C2PA "
        "manifest (signature verified) or its sha256; a stripped or altered file says so. "
        "Admins and auditors trace any file, a buyer their own files (another's: "
        f"NotFound). `contentBase64`: the file, at most {contract.MAX_TRACE_FILE_BYTES} "
        "bytes, base64."
    )
    async def trace_file(self, info: Info[Context, None], content_base64: str) -> TraceFileResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            result = await ctx.delivery.trace_file(
                principal, contract.FileTraceIn(content_base64=content_base64)
            )
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, Forbidden, NotFound, *REFUSALS)
        return FileTrace.of(result)
