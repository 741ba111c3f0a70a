"""Typed configuration: dataclass schemas and the validation that turns Hydra's output into them."""

from socio_re.config.schema import RunConfig
from socio_re.config.validate import validate_config

__all__ = ["RunConfig", "validate_config"]
