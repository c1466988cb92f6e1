"""The errors sagsim raises. Each message names the source (file or object), the field and
what was expected, in one line, so the CLI can print it as it is."""


class SagsimError(Exception):
    """Base of every error sagsim raises on purpose."""


class ModelError(SagsimError):
    """A TissueModel, State or Loads field is malformed (shape, index, sign, NaN...)."""


class MaterialError(SagsimError):
    """A material parameter is out of its admissible range."""


class MeshError(SagsimError):
    """A mesh is broken: inverted or degenerate elements, bad connectivity."""


class ConvergenceError(SagsimError):
    """A nonlinear solve failed after all its cut-backs."""


class LinearSolverError(SagsimError):
    """A linear solve failed (not SPD, no convergence)."""


class ScenarioError(SagsimError):
    """A scenario or plan file is malformed."""


class DataFileError(SagsimError):
    """A data file cannot be read or written: missing, malformed, or its library absent."""


class RenderError(SagsimError):
    """A picture cannot be made: unknown option, or nothing to draw."""
