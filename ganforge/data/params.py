"""Recipe parameters every dataset decoded into a prepared cache shares."""

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class CachedImageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: int = Field(64, ge=4, le=1024, description="side of the square images trained on")
    on_error: Literal["skip", "fail"] = Field("skip", description="unreadable images: leave out and report, or stop")
    cache_dir: Optional[str] = Field(
        None, description="where prepared caches go (default $GANFORGE_CACHE or ~/.cache/ganforge)"
    )
