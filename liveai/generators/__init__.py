"""Accompanists behind one interface (base.Generator): rules now, the ONNX model as default."""
from __future__ import annotations

import logging

from liveai.generators.base import Generator
from liveai.generators.rules import RulesAccompanist

log = logging.getLogger(__name__)


class GeneratorError(RuntimeError):
    pass


def make_generator(name: str, model_path: str | None = None, seed: int = 0, temperature: float = 0.7,
                   top_p: float = 0.9) -> Generator:
    """Build a generator by name. For "model": an explicit --model that fails to load is an error;
    the built-in model missing or broken gives a warning and the rules generator."""
    if name == "rules":
        return RulesAccompanist(seed=seed)
    if name == "model":
        try:
            from liveai.generators.neural import ModelGenerator
            return ModelGenerator(path=model_path, seed=seed, temperature=temperature, top_p=top_p)
        except Exception as e:  # ModelError, ImportError, onnxruntime errors
            if model_path:
                raise GeneratorError(f"cannot use model {model_path}: {e}") from None
            log.warning("built-in model unavailable (%s); playing with the rules generator", e)
            return RulesAccompanist(seed=seed)
    raise GeneratorError(f"unknown generator {name!r}; known: model, rules")
