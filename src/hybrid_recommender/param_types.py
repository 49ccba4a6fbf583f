"""What every parameter model shares: a section that refuses unknown keys, and the value types with a range."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Fraction = Annotated[float, Field(ge=0, le=1)]       # a share or a probability: 0..1 inclusive


class Section(BaseModel):
    """One YAML mapping of parameters: a misspelt key is an error naming it, never silently ignored."""

    model_config = ConfigDict(extra="forbid")
