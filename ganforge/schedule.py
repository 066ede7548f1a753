"""Schedules of any number: a recipe's number may be a table that changes it over the images trained on.

``{ shape = "cosine", initial = 2e-4, final = 5e-5, start_images = 0, end_images = 5_000_000 }`` is
``initial`` until ``start_images``, ``final`` from ``end_images`` on, and the shape in between, at
``t = (images - start_images) / (end_images - start_images)``:

- ``linear``: ``initial + (final - initial) * t``;
- ``cosine``: ``final + (initial - final) * (1 + cos(pi * t)) / 2`` (R3GAN's cosine decay);
- ``constant``: ``initial`` throughout.

Progress is measured in images (training steps times the global batch), so a schedule means the same
whatever the batch size. Only pydantic here: recipes import it, and Keras is imported by :func:`traced`
alone, when a step is traced.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model, model_validator
from pydantic_core import PydanticCustomError, core_schema

SHAPES = ("constant", "linear", "cosine")


class Schedule(BaseModel):
    """A number that follows ``shape`` from ``initial`` to ``final`` between two image counts."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    shape: Literal["constant", "linear", "cosine"] = Field(description="how the value goes from initial to final")
    initial: float = Field(allow_inf_nan=False, description="the value until start_images")
    final: float | None = Field(None, allow_inf_nan=False, description="the value from end_images on")
    start_images: int = Field(0, ge=0, description="images trained on before the value starts to change")
    end_images: int | None = Field(None, ge=0, description="images trained on when it reaches final")

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        # raised as pydantic's own errors, so that a recipe error names the table's key without the
        # "Value error, " pydantic puts before a ValueError's message
        if self.shape == "constant":
            if self.final is not None and self.final != self.initial:
                raise _error(
                    f"a constant schedule keeps its initial value ({self.initial}): "
                    f"leave final out, or choose shape = 'linear' or 'cosine' to reach {self.final}"
                )
        else:
            missing = [key for key in ("final", "end_images") if getattr(self, key) is None]
            if missing:
                raise _error(f"a {self.shape} schedule needs {' and '.join(missing)}")
        if self.end_images is not None and self.end_images <= self.start_images:
            raise _error(
                f"the schedule ends (end_images = {self.end_images}) before it starts "
                f"(start_images = {self.start_images}): end_images must be larger"
            )
        return self

    def progress(self, images: float) -> float:
        """Where ``images`` falls between start and end, clipped to [0, 1] (0 for a constant)."""
        if self.shape == "constant":
            return 0.0
        span = self.end_images - self.start_images
        return min(max((images - self.start_images) / span, 0.0), 1.0)


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("schedule", message)


def is_scheduled(number: Any) -> bool:
    """Whether ``number``'s value changes with the images trained on (a constant schedule's does not)."""
    return isinstance(number, Schedule) and number.shape != "constant"


def value_at(number: float | Schedule, images: float) -> float:
    """The value after ``images`` images, on the host (for records and logs)."""
    if not isinstance(number, Schedule):
        return float(number)
    if number.shape == "constant":
        return number.initial
    t = number.progress(float(images))
    # the docstring's formulas as weights of initial and final: each end comes out exactly
    kept = 1.0 - t if number.shape == "linear" else 0.5 * (1.0 + math.cos(math.pi * t))
    return number.initial * kept + number.final * (1.0 - kept)


def traced(number: float | Schedule, images):
    """The value after ``images`` images in ``keras.ops``: ``images`` may be a traced tensor.

    A plain number (or a constant schedule) comes back as a Python float, so that a run without
    schedules computes exactly what it did before schedules existed; a schedule as a float32 tensor.
    """
    if not is_scheduled(number):
        return value_at(number, 0.0)
    from keras import ops

    span = float(number.end_images - number.start_images)
    t = ops.clip((ops.cast(images, "float32") - float(number.start_images)) / span, 0.0, 1.0)
    kept = 1.0 - t if number.shape == "linear" else 0.5 * (1.0 + ops.cos(math.pi * t))
    return number.initial * kept + number.final * (1.0 - kept)


# -- a recipe field that takes a number or a schedule --------------------------
def scheduled(ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None):
    """The type of a field that takes a number or a :class:`Schedule` table, both held to the bounds.

    A schedule's ``initial`` and ``final`` must keep the bounds (a value in between then does too);
    an error names the key inside the table, as ``("p", "final")``.
    """
    bounds = {"ge": ge, "gt": gt, "le": le, "lt": lt}
    number = TypeAdapter(Annotated[float, Field(strict=True, allow_inf_nan=False, **bounds)])
    bounded = create_model(
        "BoundedSchedule",
        __base__=Schedule,
        initial=(float, Field(allow_inf_nan=False, **bounds)),
        final=(float | None, Field(None, allow_inf_nan=False, **bounds)),
    )
    return Annotated[float | Schedule, _NumberOrSchedule(number, TypeAdapter(bounded))]


class _NumberOrSchedule:
    """Validation of :func:`scheduled` fields: a number, or a table checked as a schedule.

    The table goes through a model of its own (not a union), so that its errors come out once, at
    the table's key (``p.final``), rather than once per member of a union with its name in the path.
    """

    def __init__(self, number: TypeAdapter, schedule: TypeAdapter):
        self.number = number
        self.schedule = schedule

    def __get_pydantic_core_schema__(self, source, handler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.validate,
            json_schema_input_schema=core_schema.union_schema(
                [self.number.core_schema, Schedule.__pydantic_core_schema__]
            ),
        )

    def validate(self, value: Any) -> float | Schedule:
        if isinstance(value, Schedule):
            value = value.model_dump()
        if isinstance(value, dict):
            # a ValidationError raised here keeps its locations, under the field's own
            return Schedule(**self.schedule.validate_python(value, strict=True).model_dump())
        try:
            return self.number.validate_python(value, strict=True)
        except ValidationError as error:
            if error.errors()[0]["type"] != "float_type":
                raise
            raise PydanticCustomError(
                "number_or_schedule",
                "Input should be a number, or a schedule table { shape = ..., initial = ..., final = ..., "
                "start_images = ..., end_images = ... }",
            ) from None
