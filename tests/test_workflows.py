"""The GitHub workflows, parsed: triggers, the `make test` gate, environment protection, least privilege,
concurrency, pinned actions, the prod guard of destroy.yml and the in-place pull-request comments."""

import json
import re
import shutil
import subprocess

import pytest
import yaml

from stacks.app_builder import PROJECT_ROOT
from stacks.images import SKLEARN_PROCESSING_PYTHON

GITHUB = PROJECT_ROOT / ".github"
WORKFLOWS = ("pr", "deploy", "destroy", "cdk-environment")
OIDC_ACTION = "aws-actions/configure-aws-credentials"
COMMENT_ACTION = "actions/github-script"
ENVIRONMENT_WORKFLOW = "./.github/workflows/cdk-environment.yml"


def load(name):
    document = yaml.safe_load((GITHUB / "workflows" / f"{name}.yml").read_text())
    document["on"] = document.pop(True)  # YAML 1.1 reads the bare key `on` as the boolean true
    return document


def setup_action():
    return yaml.safe_load((GITHUB / "actions" / "setup" / "action.yml").read_text())


def uses(job, action):
    return [s for s in job.get("steps", []) if s.get("uses", "").split("@")[0] == action]


def run_text(job):
    return "\n".join(s.get("run", "") for s in job.get("steps", []))


def write_permissions(job):
    return {scope for scope, level in job["permissions"].items() if level == "write"}


def test_pull_requests_to_main_run_make_test_after_a_cached_toolchain_setup():
    pr = load("pr")
    assert pr["on"] == {"pull_request": {"branches": ["main"]}}
    steps = pr["jobs"]["test"]["steps"]
    first = [s.get("uses", "").split("@")[0] for s in steps[:2]]
    assert first == ["actions/checkout", "./.github/actions/setup"]
    assert steps[-1]["run"].strip() == "make test"
    setup = {s["uses"].split("@")[0]: s["with"] for s in setup_action()["runs"]["steps"] if "uses" in s}
    assert setup["actions/setup-python"]["cache"] == "pip"
    assert setup["actions/setup-python"]["cache-dependency-path"] == "requirements*.txt"
    assert setup["actions/setup-node"]["cache"] == "npm"
    assert setup["actions/setup-node"]["cache-dependency-path"] == "package-lock.json"


def test_the_toolchain_has_the_processing_images_python_for_the_parity_check_and_the_apps_as_default():
    setup = {s["uses"].split("@")[0]: s["with"] for s in setup_action()["runs"]["steps"] if "uses" in s}
    versions = setup["actions/setup-python"]["python-version"].split()
    assert SKLEARN_PROCESSING_PYTHON in versions  # `make test`'s image parity check looks for python3.12
    assert versions[-1] == "3.11"  # setup-python makes the last one listed the default python3


def test_superseded_pull_request_runs_are_cancelled():
    concurrency = load("pr")["concurrency"]
    assert concurrency["cancel-in-progress"] is True
    assert "github.event.pull_request.number" in concurrency["group"]


def test_data_gate_builds_baselines_on_head_and_base_and_compares_them():
    job = load("pr")["jobs"]["data-gate"]
    base_checkout = [s["with"] for s in uses(job, "actions/checkout") if "ref" in s.get("with", {})]
    assert base_checkout == [{"ref": "${{ github.event.pull_request.base.sha }}", "path": "base-branch",
                              "persist-credentials": False}]
    script = run_text(job)
    assert script.count("-m analyzer suggest-baseline") == 2
    # Both baselines and the model-output check read the same dataset path (each branch's own for a baseline).
    assert script.count("--dataset model/build/baseline-dataset.csv") == 3
    assert "make model" in script and "make -C base-branch model" in script
    assert "-m scripts.constraints_diff --head build/baseline-head/constraints.json" in script
    assert "GITHUB_STEP_SUMMARY" in script
    assert job["outputs"]["markdown"] == "${{ steps.diff.outputs.markdown }}"


def test_data_gate_compares_both_models_scores_and_appends_the_section_to_the_comment():
    job = load("pr")["jobs"]["data-gate"]
    names = [step.get("id") or step.get("name") for step in job["steps"]]
    (check,) = [s for s in job["steps"] if "scripts.model_output_check" in s.get("run", "")]
    assert names.index("base") < job["steps"].index(check) < names.index("diff")
    assert check["env"] == {"BASE_MODEL": "${{ steps.base.outputs.model }}"}
    command = " ".join(check["run"].replace("\\\n", " ").split())
    assert "--head-model model/build/model.tar.gz" in command
    assert '${BASE_MODEL:+--base-model "$BASE_MODEL"}' in command  # a base branch without a model: no comparison
    assert ("--constraints build/baseline-head/constraints.json --holdout model/build/holdout.csv "
            "--output model-output.md") in command
    (base,) = [s for s in job["steps"] if s.get("id") == "base"]
    assert 'echo "model=base-branch/model/build/model.tar.gz" >> "$GITHUB_OUTPUT"' in base["run"]
    (diff,) = [s for s in job["steps"] if s.get("id") == "diff"]
    lines = diff["run"].splitlines()
    appended = lines.index("{ echo; cat model-output.md; } >> data-gate.md")
    assert appended < next(i for i, line in enumerate(lines) if "GITHUB_STEP_SUMMARY" in line)


def test_every_workflow_grants_nothing_by_default_and_each_job_declares_its_permissions():
    for name in WORKFLOWS:
        workflow = load(name)
        assert workflow["permissions"] == {}, name
        for job_id, job in workflow["jobs"].items():
            assert "permissions" in job, f"{name}.{job_id}"
            assert set(job["permissions"].values()) <= {"read", "write", "none"}, f"{name}.{job_id}"


def test_write_permissions_are_exactly_where_they_are_used():
    expected = {
        ("pr", "test"): set(), ("pr", "data-gate"): set(),
        ("pr", "diff"): {"id-token"}, ("pr", "comment"): {"pull-requests"},
        ("deploy", "test"): set(),
        ("deploy", "deploy-dev"): {"id-token"}, ("deploy", "deploy-prod"): {"id-token"},
        ("destroy", "guard"): set(), ("destroy", "destroy"): {"id-token"},
        ("cdk-environment", "cdk"): {"id-token"},
    }
    actual = {(name, job_id): write_permissions(job)
              for name in WORKFLOWS for job_id, job in load(name)["jobs"].items()}
    assert actual == expected
    for (name, job_id), scopes in actual.items():
        job = load(name)["jobs"][job_id]
        if "id-token" in scopes:  # OIDC, directly or through the environment workflow
            assert uses(job, OIDC_ACTION) or job.get("uses") == ENVIRONMENT_WORKFLOW, (name, job_id)
        if "pull-requests" in scopes:  # the commenting job runs no repository code
            assert uses(job, COMMENT_ACTION) and not uses(job, "actions/checkout"), (name, job_id)


def test_oidc_and_cdk_diff_run_only_when_the_repository_variable_is_set():
    diff = load("pr")["jobs"]["diff"]
    assert "vars.AWS_DIFF_ROLE_ARN != ''" in diff["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in diff["if"]
    (credentials,) = uses(diff, OIDC_ACTION)
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DIFF_ROLE_ARN }}"
    assert "cdk diff --all --method template" in run_text(diff)
    environment_job = load("cdk-environment")["jobs"]["cdk"]
    (credentials,) = uses(environment_job, OIDC_ACTION)
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    callers = [load("deploy")["jobs"]["deploy-dev"], load("destroy")["jobs"]["destroy"]]
    assert all("vars.AWS_DEPLOY_ROLE_ARN != ''" in job["if"] for job in callers)
    # prod needs dev, so it is skipped with it.
    assert load("deploy")["jobs"]["deploy-prod"]["needs"] == "deploy-dev"


def test_pushes_to_main_deploy_dev_then_prod_through_protected_environments():
    deploy = load("deploy")
    assert deploy["on"] == {"push": {"branches": ["main"]}}
    jobs = deploy["jobs"]
    assert jobs["test"]["steps"][-1]["run"].strip() == "make test"
    assert jobs["deploy-dev"]["needs"] == "test"
    for env in ("dev", "prod"):
        job = jobs[f"deploy-{env}"]
        assert job["uses"] == ENVIRONMENT_WORKFLOW and job["with"] == {"environment": env, "action": "deploy"}
    # The job runs in the GitHub environment of the same name: prod's required reviewers gate it.
    assert load("cdk-environment")["jobs"]["cdk"]["environment"] == "${{ inputs.environment }}"


def test_one_deployment_per_environment_at_a_time_and_none_is_cancelled():
    concurrency = load("cdk-environment")["jobs"]["cdk"]["concurrency"]
    assert concurrency == {"group": "churn-monitor-${{ inputs.environment }}", "cancel-in-progress": False}


def test_deploy_writes_the_stack_outputs_to_the_job_summary():
    steps = {s["name"]: s for s in load("cdk-environment")["jobs"]["cdk"]["steps"] if "name" in s}
    deploy = steps["cdk deploy"]
    assert deploy["if"] == "inputs.action == 'deploy'"
    assert "--outputs-file build/cdk-outputs.json" in deploy["run"]
    assert "jq -r" in deploy["run"] and deploy["run"].rstrip().endswith('} >> "$GITHUB_STEP_SUMMARY"')
    assert "cdk destroy --all --force" in steps["cdk destroy"]["run"]


def test_destroy_is_manual_and_offers_no_production_environment():
    destroy = load("destroy")
    (environment_input,) = destroy["on"]["workflow_dispatch"]["inputs"].values()
    assert environment_input["type"] == "choice" and "prod" not in environment_input["options"]
    job = destroy["jobs"]["destroy"]
    assert job["needs"] == "guard" and job["uses"] == ENVIRONMENT_WORKFLOW
    assert job["with"] == {"environment": "${{ inputs.environment }}", "action": "destroy"}


@pytest.mark.parametrize(("environment", "rejected"), [("prod", True), ("", True), ("dev", False)])
def test_destroy_guard_rejects_prod(environment, rejected):
    (step,) = load("destroy")["jobs"]["guard"]["steps"]
    assert step["env"] == {"ENVIRONMENT": "${{ inputs.environment }}"}
    result = subprocess.run(["bash", "-e", "-c", step["run"]], capture_output=True, text=True, check=False,
                            env={"ENVIRONMENT": environment, "PATH": "/usr/bin:/bin"})
    assert (result.returncode != 0) == rejected
    assert ("Refusing to destroy" in result.stdout) == rejected


def test_third_party_actions_are_pinned_to_commits_with_their_version():
    files = [*(GITHUB / "workflows").glob("*.yml"), GITHUB / "actions" / "setup" / "action.yml"]
    lines = [line.strip().removeprefix("- ") for path in files for line in path.read_text().splitlines()]
    references = [line.removeprefix("uses:").strip() for line in lines if line.startswith("uses:")]
    remote = [r for r in references if not r.startswith("./")]
    assert remote, "no actions found"
    for reference in remote:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", reference), reference


# The comment job's script, run by node against a stand-in for the GitHub client.
HARNESS = """
const calls = [];
const existing = JSON.parse(process.env.EXISTING);
const github = {
  paginate: async (method, args) => { calls.push(['list', args]); return existing; },
  rest: { issues: {
    listComments: 'listComments',
    updateComment: async (args) => { calls.push(['update', args]); },
    createComment: async (args) => { calls.push(['create', args]); },
  } },
};
const context = { repo: { owner: 'acme', repo: 'churn' }, payload: { pull_request: { number: 42 } } };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('github', 'context', process.env.SCRIPT)(github, context)
  .then(() => console.log(JSON.stringify(calls)), (error) => { console.error(error); process.exit(1); });
"""


def run_comment_script(existing, data_gate, cdk_diff):
    (step,) = load("pr")["jobs"]["comment"]["steps"]
    assert step["env"] == {"DATA_GATE": "${{ needs.data-gate.outputs.markdown }}",
                           "CDK_DIFF": "${{ needs.diff.outputs.markdown }}"}
    node = shutil.which("node")
    assert node, "node is required (it runs the CDK CLI too)"
    env = {"SCRIPT": step["with"]["script"], "EXISTING": json.dumps(existing),
           "DATA_GATE": data_gate, "CDK_DIFF": cdk_diff}
    result = subprocess.run([node, "-e", HARNESS], env=env, capture_output=True, text=True, check=True)
    return [(kind, args) for kind, args in json.loads(result.stdout) if kind != "list"]


def test_first_run_creates_one_comment_per_marker():
    calls = run_comment_script([], "### gate", "### diff")
    assert [(kind, args["issue_number"], args["body"]) for kind, args in calls] == [
        ("create", 42, "<!-- churn-monitor:data-gate -->\n### gate"),
        ("create", 42, "<!-- churn-monitor:cdk-diff -->\n### diff"),
    ]


def test_later_runs_update_the_bots_comment_in_place_and_skip_empty_results():
    existing = [
        {"id": 1, "user": {"type": "User"}, "body": "<!-- churn-monitor:data-gate -->\nquoted by a human"},
        {"id": 2, "user": {"type": "Bot"}, "body": "<!-- churn-monitor:data-gate -->\n### old gate"},
    ]
    calls = run_comment_script(existing, "### new gate", "")
    assert calls == [("update", {"owner": "acme", "repo": "churn", "comment_id": 2,
                                 "body": "<!-- churn-monitor:data-gate -->\n### new gate"})]


def test_oversized_results_are_truncated_below_githubs_limit():
    ((_, args),) = run_comment_script([], "", "x" * 70000)
    assert len(args["body"]) < 65536 and args["body"].endswith("the full text is in the job summary.")
