"""Read the self-hosted engine's synthesized state machine and evaluate its JSONata as Step Functions would.

CloudFormation intrinsics are rendered with fixed pseudo parameters; other references become
`<LogicalId.Attribute>` placeholders. JSONata is evaluated with `jsonata-python` (a port of the
reference implementation), with `$states` and the workflow variables bound as Step Functions binds them, and
Step Functions' `$parse`.
`walk` runs a stretch of the definition state by state (Choice, Wait, Pass, Task with Retry/Catch/Assign/
Output, Fail) with scripted task outcomes, so a path such as "the job already exists" is evaluated
through the definition's own states.
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


def render_tree(value: object) -> object:
    """`value` with every CloudFormation intrinsic in it rendered (see `render`), e.g. an event pattern."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Ref", "Fn::Join", "Fn::Sub", "Fn::GetAtt"):
            return render(value)
        return {key: render_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [render_tree(item) for item in value]
    return value


DATA_QUALITY, MODEL_QUALITY = "SelfHostedSchedule", "SelfHostedModelQualitySchedule"


def state_machine_definition(template: dict, schedule: str = DATA_QUALITY) -> dict:
    """The definition of one self-hosted schedule's state machine (not the Provider framework's waiter),
    chosen by the schedule construct's id in the stack, `DATA_QUALITY` or `MODEL_QUALITY` (a logical id
    is the construct path's ids joined, then a hash)."""
    machines = [
        resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::StepFunctions::StateMachine" and logical_id.startswith(f"{schedule}StateMachine")
    ]
    assert len(machines) == 1, f"expected one {schedule} state machine, found {len(machines)}"
    return json.loads(render(machines[0]["Properties"]["DefinitionString"]))


def evaluate(value: object, states: dict, variables: dict | None = None) -> object:
    """Evaluate every `{% ... %}` string in `value` (recursively), as a JSONata state does."""
    if isinstance(value, str):
        match = _EXPRESSION.match(value)
        if not match:
            return value
        expression = jsonata.Jsonata(match.group(1))
        # Step Functions' own function beside JSONata's: $parse (a JSON string to its value).
        expression.register_lambda("parse", json.loads)
        return expression.evaluate(None, {"states": states, **(variables or {})})
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


def choose(choice: dict, state_input: object, variables: dict) -> str:
    """The state a Choice state moves to: its first rule whose condition holds, else its default."""
    for rule in choice["Choices"]:
        if evaluate(rule["Condition"], {"input": state_input}, variables):
            return rule["Next"]
    return choice["Default"]


def _handles(names: list[str], error: str) -> bool:
    """Whether ErrorEquals `names` match `error`: by name, States.ALL, or States.TaskFailed (every error
    but States.Timeout)."""
    return bool({error, "States.ALL"} & set(names)) or ("States.TaskFailed" in names and error != "States.Timeout")


def _matching(rules: list[dict], error: str) -> tuple[int, dict] | None:
    """The first retrier or catcher (with its index) that handles `error` (see `_handles`)."""
    handles = [i for i, rule in enumerate(rules) if _handles(rule["ErrorEquals"], error)]
    return (handles[0], rules[handles[0]]) if handles else None


def _finish(state: dict, states: dict, variables: dict, default_output: object) -> object:
    """Apply a Task's (or a catcher's) Assign, then return its Output; all see the variables as they were."""
    assigned = evaluate(state.get("Assign", {}), states, variables)
    output = evaluate(state["Output"], states, variables) if "Output" in state else default_output
    variables.update(assigned)
    return output


def _run_task(name: str, state: dict, outcomes: list[dict], state_input: object, variables: dict,
              path: list[str]) -> tuple[str, object]:
    """A Task state against its scripted outcomes (consumed in order): a result, or `{"Error", "Cause"}`."""
    retried: dict[int, int] = {}
    while True:
        outcome = outcomes.pop(0)
        if "Error" not in outcome:
            return state["Next"], _finish(state, {"input": state_input, "result": outcome}, variables, outcome)
        retry = _matching(state.get("Retry", []), outcome["Error"])
        if retry and retried.get(retry[0], 0) < retry[1]["MaxAttempts"]:
            retried[retry[0]] = retried.get(retry[0], 0) + 1
            path.append(f"{name} (retry)")
            continue
        catch = _matching(state.get("Catch", []), outcome["Error"])
        if catch is None:
            raise AssertionError(f"{name}: {outcome['Error']} is neither retried nor caught")
        return catch[1]["Next"], _finish(catch[1], {"input": state_input, "errorOutput": outcome}, variables, outcome)


def walk(definition: dict, start: str, variables: dict, outcomes: dict[str, list[dict]],
         stop_at: tuple[str, ...] = ()) -> dict:
    """Run the states from `start` as Step Functions would, each Task's outcomes scripted in `outcomes[name]`.

    Stops at a Fail or Succeed state or at a state in `stop_at`. Returns the states passed (`path`, a
    retried attempt listed as `<name> (retry)`), the `variables` at the end and, for a Fail, its `error`
    and `cause`. A Task without an outcome left raises IndexError: the walk went where it should not.
    """
    states, variables, path = definition["States"], dict(variables), []
    name, state_input = start, {}
    while True:
        path.append(name)
        state = states[name]
        if name in stop_at or state["Type"] == "Succeed":
            return {"path": path, "variables": variables}
        if state["Type"] == "Fail":
            context = {"input": state_input}
            return {"path": path, "variables": variables, "error": evaluate(state["Error"], context, variables),
                    "cause": evaluate(state["Cause"], context, variables)}
        if state["Type"] == "Choice":
            name = choose(state, state_input, variables)
        elif state["Type"] == "Wait":
            name = state["Next"]
        elif state["Type"] == "Pass":
            name, state_input = state["Next"], _finish(state, {"input": state_input}, variables, state_input)
        elif state["Type"] == "Task":
            name, state_input = _run_task(name, state, outcomes[name], state_input, variables, path)
        else:
            raise AssertionError(f"{name}: a {state['Type']} state is not simulated here")
