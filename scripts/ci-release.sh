#!/usr/bin/env bash
# The steps of .github/workflows/release-train.yml that run `release`, in one place.
#
#   scripts/ci-release.sh check-backend       refuse a state backend a CI job would lose
#   scripts/ci-release.sh run ARGS...         python -m release ARGS; map its exit code
#   scripts/ci-release.sh summary             the job summary: each command's outcome, the
#                                             gate a promotion waits at, the train's state
#   scripts/ci-release.sh preview BASE OUT    release plan of every environment into OUT
#
# Exit codes of `release`: 0 done; $RELEASE_GATE_EXIT_CODE (set once, in the workflow's env)
# "waiting at a gate", which ends the step green with a notice; anything else is a failure
# and the step fails with that code. Each command's code and log are kept under
# $RUNNER_TEMP/release-train for the summary step.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/release-train"
PYTHON="${PYTHON:-python}"

# A workflow command's message: %, CR and LF escaped as the runner expects.
escape_data() {
    local text="$1"
    text="${text//'%'/%25}"
    text="${text//$'\r'/%0D}"
    text="${text//$'\n'/%0A}"
    printf '%s' "$text"
}

gate_code() {
    if [[ ! "${RELEASE_GATE_EXIT_CODE:-}" =~ ^[0-9]+$ ]]; then
        echo "::error::RELEASE_GATE_EXIT_CODE is not set to a number; the workflow's env defines it" >&2
        exit 2
    fi
    printf '%s' "$RELEASE_GATE_EXIT_CODE"
}

check_backend() {
    local url="${PULUMI_BACKEND_URL:-}"
    if [[ -z "$url" ]]; then
        echo "::error title=No state backend::PULUMI_BACKEND_URL is empty. Set it as a secret of this job's environment (staging or production): postgres://... (the team setup), or s3://, azblob://, gs:// with OIDC variables; see the README."
        exit 1
    fi
    if [[ -z "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]]; then
        echo "::error title=No passphrase::PULUMI_CONFIG_PASSPHRASE is empty. Set it as a secret of this job's environment; without it release would fall back to the sandbox passphrase."
        exit 1
    fi
    case "$url" in
    file://*)
        if [[ "${RUNNER_ENVIRONMENT:-}" == "github-hosted" ]]; then
            echo "::error title=State would be lost::a file:// backend on a GitHub-hosted runner is lost when the job ends. Use postgres://... (the team setup), or s3://, azblob://, gs:// with OIDC; see the README."
            exit 1
        fi
        echo "::warning title=State on this runner only::file:// state is kept on this runner only; no other machine or operator sees it."
        ;;
    esac
}

run_release() {
    local gate code log token label
    gate="$(gate_code)"
    mkdir -p "$WORK"
    log="$(mktemp "$WORK/release-XXXXXX.log")"
    label="release $*"
    label="${label//$'\t'/ }"
    # Forge text (commit titles, branch names) in the command's output is data: no line of it
    # may act as a workflow command (::error::, ::add-mask::, ...) while it runs.
    token="release-train-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    echo "::stop-commands::$token"
    set +e
    "$PYTHON" -m release "$@" 2>&1 | tee "$log"
    code="${PIPESTATUS[0]}"
    set -e
    echo "::$token::"
    printf '%s\t%s\t%s\n' "$code" "$log" "$label" >>"$WORK/runs.tsv"
    if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
        echo "code=$code" >>"$GITHUB_OUTPUT"
    fi
    if [[ "$code" -eq 0 ]]; then
        return 0
    fi
    if [[ "$code" -eq "$gate" ]]; then
        echo "::notice title=Waiting at a gate::$(escape_data "$label") stopped at a merge gate (exit $code). The job summary names the pull request, the missing checks and approvals, and the next step."
        return 0
    fi
    echo "::error title=Release failed::$(escape_data "$label") failed (exit $code); see its log above and the job summary."
    return "$code"
}

summary() {
    local gate status_file="$WORK/status.json"
    gate="$(gate_code)"
    mkdir -p "$WORK"
    touch "$WORK/runs.tsv"
    if ! "$PYTHON" -m release status --json >"$status_file" 2>"$WORK/status.err"; then
        rm -f "$status_file"
    fi
    "$PYTHON" "$HERE/train_summary.py" summary --runs "$WORK/runs.tsv" --status "$status_file" \
        --gate-exit-code "$gate" --project "${RELEASE_TRAIN_PROJECT_DIR:-$PWD}" \
        >>"${GITHUB_STEP_SUMMARY:-/dev/stdout}"
}

preview() {
    local base="$1" out="$2" failed="" environment code plans="$WORK/plans.tsv"
    mkdir -p "$WORK"
    : >"$plans"
    for environment in testing staging production; do
        code=0
        "$PYTHON" -m release plan "$environment" >"$WORK/plan-$environment.txt" 2>&1 || code=$?
        printf '%s\t%s\t%s\n' "$code" "$WORK/plan-$environment.txt" "release plan $environment" >>"$plans"
        if [[ "$code" -ne 0 ]]; then
            failed="$failed $environment"
        fi
    done
    "$PYTHON" "$HERE/train_summary.py" plan --runs "$plans" --base "$base" >"$out.tmp"
    mv "$out.tmp" "$out"
    if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
        cat "$out" >>"$GITHUB_STEP_SUMMARY"
    fi
    if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
        echo "planned=true" >>"$GITHUB_OUTPUT"
        echo "failed=$failed" >>"$GITHUB_OUTPUT"
    fi
}

case "${1:-}" in
check-backend) check_backend ;;
run)
    shift
    run_release "$@"
    ;;
summary) summary ;;
preview)
    if [[ $# -ne 3 ]]; then
        echo "usage: $0 preview BASE_SHA OUTPUT_FILE" >&2
        exit 2
    fi
    preview "$2" "$3"
    ;;
*)
    echo "usage: $0 check-backend | run ARGS... | summary | preview BASE_SHA OUTPUT_FILE" >&2
    exit 2
    ;;
esac
