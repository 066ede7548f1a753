"""Recipe parameters every dataset decoded into a prepared cache shares.

A factory declares them in its signature (``resolution: Resolution = 64``); ``CachedImageParams`` is the
same as a pydantic model, for plugins that still pass ``params=``.
"""

from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

Resolution = Annotated[int, Field(ge=4, le=1024, description="side of the square images trained on")]
OnError = Annotated[Literal["skip", "fail"], Field(description="unreadable images: leave out and report, or stop")]
CacheDir = Annotated[
    Optional[str], Field(description="where prepared caches go (default $GANFORGE_CACHE or ~/.cache/ganforge)")
]


class CachedImageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: int = Field(64, ge=4, le=1024, description="side of the square images trained on")
    on_error: Literal["skip", "fail"] = Field("skip", description="unreadable images: leave out and report, or stop")
    cache_dir: Optional[str] = Field(
        None, description="where prepared caches go (default $GANFORGE_CACHE or ~/.cache/ganforge)"
    )
