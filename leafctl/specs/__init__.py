"""az ml v2 specs, in one place for both backends and the CLI.

- ``command``: what leafctl adds to a job's command: ``${{inputs.x}}`` checks, shell-safe substitution,
  model references, and the --dry-run view of a job (imports nothing heavy; re-exported here).
- ``load``: a YAML file (+ flags + ``--set``) validated offline by azure-ai-ml's own ``load_*`` functions.
- ``compute``, ``assets``, ``datastore``, ``endpoint``, ``job``: each kind's spec -> the records in
  ``leafctl.backends.base`` that the Backend protocol takes.
- ``flags``: the CLI's flags as az ml YAML overrides (flag <-> field mapping).

Imports point down: the CLI and both backends use this package; it uses only the records below it.
Only ``command`` is imported with the package: the others load azure-ai-ml when first used.
"""

from leafctl.specs.command import (  # noqa: F401
    PLACEHOLDER,
    check_command,
    job_to_doc,
    parse_model_ref,
    placeholders,
    redact_env,
    strip_azureml,
    substitute,
    substitute_argv,
)
