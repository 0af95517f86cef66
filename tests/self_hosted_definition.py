"""Read the self-hosted engine's synthesized state machine and evaluate its JSONata as Step Functions would.

CloudFormation intrinsics are rendered with fixed pseudo parameters; other references become
`<LogicalId.Attribute>` placeholders. JSONata is evaluated with `jsonata-python` (a port of the
reference implementation), with `$states` and the workflow variables bound as Step Functions binds them.
"""

from __future__ import annotations

import json
import re

import jsonata

ACCOUNT, REGION, PARTITION = "123456789012", "eu-west-1", "aws"
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION}
_EXPRESSION = re.compile(r"^\{%(.*)%\}$", re.DOTALL)


def render(value: object) -> str:
    """A CloudFormation string value with pseudo parameters filled in and other references as placeholders."""
    if isinstance(value, str):
        return value
    ((function, argument),) = value.items()
    if function == "Ref":
        return PSEUDO.get(argument, f"<{argument}>")
    if function == "Fn::Join":
        return argument[0].join(render(part) for part in argument[1])
    if function == "Fn::Sub":
        return re.sub(r"\$\{([^}]+)\}", lambda m: PSEUDO.get(m.group(1), f"<{m.group(1)}>"), argument)
    if function == "Fn::GetAtt":
        return f"<{argument[0]}.{argument[1]}>"
    return f"<{function}>"


def state_machine_definition(template: dict) -> dict:
    """The definition of the self-hosted engine's state machine (not the Provider framework's waiter)."""
    machines = [
        r
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::StepFunctions::StateMachine" and logical_id.startswith("SelfHostedSchedule")
    ]
    assert len(machines) == 1, f"expected one self-hosted state machine, found {len(machines)}"
    return json.loads(render(machines[0]["Properties"]["DefinitionString"]))


def evaluate(value: object, states: dict, variables: dict | None = None) -> object:
    """Evaluate every `{% ... %}` string in `value` (recursively), as a JSONata state does."""
    if isinstance(value, str):
        match = _EXPRESSION.match(value)
        if not match:
            return value
        return jsonata.Jsonata(match.group(1)).evaluate(None, {"states": states, **(variables or {})})
    if isinstance(value, dict):
        return {key: evaluate(item, states, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [evaluate(item, states, variables) for item in value]
    return value


def window_variables(
    definition: dict, execution_input: dict, start_time: str = "2024-01-01T00:00:00.000Z"
) -> dict:
    """The variables the Hour and Window states assign for one execution."""
    context = {"Execution": {"StartTime": start_time, "Input": execution_input}}
    hour = evaluate(definition["States"]["Hour"]["Output"], {"input": execution_input, "context": context})
    return evaluate(definition["States"]["Window"]["Assign"], {"input": hour, "context": context})


def processing_job(definition: dict, variables: dict) -> dict:
    """The CreateProcessingJob request the RunAnalyzer state sends."""
    return evaluate(definition["States"]["RunAnalyzer"]["Arguments"], {"input": {}}, variables)
