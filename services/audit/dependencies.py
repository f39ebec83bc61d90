"""What the audit log's routers take from the request: the session."""

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import get_session

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
