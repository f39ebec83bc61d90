"""What the audit log's routers take from the request: the session and the key that
signs checkpoints."""

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import Signer
from services.kit.db import get_session


def _signer(request: Request) -> Signer:
    signer: Signer = request.app.state.checkpoint_signer
    return signer


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
CheckpointSigner = Annotated[Signer, Depends(_signer)]
