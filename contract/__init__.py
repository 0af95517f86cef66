"""The monitoring contract: every fact of the service's file, path, name and message formats, once.

Standard library only, so the analyzer (and its zip for the self-hosted jobs), both Lambdas, the
stacks and the workshop all carry it. What lives where:

- `layout`: the S3 layout (capture keys, hour folders, report folders, baseline and marker
  prefixes), schedule and job names, the analysis window rule, UTC times, the report file names.
- `processing`: the analyzer container's contract (local paths, input/output names, environment
  variables, `dataset_format` values, exit messages and job statuses) and the one
  processing-job specification every engine renders.
- `metrics`: CloudWatch namespace, metric and dimension names.
- `events`: EventBridge sources, detail types and the statuses that end a run.
- `lambdas`: the environment variables the stacks set on the alerts Lambda.
- `violations`: `constraint_violations.json` (check types, the document, a strict parser) and the
  violation description templates with their parsers, side by side.
- `documents`: the typed read model of `statistics.json` and `constraints.json`, with the
  monitoring config's defaults.
- `model_quality`: the model-quality monitor's problem types, metric names and orders, suggested
  constraints and CloudWatch names, and typed views of its documents; `quality_violations`: its
  violations' names, wording and document (exported by `model_quality` too).
- `javanumbers`: Java's `Double.toString`, the number format of every document and message.
- `errors`: the error classes whose messages users see.

Section numbers in comments refer to the shared model-monitor contract document.
"""
