"""Builds every stack of one environment; shared by app.py and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import App, Tags

from stacks.config import EnvironmentConfig
from stacks.endpoint_stack import EndpointStack
from stacks.monitoring_stack import MonitoringSources, MonitoringStack
from stacks.storage_stack import StorageStack

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_ARTIFACT = PROJECT_ROOT / "model" / "build" / "model.tar.gz"
DEFAULT_MONITORING_SOURCES = MonitoringSources(
    baseline_dataset=PROJECT_ROOT / "model" / "build" / "baseline-dataset.csv",
    validation_dataset=PROJECT_ROOT / "model" / "build" / "validation-predictions.csv",
    analyzer_packages=(PROJECT_ROOT / "analyzer", PROJECT_ROOT / "contract"),
    staging_dir=PROJECT_ROOT / "build" / "analyzer-code",
)


@dataclass
class EnvironmentStacks:
    storage: StorageStack
    endpoint: EndpointStack
    monitoring: MonitoringStack


def build_environment(
    app: App,
    config: EnvironmentConfig,
    model_artifact_path: Path = DEFAULT_MODEL_ARTIFACT,
    monitoring_sources: MonitoringSources = DEFAULT_MONITORING_SOURCES,
) -> EnvironmentStacks:
    built_inputs = [Path(model_artifact_path), Path(monitoring_sources.baseline_dataset)]
    if config.model_quality.enabled and not config.model_quality.baseline_dataset_uri:
        built_inputs.append(Path(monitoring_sources.validation_dataset))
    for built in built_inputs:
        if not built.exists():
            raise FileNotFoundError(f"{built} is missing: run `make model` before synthesizing.")
    prefix = config.stack_prefix
    storage = StorageStack(app, f"{prefix}-Storage", config,
                           description=f"Capture and report storage of the churn endpoint ({config.name})")
    endpoint = EndpointStack(app, f"{prefix}-Endpoint", config, storage.storage, str(model_artifact_path),
                             description=f"Churn XGBoost endpoint with data capture ({config.name})")
    endpoint.add_stack_dependency(storage)
    monitoring = MonitoringStack(app, f"{prefix}-Monitoring", config, storage.storage, endpoint.endpoint,
                                 monitoring_sources,
                                 description=f"Baselines, hourly data- and model-quality monitoring "
                                             f"({config.monitoring_engine}) and alerts ({config.name})")
    monitoring.add_stack_dependency(endpoint)
    for stack in (storage, endpoint, monitoring):
        Tags.of(stack).add("project", "churn-model-monitor")
        Tags.of(stack).add("environment", config.name)
    return EnvironmentStacks(storage=storage, endpoint=endpoint, monitoring=monitoring)
